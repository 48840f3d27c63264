/**
 * `sign` and `attest` as CI runs them: resolve the reference to a digest once, sign what the
 * digest names (never a tag), and store the result where cosign, Harbor and policy-controller
 * look. sign/ makes signatures and attach/ stores them; this file is the one place that
 * composes the two, so neither depends on the other.
 */
import type { KeyObject } from 'node:crypto';
import type { SerializedBundle } from '@sigstore/bundle';
import type { Signer, Witness } from '@sigstore/sign';
import { AttachAnnotation, AttachMediaType, COSIGN_SIGN_PREDICATE_TYPE } from '../attach/media-types.ts';
import { bundleReferrer, pushReferrer } from '../attach/referrers.ts';
import { appendToTagImage, type ExistingLayer } from '../attach/tag-image.ts';
import { attestationTag, signatureTag } from '../attach/tags.ts';
import type { Digest } from '../oci/digest.ts';
import type { Descriptor } from '../oci/manifest.ts';
import { isIndexMediaType } from '../oci/media-types.ts';
import type { Reference } from '../oci/reference.ts';
import { referrersTag } from '../oci/registry/referrers.ts';
import { attachmentRepository, type RepositoryLocation, resolveReference } from '../oci/registry/resolve.ts';
import type { Registry, RegistryOptions } from '../oci/registry/client.ts';
import { signingBundle } from '../sign/bundle-builder.ts';
import type { NamedWitness } from '../sign/signers/witnesses.ts';
import { SignError } from '../sign/errors.ts';
import { decodeBase64 } from '../sign/payloads/base64.ts';
import { dsseEnvelope, parseEnvelope } from '../sign/payloads/dsse.ts';
import { IN_TOTO_PAYLOAD_TYPE, cosignSignStatement, imageSubject, inTotoStatement } from '../sign/payloads/in-toto.ts';
import { dockerReferenceOf, simpleSigningPayload } from '../sign/payloads/simple-signing.ts';
import { verifyBytes } from '../sign/raw-signature.ts';
import { legacyAnnotations } from './legacy-annotations.ts';

/**
 * `referrers` (cosign v3's default): a Sigstore bundle pushed as an OCI 1.1 referrer, listed in
 * the `sha256-<hex>` fallback index where the registry has no referrers API. `tag`: cosign's
 * legacy `.sig`/`.att` images.
 */
export type AttachScheme = 'referrers' | 'tag';

export interface SigningOptions {
  signer: Signer;
  /** Rekor and TSA witnesses; none means no transparency log (`--tlog-upload=false`). */
  witnesses?: Witness[];
  attach?: AttachScheme;
  /** For the tag scheme's duplicate check: the signer's public key (key signing only). */
  publicKey?: KeyObject;
  registry?: RegistryOptions;
  /** Also sign every manifest an index lists (cosign `--recursive`). */
  recursive?: boolean;
  /** Time written into referrer manifests; default now. */
  now?: () => Date;
  /**
   * Store signatures in another repository, on this registry or another (cosign's
   * `COSIGN_REPOSITORY`): `registry/repository`. The payload still names the image.
   */
  signatureRepository?: string;
  signal?: AbortSignal;
}

export interface SignImageOptions extends SigningOptions {
  /** `-a key=value`: in the simple-signing `optional` map, or the v1 statement subject's annotations. */
  annotations?: Record<string, string>;
}

export interface AttestImageOptions extends SigningOptions {
  predicateType: string;
  /** The predicate JSON value (an object for every type but `custom`'s wrapper). */
  predicate: unknown;
}

/** One signature or attestation written. */
export interface WrittenSignature {
  /** The manifest (or index) that was signed. */
  subject: Descriptor;
  scheme: AttachScheme;
  /** `api` / `fallback-tag` for referrers. */
  via?: 'api' | 'fallback-tag';
  /** The referrer manifest, or the `.sig`/`.att` manifest after the append. */
  manifest: Digest;
  /** The `.sig`/`.att` tag, or the fallback index tag. */
  tag?: string;
  /** False when the tag image already held this very signature (cosign's duplicate rule). */
  written: boolean;
  tlog?: { logIndex: string; integratedTime?: string };
}

