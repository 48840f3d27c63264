import type { Digest } from '../oci/digest.ts';
import { assertDigest } from '../oci/digest.ts';
import type { Descriptor } from '../oci/manifest.ts';
import { parseManifest } from '../oci/manifest.ts';
import type { Registry } from '../oci/registry/client.ts';
import { referrersTag, type ReferrersResult } from '../oci/registry/referrers.ts';
import { AttachError } from './errors.ts';
import {
  AttachAnnotation,
  AttachMediaType,
  COSIGN_SIGN_PREDICATE_TYPE,
  cosignArtifactType,
  isSigstoreBundleMediaType,
  SBOM_MEDIA_TYPES,
} from './media-types.ts';
import { MAX_ATTACHMENT_SIZE } from './signature-image.ts';
import { getManifestIfExists, readTagImage } from './tag-image.ts';
import { attachmentTag, type TagKind } from './tags.ts';

export type AttachmentKind = 'signature' | 'attestation' | 'sbom' | 'other';

export interface AttachedLayer {
  descriptor: Descriptor;
  annotations: Record<string, string>;
  /** The layer's bytes, checked against its digest and size (at most cosign's 128 MiB attachment cap). */
  fetch(signal?: AbortSignal): Promise<Uint8Array>;
}

/**
 * Something attached to a subject. Referrers scheme: one per referrer manifest, `annotations`
 * are the manifest's. Tag scheme: one per layer of the `.sig`/`.att`/`.sbom` image (each layer
 * is one signature, attestation or SBOM), `annotations` are that layer's.
 */
export interface Attachment {
  kind: AttachmentKind;
  scheme: 'referrers' | 'tag';
  repository: string;
  /** The referrer manifest, or the tag image's manifest. */
  manifest: Descriptor;
  /** Tag scheme: the `.sig`/`.att`/`.sbom` tag. */
  tag?: string;
  /** Referrers: the manifest's artifactType (else its config media type). */
  artifactType?: string;
  /** Referrers: whether this is a Sigstore bundle (one layer of a bundle media type). */
  bundle: boolean;
  annotations: Record<string, string>;
  layers: AttachedLayer[];
}

export interface ListAttachmentsOptions {
  /** Where the `.sig`/`.att`/`.sbom` tags and referrers live if not beside the subject (`COSIGN_REPOSITORY`). */
  repositoryOverride?: string;
  signal?: AbortSignal;
  /** Look at referrers (default true). */
  referrers?: boolean;
  /** Which legacy tags to read (default all three: what `tree` and `download` show). */
  tags?: readonly TagKind[];
  /**
   * `api-first` (default): the referrers API, then the fallback tag when it has none.
   * `fewest-requests`: what verify uses to stay within 4 requests per image (findReferrers).
   */
  referrersOrder?: 'api-first' | 'fewest-requests';
}

export interface AttachmentList {
  attachments: Attachment[];
  /**
   * How referrers were found: the registry's API or the fallback tag index. With
   * `referrers: false`, what is known of the registry (`tag` when nothing is).
   */
  referrersVia: 'api' | 'tag';
}

/**
 * What each registry client told about its referrers API: `api` once the API answered, `tag`
 * once it said it has none (404). Unknown registries get the fallback tag first (see below).
 */
const referrersApi = new WeakMap<Registry, 'api' | 'tag'>();

/**
 * Referrers in as few requests as the registry allows. A registry known to have the API: the
 * API (1 request). Known not to: the fallback tag (1). Unknown: the fallback tag first, because
 * when it exists (every registry without the API that was pushed to by cosign or sigil) it is the
 * answer in one request, and the API is asked only when the tag is absent. The price is that on a
 * registry with the API, a stale fallback tag left by an older pusher hides API-only referrers
 * until the API is known; pushers stop writing the tag once the registry answers OCI-Subject.
 */
async function findReferrers(
  registry: Registry,
  repo: string,
  subject: Digest,
  signal: AbortSignal | undefined,
  order: 'api-first' | 'fewest-requests',
): Promise<ReferrersResult> {
  const opts = signal ? { signal } : {};
  const known = referrersApi.get(registry);
  if (order === 'fewest-requests' && known !== 'api') {
    const tag = referrersTag(subject);
    const index = await getManifestIfExists(registry, repo, tag, signal);
    if (index) {
      const parsed = parseManifest(index.bytes, index.descriptor.mediaType, `referrers tag index ${tag}`);
      if (parsed.kind === 'index') return { descriptors: parsed.index.manifests, via: 'tag' };
    }
    if (known === 'tag') return { descriptors: [], via: 'tag' };
  }
  const r = await registry.referrers(repo, subject, opts);
  referrersApi.set(registry, r.via);
  return r;
}

const TAG_KINDS: readonly TagKind[] = ['signature', 'attestation', 'sbom'];

