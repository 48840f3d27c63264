import { Readable } from 'node:stream';
import { type Digest, sha256 } from '../oci/digest.ts';
import type { Descriptor } from '../oci/manifest.ts';
import { MediaType } from '../oci/media-types.ts';
import type { Registry } from '../oci/registry/client.ts';
import { referrersTag } from '../oci/registry/referrers.ts';
import { AttachError } from './errors.ts';
import { goJson, sortedMap } from './go-json.ts';
import { AttachAnnotation, AttachMediaType } from './media-types.ts';
import { type TagLayerInput, tagLayerDescriptor } from './signature-image.ts';
import { putAfterBlobs } from '../oci/put-after-blobs.ts';
import { settleTag } from './settle.ts';
import { getManifestIfExists } from './tag-image.ts';

/** The OCI empty descriptor's blob (image spec v1.1, "Guidance for an Empty Descriptor"). */
export const EMPTY_CONFIG_BYTES = new TextEncoder().encode('{}');

export interface ReferrerInput {
  /** The manifest or index the referrer is about; only mediaType, size and digest are written. */
  subject: Descriptor;
  artifactType: string;
  layers: TagLayerInput[];
  annotations?: Record<string, string>;
  /**
   * Default: the empty config `{}` as `application/vnd.oci.empty.v1+json`, whose descriptor
   * also carries the artifactType, as cosign v3 writes it (cosign:pkg/oci/remote/write.go).
   */
  config?: { mediaType: string; bytes: Uint8Array };
}

export interface ReferrerManifest {
  manifestBytes: Uint8Array;
  digest: Digest;
  /** The manifest's descriptor, for a PUT by digest. */
  descriptor: Descriptor;
  config: Descriptor;
  configBytes: Uint8Array;
  layers: Descriptor[];
  artifactType: string;
  annotations?: Record<string, string>;
}

/**
 * A referrer manifest in the field order of cosign v3's bytes (vector bundle-referrer-key-v3):
 * schemaVersion, mediaType, config{mediaType,size,digest,artifactType}, layers, annotations,
 * subject, artifactType; annotation keys sorted, compact JSON.
 */
export function buildReferrerManifest(input: ReferrerInput): ReferrerManifest {
  const configBytes = input.config?.bytes ?? EMPTY_CONFIG_BYTES;
  const config: Descriptor = input.config
    ? { mediaType: input.config.mediaType, size: configBytes.byteLength, digest: sha256(configBytes) }
    : {
        mediaType: MediaType.OciEmpty,
        size: configBytes.byteLength,
        digest: sha256(configBytes),
        artifactType: input.artifactType,
      };
  const layers = input.layers.map(tagLayerDescriptor);
  const annotations = sortedMap(input.annotations);
  const subject = { mediaType: input.subject.mediaType, size: input.subject.size, digest: input.subject.digest };
  const manifestBytes = new TextEncoder().encode(
    goJson({
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      config,
      layers,
      ...(annotations ? { annotations } : {}),
      subject,
      artifactType: input.artifactType,
    }),
  );
  const digest = sha256(manifestBytes);
  return {
    manifestBytes,
    digest,
    descriptor: { mediaType: MediaType.OciManifest, size: manifestBytes.byteLength, digest },
    config,
    configBytes,
    layers,
    artifactType: input.artifactType,
    ...(annotations ? { annotations } : {}),
  };
}

export interface BundleReferrerInput {
  subject: Descriptor;
  /** The Sigstore bundle JSON, stored as is. */
  bundle: Uint8Array;
  /** `https://sigstore.dev/cosign/sign/v1` for a signature, the statement's type for an attestation. */
  predicateType: string;
  /** Written with seconds precision, UTC, as cosign does. */
  created: Date;
  /** `dsse-envelope` (cosign) or `message-signature`. */
  content?: 'dsse-envelope' | 'message-signature';
}

