/**
 * rpm's NDB backend (`Packages.db`, SUSE since SLE 15 SP3 / openSUSE), read-only. Layout from rpm's
 * lib/backend/ndb/rpmpkg.c (all integers little-endian):
 *
 *   slot pages   `slotNPages` × 4 KiB from offset 0; 16-byte slots `Slot`, pkgIdx, blkOff, blkCnt.
 *                The first 32 bytes (two slots' room) are the file header: `RpmP`, version 0,
 *                generation, slotNPages.
 *   blobs        at blkOff × 16, blkCnt 16-byte blocks: head `BlbS`, pkgIdx, generation, blobLen;
 *                the header blob; padding; tail: adler32, blobLen, `BlbE`. The adler32 covers
 *                everything from the head to the tail's checksum.
 *
 * A slot with pkgIdx 0 is free. A blob that fails any check is skipped with a warning.
 */
import type { DbReadResult, HeaderRecord } from './record.ts';

const le = (s: string) => s.charCodeAt(0) | (s.charCodeAt(1) << 8) | (s.charCodeAt(2) << 16) | (s.charCodeAt(3) << 24);
export const NDB_MAGIC = le('RpmP') >>> 0;
const SLOT_MAGIC = le('Slot') >>> 0;
const BLOB_MAGIC = le('BlbS') >>> 0;
const TAIL_MAGIC = le('BlbE') >>> 0;

const SLOT_PAGE = 4096;
const SLOT_SIZE = 16;
const BLOCK = 16;
const HEADER_SLOTS = 2;
const BLOB_HEAD = 16;
const BLOB_TAIL = 12;
/** rpm's own reader refuses more (rpmpkg.c); it is 2048 × 256 slots, far beyond any real system. */
const MAX_SLOT_PAGES = 2048;

export function readNdb(bytes: Uint8Array, path: string): DbReadResult {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 32 || view.getUint32(0, true) !== NDB_MAGIC) {
    return { records: [], warnings: [`${path}: not an NDB package database (no RpmP magic)`] };
  }
  const version = view.getUint32(4, true);
  const slotNPages = view.getUint32(12, true);
  if (version !== 0) return { records: [], warnings: [`${path}: NDB version ${version} is not supported (only 0)`] };
  if (slotNPages === 0 || slotNPages > MAX_SLOT_PAGES) {
    return { records: [], warnings: [`${path}: NDB header claims ${slotNPages} slot pages (1..${MAX_SLOT_PAGES})`] };
  }
  const warnings: string[] = [];
  const slotBytes = slotNPages * SLOT_PAGE;
  if (slotBytes > bytes.length) {
    warnings.push(`${path}: truncated: ${slotNPages} slot pages need ${slotBytes} bytes, file has ${bytes.length}`);
  }
  const records: HeaderRecord[] = [];
  const slotEnd = Math.min(slotBytes, bytes.length - (bytes.length % SLOT_SIZE));
  for (let at = HEADER_SLOTS * SLOT_SIZE; at + SLOT_SIZE <= slotEnd; at += SLOT_SIZE) {
    if (view.getUint32(at, true) !== SLOT_MAGIC) {
      warnings.push(`${path}: slot at offset ${at}: bad magic; skipped`);
      continue;
    }
    const pkgIdx = view.getUint32(at + 4, true);
    if (pkgIdx === 0) continue;
    const blob = readBlob(view, bytes, pkgIdx, view.getUint32(at + 8, true), view.getUint32(at + 12, true));
    if (typeof blob === 'string') warnings.push(`${path}: pkg ${pkgIdx}: ${blob}; skipped`);
    else records.push({ id: `pkg ${pkgIdx}`, blob });
  }
  return { records, warnings };
}

/** The header blob of one slot, or why it cannot be trusted. */
function readBlob(
  view: DataView,
  bytes: Uint8Array,
  pkgIdx: number,
  blkOff: number,
  blkCnt: number,
): Uint8Array | string {
  const start = blkOff * BLOCK;
  const end = start + blkCnt * BLOCK;
  if (blkCnt * BLOCK < BLOB_HEAD + BLOB_TAIL) return `${blkCnt} blocks cannot hold a blob`;
  if (end > bytes.length) return `blob at ${start}..${end} runs past the end of the ${bytes.length}-byte file`;
  if (view.getUint32(start, true) !== BLOB_MAGIC) return `no BlbS magic at offset ${start}`;
  if (view.getUint32(start + 4, true) !== pkgIdx)
    return `blob at ${start} belongs to pkg ${view.getUint32(start + 4, true)}`;
  const blobLen = view.getUint32(start + 12, true);
  if (blobLen > blkCnt * BLOCK - BLOB_HEAD - BLOB_TAIL) return `blob length ${blobLen} exceeds its ${blkCnt} blocks`;
  const tail = end - BLOB_TAIL;
  if (view.getUint32(tail + 8, true) !== TAIL_MAGIC || view.getUint32(tail + 4, true) !== blobLen) {
    return `blob tail at ${tail} is missing or disagrees on the length`;
  }
  if (adler32(bytes.subarray(start, tail)) !== view.getUint32(tail, true)) return 'adler32 checksum mismatch';
  return bytes.subarray(start + BLOB_HEAD, start + BLOB_HEAD + blobLen);
}

/** RFC 1950 Adler-32; node:zlib exposes crc32 but not adler32. */
export function adler32(data: Uint8Array): number {
  let a = 1;
  let b = 0;
  const MOD = 65521;
  // 5552 is the largest run for which b cannot overflow 2^32 before reducing (zlib's NMAX).
  for (let i = 0; i < data.length;) {
    const end = Math.min(i + 5552, data.length);
    for (; i < end; i++) {
      a += data[i]!;
      b += a;
    }
    a %= MOD;
    b %= MOD;
  }
  return ((b << 16) | a) >>> 0;
}
