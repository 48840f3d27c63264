/**
 * A zstd stream is a sequence of frames (RFC 8878 §3.1); zstd:chunked layers and `cat a.zst
 * b.zst` have many. node:zlib's zstd decompressor stops after the first frame and drops the rest
 * when the next frame is in the same write, without an error, so a multi-frame layer read as a
 * truncated tar. This stage finds the frame boundaries from the frame and block headers and
 * writes each frame on its own; skippable frames (§3.1.2) are dropped. Bodies pass through as
 * they arrive, never buffered whole.
 */
import { Duplex, pipeline, Readable } from 'node:stream';
import { createZstdDecompress } from 'node:zlib';

const ZSTD_MAGIC = 0xfd2fb528;
const SKIPPABLE_MASK = 0xfffffff0;
const SKIPPABLE_MAGIC = 0x184d2a50;

class ByteReader {
  private pending: Buffer = Buffer.alloc(0);
  private readonly it: AsyncIterator<Buffer>;
  constructor(source: AsyncIterable<Buffer>) {
    this.it = source[Symbol.asyncIterator]();
  }

  private async pull(): Promise<boolean> {
    const r = await this.it.next();
    if (r.done) return false;
    const chunk = Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value);
    this.pending = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    return true;
  }

  async atEnd(): Promise<boolean> {
    while (this.pending.length === 0) if (!(await this.pull())) return true;
    return false;
  }

  /** Exactly `n` (small) bytes, for headers. */
  async take(n: number): Promise<Buffer> {
    while (this.pending.length < n) {
      if (!(await this.pull())) throw new Error(`zstd stream truncated (${n} header bytes wanted)`);
    }
    const out = this.pending.subarray(0, n);
    this.pending = this.pending.subarray(n);
    return out;
  }

  /** The next `n` bytes as they arrive. */
  async *stream(n: number): AsyncGenerator<Buffer> {
    while (n > 0) {
      if (this.pending.length === 0 && !(await this.pull()))
        throw new Error(`zstd stream truncated (${n} block bytes missing)`);
      const k = Math.min(n, this.pending.length);
      yield this.pending.subarray(0, k);
      this.pending = this.pending.subarray(k);
      n -= k;
    }
  }
}

/** The raw bytes of one zstd frame whose magic has been read. */
async function* frameBytes(r: ByteReader, magic: Buffer): AsyncGenerator<Buffer> {
  yield magic;
  const fhd = await r.take(1);
  yield fhd;
  const d = fhd[0]!;
  const singleSegment = (d >> 5) & 1;
  const fcsSize = [singleSegment ? 1 : 0, 2, 4, 8][d >> 6]!;
  const headerRest = (singleSegment ? 0 : 1) + [0, 1, 2, 4][d & 3]! + fcsSize;
  if (headerRest > 0) yield await r.take(headerRest);
  for (;;) {
    const bh = await r.take(3);
    yield bh;
    const h = bh[0]! | (bh[1]! << 8) | (bh[2]! << 16);
    const type = (h >> 1) & 3;
    if (type === 3) throw new Error('zstd block of reserved type');
    yield* r.stream(type === 1 ? 1 : h >>> 3);
    if (h & 1) break;
  }
  if ((d >> 2) & 1) yield await r.take(4);
}

/**
 * Joins the frame's small pieces (3-byte block headers, 1-byte RLE blocks) into writes of at
 * least `min` bytes: each write to the decompressor is a trip to the thread pool, and one per
 * block made a 1 GiB frame of zeros (8192 RLE blocks) take three times as long.
 */
async function* batched(pieces: AsyncGenerator<Buffer>, min: number): AsyncGenerator<Buffer> {
  let parts: Buffer[] = [];
  let length = 0;
  for await (const p of pieces) {
    parts.push(p);
    length += p.length;
    if (length >= min) {
      yield parts.length === 1 ? parts[0]! : Buffer.concat(parts);
      parts = [];
      length = 0;
    }
  }
  if (length > 0) yield parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}

/**
 * The compressed bytes again, cut so that no slice spans two frames: node:zlib's decompressor
 * decodes a next frame when it comes in a write of its own.
 */
async function* frameSlices(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const r = new ByteReader(source);
  while (!(await r.atEnd())) {
    const magic = await r.take(4);
    const m = magic.readUInt32LE(0);
    if ((m & SKIPPABLE_MASK) >>> 0 === SKIPPABLE_MAGIC) {
      for await (const _ of r.stream((await r.take(4)).readUInt32LE(0))) {
        // skipped
      }
      continue;
    }
    if (m !== ZSTD_MAGIC) throw new Error('data after the last zstd frame is not a zstd frame');
    yield* batched(frameBytes(r, magic), 64 * 1024);
  }
}

async function* decodeFrames(source: AsyncIterable<Buffer>, chunkSize: number): AsyncGenerator<Buffer> {
  const decompress = createZstdDecompress({ chunkSize });
  pipeline(Readable.from(frameSlices(source)), decompress, () => {});
  for await (const out of decompress) yield out as Buffer;
}

/** A Duplex: zstd bytes in, the concatenated content of every frame out. */
export function zstdFrameDecoder(chunkSize: number): Duplex {
  return Duplex.from((source: AsyncIterable<Buffer>) => decodeFrames(source, chunkSize));
}