/** What cosign v3 pushes for `sign`/`attest` (cosign:pkg/oci/remote/write.go `WriteAttestationNewBundleFormat`). */
export function bundleReferrer(input: BundleReferrerInput): ReferrerInput {
  if (Number.isNaN(input.created.getTime()))
    throw new AttachError('INVALID_OPTIONS', 'bundle referrer: invalid created time');
  return {
    subject: input.subject,
    artifactType: AttachMediaType.SigstoreBundleV03,
    layers: [{ mediaType: AttachMediaType.SigstoreBundleV03, bytes: input.bundle }],
    annotations: {
      [AttachAnnotation.BundleContent]: input.content ?? 'dsse-envelope',
      [AttachAnnotation.BundlePredicateType]: input.predicateType,
      [AttachAnnotation.Created]: input.created.toISOString().replace(/\.\d+Z$/, 'Z'),
    },
  };
}

/**
 * How a referrer is described in the fallback tag index:
 * - `spec` (default): artifactType = the manifest's artifactType (else config mediaType), and
 *   the manifest's annotations (image spec v1.1, "Referrers Tag Schema");
 * - `ggcr-v0.20`: artifactType = config mediaType, no annotations: what cosign ≤ v3.0.x wrote
 *   (go-containerregistry < v0.21.6), reproduced for byte-level comparison with its indexes.
 */
export type FallbackEntryStyle = 'spec' | 'ggcr-v0.20';

export function referrersIndexEntry(m: ReferrerManifest, style: FallbackEntryStyle = 'spec'): Descriptor {
  if (style === 'ggcr-v0.20') return { ...m.descriptor, artifactType: m.config.mediaType };
  // ggcr Descriptor field order: …, digest, annotations, …, artifactType.
  return {
    ...m.descriptor,
    ...(m.annotations ? { annotations: m.annotations } : {}),
    artifactType: m.artifactType,
  };
}

export interface PushReferrerOptions {
  fallbackEntry?: FallbackEntryStyle;
  signal?: AbortSignal;
}

export interface PushReferrerResult {
  manifest: ReferrerManifest;
  /** `api`: the registry indexes referrers itself; `tag`: the fallback tag index was updated. */
  via: 'api' | 'tag';
  /** The fallback index after the update (via `tag` only). */
  index?: { digest: Digest; changed: boolean };
}

/**
 * Pushes the config and layer blobs, then the manifest by digest (never a tag), then, when the
 * registry has no referrers API, adds it to the `<alg>-<hex>` fallback tag index.
 *
 * API support is learned from the manifest PUT itself: a registry that processed the subject
 * answers with `OCI-Subject: <subject digest>`, and without that header the client must
 * maintain the fallback tag (distribution spec v1.1, "Pushing Manifests with Subject"). That
 * saves the `GET /referrers` probe go-containerregistry makes. The empty `{}` config is not
 * uploaded or even checked up front: after the first referrer of a repository it is there, and
 * a registry that lacks it names it in its `MANIFEST_BLOB_UNKNOWN` answer, after which it is
 * uploaded and the PUT repeated. That makes the usual signature 7 requests on a registry
 * without the referrers API (resolve, bundle POST + PUT, manifest PUT, index GET + PUT, the
 * confirming re-read) and the first one of a repository 10.
 */
export async function pushReferrer(
  registry: Registry,
  repo: string,
  input: ReferrerInput,
  options: PushReferrerOptions = {},
): Promise<PushReferrerResult> {
  const { signal } = options;
  const manifest = buildReferrerManifest(input);
  const pushOptions = signal ? { signal } : {};
  const open = (bytes: Uint8Array) => async () => Readable.from([Buffer.from(bytes)]);
  const blobs = [
    { desc: manifest.config, bytes: manifest.configBytes },
    ...input.layers.map((l, i) => ({ desc: manifest.layers[i] as Descriptor, bytes: l.bytes })),
  ];
  const put = await putAfterBlobs(
    async ({ first, missing }) => {
      for (const [i, { desc, bytes }] of blobs.entries()) {
        if (first) {
          // The shared `{}` config is skipped: any earlier referrer in the repository uploaded it,
          // and when none did, the PUT names it missing and it is uploaded then. The layers are
          // new content (a fresh signature): uploaded without a HEAD.
          if (i === 0 && !input.config) continue;
          await registry.pushNewBlob(repo, desc, open(bytes), pushOptions);
        } else if (missing) {
          if (missing.includes(desc.digest)) await registry.pushNewBlob(repo, desc, open(bytes), pushOptions);
        } else {
          await registry.pushBlob(repo, desc, open(bytes), pushOptions);
        }
      }
    },
    () => registry.pushManifest(repo, manifest.digest, manifest.manifestBytes, MediaType.OciManifest, signal),
    signal,
  );
  if (put.subject === input.subject.digest) return { manifest, via: 'api' };
  const index = await addToReferrersIndex(
    registry,
    repo,
    input.subject.digest,
    referrersIndexEntry(manifest, options.fallbackEntry),
    signal,
  );
  return { manifest, via: 'tag', index };
}

