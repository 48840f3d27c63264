import { Readable } from 'node:stream';
import type { Digest } from '../oci/digest.ts';
import { OciError } from '../oci/errors.ts';
import type { Descriptor, ManifestBlob } from '../oci/manifest.ts';
import { MediaType } from '../oci/media-types.ts';
import type { Registry } from '../oci/registry/client.ts';
import { AttachError } from './errors.ts';
import { AttachAnnotation } from './media-types.ts';
import { putAfterBlobs } from '../oci/put-after-blobs.ts';
import { settleTag } from './settle.ts';
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
 * Concurrent appenders: the layer blobs are uploaded before the read, so only the config
 * upload sits between the read and the PUT, and {@link settleTag} re-reads after a jittered
 * delay and appends again if a concurrent writer's PUT dropped our layers (cosign has no such
 * re-check; without it, two signers at once lose one signature).
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
  const what = `${registry.host}/${repo}:${tag}`;
  const pushOptions = signal ? { signal } : {};
  const descs = newLayers.map(tagLayerDescriptor);
  /** The new layers that `layers` does not hold yet (by cosign's duplicate rule). */
  const missing = async (layers: readonly Descriptor[]): Promise<number[]> => {
    const out: number[] = [];
    for (const [i, layer] of newLayers.entries()) {
      const desc = descs[i] as Descriptor;
      // Our own layer, as written by us: always present, whatever the duplicate rule says.
      if (layers.some((l) => sameLayer(l, desc))) continue;
      if (!(await findDuplicate(layers, desc, layer, options))) out.push(i);
    }
    return out;
  };
  const first = await readTagImage(registry, repo, tag, signal);
  const toAdd = await missing(first?.layers ?? []);
  if (toAdd.length === 0 && first) {
    // Everything was there already: rewriting the same manifest would only widen the race.
    return {
      digest: first.manifest.descriptor.digest,
      written: false,
      appended: [],
      skipped: descs,
      layers: first.layers,
    };
  }
  // Uploaded before the read-modify-write below, to keep its read-to-PUT window short. The
  // payload blob is often there already (every signer of a digest signs the same payload).
  const pushLayer = async (i: number) => {
    const bytes = (newLayers[i] as TagLayerInput).bytes;
    await registry.pushBlob(repo, descs[i] as Descriptor, async () => Readable.from([Buffer.from(bytes)]), pushOptions);
  };
  for (const i of toAdd) await pushLayer(i);
  let appended: Descriptor[] = [];
  let skipped: Descriptor[] = [];
  let firstRead = true;
  const settled = await settleTag<TagImage | undefined, Digest>(
    {
      what,
      // The first read was made above; the settle loop's own first read is that one.
      read: async () => {
        if (firstRead) {
          firstRead = false;
          return first;
        }
        return readTagImage(registry, repo, tag, signal);
      },
      has: async (state) => state !== undefined && (await missing(state.layers)).length === 0,
      write: async (state) => {
        const existing = state ?? undefined;
        const add = await missing(existing?.layers ?? []);
        const layers = [...(existing?.layers ?? []), ...add.map((i) => descs[i] as Descriptor)];
        appended = add.map((i) => descs[i] as Descriptor);
        skipped = descs.filter((_, i) => !add.includes(i));
        if (layers.length > MAX_SIGNATURE_LAYERS) {
          throw new AttachError(
            'ATTACHMENT_TOO_LARGE',
            `${what} would hold ${layers.length} layers; cosign's limit is ${MAX_SIGNATURE_LAYERS}`,
          );
        }
        // cosign appends to the existing image, so its media types stay; a new image gets the chosen ones.
        const dockerMediaTypes = existing
          ? existing.manifest.descriptor.mediaType === MediaType.DockerManifest
          : (options.dockerMediaTypes ?? false);
        const image = signatureImageFromDescriptors(layers, { dockerMediaTypes });
        // The config lists every layer's diff ID, so it is usually new content: no HEAD first.
        // The payload blobs are checked again only when the PUT finds one missing.
        return putAfterBlobs(
          async ({ first }) => {
            if (!first) {
              for (const i of toAdd) await pushLayer(i);
            }
            await registry.pushNewBlob(
              repo,
              image.config,
              async () => Readable.from([Buffer.from(image.configBytes)]),
              pushOptions,
            );
          },
          () => registry.putManifest(repo, tag, image.manifestBytes, image.manifestMediaType, signal),
          signal,
        );
      },
    },
    pushOptions,
  );
  const final = settled.state as TagImage;
  return {
    digest: final.manifest.descriptor.digest,
    written: settled.writes > 0,
    appended,
    skipped,
    layers: final.layers,
  };
}

function sameLayer(a: Descriptor, b: Descriptor): boolean {
  if (a.digest !== b.digest || a.mediaType !== b.mediaType) return false;
  const x = a.annotations ?? {};
  const y = b.annotations ?? {};
  return Object.keys(x).length === Object.keys(y).length && Object.entries(y).every(([k, v]) => x[k] === v);
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
