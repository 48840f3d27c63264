import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, open, readFile, rm, stat } from 'node:fs/promises';
import { dirname, join, posix } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createZstdDecompress } from 'node:zlib';
import { OciError } from './errors.ts';
import { indexTar, normaliseName, type TarMember } from './tar-index.ts';

/**
 * The named files an image source reads: a layout directory, or the members of a tar archive
 * read in place. Layout and docker-archive readers are written once against this.
 */
export interface FileSet {
  /** For messages: the directory or archive path. */
  readonly root: string;
  /** Size of the regular file at `name` (links followed), or undefined if there is none. */
  size(name: string): Promise<number | undefined>;
  /** The file's bytes as a stream; BLOB_UNKNOWN if absent. */
  open(name: string): Promise<Readable>;
  /** The first `length` bytes (fewer if the file is shorter). */
  head(name: string, length: number): Promise<Buffer>;
  /** The whole file, refused with `tooLarge` when it exceeds `limit` bytes. */
  read(name: string, limit: number): Promise<Buffer>;
  /** Where `name` is described in messages: `/dir/blobs/sha256/ab…` or `/x.tar!blobs/sha256/ab…`. */
  where(name: string): string;
  close(): Promise<void>;
}

/**
 * Read size for blobs: 1 MiB instead of fs's 64 KiB cuts the per-chunk work of everything
 * downstream (digest, inflate scheduling, progress) sixteenfold; memory stays a few MiB per layer.
 */
const READ_CHUNK = 1024 * 1024;

export function directoryFileSet(root: string): FileSet {
  const full = (name: string) => join(root, ...safeSegments(name, root));
  return {
    root,
    async size(name) {
      const st = await stat(full(name)).catch(() => undefined);
      return st?.isFile() ? st.size : undefined;
    },
    async open(name) {
      // Opening first turns a missing file into an error here rather than later on the stream.
      const fh = await open(full(name), 'r').catch((e: NodeJS.ErrnoException) => {
        throw missing(e, `${full(name)}`);
      });
      return fh.createReadStream({ highWaterMark: READ_CHUNK });
    },
    async head(name, length) {
      const fh = await open(full(name), 'r').catch((e: NodeJS.ErrnoException) => {
        throw missing(e, full(name));
      });
      try {
        const buf = Buffer.alloc(length);
        const { bytesRead } = await fh.read(buf, 0, length, 0);
        return buf.subarray(0, bytesRead);
      } finally {
        await fh.close();
      }
    },
    async read(name, limit) {
      const size = await this.size(name);
      if (size === undefined) throw missing(undefined, full(name));
      if (size > limit) throw tooLarge(full(name), size, limit);
      return readFile(full(name));
    },
    where: full,
    async close() {},
  };
}

/** Members of an uncompressed tar, served as byte ranges of the file. */
export function tarFileSet(path: string, members: Map<string, TarMember>, onClose?: () => Promise<void>): FileSet {
  const resolve = (name: string): TarMember | undefined => {
    let n = normaliseName(name);
    // docker save links a layer shared by two images to the first copy; follow such links, boundedly.
    for (let hops = 0; hops < 16; hops++) {
      const m = members.get(n);
      if (!m || m.type === 'file') return m;
      if (m.type === 'symlink') n = posix.normalize(posix.join(posix.dirname(n), m.linkname ?? ''));
      else if (m.type === 'hardlink') n = normaliseName(m.linkname ?? '');
      else return undefined;
    }
    return undefined;
  };
  const where = (name: string) => `${path}!${normaliseName(name)}`;
  const range = (m: TarMember, length = m.size): Readable =>
    length === 0
      ? Readable.from([])
      : createReadStream(path, { start: m.offset, end: m.offset + length - 1, highWaterMark: READ_CHUNK });
  return {
    root: path,
    async size(name) {
      return resolve(name)?.size;
    },
    async open(name) {
      const m = resolve(name);
      if (!m) throw missing(undefined, where(name));
      return range(m);
    },
    async head(name, length) {
      const m = resolve(name);
      if (!m) throw missing(undefined, where(name));
      const chunks: Buffer[] = [];
      for await (const c of range(m, Math.min(length, m.size))) chunks.push(c as Buffer);
      return Buffer.concat(chunks);
    },
    async read(name, limit) {
      const m = resolve(name);
      if (!m) throw missing(undefined, where(name));
      if (m.size > limit) throw tooLarge(where(name), m.size, limit);
      return this.head(name, m.size);
    },
    where,
    async close() {
      await onClose?.();
    },
  };
}

/**
 * Open an archive (`oci-archive`, `docker save`) for reading in place. An uncompressed tar is
 * indexed and read by range. A gzip or zstd compressed one (docker load accepts `docker save |
 * gzip`) cannot be read by range, so it is decompressed once into a temporary tar next to it,
 * which `close()` removes; unpacking to a tar instead of a directory keeps member names from
 * ever becoming paths on this machine.
 */
export async function openArchiveFiles(path: string): Promise<FileSet> {
  const magic = await readMagic(path);
  const decompress =
    magic[0] === 0x1f && magic[1] === 0x8b
      ? createGunzip()
      : magic.readUInt32LE(0) === 0xfd2fb528
        ? createZstdDecompress()
        : undefined;
  if (!decompress) return tarFileSet(path, await indexTar(path));
  const tmp = await mkdtemp(join(dirname(path), '.sigil-archive-'));
  try {
    const tar = join(tmp, 'archive.tar');
    await pipeline(createReadStream(path), decompress, createWriteStream(tar));
    return tarFileSet(tar, await indexTar(tar), () => rm(tmp, { recursive: true, force: true }));
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    if (e instanceof OciError) throw e;
    throw new OciError('ARCHIVE_INVALID', `${path}: cannot decompress archive: ${(e as Error).message}`, { cause: e });
  }
}

async function readMagic(path: string): Promise<Buffer> {
  const fh = await open(path, 'r').catch((e: NodeJS.ErrnoException) => {
    throw new OciError(
      'SOURCE_INVALID',
      e.code === 'ENOENT' ? `${path}: no such archive` : `${path}: cannot open archive: ${e.message}`,
      { cause: e },
    );
  });
  try {
    const buf = Buffer.alloc(4);
    await fh.read(buf, 0, 4, 0);
    return buf;
  } finally {
    await fh.close();
  }
}

/** Names come from digests and manifest.json; none may climb out of the root. */
function safeSegments(name: string, root: string): string[] {
  const segments = normaliseName(name).split('/');
  if (segments.some((s) => s === '..' || s === '')) {
    throw new OciError('SOURCE_INVALID', `${root}: refusing path "${name}" outside the image directory`);
  }
  return segments;
}

function missing(e: NodeJS.ErrnoException | undefined, where: string): OciError {
  if (e && e.code !== 'ENOENT') return new OciError('SOURCE_INVALID', `${where}: ${e.message}`, { cause: e });
  return new OciError('BLOB_UNKNOWN', `${where}: no such file`, e ? { cause: e } : undefined);
}

function tooLarge(where: string, size: number, limit: number): OciError {
  return new OciError('MANIFEST_INVALID', `${where}: ${size} bytes, more than the ${limit} allowed for this file`);
}
