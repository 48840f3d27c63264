/**
 * `verify-blob --bundle B (--key K | --certificate-identity I --certificate-oidc-issuer S) FILE`:
 * cosign's verify-blob with the bundle format (cosign:cmd/cosign/cli/verify/verify_blob.go),
 * FILE may also be `sha256:HEX` (the conformance suite's digest input). Exit 0 when the bundle
 * verifies, 1 when it does not (the reason code on stderr), 2 for usage errors.
 */
import { readFile } from 'node:fs/promises';
import type { Argv } from 'yargs';
import type { Authority } from '../../verify/authority.ts';
import type { VerifyBlobResult } from '../../verify/verify-blob.ts';
import type { Command } from '../command.ts';
import type { Context } from '../context.ts';
import { ExitCode, UsageError } from '../exit-codes.ts';

export interface BlobVerifyArgs {
  bundle: string;
  key?: string;
  'certificate-identity'?: string;
  'certificate-identity-regexp'?: string;
  'certificate-oidc-issuer'?: string;
  'certificate-oidc-issuer-regexp'?: string;
  'trusted-root'?: string;
  'insecure-ignore-tlog'?: boolean;
  'insecure-ignore-sct'?: boolean;
}

interface VerifyBlobArgs extends BlobVerifyArgs {
  file: string;
}

/** The key-or-identity flags both verify-blob and verify-bundle take. */
export function blobVerifyFlags<T>(y: Argv<T>) {
  return y
    .option('bundle', { type: 'string', demandOption: true, describe: 'the Sigstore bundle (JSON) to verify' })
    .option('key', { type: 'string', describe: 'PEM public key the bundle must be signed with' })
    .option('certificate-identity', { type: 'string', describe: 'keyless: exact SAN of the signing certificate' })
    .option('certificate-identity-regexp', { type: 'string', describe: 'keyless: RE2 regexp (full match) for a SAN' })
    .option('certificate-oidc-issuer', { type: 'string', describe: 'keyless: exact OIDC issuer' })
    .option('certificate-oidc-issuer-regexp', { type: 'string', describe: 'keyless: RE2 regexp for the issuer' })
    .option('trusted-root', {
      type: 'string',
      describe: 'Sigstore trusted_root.json (default: the embedded public-good root)',
    });
}

export async function blobAuthority(a: BlobVerifyArgs): Promise<Authority> {
  const tlog = a['insecure-ignore-tlog'] ? 'ignore' : 'required';
  const root = a['trusted-root'] !== undefined ? { trustedRoot: a['trusted-root'] } : {};
  const keyless =
    a['certificate-identity'] ??
    a['certificate-identity-regexp'] ??
    a['certificate-oidc-issuer'] ??
    a['certificate-oidc-issuer-regexp'];
  if (a.key !== undefined) {
    if (keyless !== undefined) {
      throw new UsageError('--key and --certificate-identity/--certificate-oidc-issuer exclude each other');
    }
    const { readPublicKey } = await import('../../verify/trust-material.ts');
    return { kind: 'key', name: `key ${a.key}`, publicKey: readPublicKey(a.key), tlog, ...root };
  }
  const subject = a['certificate-identity'];
  const subjectRegExp = a['certificate-identity-regexp'];
  const issuer = a['certificate-oidc-issuer'];
  const issuerRegExp = a['certificate-oidc-issuer-regexp'];
  if (subject === undefined && subjectRegExp === undefined) {
    throw new UsageError('give --key, or --certificate-identity (or -regexp) with --certificate-oidc-issuer');
  }
  if (issuer === undefined && issuerRegExp === undefined) {
    throw new UsageError('keyless needs --certificate-oidc-issuer or --certificate-oidc-issuer-regexp');
  }
  return {
    kind: 'keyless',
    name: 'keyless',
    identities: [
      {
        ...(subject !== undefined ? { subject } : {}),
        ...(subjectRegExp !== undefined ? { subjectRegExp } : {}),
        ...(issuer !== undefined ? { issuer } : {}),
        ...(issuerRegExp !== undefined ? { issuerRegExp } : {}),
      },
    ],
    sct: a['insecure-ignore-sct'] ? 'ignore' : 'required',
    tlog,
    ...root,
  };
}

/**
 * Reads the bundle and the FILE_OR_DIGEST argument, verifies, reports. Returns the exit code:
 * Ok when verified, Failure (1) with `[REASON] message` on stderr when not.
 */
export async function verifyBlobCommand(ctx: Context, a: BlobVerifyArgs, artifact: string): Promise<number> {
  const authority = await blobAuthority(a);
  const { artifactArgument, digestInput, verifyBlob } = await import('../../verify/verify-blob.ts');
  const bundle = await readFile(a.bundle).catch((e: NodeJS.ErrnoException) => {
    throw new UsageError(`--bundle ${a.bundle}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`);
  });
  const input =
    artifactArgument(artifact) === 'digest'
      ? digestInput(artifact)
      : {
          kind: 'bytes' as const,
          name: artifact,
          bytes: await readFile(artifact).catch((e: NodeJS.ErrnoException) => {
            throw new UsageError(`${artifact}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`);
          }),
        };
  const r: VerifyBlobResult = await verifyBlob(bundle, input, { authority, bundleName: a.bundle });
  ctx.out.result(
    r.ok
      ? { verified: true, digest: r.digest, signer: r.signer, checks: r.checks, signedAt: r.signedAt?.toISOString() }
      : {
          verified: false,
          digest: r.digest,
          code: r.code,
          check: r.check,
          message: r.message,
          expected: r.expected,
          actual: r.actual,
        },
    '',
  );
  if (!r.ok) {
    const diff = r.expected !== undefined ? ` (expected ${r.expected}, found ${r.actual ?? '?'})` : '';
    ctx.io.stderr.write(`Error: [${r.code}] ${r.check}: ${r.message}${diff}\n`);
    return ExitCode.Failure;
  }
  const at = r.signedAt ? `, signed at ${r.signedAt.toISOString()}` : '';
  ctx.out.info(`Verified OK: ${artifact} (${r.digest}): ${r.checks.join(', ')}${at}`);
  return ExitCode.Ok;
}

export const verifyBlobCliCommand: Command = {
  register: (y, run) =>
    y.command(
      'verify-blob <file>',
      'Verify a Sigstore bundle over a file (or a sha256:HEX digest), with a key or a keyless identity',
      (c) =>
        blobVerifyFlags(c)
          .positional('file', { type: 'string', demandOption: true, describe: 'the file, or sha256:HEX' })
          .option('insecure-ignore-tlog', {
            type: 'boolean',
            default: false,
            describe: 'do not require a transparency log entry',
          })
          .option('insecure-ignore-sct', {
            type: 'boolean',
            default: false,
            describe: 'do not require an embedded SCT',
          })
          .example('$0 verify-blob --bundle app.sigstore.json --key cosign.pub app.tar.gz', 'with a key')
          .example(
            '$0 verify-blob --bundle b.json --certificate-identity me@example.com --certificate-oidc-issuer https://accounts.google.com app.tar.gz',
            'keyless',
          ),
      (argv) => run<VerifyBlobArgs>(argv, (ctx, a) => verifyBlobCommand(ctx, a, a.file)),
    ),
};
