/**
 * `attach sbom|signature|attestation`, with cosign's flags (cosign:cmd/cosign/cli/options/attach.go):
 * stores files made elsewhere beside an image, signing nothing.
 */
import { readFile } from 'node:fs/promises';
import { buffer } from 'node:stream/consumers';
import type { Argv } from 'yargs';
import type { Attached, AttachResult } from '../../workflows/attach.ts';
import type { AttachScheme } from '../../workflows/sign-image.ts';
import type { Command, Run } from '../command.ts';
import type { Context, GlobalArgs } from '../context.ts';
import { ExitCode, UsageError } from '../exit-codes.ts';

interface CommonArgs {
  image: string;
  attach: AttachScheme;
}

interface SbomArgs extends CommonArgs {
  sbom: string;
  type: 'spdx' | 'cyclonedx' | 'syft';
  'input-format'?: 'json' | 'xml' | 'text';
}

interface SignatureArgs extends CommonArgs {
  payload?: string;
  bundle?: string;
  signature?: string;
  certificate?: string;
  'certificate-chain'?: string;
}

interface AttestationArgs extends CommonArgs {
  attestation: string[];
}

function common<T>(y: Argv<T>) {
  return y.positional('image', { type: 'string', demandOption: true, describe: 'image reference' }).option('attach', {
    choices: ['tag', 'referrers'] as const,
    default: 'tag' as const,
    describe:
      "tag: cosign's .sbom/.sig/.att tags (what cosign attach writes); referrers: OCI 1.1 referrers " +
      '(cosign --registry-referrers-mode=oci-1-1). A Sigstore bundle always goes to a bundle referrer.',
  });
}

/** A file, or stdin for `-` (cosign's `{-}`). */
async function readInput(ctx: Context, flag: string, file: string): Promise<Buffer> {
  if (file === '-') return buffer(ctx.io.stdin);
  return readFile(file).catch((e: NodeJS.ErrnoException) => {
    throw new UsageError(`--${flag} ${file}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`);
  });
}

function isBundle(bytes: Buffer): boolean {
  try {
    const doc = JSON.parse(bytes.toString('utf8')) as { mediaType?: unknown };
    return typeof doc.mediaType === 'string' && doc.mediaType.startsWith('application/vnd.dev.sigstore.bundle');
  } catch {
    return false;
  }
}

/** The registry settings, and `COSIGN_REPOSITORY` when set, as sign and attest honour it. */
function storage(ctx: Context): { registry: Context['registry']; signatureRepository?: string } {
  return {
    registry: ctx.registry,
    ...(ctx.signatureRepository ? { signatureRepository: ctx.signatureRepository } : {}),
  };
}

function report(ctx: Context, results: AttachResult[]): void {
  const lines: string[] = [];
  for (const r of results) {
    ctx.out.info(`Attached to ${r.repository}@${r.digest} (from ${r.reference})`);
    lines.push(...r.attached.map(describe));
  }
  ctx.out.result(results.length === 1 ? results[0] : results, lines.join('\n'));
}

function describe(a: Attached): string {
  const what = a.bundle ? `${a.kind} (Sigstore bundle${a.predicateType ? `, ${a.predicateType}` : ''})` : a.kind;
  const where =
    a.scheme === 'tag'
      ? `${a.tag}${a.written ? '' : ' (already there: not written again)'}${a.replaced ? ` (replaced ${a.replaced})` : ''}`
      : `referrer ${a.manifest}${a.via === 'fallback-tag' ? ` (listed in fallback tag ${a.tag})` : ''}`;
  return `${what} -> ${where}`;
}

function sbomCommand(y: Argv<GlobalArgs>, run: Run) {
  return y.command(
    'sbom <image>',
    'Attach an SBOM file as is (unsigned; sigil sbom --attest signs one)',
    (c) =>
      common(c)
        .option('sbom', { type: 'string', demandOption: true, describe: 'the SBOM file, or - for stdin' })
        .option('type', {
          choices: ['spdx', 'cyclonedx', 'syft'] as const,
          default: 'spdx' as const,
          describe: 'SBOM type',
        })
        .option('input-format', {
          choices: ['json', 'xml', 'text'] as const,
          describe: 'SBOM encoding (default: json for a .json file, else xml for cyclonedx, text for spdx)',
        }),
    (argv) =>
      run<SbomArgs>(argv, async (ctx, a) => {
        const { attachSbom, sbomMediaType } = await import('../../workflows/attach.ts');
        const mediaType = sbomMediaType(a.type, a['input-format'], a.sbom);
        const sbom = await readInput(ctx, 'sbom', a.sbom);
        // cosign prints the same warning: an attached SBOM carries no signature.
        ctx.out.info(
          `note: an attached SBOM is not signed; to sign one, use "sigil attest --predicate ${a.sbom} --type ${a.type}" or "sigil sbom IMAGE --attest"`,
        );
        report(ctx, [
          await attachSbom(a.image, { sbom, mediaType, attach: a.attach, ...storage(ctx), signal: ctx.signal }),
        ]);
        return ExitCode.Ok;
      }),
  );
}

