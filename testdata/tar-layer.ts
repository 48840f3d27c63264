/**
 * Deterministic image layers: the same entries always give the same tar bytes and so the same
 * diff_id and (for a given zlib) the same compressed digest. Entries are sorted by path (a parent
 * directory sorts before its children because it is their prefix), owned by root, and stamped
 * with one fixed mtime, as reproducible-build tools such as buildkit's
 * SOURCE_DATE_EPOCH rewriting do.
 */
import { Readable } from 'node:stream';
import { createGzip } from 'node:zlib';
import * as tar from 'tar-stream';
import type { Descriptor } from '../src/oci/manifest.ts';
import { MediaType } from '../src/oci/media-types.ts';
import type { LayerEntry } from './debs.ts';
import { HashingStream, writeBlobStream } from './oci-layout.ts';

/** 2024-01-01T00:00:00Z: the mtime of every entry and the `created` time of every test image. */
export const FIXED_TIME = new Date('2024-01-01T00:00:00Z');

export interface WrittenLayer {
  descriptor: Descriptor;
  diffId: string;
}

export type LayerCompression = 'gzip' | 'none';

/** Append one entry of `e.type` to a tar-stream pack; `header` carries name, mode, owner and mtime. */
export function addTarEntry(
  pack: tar.Pack,
  header: { name: string; mode?: number; mtime?: Date; uid?: number; gid?: number; uname?: string; gname?: string },
  e: Pick<LayerEntry, 'type' | 'data' | 'linkname'>,
): void {
  switch (e.type) {
    case 'file':
      pack.entry({ ...header, type: 'file', size: e.data?.length ?? 0 }, e.data ?? Buffer.alloc(0));
      break;
    case 'directory':
      pack.entry({ ...header, type: 'directory' });
      break;
    case 'symlink':
      pack.entry({ ...header, type: 'symlink', linkname: e.linkname ?? '' });
      break;
    case 'hardlink':
      pack.entry({ ...header, type: 'link', linkname: e.linkname ?? '' });
      break;
  }
}

export async function writeTarLayer(
  layoutDir: string,
  entries: LayerEntry[],
  compression: LayerCompression = 'gzip',
): Promise<WrittenLayer> {
  const sorted = [...entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const pack = tar.pack();
  for (const e of sorted) {
    const header = {
      name: e.path,
      mode: e.mode,
      uid: 0,
      gid: 0,
      uname: 'root',
      gname: 'root',
      mtime: FIXED_TIME,
    };
    addTarEntry(pack, header, e);
  }
  pack.finalize();
  const diff = new HashingStream();
  const stages: NodeJS.ReadWriteStream[] = [diff];
  // Level 9, one memLevel: the zlib defaults could change between Node releases; pinning them
  // keeps digests stable as long as zlib's output for them does.
  if (compression === 'gzip') stages.push(createGzip({ level: 9, memLevel: 8 }));
  const blob = await writeBlobStream(layoutDir, Readable.from(pack), ...stages);
  return {
    descriptor: {
      mediaType: compression === 'gzip' ? MediaType.OciLayerGzip : MediaType.OciLayer,
      digest: blob.digest,
      size: blob.size,
    },
    diffId: diff.digest(),
  };
}
