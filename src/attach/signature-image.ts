import type { Digest } from '../oci/digest.ts';
import { sha256 } from '../oci/digest.ts';
import { OciError } from '../oci/errors.ts';
import { type Descriptor, parseManifest } from '../oci/manifest.ts';
import { MediaType } from '../oci/media-types.ts';
import { AttachError } from './errors.ts';
import { goJson, sortedMap } from './go-json.ts';

/** cosign's `maxLayers` (cosign:pkg/oci/remote/signatures.go): a `.sig` image holds at most this many signatures. */
export const MAX_SIGNATURE_LAYERS = 1000;
/** cosign's default `COSIGN_MAX_ATTACHMENT_SIZE` (128 MiB): larger payloads are refused on both sides. */
export const MAX_ATTACHMENT_SIZE = 128 * 1024 * 1024;

/** One layer of a `.sig`/`.att`/`.sbom` image: the payload bytes, stored uncompressed. */
export interface TagLayerInput {
  mediaType: string;
  bytes: Uint8Array;
  annotations?: Record<string, string>;
}

export interface SignatureImage {
  manifestBytes: Uint8Array;
  configBytes: Uint8Array;
  manifestMediaType: string;
  /** The config descriptor as it appears in the manifest. */
  config: Descriptor;
  layers: Descriptor[];
  digest: Digest;
}

export interface SignatureImageOptions {
  /** Docker schema 2 media types, as cosign with `COSIGN_DOCKER_MEDIA_TYPES=1`. Default: OCI. */
  dockerMediaTypes?: boolean;
}

// go-containerregistry's zero time, which empty.Image + mutate.Append leave in the config.
const ZERO_TIME = '0001-01-01T00:00:00Z';

/** The layer descriptor cosign writes: ggcr's Descriptor field order (mediaType, size, digest, …, annotations). */
export function tagLayerDescriptor(layer: TagLayerInput): Descriptor {
  if (layer.bytes.byteLength > MAX_ATTACHMENT_SIZE) {
    throw new AttachError(
      'ATTACHMENT_TOO_LARGE',
      `attachment payload of ${layer.bytes.byteLength} bytes is over cosign's ${MAX_ATTACHMENT_SIZE}-byte limit`,
    );
  }
  const annotations = sortedMap(layer.annotations);
  return {
    mediaType: layer.mediaType,
    size: layer.bytes.byteLength,
    digest: sha256(layer.bytes),
    ...(annotations ? { annotations } : {}),
  } as Descriptor;
}

/**
 * The manifest and config cosign (go-containerregistry `empty.Image` + `mutate.Append`, OCI
 * media types) writes for these layers, byte for byte: the config lists each layer's digest as
 * its diff_id (layers are uncompressed) with one zero-time history entry per layer.
 */
export function buildSignatureImage(layers: TagLayerInput[], options: SignatureImageOptions = {}): SignatureImage {
  return signatureImageFromDescriptors(layers.map(tagLayerDescriptor), options);
}

/** As buildSignatureImage, from layer descriptors (existing layers of a tag image plus new ones). */
export function signatureImageFromDescriptors(
  layers: readonly Descriptor[],
  options: SignatureImageOptions = {},
): SignatureImage {
  if (layers.length > MAX_SIGNATURE_LAYERS) {
    throw new AttachError(
      'ATTACHMENT_TOO_LARGE',
      `a signature image may hold at most ${MAX_SIGNATURE_LAYERS} layers (cosign's limit), this one would hold ${layers.length}`,
    );
  }
  const docker = options.dockerMediaTypes ?? false;
  const configJson = goJson({
    architecture: '',
    created: ZERO_TIME,
    history: layers.map(() => ({ created: ZERO_TIME })),
    os: '',
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) },
    config: {},
  });
  const configBytes = new TextEncoder().encode(configJson);
  const config: Descriptor = {
    mediaType: docker ? MediaType.DockerConfig : MediaType.OciConfig,
    size: configBytes.byteLength,
    digest: sha256(configBytes),
  };
  const layerDescs = layers.map(canonicalLayer);
  const manifestMediaType = docker ? MediaType.DockerManifest : MediaType.OciManifest;
  const manifestBytes = new TextEncoder().encode(
    goJson({ schemaVersion: 2, mediaType: manifestMediaType, config, layers: layerDescs }),
  );
  return { manifestBytes, configBytes, manifestMediaType, config, layers: layerDescs, digest: sha256(manifestBytes) };
}

/** Keeps the fields cosign keeps when it re-appends an existing layer, in ggcr's order. */
function canonicalLayer(d: Descriptor): Descriptor {
  const annotations = sortedMap(d.annotations);
  return { mediaType: d.mediaType, size: d.size, digest: d.digest, ...(annotations ? { annotations } : {}) };
}

/**
 * The layers of an existing `.sig`/`.att`/`.sbom` image. The config is ignored (cosign 1.x wrote
 * other layouts; cosign's readers ignore it too); OCI and Docker schema 2 manifests are accepted.
 */
export function parseSignatureImage(bytes: Uint8Array, mediaType: string | undefined, what: string): Descriptor[] {
  let parsed;
  try {
    parsed = parseManifest(bytes, mediaType, what);
  } catch (e) {
    if (e instanceof OciError) throw new AttachError('ATTACHMENT_INVALID', e.message, { cause: e });
    throw e;
  }
  if (parsed.kind !== 'image') {
    throw new AttachError('ATTACHMENT_INVALID', `${what}: expected an image manifest, got an index`);
  }
  for (const l of parsed.manifest.layers) {
    const a = l.annotations;
    if (
      a !== undefined &&
      (typeof a !== 'object' || a === null || Object.values(a).some((v) => typeof v !== 'string'))
    ) {
      throw new AttachError('ATTACHMENT_INVALID', `${what}: layer ${l.digest} has annotations that are not strings`);
    }
  }
  return parsed.manifest.layers;
}
