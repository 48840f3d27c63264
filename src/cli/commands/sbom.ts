import { writeFileAtomic } from '../../atomic-file.ts';
import type { LayerProgress } from '../../filesystem/index.ts';
import type { EncodeOptions } from '../../sbom/document.ts';
import { loadEncoder, type OutputTarget, parseOutputFlag } from '../../sbom/formats.ts';
import { SbomError } from '../../sbom/errors.ts';
import type { Command } from '../command.ts';
import type { Context } from '../context.ts';
import { platformOption, VERSION } from '../context.ts';
import { ExitCode, UsageError } from '../exit-codes.ts';
import { formatBytes } from '../progress.ts';
import { resolveSigning, type ResolvedSigning, type SigningArgs, signingFlags } from '../signing-flags.ts';

/** `--attest-format`: the SBOM format signed as the predicate, and cosign's predicate type for it. */
const ATTEST_FORMATS = ['cyclonedx-json', 'spdx-json'] as const;
type AttestFormat = (typeof ATTEST_FORMATS)[number];

interface SbomArgs extends SigningArgs {
  attest?: boolean;
  'attest-format': AttestFormat;
  source: string;
  output: string[];
  platform?: string;
  exclude?: string[];
  cache: boolean;
  'cache-dir'?: string;
  files?: boolean;
  'verify-diffids'?: boolean;
  scope: 'squashed' | 'all-layers';
}

function sourceDateEpoch(env: NodeJS.ProcessEnv): EncodeOptions {
  const raw = env.SOURCE_DATE_EPOCH;
  if (raw === undefined || raw === '') return {};
  if (!/^\d+$/.test(raw)) throw new UsageError(`SOURCE_DATE_EPOCH="${raw}": expected whole seconds since 1970`);
  return { sourceDateEpoch: Number(raw) };
}

export const sbomCommand: Command = {
  register: (y, run) =>
    y.command(
      'sbom <source>',
      'List the packages of an image (the final filesystem of the chosen platform) as an SBOM',
      (c) =>
        signingFlags(c)
          .positional('source', {
            type: 'string',
            demandOption: true,
            describe:
              'image: registry reference, oci-dir:PATH[:NAME], oci-archive:PATH[:NAME], docker-archive:PATH[:NAME]',
          })
          .option('platform', {
            type: 'string',
            describe: 'os/arch[/variant] of a multi-platform image (default linux/amd64)',
          })
          .option('exclude', {
            type: 'string',
            array: true,
            nargs: 1,
            describe: 'path to leave out, with everything below it (repeatable)',
          })
          .option('cache', {
            type: 'boolean',
            default: true,
            describe: 'reuse per-layer analyses (--no-cache to read every layer)',
          })
          .option('scope', {
            choices: ['squashed', 'all-layers'] as const,
            default: 'squashed' as const,
            describe: 'squashed: the final filesystem; all-layers: also packages later layers removed',
          })
          .option('files', {
            type: 'boolean',
            describe: 'also list the files each package owns (SPDX per-file section)',
          })
          .option('verify-diffids', {
            type: 'boolean',
            describe: 'also check each layer’s uncompressed bytes against the diffID in the image config',
          })
          .option('cache-dir', { type: 'string', describe: 'layer cache directory (default $XDG_CACHE_HOME/sigil)' })
          .option('attest', {
            type: 'boolean',
            describe:
              'also sign the SBOM as an in-toto attestation about the image digest and attach it (signing flags as for attest)',
          })
          .option('attest-format', {
            choices: ATTEST_FORMATS,
            default: 'cyclonedx-json' as const,
            describe:
              'with --attest: the predicate (cyclonedx-json: https://cyclonedx.org/bom, spdx-json: https://spdx.dev/Document)',
          })
          .example('$0 sbom 127.0.0.1:5000/app:1.0', 'a table of packages')
          .example(
            '$0 sbom -o spdx-json=app.spdx.json -o cyclonedx-json=app.cdx.json oci-dir:./app',
            'both formats in one pass',
          )
          .example('$0 sbom -o cyclonedx-json@1.7 docker-archive:app.tar', 'CycloneDX 1.7 on stdout')
          .example(
            '$0 sbom registry.example/app:1.0 --attest --key cosign.key',
            'generate, sign and attach in one step',
          )
          .epilogue(
            "Formats (-o FORMAT[=FILE], repeatable): spdx-json (SPDX 2.3), cyclonedx-json (1.6), cyclonedx-json@1.7, json (sigil's model), table.\n" +
              'Default: table when stdout is a terminal, else json. SOURCE_DATE_EPOCH makes the output byte-for-byte reproducible.',
          ),
      (argv) =>
        run<SbomArgs>(
          argv,
          async (ctx, a) => {
            // Catalogers load only for this command, and each encoder only when its format is asked for.
            const { defaultCacheDir, generateSbom } = await import('../../sbom/generate.ts');
            const stdoutIsTty = ctx.io.stdout.isTTY === true;
            const targets: OutputTarget[] =
              a.output.length > 0
                ? a.output.map(parseOutputFlag)
                : [{ format: stdoutIsTty ? ('table' as const) : ('json' as const) }];
            if (targets.filter((t) => t.file === undefined).length > 1) {
              throw new SbomError(
                'OUTPUT_FLAG_INVALID',
                'only one -o may write to stdout; give the others a file: -o FORMAT=FILE',
              );
            }
            const encodeOptions = sourceDateEpoch(ctx.io.env);
            // Signing is set up before the scan: a wrong password or token fails in a second, not after it.
            const signing = await attestSigning(ctx, a);
            const platform = platformOption(a.platform);
            const progress = layerProgress(ctx.io.stderr);
            const result = await generateSbom(a.source, {
              ...ctx.registry,
              ...(platform ? { platform } : {}),
              ...(a.exclude ? { exclude: a.exclude } : {}),
              ...(a.cache ? { cacheDir: a['cache-dir'] ?? defaultCacheDir(ctx.io.env) } : { cache: false as const }),
              signal: ctx.signal,
              onLayer: progress.update,
              toolVersion: VERSION,
              files: a.files ?? false,
              verifyDiffIds: a['verify-diffids'] ?? false,
              scope: a.scope,
            });
            progress.finish();
            for (const w of result.warnings) ctx.out.info(`warning: ${w}`);
            for (const a of result.attributed) ctx.out.debug(`not listed separately: ${a}`);
            for (const t of targets) {
              const text = (await loadEncoder(t.format)).encode(result.document, encodeOptions);
              if (t.file === undefined) ctx.out.raw(text.endsWith('\n') ? text : `${text}\n`);
              else await writeFileAtomic(t.file, text.endsWith('\n') ? text : `${text}\n`);
            }
            const counts = Object.entries(result.stats.packages)
              .map(([type, n]) => `${n} ${type}`)
              .join(', ');
            ctx.out.info(
              `${result.document.source.manifestDigest}: ${result.document.packages.length} packages (${counts || 'none'}) ` +
                `in ${result.stats.layers} layers, ${result.stats.files} files, ${result.stats.seconds.toFixed(1)} s` +
                (targets.some((t) => t.file)
                  ? `; wrote ${targets.flatMap((t) => (t.file ? [t.file] : [])).join(', ')}`
                  : ''),
            );
            if (signing !== undefined) {
              const { predicateTypeFor } = await import('../../sign/payloads/in-toto.ts');
              const { attestImage } = await import('../../workflows/sign-image.ts');
              const { parseReference } = await import('../../oci/reference.ts');
              const predicateType = predicateTypeFor(a['attest-format'] === 'spdx-json' ? 'spdxjson' : 'cyclonedx');
              const predicate = JSON.parse(
                (await loadEncoder(a['attest-format'])).encode(result.document, encodeOptions),
              );
              const ref = parseReference(a.source);
              // The digest the SBOM was made from, not the tag again: the tag may have moved since,
              // and for a multi-platform image the SBOM describes one platform's manifest.
              const att = await attestImage(
                `${ref.registry}/${ref.repository}@${result.document.source.manifestDigest}`,
                {
                  ...signing,
                  attach: a.attach,
                  predicateType,
                  predicate,
                  registry: ctx.registry,
                  ...(ctx.signatureRepository ? { signatureRepository: ctx.signatureRepository } : {}),
                  signal: ctx.signal,
                },
              );
              for (const w of att.signatures) {
                const where =
                  w.scheme === 'tag'
                    ? `${w.tag}${w.written ? '' : ' (already there: not written again)'}`
                    : `referrer ${w.manifest}${w.via === 'fallback-tag' ? ` (listed in fallback tag ${w.tag})` : ''}`;
                const tlog = w.tlog ? `, Rekor log index ${w.tlog.logIndex}` : '';
                ctx.out.info(
                  `Attested SBOM (${predicateType}) of ${att.repository}@${w.subject.digest} -> ${where}${tlog}`,
                );
              }
            }
            return ExitCode.Ok;
          },
          { ownsOutputFlag: true },
        ),
    ),
};

