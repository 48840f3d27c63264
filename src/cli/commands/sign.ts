import { readFile } from 'node:fs/promises';
import type { SignImageResult, WrittenSignature } from '../../workflows/sign-image.ts';
import type { Command } from '../command.ts';
import type { Context } from '../context.ts';
import { ExitCode, UsageError } from '../exit-codes.ts';
import { predicateFlags, readPredicate, resolveSigning, type SigningArgs, signingFlags } from '../signing-flags.ts';

interface SignArgs extends SigningArgs {
  images: string[];
  annotations?: string[];
}

interface AttestArgs extends SigningArgs {
  image: string;
  predicate: string;
  type: string;
}

/** `-a key=value` pairs, as cosign parses them (the first `=` splits). */
export function parseAnnotations(values: readonly string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values ?? []) {
    const eq = v.indexOf('=');
    if (eq <= 0) throw new UsageError(`-a/--annotations "${v}": expected key=value`);
    out[v.slice(0, eq)] = v.slice(eq + 1);
  }
  return out;
}

function describe(s: WrittenSignature): string {
  const where =
    s.scheme === 'tag'
      ? `${s.tag}${s.written ? '' : ' (already there: not written again)'}`
      : `referrer ${s.manifest}${s.via === 'fallback-tag' ? ` (listed in fallback tag ${s.tag})` : ''}`;
  const tlog = s.tlog ? `, Rekor log index ${s.tlog.logIndex}` : '';
  return `${s.subject.digest} -> ${where}${tlog}`;
}

function report(ctx: Context, verb: string, results: SignImageResult[]): void {
  const lines: string[] = [];
  for (const r of results) {
    ctx.out.info(`${verb} ${r.repository}@${r.digest} (from ${r.reference})`);
    for (const s of r.signatures) lines.push(describe(s));
  }
  ctx.out.result(results.length === 1 ? results[0] : results, lines.join('\n'));
}

export const signCommand: Command = {
  register: (y, run) =>
    y.command(
      'sign <images..>',
      'Sign images by digest with a key or keyless (Fulcio + Rekor), stored where cosign looks',
      (c) =>
        signingFlags(c)
          .positional('images', { type: 'string', array: true, demandOption: true, describe: 'image references' })
          .option('annotations', {
            alias: 'a',
            type: 'string',
            array: true,
            nargs: 1,
            describe: 'key=value to sign along (repeatable)',
          })
          .example('$0 sign --key cosign.key registry.example/app:1.0', 'sign with a key pair')
          .example('SIGSTORE_ID_TOKEN=$TOKEN $0 sign registry.example/app@sha256:…', 'keyless in CI')
          .example(
            '$0 sign --key cosign.key --attach tag --tlog-upload=false 127.0.0.1:5000/app:1',
            "cosign's .sig tag",
          ),
      (argv) =>
        run<SignArgs>(argv, async (ctx, a) => {
          const annotations = parseAnnotations(a.annotations);
          const signing = await resolveSigning(ctx, a);
          ctx.out.debug(`signing as ${signing.identity}`);
          const { signImage } = await import('../../workflows/sign-image.ts');
          const { RequestCount } = await import('../../oci/registry/request-count.ts');
          // Every HTTP attempt this command sends to a registry, for --verbose.
          const requests = new RequestCount();
          const registry = { ...ctx.registry, onRequest: requests.add.bind(requests) };
          const results: SignImageResult[] = [];
          for (const image of a.images) {
            results.push(
              await signImage(image, {
                ...signing,
                attach: a.attach,
                annotations,
                recursive: a.recursive ?? false,
                registry,
                ...(ctx.signatureRepository ? { signatureRepository: ctx.signatureRepository } : {}),
                signal: ctx.signal,
              }),
            );
          }
          ctx.out.debug(`registry requests: ${requests.toString()}`);
          report(ctx, 'Signed', results);
          return ExitCode.Ok;
        }),
    ),
};

export const attestCommand: Command = {
  register: (y, run) =>
    y.command(
      'attest <image>',
      'Sign an in-toto attestation (SBOM, provenance, …) about an image and attach it',
      (c) =>
        predicateFlags(signingFlags(c))
          .positional('image', { type: 'string', demandOption: true, describe: 'image reference' })
          .example('$0 attest --key cosign.key --type cyclonedx --predicate app.cdx.json registry.example/app:1.0', ''),
      (argv) =>
        run<AttestArgs>(argv, async (ctx, a) => {
          const bytes = await readFile(a.predicate).catch((e: NodeJS.ErrnoException) => {
            throw new UsageError(`--predicate ${a.predicate}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`);
          });
          const { predicateType, predicate } = await readPredicate(a.type, bytes, a.predicate);
          const signing = await resolveSigning(ctx, a);
          const { attestImage } = await import('../../workflows/sign-image.ts');
          const result = await attestImage(a.image, {
            ...signing,
            attach: a.attach,
            predicateType,
            predicate,
            recursive: a.recursive ?? false,
            registry: ctx.registry,
            ...(ctx.signatureRepository ? { signatureRepository: ctx.signatureRepository } : {}),
            signal: ctx.signal,
          });
          report(ctx, `Attested (${predicateType})`, [result]);
          return ExitCode.Ok;
        }),
    ),
};
