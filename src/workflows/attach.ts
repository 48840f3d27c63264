/**
 * `attach sbom|signature|attestation`: store something made elsewhere (an SBOM file, a
 * signature over a payload, a DSSE envelope, a Sigstore bundle) beside an image, where cosign
 * looks, without signing anything (cosign:cmd/cosign/cli/attach/{sbom,sig,attach}.go).
 *
 * Two schemes, as for `sign`:
 * - `tag`: cosign's `.sbom` (one layer, replaced whole), `.sig` and `.att` (appended) images;
 * - `referrers`: an OCI 1.1 referrer. SBOMs and payload+signature pairs become the manifests
 *   cosign writes with `--registry-referrers-mode=oci-1-1` (config media type = artifactType
 *   `application/vnd.dev.cosign.artifact.<sbom|sig>.v1+json`), DSSE envelopes the manifest of
 *   cosign's `WriteAttestationsReferrer` (artifactType `application/vnd.in-toto+json`).
 * A Sigstore bundle is always pushed as a bundle referrer, whatever the scheme: that is what
 * cosign does with a bundle given to `attach signature --bundle` or `attach attestation`, and the
 * only place cosign v3's verify reads bundles from.
 */
import { Readable } from 'node:stream';
import { bundleFromJSON, type SerializedBundle } from '@sigstore/bundle';
import { AttachError } from '../attach/errors.ts';
import { AttachAnnotation, AttachMediaType, cosignArtifactType } from '../attach/media-types.ts';
import { bundleReferrer, pushReferrer, type ReferrerInput } from '../attach/referrers.ts';
import { buildSignatureImage, type TagLayerInput } from '../attach/signature-image.ts';
import { appendToTagImage, readTagImage } from '../attach/tag-image.ts';
import { attachmentTag } from '../attach/tags.ts';
import type { Digest } from '../oci/digest.ts';
import type { Descriptor } from '../oci/manifest.ts';
import { referrersTag } from '../oci/registry/referrers.ts';
import {
  attachmentRepository,
  type RepositoryLocation,
  type ResolvedReference,
  resolveReference,
} from '../oci/registry/resolve.ts';
import type { RegistryOptions } from '../oci/registry/client.ts';
import { decodeBase64 } from '../sign/payloads/base64.ts';
import { dsseEnvelope, parseEnvelope } from '../sign/payloads/dsse.ts';
import { IN_TOTO_PAYLOAD_TYPE, parseStatement } from '../sign/payloads/in-toto.ts';
import { dockerReferenceOf, simpleSigningPayload } from '../sign/payloads/simple-signing.ts';
import { legacyAnnotations } from './legacy-annotations.ts';
import type { AttachScheme } from './sign-image.ts';

export interface AttachOptions {
  /** Default `tag`: what `cosign attach` writes unless `--registry-referrers-mode=oci-1-1`. */
  attach?: AttachScheme;
  registry?: RegistryOptions;
  /** Store in this `registry/repository` instead of the image's own (cosign's `COSIGN_REPOSITORY`). */
  signatureRepository?: string;
  /** Time written into referrer manifests; default now. */
  now?: () => Date;
  signal?: AbortSignal;
}

export interface AttachSbomOptions extends AttachOptions {
  sbom: Uint8Array;
  /** Layer media type, e.g. from {@link sbomMediaType}. */
  mediaType: string;
}

export interface AttachSignatureOptions extends AttachOptions {
  /** The signed payload; default the simple-signing payload cosign generates for the digest. */
  payload?: Uint8Array;
  /** Base64 signature over the payload (cosign's `--signature` file content; surrounding whitespace ignored). */
  signature: string;
  /** PEM signing certificate (`--certificate`). */
  certificate?: string;
  /** PEM intermediates…root (`--certificate-chain`). */
  chain?: string;
}

