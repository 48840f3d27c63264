import { open } from 'node:fs/promises';
import { OciError } from './errors.ts';

/** One member of a tar archive: where its data lies in the file, so it can be read by range. */
export interface TarMember {
  /** Normalised path inside the archive: no leading `./` or `/`, no trailing `/`. */
  name: string;
  type: 'file' | 'directory' | 'symlink' | 'hardlink' | 'other';
  /** Byte offset of the member's data in the archive file. */
  offset: number;
  size: number;
  /** Target of a symlink (relative to the member's directory) or hardlink (an archive path). */
  linkname?: string;
}

const BLOCK = 512;
/** pax and GNU long-name records hold a path; more than this is not a path but a broken or hostile archive. */
const EXTENDED_HEADER_LIMIT = 1024 * 1024;

/**
 * Index a tar file by reading only its headers: each header says how long its data is, so the
 * next header is found by seeking past the data. tar-stream's extractor would push every data
 * byte through a stream to skip it and does not report offsets; reading 512 bytes per member
 * makes indexing a multi-gigabyte `docker save` archive instant and lets blobs be served later
 * as byte ranges of the file. Reads POSIX ustar, pax (`path`, `linkpath`, `size`) and GNU
 * long names, which covers what docker, skopeo, Go's archive/tar and GNU tar write.
 * Later members replace earlier ones of the same name, as extraction would.
 */
export async function indexTar(path: string): Promise<Map<string, TarMember>> {
  const fh = await open(path, 'r');
  try {
    const fileSize = (await fh.stat()).size;
    const members = new Map<string, TarMember>();
    const header = Buffer.alloc(BLOCK);
    let pos = 0;
    let pending: { path?: string; linkpath?: string; size?: number } = {};
    while (pos + BLOCK <= fileSize) {
      const { bytesRead } = await fh.read(header, 0, BLOCK, pos);
      if (bytesRead < BLOCK) break;
      // The archive ends with zero blocks; some writers emit only one.
      if (header.every((b) => b === 0)) break;
      if (!checksumMatches(header)) {
        throw new OciError('ARCHIVE_INVALID', `${path}: not a tar archive (bad header checksum at byte ${pos})`);
      }
      const typeflag = String.fromCharCode(header[156]!);
      const size = pending.size ?? parseNumber(header.subarray(124, 136), path, pos);
      const dataOffset = pos + BLOCK;
      if (dataOffset + size > fileSize) {
        throw new OciError(
          'ARCHIVE_INVALID',
          `${path}: truncated archive (member at byte ${pos} needs ${size} bytes, the file ends first)`,
        );
      }
      pos = dataOffset + Math.ceil(size / BLOCK) * BLOCK;

      if (typeflag === 'x' || typeflag === 'L' || typeflag === 'K') {
        if (size > EXTENDED_HEADER_LIMIT) {
          throw new OciError('ARCHIVE_INVALID', `${path}: extended header of ${size} bytes at byte ${dataOffset}`);
        }
        const data = Buffer.alloc(size);
        await fh.read(data, 0, size, dataOffset);
        if (typeflag === 'x') pending = { ...pending, ...parsePax(data) };
        else if (typeflag === 'L') pending.path = cString(data);
        else pending.linkpath = cString(data);
        continue;
      }
      if (typeflag === 'g') continue; // global pax header: nothing sigil needs.

      const name = normaliseName(pending.path ?? ustarName(header));
      const linkname = pending.linkpath ?? cString(header.subarray(157, 257));
      pending = {};
      if (name === '') continue;
      const type =
        typeflag === '0' || typeflag === '\0' || typeflag === '7'
          ? 'file'
          : typeflag === '5'
            ? 'directory'
            : typeflag === '2'
              ? 'symlink'
              : typeflag === '1'
                ? 'hardlink'
                : 'other';
      members.set(name, {
        name,
        type,
        offset: dataOffset,
        size: type === 'file' ? size : 0,
        ...(type === 'symlink' || type === 'hardlink' ? { linkname } : {}),
      });
    }
    return members;
  } finally {
    await fh.close();
  }
}

export function normaliseName(name: string): string {
  let n = name;
  while (n.startsWith('./')) n = n.slice(2);
  while (n.startsWith('/')) n = n.slice(1);
  while (n.endsWith('/')) n = n.slice(0, -1);
  return n === '.' ? '' : n;
}

function ustarName(h: Buffer): string {
  const name = cString(h.subarray(0, 100));
  // The prefix field exists only in POSIX ustar ("ustar\0"); GNU's "ustar  " uses those bytes for times.
  if (h.subarray(257, 263).toString('latin1') === 'ustar\0') {
    const prefix = cString(h.subarray(345, 500));
    if (prefix) return `${prefix}/${name}`;
  }
  return name;
}

function cString(b: Buffer): string {
  const nul = b.indexOf(0);
  return b.subarray(0, nul < 0 ? b.length : nul).toString('utf8');
}

function checksumMatches(h: Buffer): boolean {
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    // The checksum field itself counts as spaces.
    const b = i >= 148 && i < 156 ? 0x20 : h[i]!;
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  const stored = parseInt(cString(h.subarray(148, 156)).trim() || 'x', 8);
  // Some old writers summed signed bytes; accept either, as GNU tar does.
  return stored === unsigned || stored === signed;
}

/** Octal, or GNU base-256 (high bit of the first byte set) for sizes of 8 GiB and more. */
function parseNumber(field: Buffer, path: string, pos: number): number {
  if (field[0]! & 0x80) {
    let n = field[0]! & 0x7f;
    for (let i = 1; i < field.length; i++) n = n * 256 + field[i]!;
    if (!Number.isSafeInteger(n))
      throw new OciError('ARCHIVE_INVALID', `${path}: member size too large at byte ${pos}`);
    return n;
  }
  const text = cString(field).trim();
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw new OciError('ARCHIVE_INVALID', `${path}: invalid size field at byte ${pos}`);
  return parseInt(text, 8);
}

/** pax records are `LEN key=value\n`, LEN counting the whole record in bytes. */
function parsePax(data: Buffer): { path?: string; linkpath?: string; size?: number } {
  const out: { path?: string; linkpath?: string; size?: number } = {};
  let i = 0;
  while (i < data.length) {
    const space = data.indexOf(0x20, i);
    if (space < 0) break;
    const len = parseInt(data.subarray(i, space).toString('ascii'), 10);
    if (!Number.isSafeInteger(len) || len <= 0 || i + len > data.length) break;
    const record = data.subarray(space + 1, i + len - 1).toString('utf8');
    const eq = record.indexOf('=');
    const key = record.slice(0, eq);
    const value = record.slice(eq + 1);
    if (key === 'path') out.path = value;
    else if (key === 'linkpath') out.linkpath = value;
    else if (key === 'size' && /^\d+$/.test(value)) out.size = Number(value);
    i += len;
  }
  return out;
}
