import { Readable } from 'node:stream';
import type { Digest } from '../oci/digest.ts';
import { OciError } from '../oci/errors.ts';
import type { Descriptor, ManifestBlob } from '../oci/manifest.ts';
import { MediaType } from '../oci/media-types.ts';
import type { Registry } from '../oci/registry/client.ts';
import { AttachError } from './errors.ts';
import { AttachAnnotation } from './media-types.ts';
import {
  MAX_SIGNATURE_LAYERS,
  parseSignatureImage,
  signatureImageFromDescriptors,
  type TagLayerInput,
  tagLayerDescriptor,
} from './signature-image.ts';

export interface TagImage {
  manifest: ManifestBlob;
  layers: Descriptor[];
}

/** The `.sig`/`.att`/`.sbom` image under `tag`, or undefined when the tag does not exist. */
export async function readTagImage(
  registry: Registry,
  repo: string,
  tag: string,
  signal?: AbortSignal,
): Promise<TagImage | undefined> {
  const manifest = await getManifestIfExists(registry, repo, tag, signal);
  if (!manifest) return undefined;
  const layers = parseSignatureImage(manifest.bytes, manifest.descriptor.mediaType, `${registry.host}/${repo}:${tag}`);
  return { manifest, layers };
}

/** @internal a 404 for the manifest or the repository means "not there". */
export async function getManifestIfExists(
  registry: Registry,
  repo: string,
  reference: string,
  signal?: AbortSignal,
): Promise<ManifestBlob | undefined> {
  try {
    return await registry.getManifest(repo, reference, signal);
  } catch (e) {
    if (e instanceof OciError && (e.code === 'MANIFEST_UNKNOWN' || e.code === 'NAME_UNKNOWN' || e.status === 404)) {
      return undefined;
    }
    throw e;
  }
}

/** An existing layer of the tag image, as the duplicate check sees it. */
export interface ExistingLayer {
  descriptor: Descriptor;
  annotations: Record<string, string>;
}

export interface AppendOptions {
  /**
   * Does the existing layer's signature verify under the new layer's signer key over the new
   * payload? (cosign's `NewDupeDetector`.) Only asked for layers that already have the same
   * digest, media type and non-signature annotations. Without it, only an identical signature
   * annotation counts as a duplicate.
   */
  isDuplicate?: (existing: ExistingLayer, added: TagLayerInput) => boolean | Promise<boolean>;
  /** For a tag that does not exist yet: Docker schema 2 media types (`COSIGN_DOCKER_MEDIA_TYPES=1`). */
  dockerMediaTypes?: boolean;
  signal?: AbortSignal;
}

export interface AppendResult {
  /** Digest of the manifest the tag points at afterwards. */
  digest: Digest;
  /** False when every new layer was a duplicate: nothing was written. */
  written: boolean;
  appended: Descriptor[];
  skipped: Descriptor[];
  layers: Descriptor[];
}

/**
 * Adds layers to the image under `tag` as cosign's `sign`/`attest` do (cosign:pkg/oci/mutate/
 * signatures.go): read the manifest (none → empty image), drop new layers that duplicate an
 * existing one, upload the new blobs and the regenerated config, and only then PUT the manifest
 * by tag, so the tag never names a blob the registry lacks. A failure before the PUT leaves the
 * tag as it was.
 *
 * Not atomic: two writers appending at once both read the same old manifest and the later PUT
 * wins, dropping the other's layer. cosign has the same race (no conditional PUT exists in the
 * distribution spec); callers that sign concurrently must serialise per subject.
 */
export async function appendToTagImage(
  registry: Registry,
  repo: string,
  tag: string,
  newLayers: TagLayerInput[],
  options: AppendOptions = {},
): Promise<AppendResult> {
  const { signal } = options;
  if (newLayers.length === 0) throw new AttachError('INVALID_OPTIONS', `nothing to append to ${repo}:${tag}`);
  const existing = await readTagImage(registry, repo, tag, signal);
  const layers = [...(existing?.layers ?? [])];
  const appended: Descriptor[] = [];
  const skipped: Descriptor[] = [];
  const toUpload: { desc: Descriptor; bytes: Uint8Array }[] = [];
  for (const layer of newLayers) {
    const desc = tagLayerDescriptor(layer);
    if (await findDuplicate(layers, desc, layer, options)) {
      skipped.push(desc);
      continue;
    }
    layers.push(desc);
    appended.push(desc);
    toUpload.push({ desc, bytes: layer.bytes });
  }
  if (appended.length === 0 && existing) {
    // Everything was there already: rewriting the same manifest would only widen the race below.
    return { digest: existing.manifest.descriptor.digest, written: false, appended, skipped, layers };
  }
  if (layers.length > MAX_SIGNATURE_LAYERS) {
    throw new AttachError(
      'ATTACHMENT_TOO_LARGE',
      `${registry.host}/${repo}:${tag} would hold ${layers.length} layers; cosign's limit is ${MAX_SIGNATURE_LAYERS}`,
    );
  }
  // cosign appends to the existing image, so its media types stay; a new image gets the chosen ones.
  const dockerMediaTypes = existing
    ? existing.manifest.descriptor.mediaType === MediaType.DockerManifest
    : (options.dockerMediaTypes ?? false);
  const image = signatureImageFromDescriptors(layers, { dockerMediaTypes });
  const pushOptions = signal ? { signal } : {};
  for (const { desc, bytes } of toUpload) {
    await registry.pushBlob(repo, desc, async () => Readable.from([Buffer.from(bytes)]), pushOptions);
  }
  await registry.pushBlob(repo, image.config, async () => Readable.from([Buffer.from(image.configBytes)]), pushOptions);
  const digest = await registry.putManifest(repo, tag, image.manifestBytes, image.manifestMediaType, signal);
  return { digest, written: true, appended, skipped, layers: image.layers };
}

/** cosign's dupe rule: same digest, same media type, every new non-signature annotation equal, and the signer check. */
async function findDuplicate(
  layers: readonly Descriptor[],
  desc: Descriptor,
  layer: TagLayerInput,
  options: AppendOptions,
): Promise<boolean> {
  const added = desc.annotations ?? {};
  for (const old of layers) {
    if (old.digest !== desc.digest || old.mediaType !== desc.mediaType) continue;
    const oldAnnotations = old.annotations ?? {};
    const same = Object.entries(added).every(([k, v]) => k === AttachAnnotation.Signature || oldAnnotations[k] === v);
    if (!same) continue;
    const isDup = options.isDuplicate
      ? await options.isDuplicate({ descriptor: old, annotations: oldAnnotations }, layer)
      : oldAnnotations[AttachAnnotation.Signature] === added[AttachAnnotation.Signature];
    if (isDup) return true;
  }
  return false;
}
