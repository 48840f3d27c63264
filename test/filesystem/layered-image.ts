/**
 * Small images built per test for the squash tests: each layer a real tar (tar-stream), with
 * entries in exactly the order given (testdata/tar-layer.ts sorts them, which would hide the
 * order-dependent cases: an opaque marker after its siblings, a path twice in one layer),
 * compressed with real gzip/zstd, written as an OCI layout (testdata/oci-layout.ts) and read
 * back through the project's own layout source and resolveImage, so layers are digest-checked
 * as in production.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync, zstdCompressSync } from 'node:zlib';
import * as tar from 'tar-stream';
import { sha256 } from '../../src/oci/digest.ts';
import { type Image, type Layer, resolveImage } from '../../src/oci/image.ts';
import { MediaType } from '../../src/oci/media-types.ts';
import { openSource } from '../../src/oci/source.ts';
import {
  initLayout,
  REF_NAME_ANNOTATION,
  writeBlob,
  writeImageManifest,
  writeIndexJson,
} from '../../testdata/oci-layout.ts';
import { addTarEntry } from '../../testdata/tar-layer.ts';

export interface Entry {
  /** As written into the tar: may be `./x`, `/x`, `../../x`. */
  path: string;
  type?: 'file' | 'dir' | 'symlink' | 'hardlink';
  data?: string | Buffer;
  linkname?: string;
  mode?: number;
}

export interface LayerSpec {
  entries: Entry[];
  compression?: 'gzip' | 'zstd' | 'none';
  /** Media type written into the manifest; default the one matching `compression`. */
  mediaType?: string;
  /** Alter the tar before compression (the diffID is taken over the altered tar). */
  mangleTar?: (tar: Buffer) => Buffer;
  /** Alter the compressed blob (the manifest digest is taken over the altered blob). */
  mangleBlob?: (blob: Buffer) => Buffer;
  /** Put this diffID into the config instead of the real one. */
  claimDiffId?: string;
}

export const file = (path: string, data: string | Buffer, mode = 0o644): Entry => ({ path, data, mode });
export const dir = (path: string): Entry => ({ path, type: 'dir', mode: 0o755 });
export const symlink = (path: string, linkname: string): Entry => ({ path, type: 'symlink', linkname });
export const hardlink = (path: string, linkname: string): Entry => ({ path, type: 'hardlink', linkname });

export async function tarBytes(entries: Entry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = (async () => {
    for await (const c of pack) chunks.push(c as Buffer);
  })();
  for (const e of entries) {
    const header = { name: e.path, mode: e.mode ?? 0o644, mtime: new Date(0), uid: 0, gid: 0 };
    const type = e.type === 'dir' ? 'directory' : (e.type ?? 'file');
    addTarEntry(pack, header, {
      type,
      ...(type === 'file' ? { data: Buffer.from(e.data ?? '') } : {}),
      ...(e.linkname !== undefined ? { linkname: e.linkname } : {}),
    });
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

const MEDIA: Record<'gzip' | 'zstd' | 'none', string> = {
  gzip: MediaType.OciLayerGzip,
  zstd: MediaType.OciLayerZstd,
  none: MediaType.OciLayer,
};

export interface BuiltTestImage {
  dir: string;
  image: Image;
  diffIds: string[];
  digests: string[];
  /** How many times each layer's open() was called. */
  opens: number[];
}

/** Write the layers as a one-image OCI layout in a fresh temp dir and resolve it. */
export async function buildImage(layers: LayerSpec[]): Promise<BuiltTestImage> {
  const dir = await mkdtemp(join(tmpdir(), 'sigil-fs-'));
  await initLayout(dir);
  const written = [];
  const diffIds: string[] = [];
  for (const spec of layers) {
    let t = await tarBytes(spec.entries);
    if (spec.mangleTar) t = spec.mangleTar(t);
    const compression = spec.compression ?? 'gzip';
    let blob = compression === 'gzip' ? gzipSync(t) : compression === 'zstd' ? zstdCompressSync(t) : t;
    if (spec.mangleBlob) blob = spec.mangleBlob(blob);
    const ref = await writeBlob(dir, blob);
    diffIds.push(spec.claimDiffId ?? sha256(t));
    written.push({
      descriptor: { mediaType: spec.mediaType ?? MEDIA[compression], digest: ref.digest, size: ref.size },
    });
  }
  const { manifest } = await writeImageManifest(
    dir,
    { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: diffIds } },
    written,
  );
  await writeIndexJson(dir, [{ ...manifest, annotations: { [REF_NAME_ANNOTATION]: 'test' } }]);
  const image = await resolveImage(await openSource(`oci-dir:${dir}`));
  const counted = countOpens(image);
  return { dir, diffIds, digests: written.map((w) => w.descriptor.digest), ...counted };
}

/** The same image with each layer's open() counted. */
export function countOpens(image: Image): { image: Image; opens: number[] } {
  const opens = image.layers.map(() => 0);
  const layers: Layer[] = image.layers.map((l, i) => ({
    ...l,
    open: (signal?: AbortSignal) => {
      opens[i]!++;
      return l.open(signal);
    },
  }));
  return { image: { ...image, layers }, opens };
}
