/**
 * Attestations BuildKit (`docker buildx build --sbom --provenance`) stores inside the image
 * index rather than as referrers (moby/buildkit docs/attestations/attestation-storage.md): one
 * extra manifest per platform image, with platform `unknown/unknown` and annotations
 * `vnd.docker.reference.type: attestation-manifest` and `vnd.docker.reference.digest: <image
 * manifest digest>`; each layer is one unsigned in-toto statement (`application/vnd.in-toto+json`)
 * whose predicate type is also in the layer annotation `in-toto.io/predicate-type`.
 */
import type { Digest } from '../oci/digest.ts';
import type { Descriptor, ImageIndex } from '../oci/manifest.ts';
import { parseManifest } from '../oci/manifest.ts';
import { isIndexMediaType } from '../oci/media-types.ts';
import type { Registry } from '../oci/registry/client.ts';
import { AttachError } from './errors.ts';
import { AttachMediaType } from './media-types.ts';
import { MAX_ATTACHMENT_SIZE } from './signature-image.ts';

/** Annotation keys of BuildKit's attestation storage (buildkit:util/attestation/types.go). */
export const BuildkitAnnotation = {
  ReferenceType: 'vnd.docker.reference.type',
  ReferenceDigest: 'vnd.docker.reference.digest',
  PredicateType: 'in-toto.io/predicate-type',
} as const;

export const BUILDKIT_ATTESTATION_MANIFEST = 'attestation-manifest';

/** Predicate types BuildKit writes: SPDX SBOMs and SLSA provenance (v0.2, or v1 with `version=v1`). */
export const BuildkitPredicateType = {
  Spdx: 'https://spdx.dev/Document',
  SlsaProvenanceV02: 'https://slsa.dev/provenance/v0.2',
  SlsaProvenanceV1: 'https://slsa.dev/provenance/v1',
} as const;

export interface BuildkitAttestation {
  /** The attestation manifest in the index. */
  manifest: Descriptor;
  /** The platform image it is about (`vnd.docker.reference.digest`). */
  subject: Digest;
  /** From the layer's `in-toto.io/predicate-type` annotation (empty if the layer has none). */
  predicateType: string;
  layer: Descriptor;
  /** The statement bytes, checked against the layer digest and size. */
  fetch(signal?: AbortSignal): Promise<Uint8Array>;
}

/** The attestation-manifest descriptors of an index, optionally only those about `subject`. */
export function attestationManifestsOf(index: ImageIndex, subject?: Digest): Descriptor[] {
  return index.manifests.filter(
    (d) =>
      d.annotations?.[BuildkitAnnotation.ReferenceType] === BUILDKIT_ATTESTATION_MANIFEST &&
      (subject === undefined || d.annotations?.[BuildkitAnnotation.ReferenceDigest] === subject),
  );
}

/**
 * The in-toto layers of the attestation manifests in the index `indexDigest` (about `subject`
 * only, if given: the image chosen by platform). Layers of other media types are skipped, as
 * the storage document asks of readers.
 */
export async function listBuildkitAttestations(
  registry: Registry,
  repo: string,
  indexDigest: Digest,
  options: { subject?: Digest; signal?: AbortSignal } = {},
): Promise<BuildkitAttestation[]> {
  const { signal } = options;
  const blob = await registry.getManifest(repo, indexDigest, signal);
  if (!isIndexMediaType(blob.descriptor.mediaType)) return [];
  const parsed = parseManifest(blob.bytes, blob.descriptor.mediaType, `index ${registry.host}/${repo}@${indexDigest}`);
  if (parsed.kind !== 'index') return [];
  const out: BuildkitAttestation[] = [];
  for (const d of attestationManifestsOf(parsed.index, options.subject)) {
    const subject = d.annotations?.[BuildkitAnnotation.ReferenceDigest] as Digest | undefined;
    if (!subject) continue;
    const what = `attestation manifest ${registry.host}/${repo}@${d.digest}`;
    const m = await registry.getManifest(repo, d.digest, signal);
    const p = parseManifest(m.bytes, m.descriptor.mediaType, what);
    if (p.kind !== 'image') {
      throw new AttachError('ATTACHMENT_INVALID', `${what}: expected an image manifest, got an index`);
    }
    for (const layer of p.manifest.layers) {
      if (layer.mediaType !== AttachMediaType.InToto) continue;
      out.push({
        manifest: d,
        subject,
        predicateType: layer.annotations?.[BuildkitAnnotation.PredicateType] ?? '',
        layer,
        fetch: (s = signal) => fetchCapped(registry, repo, layer, s),
      });
    }
  }
  return out;
}

async function fetchCapped(registry: Registry, repo: string, d: Descriptor, signal?: AbortSignal) {
  if (d.size > MAX_ATTACHMENT_SIZE) {
    throw new AttachError(
      'ATTACHMENT_TOO_LARGE',
      `${registry.host}/${repo}@${d.digest}: ${d.size} bytes is over the ${MAX_ATTACHMENT_SIZE}-byte attachment cap`,
    );
  }
  const chunks: Buffer[] = [];
  for await (const c of await registry.getBlob(repo, d, signal)) chunks.push(c as Buffer);
  return new Uint8Array(Buffer.concat(chunks));
}