interface IndexDoc {
  schemaVersion: 2;
  mediaType?: string;
  manifests: Descriptor[];
  annotations?: Record<string, string>;
  subject?: Descriptor;
  artifactType?: string;
}

/**
 * Read-modify-write of the fallback tag index (ggcr:pkg/v1/remote/write.go
 * `commitSubjectReferrers`): every existing entry is kept as it is, the new one is added
 * unless an entry with its digest exists (then nothing is written), entries are sorted by
 * digest. Concurrent writers are handled by {@link settleTag}: after the PUT, the index is read
 * again after a jittered delay and the merge redone if another writer's PUT dropped our entry.
 */
export async function addToReferrersIndex(
  registry: Registry,
  repo: string,
  subject: Digest,
  entry: Descriptor,
  signal?: AbortSignal,
): Promise<{ digest: Digest; changed: boolean }> {
  const tag = referrersTag(subject);
  const what = `referrers tag index ${registry.host}/${repo}:${tag}`;
  const settled = await settleTag(
    {
      what,
      read: async () => {
        const current = await getManifestIfExists(registry, repo, tag, signal);
        return current ? { digest: current.descriptor.digest, doc: parseIndex(current.bytes, what) } : undefined;
      },
      has: (state) => state !== undefined && state.doc.manifests.some((d) => d.digest === entry.digest),
      write: async (state) => {
        const doc: IndexDoc = state?.doc ?? { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [] };
        const manifests = [...doc.manifests, entry].sort((a, b) =>
          a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0,
        );
        const out = {
          schemaVersion: 2,
          mediaType: MediaType.OciIndex,
          manifests,
          ...(doc.annotations ? { annotations: doc.annotations } : {}),
          ...(doc.subject ? { subject: doc.subject } : {}),
          ...(doc.artifactType ? { artifactType: doc.artifactType } : {}),
        };
        const bytes = new TextEncoder().encode(goJson(out));
        return registry.putManifest(repo, tag, bytes, MediaType.OciIndex, signal);
      },
    },
    signal ? { signal } : {},
  );
  return { digest: settled.state.digest, changed: settled.writes > 0 };
}

function parseIndex(bytes: Uint8Array, what: string): IndexDoc {
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new AttachError('ATTACHMENT_INVALID', `${what}: not JSON`, { cause: e });
  }
  const d = doc as Partial<IndexDoc> | null;
  // ggcr refuses to extend anything but a schema 2 OCI index, and so do we: rewriting a foreign
  // manifest under that tag would destroy it.
  if (
    typeof d !== 'object' ||
    d === null ||
    d.schemaVersion !== 2 ||
    (d.mediaType !== undefined && d.mediaType !== MediaType.OciIndex) ||
    !Array.isArray(d.manifests)
  ) {
    throw new AttachError('ATTACHMENT_INVALID', `${what}: expected an OCI image index (schemaVersion 2)`);
  }
  for (const m of d.manifests) {
    if (typeof m !== 'object' || m === null || typeof m.digest !== 'string') {
      throw new AttachError('ATTACHMENT_INVALID', `${what}: an entry has no digest`);
    }
  }
  return d as IndexDoc;
}
