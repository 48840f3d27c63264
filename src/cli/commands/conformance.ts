/**
 * The sigstore-conformance client protocol (sigstore-conformance:docs/cli_protocol.md), so the
 * official suite can run against sigil with `sigil` as its entrypoint:
 *
 *   sign-bundle [--staging] [--in-toto] --identity-token T --bundle B [--trusted-root R]
 *               [--signing-config C] FILE
 *   verify-bundle [--staging] --bundle B (--key K | --certificate-identity I
 *               --certificate-oidc-issuer S) [--trusted-root R] FILE_OR_DIGEST
 *
 * Exit 0 on success, non-zero on failure (1: did not verify / could not sign, 2: usage).
 * `--staging` selects the public staging instance (fulcio/rekor.sigstage.dev); sigil embeds no
 * staging trusted root, so verify-bundle --staging needs --trusted-root. sign-bundle also takes
 * `--key` (a sigil extension, not in the protocol) to sign with a cosign key instead of keyless.
 */
import { readFile, writeFile } from 'node:fs/promises';
import type { Argv } from 'yargs';
import type { Command } from '../command.ts';
import type { Context } from '../context.ts';
import { ExitCode, UsageError } from '../exit-codes.ts';
import { resolveSigning, type SigningArgs } from '../signing-flags.ts';
import { type BlobVerifyArgs, blobVerifyFlags, verifyBlobCommand } from './verify-blob.ts';

export const STAGING_FULCIO_URL = 'https://fulcio.sigstage.dev';
export const STAGING_REKOR_URL = 'https://rekor.sigstage.dev';

interface SignBundleArgs {
  file: string;
  bundle: string;
  'identity-token'?: string;
  key?: string;
  staging: boolean;
  'in-toto': boolean;
  'trusted-root'?: string;
  'signing-config'?: string;
}

interface VerifyBundleArgs extends BlobVerifyArgs {
  file: string;
  staging: boolean;
}

function stagingFlag<T>(y: Argv<T>) {
  return y.option('staging', {
    type: 'boolean',
    default: false,
    describe: 'use the public Sigstore staging instance (sigstage.dev)',
  });
}

async function signBundle(ctx: Context, a: SignBundleArgs): Promise<number> {
  if (a.key === undefined && a['identity-token'] === undefined) {
    throw new UsageError('sign-bundle needs --identity-token (or the sigil extension --key)');
  }
  if (a.staging && a['signing-config'] !== undefined) {
    throw new UsageError('--staging and --signing-config exclude each other');
  }
  const data = await readFile(a.file).catch((e: NodeJS.ErrnoException) => {
    throw new UsageError(`${a.file}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`);
  });
  const signingArgs: SigningArgs = {
    ...(a.key !== undefined ? { key: a.key } : {}),
    ...(a['identity-token'] !== undefined ? { 'identity-token': a['identity-token'] } : {}),
    ...(a['signing-config'] !== undefined ? { 'signing-config': a['signing-config'] } : {}),
    ...(a.staging ? { 'fulcio-url': STAGING_FULCIO_URL, 'rekor-url': STAGING_REKOR_URL } : {}),
    'tlog-upload': true,
    'rekor-entry-type': 'dsse',
    attach: 'referrers',
  };
  const signing = await resolveSigning(ctx, signingArgs);
  const { signingBundle } = await import('../../sign/bundle-builder.ts');
  let bundle;
  if (a['in-toto']) {
    const { IN_TOTO_PAYLOAD_TYPE, parseStatement } = await import('../../sign/payloads/in-toto.ts');
    try {
      parseStatement(data);
    } catch (e) {
      throw new UsageError(`--in-toto: ${a.file} is not an in-toto statement (${(e as Error).message})`);
    }
    bundle = await signingBundle({
      signer: signing.signer,
      witnesses: signing.witnesses,
      kind: 'dsse',
      data,
      payloadType: IN_TOTO_PAYLOAD_TYPE,
    });
  } else {
    bundle = await signingBundle({ signer: signing.signer, witnesses: signing.witnesses, kind: 'message', data });
  }
  if (a['trusted-root'] !== undefined) await selfCheck(a, bundle, data);
  await writeFile(a.bundle, `${JSON.stringify(bundle)}\n`);
  ctx.out.info(`Signed ${a.file} as ${signing.identity}; wrote ${a.bundle}`);
  return ExitCode.Ok;
}