const SIGNING_ONLY = [
  'key',
  'identity-token',
  'fulcio-url',
  'rekor-url',
  'timestamp-server-url',
  'signing-config',
] as const;

/** The signer for `--attest`, or undefined without it (then a signing flag is a mistake). */
async function attestSigning(ctx: Context, a: SbomArgs): Promise<ResolvedSigning | undefined> {
  if (a.attest !== true) {
    const stray = SIGNING_ONLY.find((f) => a[f] !== undefined);
    if (stray !== undefined) throw new UsageError(`--${stray} applies only with --attest`);
    return undefined;
  }
  if (/^(oci-dir|oci-archive|docker-archive):/.test(a.source)) {
    throw new UsageError('--attest needs a registry image: the attestation is stored beside it in the registry');
  }
  if (a.recursive) {
    throw new UsageError('--recursive does not apply to sbom --attest: the SBOM describes one platform manifest');
  }
  const signing = await resolveSigning(ctx, a);
  ctx.out.debug(`signing as ${signing.identity}`);
  return signing;
}

/** `layers 2/5, 120.3 MB read` on a terminal; nothing otherwise. */
function layerProgress(out: NodeJS.WritableStream & { isTTY?: boolean }) {
  const bytes = new Map<number, number>();
  const done = new Set<number>();
  let last = 0;
  let drawn = false;
  return {
    update: (e: LayerProgress) => {
      if (out.isTTY !== true) return;
      bytes.set(e.index, e.bytes);
      if (e.done) done.add(e.index);
      const now = Date.now();
      if (!e.done && now - last < 100) return;
      last = now;
      drawn = true;
      const total = [...bytes.values()].reduce((n, b) => n + b, 0);
      out.write(`\r\x1b[2Klayers ${done.size}/${e.total}, ${formatBytes(total)} read`);
    },
    finish: () => {
      if (drawn) out.write('\r\x1b[2K');
    },
  };
}