export interface AttachAttestationOptions extends AttachOptions {
  /** DSSE envelope JSON; several may follow one another (JSON lines), as cosign's decoder reads them. */
  envelopes: Uint8Array;
}

export interface AttachBundleOptions extends AttachOptions {
  /** Sigstore bundle JSON holding a DSSE envelope around an in-toto statement. */
  bundle: Uint8Array;
}

/** One manifest written (or, for a duplicate `.sig`/`.att` layer, found already there). */
export interface Attached {
  kind: 'sbom' | 'signature' | 'attestation';
  scheme: AttachScheme;
  /** A bundle referrer rather than cosign's legacy layouts. */
  bundle: boolean;
  /** Referrers: `api` or the fallback tag index. */
  via?: 'api' | 'fallback-tag';
  /** The referrer manifest, or the tag image's manifest afterwards. */
  manifest: Digest;
  /** The `.sbom`/`.sig`/`.att` tag, or the fallback index tag. */
  tag?: string;
  written: boolean;
  /** `.sbom`: the manifest the tag named before it was replaced. */
  replaced?: Digest;
  /** Bundles and envelopes: the statement's predicate type. */
  predicateType?: string;
}

export interface AttachResult {
  reference: string;
  /** `registry/repository`. */
  repository: string;
  /** The digest the reference resolved to (once, before anything was written). */
  digest: Digest;
  attached: Attached[];
}

/** The image attached to, and the repository its attachments are written to. */
type Subject = ResolvedReference & { store: RepositoryLocation };

async function resolveSubject(reference: string, o: AttachOptions): Promise<Subject> {
  const s = await resolveReference(reference, o.registry, o.signal);
  return { ...s, store: attachmentRepository(s.ref, s.registry, o.signatureRepository, o.registry) };
}

function result(reference: string, s: Subject, attached: Attached[]): AttachResult {
  return {
    reference,
    repository: s.store.name,
    digest: s.descriptor.digest,
    attached,
  };
}

async function pushTo(
  s: Subject,
  input: ReferrerInput,
  kind: Attached['kind'],
  o: AttachOptions,
  extra: Partial<Attached> = {},
): Promise<Attached> {
  const pushed = await pushReferrer(s.store.registry, s.store.repository, input, o.signal ? { signal: o.signal } : {});
  return {
    kind,
    scheme: 'referrers',
    bundle: false,
    via: pushed.via === 'api' ? 'api' : 'fallback-tag',
    manifest: pushed.manifest.digest,
    ...(pushed.via === 'tag' ? { tag: referrersTag(s.descriptor.digest) } : {}),
    written: true,
    ...extra,
  };
}

/**
 * The config cosign's experimental referrers write: the generated signature-image config,
 * with the artifactType as its media type (cosign:pkg/oci/remote/write.go
 * `WriteSignaturesExperimentalOCI`, cosign:cmd/cosign/cli/attach/sbom.go).
 */
function experimentalReferrer(subject: Descriptor, name: 'sig' | 'sbom', layer: TagLayerInput): ReferrerInput {
  const artifactType = cosignArtifactType(name);
  return {
    subject,
    artifactType,
    layers: [layer],
    config: { mediaType: artifactType, bytes: buildSignatureImage([layer]).configBytes },
  };
}

/**
 * cosign's `--type`/`--input-format` → layer media type (cosign:cmd/cosign/cli/options/attach.go
 * `MediaType`): json is inferred from a `.json` file name when no format is given.
 */
export function sbomMediaType(
  type: 'spdx' | 'cyclonedx' | 'syft',
  inputFormat: 'json' | 'xml' | 'text' | undefined,
  fileName = '',
): string {
  const json = inputFormat === 'json' || (inputFormat === undefined && fileName.endsWith('.json'));
  const bad = (allowed: string) =>
    new AttachError('INVALID_OPTIONS', `invalid SBOM input format "${inputFormat}" for ${type}: expected ${allowed}`);
  switch (type) {
    case 'cyclonedx':
      if (inputFormat === 'text') throw bad('json or xml');
      return json ? 'application/vnd.cyclonedx+json' : 'application/vnd.cyclonedx+xml';
    case 'spdx':
      if (inputFormat === 'xml') throw bad('json or text');
      return json ? 'text/spdx+json' : 'text/spdx';
    case 'syft':
      if (inputFormat !== undefined && inputFormat !== 'json') throw bad('json');
      return 'application/vnd.syft+json';
  }
}

