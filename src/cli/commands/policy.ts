import type { Command } from '../command.ts';
import { ExitCode } from '../exit-codes.ts';

interface LintArgs {
  path: string;
}

interface TestArgs {
  path: string;
}

interface MatchArgs {
  reference: string;
  policy: string;
  scope?: string;
}

/** `sigil policy lint|match`: policy folders checked and tried without network (POLICY.md §1, §9). */
export const policyCommand: Command = {
  register: (y, run) =>
    y.command('policy', 'Check policy files and see which policies select an image (no network)', (p) =>
      p
        .command(
          'lint <path>',
          'Load a policy file or folder strictly and print warnings; exit 0 clean/warnings, 1 errors, 2 unreadable',
          (c) => c.positional('path', { type: 'string', demandOption: true, describe: 'policy file or folder' }),
          (argv) =>
            run<LintArgs>(argv, async (ctx, a) => {
              const { lintPolicies } = await import('../../verify/policy/lint.ts');
              const r = lintPolicies(a.path);
              const lines = r.warnings.map((w) => `${w.file}:${w.line}: warning: ${w.path}: ${w.message}`);
              if (r.error) lines.push(`error: [${r.error.code}] ${r.error.message}`);
              else
                lines.push(
                  `${r.set!.policies.length} policies, ${r.set!.tests.length} tests, ${r.warnings.length} warnings`,
                );
              ctx.out.result(
                {
                  exitCode: r.exitCode,
                  warnings: r.warnings,
                  ...(r.error ? { error: r.error } : {}),
                  policies:
                    r.set?.policies.map((x) => ({
                      name: x.name,
                      file: x.file,
                      mode: x.mode,
                      images: x.images.map((g) => g.expanded),
                    })) ?? [],
                },
                `${lines.join('\n')}\n`,
              );
              return r.exitCode;
            }),
        )
        .command(
          'match <reference>',
          'Print the normalised repository name and which policies would apply',
          (c) =>
            c
              .positional('reference', { type: 'string', demandOption: true })
              .option('policy', { type: 'string', demandOption: true, describe: 'policy file or folder' })
              .option('scope', { type: 'string', describe: 'repository an OCI layout stands for' }),
          (argv) =>
            run<MatchArgs>(argv, async (ctx, a) => {
              const { loadPolicies, selectPolicies } = await import('../../verify/policy/index.ts');
              let set;
              try {
                set = loadPolicies(a.policy);
              } catch (err) {
                // POLICY.md §4: an invalid policy folder is exit 2, whatever the error class maps to elsewhere.
                ctx.out.error(err);
                return ExitCode.Usage;
              }
              const sel = selectPolicies(a.reference, set.policies, a.scope);
              const text = [
                sel.name,
                ...sel.selected.map(
                  (s) => `  selected ${s.policy.name} [${s.policy.mode}] by ${s.selectedBy} (${s.policy.file})`,
                ),
                ...sel.notSelected.map((n) => `  not selected ${n.name}: ${n.code}: ${n.message}`),
                ...(sel.selected.length === 0 ? [`  no policy selects it: noMatch ${set.settings.noMatch}`] : []),
              ].join('\n');
              ctx.out.result(
                {
                  name: sel.name,
                  selected: sel.selected.map((s) => ({
                    name: s.policy.name,
                    file: s.policy.file,
                    mode: s.policy.mode,
                    selectedBy: s.selectedBy,
                  })),
                  notSelected: sel.notSelected,
                  noMatch: set.settings.noMatch,
                },
                `${text}\n`,
              );
              return ExitCode.Ok;
            }),
        )
        .command(
          'test <path>',
          'Run the PolicyTest cases of a policy folder against their saved evidence, offline; exit 0 pass, 1 a case failed, 2 invalid',
          (c) => c.positional('path', { type: 'string', demandOption: true, describe: 'policy file or folder' }),
          (argv) =>
            run<TestArgs>(argv, async (ctx, a) => {
              const { loadPolicies } = await import('../../verify/policy/index.ts');
              const { runPolicyTests } = await import('../../verify/policy/policy-test.ts');
              let set;
              try {
                set = loadPolicies(a.path);
              } catch (err) {
                ctx.out.error(err);
                return ExitCode.Usage;
              }
              const outcome = await runPolicyTests(set);
              const lines: string[] = [];
              for (const r of outcome.results) {
                const head = `${r.passed ? 'PASS' : 'FAIL'} ${r.test} / ${r.case}`;
                if (r.error !== undefined) lines.push(`${head}: ${r.error}`);
                else if (r.passed) lines.push(`${head}: ${r.actual.decision}`);
                else {
                  const missing = r.missingReasons.length ? `; missing reasons ${r.missingReasons.join(', ')}` : '';
                  lines.push(
                    `${head}: expected ${r.expected.decision}, got ${r.actual.decision}${missing} (found: ${
                      r.actual.reasons.join(', ') || 'none'
                    })`,
                  );
                }
              }
              lines.push(`${outcome.passed} passed, ${outcome.failed} failed`);
              ctx.out.result(
                {
                  exitCode: outcome.exitCode,
                  passed: outcome.passed,
                  failed: outcome.failed,
                  cases: outcome.results.map(({ report, ...rest }) => ({ ...rest, ...(report ? { report } : {}) })),
                },
                `${lines.join('\n')}\n`,
              );
              return outcome.exitCode;
            }),
        )
        .demandCommand(1, 'name a policy command: lint, match or test'),
    ),
};
