/**
 * `download signature|attestation|sbom`, as cosign's (cosign:cmd/cosign/cli/download/*.go):
 * one JSON document a line for signatures and attestations, the SBOM's bytes for sbom. Reads
 * both storage schemes, and for attestations and SBOMs also BuildKit's in-index attestations.
 */
import type { Attachment } from '../../attach/discovery.ts';
import { AttachError } from '../../attach/errors.ts';
import type { Digest } from '../../oci/digest.ts';
import type { Command } from '../command.ts';
import type { Context } from '../context.ts';
import { platformOption } from '../context.ts';
import { ExitCode, UsageError } from '../exit-codes.ts';
import { type ResolvedImage, resolveImage } from './tree.ts';

const KINDS = ['signature', 'attestation', 'sbom'] as const;
type Kind = (typeof KINDS)[number];

interface DownloadArgs {
  kind: Kind;
  image: string;
  'predicate-type'?: string;
  platform?: string;
}

/**
 * cosign's `SignedPayload` as `json.Marshal` writes it (cosign:pkg/cosign/fetch.go), field for
 * field, with one deliberate difference: Go dumps `*x509.Certificate` as its whole parsed struct,
 * which nothing reads back; sigil writes the certificate (and each chain certificate) as PEM.
 */
export interface SignedPayloadJson {
  Base64Signature: string;
  /** Base64 of the payload bytes (Go's encoding of []byte). */
  Payload: string;
  Cert: string | null;
  Chain: string[] | null;
  Bundle: unknown;
  RFC3161Timestamp: unknown;
}

/** cosign's `AttestationPayload`: a DSSE envelope, fields in this order. */
export interface AttestationPayloadJson {
  payloadType: string;
  payload: string;
  signatures: { keyid?: string; sig: string }[];
}

function pemBlocks(text: string | undefined): string[] {
  return text ? (text.match(/-----BEGIN [^-]+-----[\s\S]*?-----END [^-]+-----\n?/g) ?? []) : [];
}

function jsonAnnotation(value: string | undefined, what: string): unknown {
  if (!value) return null;
  try {
    return JSON.parse(value) as unknown;
  } catch {
    throw new AttachError('ATTACHMENT_INVALID', `${what} annotation is not JSON`);
  }
}

async function signedPayloads(a: Attachment): Promise<SignedPayloadJson[]> {
  const { AttachAnnotation, AttachMediaType } = await import('../../attach/media-types.ts');
  const out: SignedPayloadJson[] = [];
  for (const l of a.layers) {
    if (l.descriptor.mediaType !== AttachMediaType.SimpleSigning) continue;
    const ann = { ...a.annotations, ...l.annotations };
    const chain = pemBlocks(ann[AttachAnnotation.Chain]);
    out.push({
      Base64Signature: ann[AttachAnnotation.Signature] ?? '',
      Payload: Buffer.from(await l.fetch()).toString('base64'),
      Cert: ann[AttachAnnotation.Certificate] || null,
      Chain: chain.length > 0 ? chain : null,
      Bundle: jsonAnnotation(ann[AttachAnnotation.Bundle], 'dev.sigstore.cosign/bundle'),
      RFC3161Timestamp: jsonAnnotation(ann[AttachAnnotation.Rfc3161Timestamp], 'dev.sigstore.cosign/rfc3161timestamp'),
    });
  }
  return out;
}

async function bundleDoc(a: Attachment): Promise<Record<string, unknown> | undefined> {
  const layer = a.layers[0];
  if (!layer) return undefined;
  const doc = JSON.parse(Buffer.from(await layer.fetch()).toString('utf8')) as unknown;
  return typeof doc === 'object' && doc !== null && !Array.isArray(doc) ? (doc as Record<string, unknown>) : undefined;
}

/** Envelope → cosign's line shape, with the predicate type of its statement for filtering. */
async function attestationLine(
  envelope: Uint8Array | Record<string, unknown>,
): Promise<{ line: AttestationPayloadJson; predicateType: string | undefined }> {
  const [{ parseEnvelope }, { parseStatement }] = await Promise.all([
    import('../../sign/payloads/dsse.ts'),
    import('../../sign/payloads/in-toto.ts'),
  ]);
  const env = parseEnvelope(envelope);
  let predicateType: string | undefined;
  try {
    predicateType = parseStatement(env.payload).predicateType;
  } catch {
    predicateType = undefined;
  }
  return {
    line: {
      payloadType: env.payloadType,
      payload: Buffer.from(env.payload).toString('base64'),
      signatures: env.signatures.map((s) => ({
        ...(s.keyid !== undefined ? { keyid: s.keyid } : {}),
        sig: Buffer.from(s.sig).toString('base64'),
      })),
    },
    predicateType,
  };
}