function signatureCommand(y: Argv<GlobalArgs>, run: Run) {
  return y.command(
    'signature <image>',
    'Attach a signature made elsewhere over a payload (or a Sigstore bundle)',
    (c) =>
      common(c)
        .option('payload', {
          type: 'string',
          describe:
            'the signed payload (default: the simple-signing payload for the digest); a Sigstore bundle file works too',
        })
        .option('bundle', { type: 'string', describe: 'a Sigstore bundle file (cosign: alias for --payload)' })
        .option('signature', { type: 'string', describe: 'base64 signature file, or - for stdin' })
        .option('certificate', { type: 'string', describe: 'signing certificate (PEM) to store with it' })
        .option('certificate-chain', {
          type: 'string',
          describe: 'CA certificates (PEM), parent intermediate first, root last',
        })
        .conflicts('payload', 'bundle'),
    (argv) =>
      run<SignatureArgs>(argv, async (ctx, a) => {
        const wf = await import('../../workflows/attach.ts');
        const payloadFile = a.payload ?? a.bundle;
        const payload =
          payloadFile === undefined ? undefined : await readInput(ctx, a.bundle ? 'bundle' : 'payload', payloadFile);
        const base = { attach: a.attach, ...storage(ctx), signal: ctx.signal };
        // cosign tries the payload as a bundle first (sgbundle.LoadJSONFromPath).
        if (payload !== undefined && isBundle(payload)) {
          report(ctx, [await wf.attachBundle(a.image, { ...base, bundle: payload, attach: 'referrers' })]);
          return ExitCode.Ok;
        }
        if (a.bundle !== undefined) throw new UsageError(`--bundle ${a.bundle}: not a Sigstore bundle`);
        if (a.signature === undefined) throw new UsageError('--signature is required (a base64 signature file)');
        const signature = (await readInput(ctx, 'signature', a.signature)).toString('utf8');
        const certificate = a.certificate
          ? (await readInput(ctx, 'certificate', a.certificate)).toString('utf8')
          : undefined;
        const chain = a['certificate-chain']
          ? (await readInput(ctx, 'certificate-chain', a['certificate-chain'])).toString('utf8')
          : undefined;
        report(ctx, [
          await wf.attachSignature(a.image, {
            ...base,
            ...(payload !== undefined ? { payload } : {}),
            signature,
            ...(certificate !== undefined ? { certificate } : {}),
            ...(chain !== undefined ? { chain } : {}),
          }),
        ]);
        return ExitCode.Ok;
      }),
  );
}

function attestationCommand(y: Argv<GlobalArgs>, run: Run) {
  return y.command(
    'attestation <image>',
    'Attach signed DSSE envelopes (JSON lines) or a Sigstore attestation bundle',
    (c) =>
      common(c).option('attestation', {
        type: 'string',
        array: true,
        nargs: 1,
        demandOption: true,
        describe: 'DSSE envelope file, or a Sigstore bundle (repeatable)',
      }),
    (argv) =>
      run<AttestationArgs>(argv, async (ctx, a) => {
        const { attachAttestation } = await import('../../workflows/attach.ts');
        const results: AttachResult[] = [];
        for (const file of a.attestation) {
          ctx.out.debug(`using attestation from ${file}`);
          const envelopes = await readInput(ctx, 'attestation', file);
          results.push(
            await attachAttestation(a.image, {
              envelopes,
              attach: a.attach,
              ...storage(ctx),
              signal: ctx.signal,
            }),
          );
        }
        report(ctx, results);
        return ExitCode.Ok;
      }),
  );
}

export const attachCommand: Command = {
  register: (y, run) =>
    y.command('attach', 'Attach an SBOM, signature or attestation made elsewhere to an image', (c) =>
      attestationCommand(signatureCommand(sbomCommand(c, run), run), run)
        .demandCommand(1, 'name what to attach: sbom, signature or attestation')
        .example('$0 attach sbom --sbom app.spdx.json 127.0.0.1:5000/app:1.0', "cosign's .sbom tag")
        .example('$0 attach attestation --attestation app.intoto.jsonl registry.example/app@sha256:…', ''),
    ),
};