/**
 * An SBOM file as is. Tag scheme: the `.sbom` image holds exactly one layer and is replaced
 * whole, as cosign's `remote.Write` of a fresh `static.NewFile` image does (a second SBOM
 * replaces the first; `replaced` names the old manifest). Referrers: one more referrer.
 */
export async function attachSbom(reference: string, options: AttachSbomOptions): Promise<AttachResult> {
  if (options.sbom.byteLength === 0) throw new AttachError('INVALID_OPTIONS', 'the SBOM is empty');
  const s = await resolveSubject(reference, options);
  const layer: TagLayerInput = { mediaType: options.mediaType, bytes: options.sbom };
  if ((options.attach ?? 'tag') === 'referrers') {
    return result(reference, s, [await pushTo(s, experimentalReferrer(s.descriptor, 'sbom', layer), 'sbom', options)]);
  }
  const repo = s.store.repository;
  const tag = attachmentTag('sbom', s.descriptor.digest);
  const before = await readTagImage(s.store.registry, repo, tag, options.signal);
  const image = buildSignatureImage([layer]);
  const pushOptions = options.signal ? { signal: options.signal } : {};
  // Blobs first, the manifest last: the tag never names a blob the registry lacks.
  const blobs: [Descriptor, Uint8Array][] = [
    [image.layers[0] as Descriptor, options.sbom],
    [image.config, image.configBytes],
  ];
  for (const [d, bytes] of blobs) {
    await s.store.registry.pushBlob(repo, d, async () => Readable.from([Buffer.from(bytes)]), pushOptions);
  }
  const digest = await s.store.registry.putManifest(
    repo,
    tag,
    image.manifestBytes,
    image.manifestMediaType,
    options.signal,
  );
  const old = before?.manifest.descriptor.digest;
  return result(reference, s, [
    {
      kind: 'sbom',
      scheme: 'tag',
      bundle: false,
      manifest: digest,
      tag,
      written: old !== digest,
      ...(old !== undefined && old !== digest ? { replaced: old } : {}),
    },
  ]);
}

/**
 * A signature made elsewhere over a payload (cosign `attach signature --payload --signature`).
 * The signature is not checked against anything (cosign does not either); it must be base64.
 */
export async function attachSignature(reference: string, options: AttachSignatureOptions): Promise<AttachResult> {
  const signature = options.signature.trim();
  if (signature === '') throw new AttachError('INVALID_OPTIONS', 'empty signature');
  decodeBase64(signature, 'signature');
  const s = await resolveSubject(reference, options);
  const payload =
    options.payload ??
    simpleSigningPayload({ dockerReference: dockerReferenceOf(s.ref), manifestDigest: s.descriptor.digest });
  const annotations: Record<string, string> = { [AttachAnnotation.Signature]: signature };
  if (options.certificate !== undefined) {
    annotations[AttachAnnotation.Certificate] = options.certificate;
    annotations[AttachAnnotation.Chain] = options.chain ?? '';
  } else if (options.chain !== undefined) {
    throw new AttachError('INVALID_OPTIONS', 'a certificate chain needs the certificate it belongs to');
  }
  const layer: TagLayerInput = { mediaType: AttachMediaType.SimpleSigning, bytes: payload, annotations };
  if ((options.attach ?? 'tag') === 'referrers') {
    return result(reference, s, [
      await pushTo(s, experimentalReferrer(s.descriptor, 'sig', layer), 'signature', options),
    ]);
  }
  const tag = attachmentTag('signature', s.descriptor.digest);
  const appended = await appendToTagImage(
    s.store.registry,
    s.store.repository,
    tag,
    [layer],
    options.signal ? { signal: options.signal } : {},
  );
  return result(reference, s, [
    { kind: 'signature', scheme: 'tag', bundle: false, manifest: appended.digest, tag, written: appended.written },
  ]);
}

