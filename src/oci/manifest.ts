import { assertDigest, type Digest, isDigest, verifyBytes } from './digest.ts';
import { OciError } from './errors.ts';
import { isImageManifestMediaType, isIndexMediaType, MediaType } from './media-types.ts';

export interface Platform {
  architecture: string;
  os: string;
  variant?: string;
  'os.version'?: string;
  'os.features'?: string[];
}

/** OCI image spec v1.1 descriptor (also the shape of Docker schema2 descriptors). */
export interface Descriptor {
  mediaType: string;
  digest: Digest;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  platform?: Platform;
  artifactType?: string;
  data?: string;
}

export interface ImageManifest {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  config: Descriptor;
  layers: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

export interface ImageIndex {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  manifests: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

/** The image config fields sigil reads (OCI image spec config.md). */
export interface ImageConfig {
  architecture?: string;
  os?: string;
  variant?: string;
  created?: string;
  config?: Record<string, unknown>;
  rootfs: { type: string; diff_ids: Digest[] };
  history?: { created?: string; created_by?: string; empty_layer?: boolean; comment?: string }[];
}

/** A manifest (image or index) with its exact bytes: the digest is over these bytes, never a re-serialisation. */
export interface ManifestBlob {
  descriptor: Descriptor;
  bytes: Uint8Array;
}

export type ParsedManifest = { kind: 'index'; index: ImageIndex } | { kind: 'image'; manifest: ImageManifest };

/**
 * Decode manifest bytes. The kind comes from the `mediaType` field, else from the
 * transport's media type, else from the shape (`manifests` vs `layers`), as distribution does.
 */
export function parseManifest(bytes: Uint8Array, mediaType: string | undefined, what: string): ParsedManifest {
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;
  } catch (e) {
    throw new OciError('MANIFEST_INVALID', `${what}: manifest is not valid JSON`, { cause: e });
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new OciError('MANIFEST_INVALID', `${what}: manifest is not a JSON object`);
  }
  if (doc.schemaVersion !== 2) {
    throw new OciError(
      'UNSUPPORTED_MEDIA_TYPE',
      `${what}: schemaVersion ${String(doc.schemaVersion)} is not supported (only schema 2 / OCI manifests)`,
    );
  }
  const mt = (typeof doc.mediaType === 'string' ? doc.mediaType : undefined) ?? mediaType;
  const isIndex = isIndexMediaType(mt) || (!isImageManifestMediaType(mt) && Array.isArray(doc.manifests));
  if (isIndex) {
    if (!Array.isArray(doc.manifests))
      throw new OciError('MANIFEST_INVALID', `${what}: index has no "manifests" array`);
    for (const d of doc.manifests as unknown[]) {
      checkDescriptor(d, `${what}: manifests[]`);
      checkPlatform(d.platform, `${what}: manifests[] ${d.digest}`);
    }
    return { kind: 'index', index: doc as unknown as ImageIndex };
  }
  if (!Array.isArray(doc.layers)) throw new OciError('MANIFEST_INVALID', `${what}: manifest has no "layers" array`);
  checkDescriptor(doc.config, `${what}: config`);
  for (const d of doc.layers as unknown[]) checkDescriptor(d, `${what}: layers[]`);
  return { kind: 'image', manifest: doc as unknown as ImageManifest };
}

function checkDescriptor(d: unknown, what: string): asserts d is Descriptor {
  const o = d as Partial<Descriptor> | null;
  if (typeof o !== 'object' || o === null)
    throw new OciError('MANIFEST_INVALID', `${what}: descriptor is not an object`);
  if (typeof o.mediaType !== 'string') throw new OciError('MANIFEST_INVALID', `${what}: descriptor has no mediaType`);
  if (typeof o.digest !== 'string') throw new OciError('MANIFEST_INVALID', `${what}: descriptor has no digest`);
  assertDigest(o.digest, `${what} digest`);
  if (typeof o.size !== 'number' || !Number.isSafeInteger(o.size) || o.size < 0) {
    throw new OciError('MANIFEST_INVALID', `${what}: descriptor ${o.digest} has an invalid size`);
  }
}

/** Platform selection reads `os` and `architecture` as strings; an index entry may only omit the whole field. */
function checkPlatform(p: unknown, what: string): void {
  if (p === undefined) return;
  const o = p as Partial<Platform> | null;
  if (typeof o !== 'object' || o === null || typeof o.os !== 'string' || typeof o.architecture !== 'string')
    throw new OciError('MANIFEST_INVALID', `${what}: platform must be an object with "os" and "architecture" strings`);
  if (o.variant !== undefined && typeof o.variant !== 'string')
    throw new OciError('MANIFEST_INVALID', `${what}: platform variant must be a string`);
  const features = o['os.features'] as unknown;
  if (features !== undefined && (!Array.isArray(features) || !features.every((f) => typeof f === 'string')))
    throw new OciError('MANIFEST_INVALID', `${what}: platform os.features must be an array of strings`);
}

/** The manifest's own media type: the field if present, else what the transport said, else guessed from shape. */
export function manifestMediaType(bytes: Uint8Array, transportType?: string): string {
  try {
    const doc = JSON.parse(new TextDecoder().decode(bytes)) as { mediaType?: unknown; manifests?: unknown };
    if (typeof doc.mediaType === 'string') return doc.mediaType;
    if (transportType && (isIndexMediaType(transportType) || isImageManifestMediaType(transportType)))
      return transportType;
    return Array.isArray(doc.manifests) ? MediaType.OciIndex : MediaType.OciManifest;
  } catch {
    return transportType ?? MediaType.OciManifest;
  }
}

/** Check manifest bytes against a descriptor: the digest (and size when known) must match. */
export function verifyManifestBytes(bytes: Uint8Array, desc: Pick<Descriptor, 'digest' | 'size'>, what: string): void {
  if (desc.size >= 0 && bytes.byteLength !== desc.size) {
    throw new OciError('SIZE_MISMATCH', `${what}: manifest is ${bytes.byteLength} bytes, descriptor says ${desc.size}`);
  }
  verifyBytes(bytes, desc.digest, what);
}

export function parseConfig(bytes: Uint8Array, what: string): ImageConfig {
  try {
    const cfg = JSON.parse(new TextDecoder().decode(bytes)) as ImageConfig;
    if (!cfg.rootfs || !Array.isArray(cfg.rootfs.diff_ids)) throw new Error('no rootfs.diff_ids');
    // Each diffID keys the layer cache and picks the hash of the uncompressed stream.
    const bad = cfg.rootfs.diff_ids.find((d: unknown) => typeof d !== 'string' || !isDigest(d));
    if (bad !== undefined) throw new Error(`rootfs.diff_ids holds ${JSON.stringify(bad)}, not a digest`);
    return cfg;
  } catch (e) {
    throw new OciError('MANIFEST_INVALID', `${what}: image config is invalid: ${(e as Error).message}`, { cause: e });
  }
}