/**
 * With --trusted-root, the fresh bundle must verify under it (signature, log entry, chain and
 * SCT, any identity): a Fulcio or Rekor the root does not describe fails here, not later.
 */
async function selfCheck(a: SignBundleArgs, bundle: unknown, data: Buffer): Promise<void> {
  const { verifyBlob } = await import('../../verify/verify-blob.ts');
  const trustedRoot = a['trusted-root']!;
  let authority;
  if (a.key !== undefined) {
    const { readPublicKey } = await import('../../verify/trust-material.ts');
    // The bundle names the key only by a digest (its hint): the public key comes from beside the private one.
    const publicKey = readPublicKey(await publicKeyFrom(a.key));
    authority = { kind: 'key' as const, name: 'self', publicKey, tlog: 'required' as const, trustedRoot };
  } else {
    authority = {
      kind: 'keyless' as const,
      name: 'self',
      identities: [{ subjectRegExp: '.*', issuerRegExp: '.*' }],
      sct: 'required' as const,
      tlog: 'required' as const,
      trustedRoot,
    };
  }
  let input;
  if (a['in-toto']) {
    // The statement's subjects are what it is about; check the signature chain with the first.
    const { parseStatement } = await import('../../sign/payloads/in-toto.ts');
    const subject = parseStatement(data).subject[0];
    const sha = subject?.digest['sha256'];
    if (sha === undefined) return;
    input = { kind: 'digest' as const, algorithm: 'sha256' as const, hex: sha };
  } else {
    input = { kind: 'bytes' as const, bytes: data };
  }
  const r = await verifyBlob(bundle as Record<string, unknown>, input, { authority });
  if (!r.ok) {
    const { VerifyError } = await import('../../verify/errors.ts');
    throw new VerifyError(
      'SIGNATURE_INVALID',
      `the signed bundle does not verify under --trusted-root ${trustedRoot}: [${r.code}] ${r.message}`,
    );
  }
}

async function publicKeyFrom(keyFile: string): Promise<string> {
  // cosign key pairs sit side by side: X.key and X.pub.
  const pub = keyFile.replace(/\.key$/, '.pub');
  return readFile(pub, 'utf8').catch(() => {
    throw new UsageError(`--trusted-root with --key: the public key ${pub} beside ${keyFile} is needed`);
  });
}

export const signBundleCommand: Command = {
  register: (y, run) =>
    y.command(
      'sign-bundle <file>',
      'sigstore-conformance protocol: sign FILE (or an in-toto statement) into a Sigstore bundle',
      (c) =>
        stagingFlag(c)
          .positional('file', {
            type: 'string',
            demandOption: true,
            describe: 'the artifact, or with --in-toto the statement',
          })
          .option('in-toto', {
            type: 'boolean',
            default: false,
            describe: 'FILE is an in-toto statement: sign it as DSSE',
          })
          .option('identity-token', { type: 'string', describe: 'the OIDC identity token' })
          .option('bundle', { type: 'string', demandOption: true, describe: 'where to write the bundle' })
          .option('trusted-root', { type: 'string', describe: 'trusted root the new bundle must verify under' })
          .option('signing-config', { type: 'string', describe: 'signing config v0.2: Fulcio, Rekor and TSA URLs' })
          .option('key', { type: 'string', describe: 'sigil extension: sign with a cosign private key instead' }),
      (argv) => run<SignBundleArgs>(argv, signBundle),
    ),
};

export const verifyBundleCommand: Command = {
  register: (y, run) =>
    y.command(
      'verify-bundle <file>',
      'sigstore-conformance protocol: verify a Sigstore bundle over FILE or sha256:HEX',
      (c) =>
        stagingFlag(blobVerifyFlags(c)).positional('file', {
          type: 'string',
          demandOption: true,
          describe: 'the artifact, or its digest sha256:HEX (for DSSE: a subject of the statement)',
        }),
      (argv) =>
        run<VerifyBundleArgs>(argv, (ctx, a) => {
          if (a.staging && a['trusted-root'] === undefined) {
            throw new UsageError(
              '--staging: sigil embeds no staging trusted root (it comes from the staging TUF repository); pass --trusted-root',
            );
          }
          return verifyBlobCommand(ctx, a, a.file);
        }),
    ),
};