export interface Found<T> {
  /** Where it came from: `tag <tag>`, `referrer <digest>`, `buildkit <digest>`. */
  source: string;
  value: T;
}

async function attachmentsOf(img: ResolvedImage, ctx: Context): Promise<Attachment[]> {
  const { listAttachments } = await import('../../attach/discovery.ts');
  const list = await listAttachments(img.store.registry, img.store.repository, img.subject.digest, {
    signal: ctx.signal,
  });
  return list.attachments;
}

/** `.sig` layers (and cosign's oci-1-1 `.sig` referrers) as SignedPayload; signature bundles as stored. */
export async function downloadSignatures(img: ResolvedImage, ctx: Context): Promise<Found<unknown>[]> {
  const out: Found<unknown>[] = [];
  for (const a of await attachmentsOf(img, ctx)) {
    if (a.kind !== 'signature') continue;
    const source = a.scheme === 'tag' ? `tag ${a.tag}` : `referrer ${a.manifest.digest}`;
    if (a.bundle) {
      const doc = await bundleDoc(a);
      if (doc) out.push({ source, value: doc });
      continue;
    }
    for (const p of await signedPayloads(a)) out.push({ source, value: p });
  }
  return out;
}

/**
 * DSSE envelopes from `.att` layers, in-toto referrers and bundle referrers (their
 * `dsseEnvelope`), then BuildKit's unsigned statements wrapped in the same shape with no
 * signatures, so that `jq -r .payload | base64 -d` works on every line.
 */
export async function downloadAttestations(
  img: ResolvedImage,
  ctx: Context,
  predicateType?: string,
): Promise<Found<AttestationPayloadJson>[]> {
  const { AttachMediaType } = await import('../../attach/media-types.ts');
  const out: Found<AttestationPayloadJson>[] = [];
  const keep = (pt: string | undefined) => predicateType === undefined || pt === predicateType;
  for (const a of await attachmentsOf(img, ctx)) {
    if (a.kind !== 'attestation') continue;
    const source = a.scheme === 'tag' ? `tag ${a.tag}` : `referrer ${a.manifest.digest}`;
    if (a.bundle) {
      const env = (await bundleDoc(a))?.['dsseEnvelope'];
      if (typeof env !== 'object' || env === null) continue;
      const { line, predicateType: pt } = await attestationLine(env as Record<string, unknown>);
      if (keep(pt)) out.push({ source, value: line });
      continue;
    }
    for (const l of a.layers) {
      if (l.descriptor.mediaType !== AttachMediaType.DsseEnvelope) continue;
      const { line, predicateType: pt } = await attestationLine(await l.fetch());
      if (keep(pt)) out.push({ source, value: line });
    }
  }
  for (const b of await buildkitOf(img, ctx)) {
    if (!keep(b.predicateType)) continue;
    const bytes = await b.fetch(ctx.signal);
    out.push({
      source: `buildkit ${b.manifest.digest}`,
      value: { payloadType: AttachMediaType.InToto, payload: Buffer.from(bytes).toString('base64'), signatures: [] },
    });
  }
  return out;
}

async function buildkitOf(img: ResolvedImage, ctx: Context) {
  const [{ listBuildkitAttestations }, { isIndexMediaType }] = await Promise.all([
    import('../../attach/buildkit.ts'),
    import('../../oci/media-types.ts'),
  ]);
  if (!isIndexMediaType(img.root.mediaType)) return [];
  // With --platform only that image's attestations; without, every image's in the index.
  const subject: Digest | undefined = img.subject.digest === img.root.digest ? undefined : img.subject.digest;
  return listBuildkitAttestations(img.registry, img.ref.repository, img.root.digest, {
    ...(subject ? { subject } : {}),
    signal: ctx.signal,
  });
}

export interface SbomFound {
  source: string;
  mediaType: string;
  bytes: Uint8Array;
}

