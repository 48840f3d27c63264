/**
 * `sign-blob` and `attest-blob`, with cosign's flags (cosign:cmd/cosign/cli/options/signblob.go,
 * attestblob.go). As cosign v3 does, the output is a Sigstore bundle v0.3 (`--bundle`);
 * `--output-signature`/`--output-certificate` also write the bare signature (base64) and the
 * leaf certificate (PEM) for tools that want them apart.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { buffer } from 'node:stream/consumers';
import type { Argv } from 'yargs';
import type { SignedBlob } from '../../workflows/sign-blob.ts';
import type { Command } from '../command.ts';
import type { Context } from '../context.ts';
import { ExitCode, UsageError } from '../exit-codes.ts';
import { predicateFlags, readPredicate, resolveSigning, type SigningArgs, signingFlags } from '../signing-flags.ts';

interface BlobArgs extends SigningArgs {
  file: string;
  bundle?: string;
  'output-signature'?: string;
  'output-certificate'?: string;
}

interface AttestBlobArgs extends BlobArgs {
  predicate: string;
  type: string;
}

/** The signing flags minus the image-only ones (where and how to attach, recursion). */
function blobFlags<T>(y: Argv<T>) {
  return signingFlags(y)
    .hide('attach')
    .hide('recursive')
    .positional('file', { type: 'string', demandOption: true, describe: 'the file to sign, or - for stdin' })
    .option('bundle', {
      type: 'string',
      describe: 'write the Sigstore bundle (v0.3 JSON: signature, certificate or key hint, log entry) to FILE',
    })
    .option('output-signature', { type: 'string', describe: 'also write the base64 signature to FILE' })
    .option('output-certificate', {
      type: 'string',
      describe: 'keyless: also write the signing certificate (PEM) to FILE',
    });
}

async function readInput(ctx: Context, file: string, flag: string): Promise<Buffer> {
  if (file === '-') return buffer(ctx.io.stdin);
  return readFile(file).catch((e: NodeJS.ErrnoException) => {
    throw new UsageError(`${flag}${file}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`);
  });
}

function checkArgs(a: BlobArgs): void {
  if (a.recursive) throw new UsageError('--recursive applies to images, not files');
  // cosign v3: "must specify --bundle with --new-bundle-format"; a bare signature file is the
  // legacy alternative, so either will do here.
  if (a.bundle === undefined && a['output-signature'] === undefined) {
    throw new UsageError('give --bundle FILE (and/or --output-signature FILE): where should the signature go?');
  }
}

/** Files are written 0600, as cosign writes them. */
async function writeOutputs(ctx: Context, a: BlobArgs, signed: SignedBlob): Promise<string[]> {
  const written: string[] = [];
  if (a.bundle !== undefined) {
    await writeFile(a.bundle, `${JSON.stringify(signed.bundle)}\n`, { mode: 0o600 });
    written.push(a.bundle);
  }
  if (a['output-signature'] !== undefined) {
    await writeFile(a['output-signature'], signed.signature, { mode: 0o600 });
    written.push(a['output-signature']);
  }
  if (a['output-certificate'] !== undefined) {
    if (signed.certificate === undefined) {
      ctx.out.info('note: --output-certificate: key signing has no certificate; nothing written');
    } else {
      await writeFile(a['output-certificate'], signed.certificate, { mode: 0o600 });
      written.push(a['output-certificate']);
    }
  }
  return written;
}

function report(ctx: Context, verb: string, a: BlobArgs, signed: SignedBlob, written: string[]): void {
  const tlog = signed.tlog ? `, Rekor log index ${signed.tlog.logIndex}` : '';
  ctx.out.info(`${verb} ${a.file} (sha256:${signed.sha256})${tlog}; wrote ${written.join(', ')}`);
  ctx.out.result(
    {
      file: a.file,
      sha256: signed.sha256,
      ...(a.bundle !== undefined ? { bundle: a.bundle } : {}),
      signature: signed.signature,
      ...(signed.certificate !== undefined ? { certificate: signed.certificate } : {}),
      ...(signed.tlog ? { tlog: signed.tlog } : {}),
    },
    '',
  );
}

export const signBlobCommand: Command = {
  register: (y, run) =>
    y.command(
      'sign-blob <file>',
      'Sign a file into a Sigstore bundle, with a key or keyless (Fulcio + Rekor)',
      (c) =>
        blobFlags(c)
          .example('$0 sign-blob --key cosign.key --bundle app.tar.gz.sigstore.json app.tar.gz', 'with a key pair')
          .example('SIGSTORE_ID_TOKEN=$TOKEN $0 sign-blob --bundle out.sigstore.json app.tar.gz', 'keyless in CI'),
      (argv) =>
        run<BlobArgs>(argv, async (ctx, a) => {
          checkArgs(a);
          const blob = await readInput(ctx, a.file, '');
          const signing = await resolveSigning(ctx, a);
          ctx.out.debug(`signing as ${signing.identity}`);
          const { signBlob } = await import('../../workflows/sign-blob.ts');
          const signed = await signBlob(blob, signing);
          report(ctx, 'Signed', a, signed, await writeOutputs(ctx, a, signed));
          return ExitCode.Ok;
        }),
    ),
};

export const attestBlobCommand: Command = {
  register: (y, run) =>
    y.command(
      'attest-blob <file>',
      'Sign an in-toto attestation about a file (subject: its name and sha256) into a Sigstore bundle',
      (c) =>
        predicateFlags(blobFlags(c)).example(
          '$0 attest-blob --key cosign.key --type slsaprovenance1 --predicate prov.json --bundle app.att.json app.tar.gz',
          '',
        ),
      (argv) =>
        run<AttestBlobArgs>(argv, async (ctx, a) => {
          checkArgs(a);
          const bytes = await readInput(ctx, a.predicate, '--predicate ');
          const { predicateType, predicate } = await readPredicate(a.type, bytes, a.predicate);
          const blob = await readInput(ctx, a.file, '');
          const signing = await resolveSigning(ctx, a);
          const { attestBlob } = await import('../../workflows/sign-blob.ts');
          const signed = await attestBlob(blob, { ...signing, predicateType, predicate, name: a.file });
          report(ctx, `Attested (${predicateType})`, a, signed, await writeOutputs(ctx, a, signed));
          return ExitCode.Ok;
        }),
    ),
};