export interface SignImageResult {
  /** The reference as given. */
  reference: string;
  /** `registry/repository` the signatures were written to. */
  repository: string;
  /** The digest the reference resolved to (once, before signing). */
  digest: Digest;
  signatures: WrittenSignature[];
}

interface Target {
  ref: Reference;
  registry: Registry;
  subjects: Descriptor[];
  root: Descriptor;
  /** Where signatures are written: the image's repository, or the signature repository. */
  store: RepositoryLocation;
}

async function resolveTargets(reference: string, o: SigningOptions): Promise<Target> {
  const { ref, registry, descriptor: root } = await resolveReference(reference, o.registry, o.signal);
  const subjects = [root];
  if (o.recursive && isIndexMediaType(root.mediaType)) {
    const index = await registry.getManifest(ref.repository, root.digest, o.signal);
    const parsed = JSON.parse(Buffer.from(index.bytes).toString('utf8')) as { manifests?: Descriptor[] };
    for (const m of parsed.manifests ?? []) subjects.push({ mediaType: m.mediaType, digest: m.digest, size: m.size });
  }
  return {
    ref,
    registry,
    subjects,
    root,
    store: attachmentRepository(ref, registry, o.signatureRepository, o.registry),
  };
}

function tlogOf(bundle: SerializedBundle): WrittenSignature['tlog'] {
  const e = bundle.verificationMaterial.tlogEntries?.[0];
  return e === undefined
    ? undefined
    : {
        logIndex: e.logIndex,
        ...(e.integratedTime && e.integratedTime !== '0' ? { integratedTime: e.integratedTime } : {}),
      };
}

/** cosign's duplicate rule: the existing layer's signature verifies under the new signer's key over the new payload. */
function duplicateCheck(publicKey: KeyObject | undefined) {
  return (existing: ExistingLayer, added: { bytes: Uint8Array }): boolean => {
    if (publicKey === undefined) return false;
    const sig = existing.annotations[AttachAnnotation.Signature];
    if (!sig) return false;
    try {
      return verifyBytes(publicKey, added.bytes, decodeBase64(sig, 'existing signature'));
    } catch {
      return false;
    }
  };
}

async function storeBundle(
  t: Target,
  subject: Descriptor,
  bundle: SerializedBundle,
  predicateType: string,
  o: SigningOptions,
): Promise<WrittenSignature> {
  const bytes = Buffer.from(JSON.stringify(bundle));
  const pushed = await pushReferrer(
    t.store.registry,
    t.store.repository,
    bundleReferrer({ subject, bundle: bytes, predicateType, created: (o.now ?? (() => new Date()))() }),
    o.signal ? { signal: o.signal } : {},
  );
  const tlog = tlogOf(bundle);
  return {
    subject,
    scheme: 'referrers',
    via: pushed.via === 'api' ? 'api' : 'fallback-tag',
    manifest: pushed.manifest.digest,
    ...(pushed.via === 'tag' ? { tag: referrersTag(subject.digest) } : {}),
    written: true,
    ...(tlog ? { tlog } : {}),
  };
}

/** Appends one layer to the `.sig`/`.att` image (cosign's duplicate rule applies) and reports it. */
async function appendLegacy(
  t: Target,
  subject: Descriptor,
  tag: string,
  bundle: SerializedBundle,
  o: SigningOptions,
  layer: { mediaType: string; bytes: Uint8Array; annotations: Record<string, string> },
): Promise<WrittenSignature> {
  const appended = await appendToTagImage(t.store.registry, t.store.repository, tag, [layer], {
    isDuplicate: duplicateCheck(o.publicKey),
    ...(o.signal ? { signal: o.signal } : {}),
  });
  const tlog = tlogOf(bundle);
  return {
    subject,
    scheme: 'tag',
    manifest: appended.digest,
    tag,
    written: appended.written,
    ...(tlog ? { tlog } : {}),
  };
}