/** The first SBOM found: the `.sbom` tag, an SBOM referrer, else BuildKit's SPDX attestation predicate. */
export async function downloadSbom(img: ResolvedImage, ctx: Context): Promise<SbomFound | undefined> {
  for (const a of await attachmentsOf(img, ctx)) {
    if (a.kind !== 'sbom') continue;
    const layer = a.layers.find((l) => l.descriptor.mediaType !== 'application/vnd.oci.empty.v1+json');
    if (!layer) continue;
    return {
      source: a.scheme === 'tag' ? `tag ${a.tag}` : `referrer ${a.manifest.digest}`,
      mediaType: layer.descriptor.mediaType,
      bytes: await layer.fetch(),
    };
  }
  const { BuildkitPredicateType } = await import('../../attach/buildkit.ts');
  const { parseStatement } = await import('../../sign/payloads/in-toto.ts');
  for (const b of await buildkitOf(img, ctx)) {
    if (b.predicateType !== BuildkitPredicateType.Spdx) continue;
    const statement = parseStatement(await b.fetch(ctx.signal));
    return {
      source: `buildkit ${b.manifest.digest}`,
      mediaType: 'application/spdx+json',
      bytes: new TextEncoder().encode(`${JSON.stringify(statement.predicate)}\n`),
    };
  }
  return undefined;
}

function notFound(message: string): never {
  throw new AttachError('NOT_FOUND', message);
}

function lines(values: unknown[]): string {
  return values.map((v) => JSON.stringify(v)).join('\n');
}

export const downloadCommand: Command = {
  register: (y, run) =>
    y.command(
      'download <kind> <image>',
      'Print the signatures, attestations or SBOM attached to an image (both schemes and BuildKit)',
      (c) =>
        c
          .positional('kind', { type: 'string', choices: KINDS, demandOption: true, describe: 'what to download' })
          .positional('image', { type: 'string', demandOption: true, describe: 'image reference' })
          .option('predicate-type', {
            type: 'string',
            describe: 'attestation: only this predicate type (a URI, or spdx, slsaprovenance, cyclonedx, …)',
          })
          .option('platform', {
            type: 'string',
            describe: 'attestation, sbom: the image of this os/arch[/variant] in an index',
          })
          .example('$0 download signature 127.0.0.1:5000/app:1.0', 'one JSON object a line')
          .example('$0 download attestation --predicate-type slsaprovenance1 registry.example/app:1.0', '')
          .example('$0 download sbom --platform linux/arm64 registry.example/app:1.0 > sbom.spdx.json', ''),
      (argv) =>
        run<DownloadArgs>(argv, async (ctx, a) => {
          if (a['predicate-type'] !== undefined && a.kind !== 'attestation') {
            throw new UsageError('--predicate-type applies to download attestation only');
          }
          if (a.platform !== undefined && a.kind === 'signature') {
            throw new UsageError('--platform applies to download attestation and sbom only');
          }
          const img = await resolveImage(ctx, a.image, platformOption(a.platform));
          const where = `${img.repositoryName}@${img.subject.digest}`;
          if (a.kind === 'signature') {
            const found = await downloadSignatures(img, ctx);
            if (found.length === 0) {
              return notFound(`no signatures for ${where}: looked for .sig tag layers and signature bundle referrers`);
            }
            ctx.out.result(
              found.map((f) => f.value),
              lines(found.map((f) => f.value)),
            );
            return ExitCode.Ok;
          }
          if (a.kind === 'attestation') {
            let predicateType: string | undefined;
            if (a['predicate-type'] !== undefined) {
              const { predicateTypeFor } = await import('../../sign/payloads/in-toto.ts');
              predicateType = predicateTypeFor(a['predicate-type']);
            }
            const found = await downloadAttestations(img, ctx, predicateType);
            if (found.length === 0) {
              const what = predicateType ? `attestations with predicate type '${predicateType}'` : 'attestations';
              return notFound(
                `no ${what} for ${where}: looked for .att tag layers, attestation referrers and BuildKit attestation manifests`,
              );
            }
            for (const f of found) ctx.out.debug(`from ${f.source}`);
            ctx.out.result(
              found.map((f) => f.value),
              lines(found.map((f) => f.value)),
            );
            return ExitCode.Ok;
          }
          const sbom = await downloadSbom(img, ctx);
          if (!sbom) {
            return notFound(
              `no SBOM for ${where}: looked for a .sbom tag, SBOM referrers and BuildKit SPDX attestations`,
            );
          }
          ctx.out.info(`Found SBOM of media type: ${sbom.mediaType} (${sbom.source})`);
          if (ctx.out.format === 'json') {
            let parsed: unknown;
            try {
              parsed = JSON.parse(Buffer.from(sbom.bytes).toString('utf8'));
            } catch {
              parsed = Buffer.from(sbom.bytes).toString('utf8');
            }
            ctx.out.result({ source: sbom.source, mediaType: sbom.mediaType, sbom: parsed }, '');
          } else {
            ctx.out.raw(sbom.bytes);
          }
          return ExitCode.Ok;
        }),
    ),
};