/** Splits concatenated JSON values (JSON lines, or objects back to back) as Go's json.Decoder reads them. */
function jsonValues(bytes: Uint8Array): string[] {
  const text = new TextDecoder().decode(bytes);
  const out: string[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === '{') {
      if (depth++ === 0) start = i;
    } else if (c === '}') {
      if (--depth === 0) out.push(text.slice(start, i + 1));
      if (depth < 0) break;
    } else if (depth === 0 && !/\s/.test(c ?? '')) {
      throw new AttachError('ATTACHMENT_INVALID', `attestation file: expected JSON objects, found "${c}" at ${i}`);
    }
  }
  if (depth !== 0) throw new AttachError('ATTACHMENT_INVALID', 'attestation file: unterminated JSON object');
  return out;
}

/** Is this JSON a Sigstore bundle (cosign tries `bundle.LoadJSONFromPath` first)? */
function looksLikeBundle(doc: unknown): doc is SerializedBundle {
  return (
    typeof doc === 'object' &&
    doc !== null &&
    typeof (doc as { mediaType?: unknown }).mediaType === 'string' &&
    (doc as { mediaType: string }).mediaType.startsWith('application/vnd.dev.sigstore.bundle')
  );
}

function bundleStatementType(bundle: SerializedBundle): string {
  const env = bundle.dsseEnvelope;
  // cosign's attachAttestationNewBundle: "bundle does not have DSSE envelope".
  if (env === undefined) {
    throw new AttachError('ATTACHMENT_INVALID', 'the bundle has no DSSE envelope: only attestation bundles attach');
  }
  if (env.payloadType !== IN_TOTO_PAYLOAD_TYPE) {
    throw new AttachError('ATTACHMENT_INVALID', `bundle envelope payloadType "${env.payloadType}" is not in-toto`);
  }
  return parseStatement(Buffer.from(env.payload, 'base64')).predicateType;
}

/**
 * A Sigstore bundle (as `sign-blob`/`attest`/`attest-blob` write) about this image: pushed as
 * the bundle referrer cosign v3 writes; with `attach: 'tag'` its envelope and verification
 * material go into an `.att` layer instead, as sigil's own `attest --attach tag` stores them.
 */
export async function attachBundle(reference: string, options: AttachBundleOptions): Promise<AttachResult> {
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder().decode(options.bundle));
    bundleFromJSON(doc);
  } catch (e) {
    throw new AttachError('ATTACHMENT_INVALID', `not a Sigstore bundle: ${(e as Error).message}`, { cause: e });
  }
  const bundle = doc as SerializedBundle;
  const predicateType = bundleStatementType(bundle);
  const s = await resolveSubject(reference, options);
  return result(reference, s, [await storeBundle(s, bundle, options.bundle, predicateType, options)]);
}

async function storeBundle(
  s: Subject,
  bundle: SerializedBundle,
  bytes: Uint8Array,
  predicateType: string,
  o: AttachOptions,
): Promise<Attached> {
  if ((o.attach ?? 'referrers') === 'tag') {
    const parsed = parseEnvelope(bundle.dsseEnvelope as unknown as Record<string, unknown>);
    const envelope = dsseEnvelope({ ...parsed, signatures: parsed.signatures.map((x) => ({ sig: x.sig, keyid: '' })) });
    const tag = attachmentTag('attestation', s.descriptor.digest);
    const appended = await appendToTagImage(
      s.store.registry,
      s.store.repository,
      tag,
      [
        {
          mediaType: AttachMediaType.DsseEnvelope,
          bytes: envelope,
          annotations: legacyAnnotations(bundle, { [AttachAnnotation.PredicateType]: predicateType }),
        },
      ],
      o.signal ? { signal: o.signal } : {},
    );
    return {
      kind: 'attestation',
      scheme: 'tag',
      bundle: false,
      manifest: appended.digest,
      tag,
      written: appended.written,
      predicateType,
    };
  }
  const input = bundleReferrer({
    subject: s.descriptor,
    bundle: bytes,
    predicateType,
    created: (o.now ?? (() => new Date()))(),
  });
  return pushTo(s, input, 'attestation', o, { bundle: true, predicateType });
}

