/**
 * `sigil policy test` (POLICY.md §7): every PolicyTest case evaluated offline against its saved
 * evidence folder (written by `verify --policy --save-evidence`) at the case's `now`, through the
 * same verifyWithPolicies as `verify --policy`, so a test passes exactly when verify would decide
 * the same. A case passes when the decision equals `expect.decision` and each code of
 * `expect.reasons` appears somewhere in the image's report.
 */
import { verifyWithPolicies } from '../verify-policy.ts';
import type { PolicySet, PolicyTestCase } from './model.ts';
import { type Decision, type ImageReport, reasonCodes } from './report.ts';

export interface PolicyTestCaseResult {
  test: string;
  file: string;
  case: string;
  image: string;
  passed: boolean;
  expected: { decision: Decision; reasons: string[] };
  actual: { decision: Decision; reasons: string[] };
  /** Codes of `expect.reasons` absent from the report. */
  missingReasons: string[];
  /** The evidence folder could not be read: the test file is invalid (exit 2), not a failed case. */
  error?: string;
  report?: ImageReport;
}

export interface PolicyTestRun {
  results: PolicyTestCaseResult[];
  passed: number;
  failed: number;
  /** 0 all cases as expected, 1 some case differed, 2 a case's evidence was unreadable. */
  exitCode: 0 | 1 | 2;
}

export async function runPolicyTests(set: PolicySet): Promise<PolicyTestRun> {
  const results: PolicyTestCaseResult[] = [];
  for (const test of set.tests) {
    for (const c of test.cases) results.push(await runCase(set, test.name, test.file, c));
  }
  const failed = results.filter((r) => !r.passed).length;
  const exitCode = results.some((r) => r.error !== undefined) ? 2 : failed > 0 ? 1 : 0;
  return { results, passed: results.length - failed, failed, exitCode };
}

async function runCase(set: PolicySet, test: string, file: string, c: PolicyTestCase): Promise<PolicyTestCaseResult> {
  const base = { test, file, case: c.name, image: c.image, expected: c.expect };
  try {
    const report = await verifyWithPolicies([c.image], {
      policies: set,
      offline: true,
      concurrency: 1,
      ...(c.evidence !== undefined ? { evidenceDir: c.evidence } : { noEvidence: true }),
      ...(c.now ? { now: c.now } : {}),
      ...(c.scope !== undefined ? { scope: c.scope } : {}),
    });
    const img = report.images[0]!;
    const codes = reasonCodes(img);
    const missingReasons = c.expect.reasons.filter((r) => !codes.has(r));
    return {
      ...base,
      passed: img.decision === c.expect.decision && missingReasons.length === 0,
      actual: { decision: img.decision, reasons: [...codes].sort() },
      missingReasons,
      report: img,
    };
  } catch (err) {
    return {
      ...base,
      passed: false,
      actual: { decision: 'error', reasons: [] },
      missingReasons: c.expect.reasons,
      error: (err as Error).message,
    };
  }
}
