/**
 * A minimal OCI image layout writer for test images (image-spec v1.1 image-layout.md):
 * `oci-layout`, `index.json` and content-addressed `blobs/sha256/<hex>`. Kept apart from
 * src/oci/layout.ts on purpose: fixtures that test the project's layout reader must not be
 * written by the code under test.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Descriptor } from '../src/oci/manifest.ts';
import { MediaType } from '../src/oci/media-types.ts';

export const REF_NAME_ANNOTATION = 'org.opencontainers.image.ref.name';

export interface BlobRef {
  digest: string;
  size: number;
}

export async function initLayout(dir: string): Promise<void> {
  await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
  await writeFile(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
}

export function blobPath(dir: string, digest: string): string {
  return join(dir, 'blobs', 'sha256', digest.slice('sha256:'.length));
}

export async function writeBlob(dir: string, bytes: Uint8Array): Promise<BlobRef> {
  const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  await writeFile(blobPath(dir, digest), bytes);
  return { digest, size: bytes.byteLength };
}

/** Counts and hashes the bytes that pass, unchanged. */
export class HashingStream extends Transform {
  readonly hash = createHash('sha256');
  size = 0;

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    this.size += chunk.length;
    cb(null, chunk);
  }

  digest(): string {
    return `sha256:${this.hash.digest('hex')}`;
  }
}

/**
 * Stream `source` (plus any transforms, e.g. gzip) into the layout as one blob, hashing as it
 * goes: written to a temporary name, renamed to its digest once complete.
 */
export async function writeBlobStream(
  dir: string,
  source: NodeJS.ReadableStream,
  ...transforms: NodeJS.ReadWriteStream[]
): Promise<BlobRef> {
  const tmp = join(dir, 'blobs', 'sha256', `.tmp-${randomBytes(8).toString('hex')}`);
  const hasher = new HashingStream();
  try {
    await pipeline([source, ...transforms, hasher, createWriteStream(tmp)]);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  const digest = hasher.digest();
  await rename(tmp, blobPath(dir, digest));
  return { digest, size: hasher.size };
}

/** Serialise a JSON document deterministically (insertion-ordered keys, no whitespace) and store it. */
export async function writeJsonBlob(dir: string, doc: unknown): Promise<BlobRef & { bytes: Buffer }> {
  const bytes = Buffer.from(JSON.stringify(doc));
  return { ...(await writeBlob(dir, bytes)), bytes };
}

/**
 * Store an image's config (`rootfs.diff_ids` must list the layers' diffIDs) and its OCI
 * manifest over `layers`; returns both descriptors, the manifest's ready for index.json.
 */
export async function writeImageManifest(
  dir: string,
  config: object,
  layers: readonly { descriptor: Descriptor }[],
): Promise<{ config: Descriptor; manifest: Descriptor }> {
  const configBlob = await writeJsonBlob(dir, config);
  const configDesc: Descriptor = { mediaType: MediaType.OciConfig, digest: configBlob.digest, size: configBlob.size };
  const manifest = await writeJsonBlob(dir, {
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    config: configDesc,
    layers: layers.map((l) => l.descriptor),
  });
  return {
    config: configDesc,
    manifest: { mediaType: MediaType.OciManifest, digest: manifest.digest, size: manifest.size },
  };
}

/** index.json: the layout's entry points, each named by `org.opencontainers.image.ref.name`. */
export async function writeIndexJson(dir: string, manifests: Descriptor[]): Promise<void> {
  const index = { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests };
  await writeFile(join(dir, 'index.json'), JSON.stringify(index));
}
