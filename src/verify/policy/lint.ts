/**
 * `sigil policy lint` (POLICY.md §9): the full load, the warnings noticed while loading, plus the
 * folder-level ones that need every document (a policy no PolicyTest case selects).
 */
import { isSigilError } from '../../errors.ts';
import { selectPolicies } from './evaluate.ts';
import { loadPolicies, PolicyLoadError } from './load.ts';
import type { LintWarning, PolicySet } from './model.ts';

export interface LintResult {
  /** 0 clean or warnings only, 1 errors found, 2 unreadable input. */
  exitCode: 0 | 1 | 2;
  set?: PolicySet;
  warnings: LintWarning[];
  error?: { code: string; message: string; file?: string; line?: number; path?: string };
}

export function lintPolicies(path: string): LintResult {
  let set: PolicySet;
  try {
    set = loadPolicies(path);
  } catch (err) {
    if (err instanceof PolicyLoadError) {
      return {
        exitCode: 1,
        warnings: [],
        error: { code: err.code, message: err.message, file: err.file, line: err.line, path: err.path },
      };
    }
    if (isSigilError(err)) return { exitCode: 2, warnings: [], error: { code: err.code, message: err.message } };
    throw err;
  }
  const warnings = [...set.warnings];
  if (set.tests.length > 0) {
    const images = set.tests.flatMap((t) => t.cases.map((c) => ({ image: c.image, scope: c.scope })));
    for (const p of set.policies) {
      const hit = images.some((i) => selectPolicies(i.image, [p], i.scope).selected.length > 0);
      if (!hit) {
        warnings.push({
          file: p.file,
          line: p.line,
          path: 'metadata.name',
          message: `no PolicyTest case selects policy ${p.name}`,
        });
      }
    }
  }
  return { exitCode: 0, set, warnings };
}
