import type { Command } from '../command.ts';
import { ExitCode } from '../exit-codes.ts';

interface InitializeArgs {
  mirror?: string;
  root?: string;
  force?: boolean;
}

const count = (v: unknown) => (Array.isArray(v) ? v.length : 0);

export const initializeCommand: Command = {
  register: (y, run) =>
    y.command(
      'initialize',
      'Update the trusted root through TUF and store it for verification (cosign initialize)',
      (c) =>
        c
          .option('mirror', {
            type: 'string',
            describe: 'TUF repository URL (default: the public-good Sigstore instance)',
          })
          .option('root', {
            type: 'string',
            describe: "the TUF repository's initial root.json (default: the embedded one for the public-good mirror)",
          })
          .option('force', {
            type: 'boolean',
            default: false,
            describe: 'start again from the initial root even when a TUF root is cached',
          })
          .example('$0 initialize', 'refresh the public-good trusted root')
          .example('$0 initialize --mirror https://tuf.example.com --root root.json', 'a private Sigstore')
          .epilogue(
            'Stored in $TUF_ROOT, else $XDG_CACHE_HOME/sigil/tuf (~/.cache/sigil/tuf); verify uses it when no --trusted-root is given.\n' +
              'Before any initialize, verify uses the trusted root embedded in sigil (works offline).',
          ),
      (argv) =>
        run<InitializeArgs>(argv, async (ctx, a) => {
          const { updateTrustedRoot } = await import('../../verify/tuf.ts');
          const stored = await updateTrustedRoot({
            ...(a.mirror !== undefined ? { mirror: a.mirror } : {}),
            ...(a.root !== undefined ? { root: a.root } : {}),
            force: a.force === true,
            env: ctx.io.env,
            signal: ctx.signal,
          });
          const root = stored.trustedRoot;
          const counts = {
            tlogs: count(root['tlogs']),
            certificateAuthorities: count(root['certificateAuthorities']),
            ctlogs: count(root['ctlogs']),
            timestampAuthorities: count(root['timestampAuthorities']),
          };
          ctx.out.result(
            { path: stored.path, mirror: stored.mirror, updatedAt: stored.updatedAt, ...counts },
            [
              `Trusted root from ${stored.mirror} stored in ${stored.path}`,
              `  transparency logs: ${counts.tlogs}, certificate authorities: ${counts.certificateAuthorities}, ` +
                `CT logs: ${counts.ctlogs}, timestamp authorities: ${counts.timestampAuthorities}`,
            ].join('\n'),
          );
          return ExitCode.Ok;
        }),
    ),
};