/**
 * Everything attached to `subject` in both schemes: referrers (API, else the fallback tag
 * index) first, then the legacy tags. Bundles are recognised by their layer's media type, never
 * by the index entry's artifactType: cosign ≤ v3.0.x fallback indexes say
 * `application/vnd.oci.empty.v1+json` there (cosign-formats.md §4.3). A fallback entry whose
 * manifest is gone (deleted referrer) is skipped.
 */
export async function listAttachments(
  registry: Registry,
  repo: string,
  subject: Digest,
  options: ListAttachmentsOptions = {},
): Promise<AttachmentList> {
  assertDigest(subject, 'subject digest');
  const { signal } = options;
  const where = options.repositoryOverride ?? repo;
  const attachments: Attachment[] = [];
  const refs: ReferrersResult | undefined =
    options.referrers === false
      ? undefined
      : await findReferrers(registry, where, subject, signal, options.referrersOrder ?? 'api-first');
  for (const entry of refs?.descriptors ?? []) {
    const blob = await getManifestIfExists(registry, where, entry.digest, signal);
    if (!blob) continue;
    const what = `referrer ${registry.host}/${where}@${entry.digest}`;
    const parsed = parseManifest(blob.bytes, blob.descriptor.mediaType, what);
    if (parsed.kind !== 'image') {
      // An index can refer to a subject too (image spec v1.1); it has no layers to fetch.
      attachments.push({
        kind: 'other',
        scheme: 'referrers',
        repository: where,
        manifest: blob.descriptor,
        ...(parsed.index.artifactType ? { artifactType: parsed.index.artifactType } : {}),
        bundle: false,
        annotations: parsed.index.annotations ?? {},
        layers: [],
      });
      continue;
    }
    const m = parsed.manifest;
    if (m.subject && m.subject.digest !== subject) continue; // a stale or wrong fallback entry
    const artifactType = m.artifactType ?? m.config.mediaType;
    const annotations = m.annotations ?? {};
    const bundle = m.layers.length === 1 && isSigstoreBundleMediaType(m.layers[0]?.mediaType);
    attachments.push({
      kind: referrerKind(artifactType, m.layers, annotations, bundle),
      scheme: 'referrers',
      repository: where,
      manifest: blob.descriptor,
      artifactType,
      bundle,
      annotations,
      layers: m.layers.map((l) => attachedLayer(registry, where, l, signal)),
    });
  }
  for (const kind of options.tags ?? TAG_KINDS) {
    const tag = attachmentTag(kind, subject);
    const image = await readTagImage(registry, where, tag, signal);
    if (!image) continue;
    for (const l of image.layers) {
      attachments.push({
        kind,
        scheme: 'tag',
        repository: where,
        manifest: image.manifest.descriptor,
        tag,
        bundle: false,
        annotations: l.annotations ?? {},
        layers: [attachedLayer(registry, where, l, signal)],
      });
    }
  }
  return { attachments, referrersVia: refs?.via ?? referrersApi.get(registry) ?? 'tag' };
}

function referrerKind(
  artifactType: string,
  layers: readonly Descriptor[],
  annotations: Record<string, string>,
  bundle: boolean,
): AttachmentKind {
  if (bundle) {
    // cosign v3 signs images with a statement of this predicate type; anything else is an attestation.
    const pt = annotations[AttachAnnotation.BundlePredicateType];
    const content = annotations[AttachAnnotation.BundleContent];
    return pt === COSIGN_SIGN_PREDICATE_TYPE || content === 'message-signature' ? 'signature' : 'attestation';
  }
  if (artifactType === cosignArtifactType('sig')) return 'signature';
  if (artifactType === cosignArtifactType('att') || artifactType === AttachMediaType.InToto) return 'attestation';
  if (artifactType === cosignArtifactType('sbom')) return 'sbom';
  if (layers.some((l) => l.mediaType === AttachMediaType.SimpleSigning)) return 'signature';
  if (layers.some((l) => l.mediaType === AttachMediaType.DsseEnvelope)) return 'attestation';
  if (SBOM_MEDIA_TYPES.includes(artifactType) || layers.some((l) => SBOM_MEDIA_TYPES.includes(l.mediaType))) {
    return 'sbom';
  }
  return 'other';
}

function attachedLayer(registry: Registry, repo: string, d: Descriptor, outer?: AbortSignal): AttachedLayer {
  return {
    descriptor: d,
    annotations: d.annotations ?? {},
    fetch: async (signal = outer) => {
      if (d.size > MAX_ATTACHMENT_SIZE) {
        throw new AttachError(
          'ATTACHMENT_TOO_LARGE',
          `${registry.host}/${repo}@${d.digest}: ${d.size} bytes is over the ${MAX_ATTACHMENT_SIZE}-byte attachment cap`,
        );
      }
      const chunks: Buffer[] = [];
      // getBlob's stream fails before it ends on wrong bytes or a wrong size.
      for await (const c of await registry.getBlob(repo, d, signal)) chunks.push(c as Buffer);
      return new Uint8Array(Buffer.concat(chunks));
    },
  };
}