/** Sign an image: cosign v3's bundle referrer by default, or a `.sig` layer with `attach: 'tag'`. */
export async function signImage(reference: string, options: SignImageOptions): Promise<SignImageResult> {
  const t = await resolveTargets(reference, options);
  const witnesses = options.witnesses ?? [];
  const signatures: WrittenSignature[] = [];
  for (const subject of t.subjects) {
    if ((options.attach ?? 'referrers') === 'referrers') {
      const statement = cosignSignStatement(subject.digest, options.annotations ?? {});
      const bundle = await signingBundle({
        signer: options.signer,
        witnesses,
        kind: 'dsse',
        data: Buffer.from(statement),
        payloadType: IN_TOTO_PAYLOAD_TYPE,
      });
      signatures.push(await storeBundle(t, subject, bundle, COSIGN_SIGN_PREDICATE_TYPE, options));
      continue;
    }
    const payload = simpleSigningPayload({
      dockerReference: dockerReferenceOf(t.ref),
      manifestDigest: subject.digest,
      ...(options.annotations && Object.keys(options.annotations).length > 0
        ? { annotations: options.annotations }
        : {}),
    });
    const bundle = await signingBundle({
      signer: options.signer,
      witnesses,
      kind: 'message',
      data: Buffer.from(payload),
    });
    signatures.push(
      await appendLegacy(t, subject, signatureTag(subject.digest), bundle, options, {
        mediaType: AttachMediaType.SimpleSigning,
        bytes: payload,
        annotations: legacyAnnotations(bundle),
      }),
    );
  }
  return { reference, repository: t.store.name, digest: t.root.digest, signatures };
}

/**
 * Attest an image: an in-toto statement (v0.1, as `cosign attest` generates it) about the digest,
 * signed as a DSSE envelope; a bundle referrer, or an `.att` layer with `attach: 'tag'`.
 */
export async function attestImage(reference: string, options: AttestImageOptions): Promise<SignImageResult> {
  if (options.predicateType === '') throw new SignError('INVALID_OPTIONS', 'attest needs a predicate type');
  const t = await resolveTargets(reference, options);
  const witnesses = options.witnesses ?? [];
  const signatures: WrittenSignature[] = [];
  for (const subject of t.subjects) {
    const statement = inTotoStatement({
      version: 'v0.1',
      subjects: [imageSubject(subject.digest, `${t.ref.registry}/${t.ref.repository}`)],
      predicateType: options.predicateType,
      predicate: options.predicate,
    });
    const bundle = await signingBundle({
      signer: options.signer,
      witnesses,
      kind: 'dsse',
      data: Buffer.from(statement),
      payloadType: IN_TOTO_PAYLOAD_TYPE,
    });
    if ((options.attach ?? 'referrers') === 'referrers') {
      signatures.push(await storeBundle(t, subject, bundle, options.predicateType, options));
      continue;
    }
    // The envelope as cosign ≤ 2.x stores it in `.att` (keyid ""), the same signature bytes.
    const parsed = parseEnvelope(bundle.dsseEnvelope as unknown as Record<string, unknown>);
    const envelope = dsseEnvelope({ ...parsed, signatures: parsed.signatures.map((s) => ({ sig: s.sig, keyid: '' })) });
    // cosign's `.att` timestamp is over the envelope bytes (cosign:cmd/cosign/cli/attest), and
    // that is what its verify checks the imprint against: a second stamp, over those bytes.
    const tsa = witnesses.find((w): w is NamedWitness => (w as NamedWitness).service === 'TSA');
    const stamp = tsa?.timestampBytes ? await tsa.timestampBytes(Buffer.from(envelope)) : undefined;
    signatures.push(
      await appendLegacy(t, subject, attestationTag(subject.digest), bundle, options, {
        mediaType: AttachMediaType.DsseEnvelope,
        bytes: envelope,
        annotations: legacyAnnotations(bundle, { [AttachAnnotation.PredicateType]: options.predicateType }, stamp),
      }),
    );
  }
  return { reference, repository: t.store.name, digest: t.root.digest, signatures };
}
