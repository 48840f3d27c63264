/**
 * Berkeley DB hash databases (`/var/lib/rpm/Packages`: RHEL/CentOS 5-8, Amazon Linux 2, older SUSE),
 * read-only, from Berkeley DB's on-disk page format (libdb src/dbinc/db_page.h, hash version 8/9):
 *
 *   page 0        hash metadata: magic 0x061561 at 12 (its byte order is the file's), version at 16,
 *                 page size at 20, encryption at 24, page type 8 at 25, checksum flag at 26, last
 *                 page number at 32.
 *   other pages   26-byte header: pgno 8, prev 12, next 16, entries (u16) 20, hf_offset (u16) 22,
 *                 level 24, type 25. Hash pages (type 13, or 2 "unsorted" in DB 4.x) hold an array
 *                 of `entries` u16 item offsets after the header, keys and values alternating; item i
 *                 runs from its offset to item i-1's offset (the page end for item 0).
 *   items         first byte is the kind: 1 inline data, 3 off-page (pgno u32 at 4, total length u32
 *                 at 8), 2/4 duplicates (rpm never stores them).
 *   overflow      type 7 pages chained through `next`, each holding hf_offset bytes after its header.
 *
 * rpm keys Packages by a 4-byte instance number; key 0 holds rpm's instance counter, not a header.
 * Pages are scanned in file order rather than by bucket: every live key/value pair sits on exactly
 * one hash page, and free pages have another type.
 */
import type { DbReadResult, HeaderRecord } from './record.ts';

export const BDB_HASH_MAGIC = 0x061561;
const PAGE_HEADER = 26;
const P_HASH_UNSORTED = 2;
const P_OVERFLOW = 7;
const P_HASHMETA = 8;
const P_HASH = 13;
const H_KEYDATA = 1;
const H_DUPLICATE = 2;
const H_OFFPAGE = 3;
const H_OFFDUP = 4;
const DBMETA_CHKSUM = 0x01;
const PAGE_SIZES = new Set([512, 1024, 2048, 4096, 8192, 16384, 32768, 65536]);

/** Whether the bytes start like a Berkeley DB hash file, in either byte order. */
export function isBdbHash(bytes: Uint8Array): boolean {
  if (bytes.length < 72) return false;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return view.getUint32(12, true) === BDB_HASH_MAGIC || view.getUint32(12, false) === BDB_HASH_MAGIC;
}

export function readBdbHash(bytes: Uint8Array, path: string): DbReadResult {
  if (!isBdbHash(bytes)) return { records: [], warnings: [`${path}: not a Berkeley DB hash database`] };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // The magic is written in the creating host's byte order; every other integer follows it.
  const little = view.getUint32(12, true) === BDB_HASH_MAGIC;
  const u16 = (at: number) => view.getUint16(at, little);
  const u32 = (at: number) => view.getUint32(at, little);

  const version = u32(16);
  const pageSize = u32(20);
  const fail = (why: string): DbReadResult => ({ records: [], warnings: [`${path}: ${why}`] });
  if (version < 8 || version > 10) return fail(`Berkeley DB hash version ${version} is not supported (8-10)`);
  if (!PAGE_SIZES.has(pageSize)) return fail(`Berkeley DB page size ${pageSize} is not a valid page size`);
  if (bytes[24] !== 0) return fail('encrypted Berkeley DB databases are not supported');
  if (bytes[25] !== P_HASHMETA) return fail(`page 0 has type ${bytes[25]}, expected hash metadata (8)`);
  // Page checksums move item offsets by a few bytes; rpm never enables them, so nothing here reads them.
  if ((bytes[26]! & DBMETA_CHKSUM) !== 0) return fail('Berkeley DB page checksums are not supported');

  const warnings: string[] = [];
  const records: HeaderRecord[] = [];
  const lastPage = u32(32);
  const pagesInFile = Math.floor(bytes.length / pageSize);
  if (lastPage + 1 > pagesInFile) {
    warnings.push(`${path}: truncated: last page is ${lastPage}, the file holds ${pagesInFile} whole pages`);
  }
  const pages = Math.min(lastPage + 1, pagesInFile);

  /** Concatenate an overflow chain; a string says why it could not be read. */
  const overflow = (first: number, total: number): Uint8Array | string => {
    if (total > bytes.length) return `claims ${total} bytes, more than the whole file`;
    const out = new Uint8Array(total);
    let filled = 0;
    let page = first;
    // Each page may be visited once: a cycle in `next` would otherwise fill the buffer with repeats.
    const visited = new Set<number>();
    while (filled < total) {
      if (page === 0 || page >= pages) return `overflow chain breaks after ${filled} of ${total} bytes`;
      if (visited.has(page)) return `overflow chain loops back to page ${page}`;
      visited.add(page);
      const at = page * pageSize;
      if (bytes[at + 25] !== P_OVERFLOW) return `page ${page} in the overflow chain has type ${bytes[at + 25]}`;
      const len = Math.min(u16(at + 22), pageSize - PAGE_HEADER, total - filled);
      out.set(bytes.subarray(at + PAGE_HEADER, at + PAGE_HEADER + len), filled);
      filled += len;
      page = u32(at + 16);
    }
    return out;
  };

  for (let page = 1; page < pages; page++) {
    const at = page * pageSize;
    const type = bytes[at + 25];
    if (type !== P_HASH && type !== P_HASH_UNSORTED) continue;
    const entries = u16(at + 20);
    const itemsStart = PAGE_HEADER + entries * 2;
    if (entries % 2 !== 0 || itemsStart > pageSize) {
      warnings.push(`${path}: page ${page}: ${entries} items cannot be key/value pairs on a ${pageSize}-byte page`);
      continue;
    }
    const offset = (i: number) => u16(at + PAGE_HEADER + i * 2);
    const end = (i: number) => (i === 0 ? pageSize : offset(i - 1));
    const item = (i: number): { kind: number; start: number; len: number } | undefined => {
      const start = offset(i);
      const stop = end(i);
      if (start < itemsStart || start >= stop || stop > pageSize) return undefined;
      return { kind: bytes[at + start]!, start: at + start, len: stop - start };
    };
    for (let i = 0; i + 1 < entries; i += 2) {
      const key = item(i);
      const value = item(i + 1);
      if (key === undefined || value === undefined) {
        warnings.push(`${path}: page ${page}: item ${i} has offsets outside the page; skipped`);
        continue;
      }
      const recno = key.kind === H_KEYDATA && key.len === 5 ? u32(key.start + 1) : undefined;
      if (recno === 0) continue;
      const id = recno === undefined ? `page ${page} item ${i}` : `record ${recno}`;
      if (value.kind === H_KEYDATA) {
        records.push({ id, blob: bytes.subarray(value.start + 1, value.start + value.len) });
      } else if (value.kind === H_OFFPAGE) {
        if (value.len < 12) {
          warnings.push(`${path}: ${id}: off-page item of ${value.len} bytes; skipped`);
          continue;
        }
        const blob = overflow(u32(value.start + 4), u32(value.start + 8));
        if (typeof blob === 'string') warnings.push(`${path}: ${id}: overflow data ${blob}; skipped`);
        else records.push({ id, blob });
      } else if (value.kind === H_DUPLICATE || value.kind === H_OFFDUP) {
        warnings.push(`${path}: ${id}: duplicate-key items are not rpm package records; skipped`);
      } else {
        warnings.push(`${path}: ${id}: unknown item kind ${value.kind}; skipped`);
      }
    }
  }
  return { records, warnings };
}