/**
 * DSSE envelopes (cosign `attach attestation --attestation F`): each must carry an in-toto
 * payload and at least one signature (cosign's checks). A file that is a Sigstore bundle
 * becomes a bundle referrer instead, as in cosign. Tag scheme: one `.att` layer per envelope,
 * re-serialised in the secure-systems-lab shape with the empty signature annotation
 * (`static.NewAttestation`); referrers: one in-toto referrer holding them all.
 */
export async function attachAttestation(reference: string, options: AttachAttestationOptions): Promise<AttachResult> {
  const values = jsonValues(options.envelopes);
  if (values.length === 0) throw new AttachError('INVALID_OPTIONS', 'the attestation file holds no envelope');
  const docs = values.map((v, i) => {
    try {
      return JSON.parse(v) as unknown;
    } catch (e) {
      throw new AttachError('ATTACHMENT_INVALID', `attestation file: value ${i + 1} is not JSON`, { cause: e });
    }
  });
  if (docs.length === 1 && looksLikeBundle(docs[0])) {
    return attachBundle(reference, { ...options, bundle: options.envelopes });
  }
  const layers: (TagLayerInput & { predicateType: string })[] = docs.map((doc, i) => {
    if (looksLikeBundle(doc)) {
      throw new AttachError(
        'ATTACHMENT_INVALID',
        `attestation file: value ${i + 1} is a bundle; attach bundles one a file`,
      );
    }
    const env = parseEnvelope(doc as Record<string, unknown>);
    if (env.payloadType !== IN_TOTO_PAYLOAD_TYPE) {
      throw new AttachError(
        'ATTACHMENT_INVALID',
        `invalid payloadType ${env.payloadType} on envelope ${i + 1}; expected ${IN_TOTO_PAYLOAD_TYPE}`,
      );
    }
    if (env.signatures.length === 0) {
      throw new AttachError('ATTACHMENT_INVALID', `envelope ${i + 1} has no signatures: nothing to attach`);
    }
    const predicateType = parseStatement(env.payload).predicateType;
    return {
      mediaType: AttachMediaType.DsseEnvelope,
      bytes: dsseEnvelope(env),
      annotations: { [AttachAnnotation.Signature]: '' },
      predicateType,
    };
  });
  const s = await resolveSubject(reference, options);
  const plain = layers.map(({ predicateType: _, ...l }) => l);
  if ((options.attach ?? 'tag') === 'referrers') {
    const created = (options.now ?? (() => new Date()))()
      .toISOString()
      .replace(/\.\d+Z$/, 'Z');
    const input: ReferrerInput = {
      subject: s.descriptor,
      artifactType: AttachMediaType.InToto,
      layers: plain,
      annotations: { [AttachAnnotation.Created]: created },
    };
    return result(reference, s, [await pushTo(s, input, 'attestation', options)]);
  }
  const tag = attachmentTag('attestation', s.descriptor.digest);
  const appended = await appendToTagImage(
    s.store.registry,
    s.store.repository,
    tag,
    plain,
    options.signal ? { signal: options.signal } : {},
  );
  return result(reference, s, [
    { kind: 'attestation', scheme: 'tag', bundle: false, manifest: appended.digest, tag, written: appended.written },
  ]);
}
