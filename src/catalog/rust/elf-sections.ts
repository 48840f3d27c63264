/**
 * Just enough ELF to find one section by name: the file header, the section header table and
 * the section-name string table (`.shstrtab`). 32- and 64-bit, both byte orders, extended section
 * numbering included. Reading goes through a `read(offset, length)` callback so the same code
 * works on bytes in memory and on a spooled temp file. Anything that does not add up (tables
 * past the end of the file, absurd sizes) gives undefined: an odd executable is not an error.
 */

/** `\x7fELF`: every ELF file starts with it. */
export const ELF_MAGIC = Uint8Array.of(0x7f, 0x45, 0x4c, 0x46);

/** Bytes needed to decode the file header: 52 for ELF32, 64 for ELF64. */
export const ELF_HEADER_MAX = 64;

const ELFCLASS32 = 1;
const ELFCLASS64 = 2;
const ELFDATA2LSB = 1;
const ELFDATA2MSB = 2;
/** e_shstrndx value meaning "the real index is in section 0's sh_link" (extended numbering). */
const SHN_XINDEX = 0xffff;
/** Sections with no bytes in the file (`.bss`). */
const SHT_NOBITS = 8;

/** A section table larger than this is not a real program's (65535 sections * 64 bytes is 4 MiB). */
const MAX_SECTION_TABLE = 4 * 1024 * 1024;
/** Section names of real binaries take a few KiB; a larger `.shstrtab` is not worth reading. */
const MAX_SHSTRTAB = 1024 * 1024;

export interface ElfHeader {
  is64: boolean;
  littleEndian: boolean;
  /** File offset of the section header table; 0 when the file has none. */
  shoff: number;
  shentsize: number;
  /** Section count from the header; 0 with shoff > 0 means extended numbering (count in section 0). */
  shnum: number;
  shstrndx: number;
}

export interface ElfSection {
  name: string;
  type: number;
  offset: number;
  size: number;
}

export type ReadAt = (offset: number, length: number) => Uint8Array;

export function hasElfMagic(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && ELF_MAGIC.every((b, i) => bytes[i] === b);
}

/** Decode the file header from the first bytes; undefined when they are not a usable ELF header. */
export function parseElfHeader(bytes: Uint8Array): ElfHeader | undefined {
  if (!hasElfMagic(bytes) || bytes.length < 52) return undefined;
  const cls = bytes[4];
  const data = bytes[5];
  if ((cls !== ELFCLASS32 && cls !== ELFCLASS64) || (data !== ELFDATA2LSB && data !== ELFDATA2MSB)) return undefined;
  const is64 = cls === ELFCLASS64;
  if (is64 && bytes.length < 64) return undefined;
  const le = data === ELFDATA2LSB;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shoff = is64 ? u64(view, 0x28, le) : view.getUint32(0x20, le);
  const at = is64 ? 0x3a : 0x2e;
  return {
    is64,
    littleEndian: le,
    shoff,
    shentsize: view.getUint16(at, le),
    shnum: view.getUint16(at + 2, le),
    shstrndx: view.getUint16(at + 4, le),
  };
}

/** Where the section header table sits and how long it is, or undefined when the file has none. */
export function sectionTableRange(
  h: ElfHeader,
  fileSize: number,
  read: ReadAt,
): { offset: number; length: number; count: number } | undefined {
  const minEntry = h.is64 ? 64 : 40;
  if (h.shoff === 0 || h.shentsize < minEntry) return undefined;
  let count = h.shnum;
  if (count === 0) {
    // Extended numbering: more than 0xff00 sections, the count is section 0's sh_size.
    if (h.shoff + minEntry > fileSize) return undefined;
    count = decodeSection(h, read(h.shoff, minEntry)).size;
  }
  const length = count * h.shentsize;
  if (count === 0 || length > MAX_SECTION_TABLE || h.shoff + length > fileSize) return undefined;
  return { offset: h.shoff, length, count };
}

/**
 * All sections with their names, or undefined when the table or `.shstrtab` is not readable.
 * `table` is the bytes of the section header table (see sectionTableRange).
 */
export function readSections(
  h: ElfHeader,
  table: Uint8Array,
  fileSize: number,
  read: ReadAt,
): ElfSection[] | undefined {
  const count = Math.floor(table.length / h.shentsize);
  const raw = [];
  for (let i = 0; i < count; i++) raw.push(decodeSection(h, table.subarray(i * h.shentsize, (i + 1) * h.shentsize)));
  let strndx = h.shstrndx;
  if (strndx === SHN_XINDEX) strndx = raw[0]?.link ?? 0;
  const strtab = raw[strndx];
  if (strndx === 0 || strtab === undefined || strtab.type === SHT_NOBITS) return undefined;
  if (strtab.size > MAX_SHSTRTAB || strtab.offset + strtab.size > fileSize) return undefined;
  const names = read(strtab.offset, strtab.size);
  return raw.map((s) => ({ name: cString(names, s.nameOffset), type: s.type, offset: s.offset, size: s.size }));
}

/** The byte range `.shstrtab` occupies, to know early (mid-stream) when it has gone by. */
export function shstrtabRange(h: ElfHeader, table: Uint8Array): { offset: number; size: number } | undefined {
  const first = decodeSection(h, table.subarray(0, h.shentsize));
  const strndx = h.shstrndx === SHN_XINDEX ? first.link : h.shstrndx;
  if (strndx === 0 || (strndx + 1) * h.shentsize > table.length) return undefined;
  const s = decodeSection(h, table.subarray(strndx * h.shentsize, (strndx + 1) * h.shentsize));
  return { offset: s.offset, size: s.size };
}

/** The first section with one of `names` (in order of preference) that has bytes in the file. */
export function findSection(sections: readonly ElfSection[], names: readonly string[]): ElfSection | undefined {
  for (const name of names) {
    const s = sections.find((x) => x.name === name && x.type !== SHT_NOBITS);
    if (s !== undefined) return s;
  }
  return undefined;
}

interface RawSection {
  nameOffset: number;
  type: number;
  offset: number;
  size: number;
  link: number;
}

function decodeSection(h: ElfHeader, b: Uint8Array): RawSection {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const le = h.littleEndian;
  if (h.is64) {
    return {
      nameOffset: v.getUint32(0, le),
      type: v.getUint32(4, le),
      offset: u64(v, 24, le),
      size: u64(v, 32, le),
      link: v.getUint32(40, le),
    };
  }
  return {
    nameOffset: v.getUint32(0, le),
    type: v.getUint32(4, le),
    offset: v.getUint32(16, le),
    size: v.getUint32(20, le),
    link: v.getUint32(24, le),
  };
}

/** A 64-bit field as a number; values past 2^53 are no real offset, so they become Infinity (out of range). */
function u64(v: DataView, at: number, le: boolean): number {
  const n = v.getBigUint64(at, le);
  return n > BigInt(Number.MAX_SAFE_INTEGER) ? Number.POSITIVE_INFINITY : Number(n);
}

const latin1 = new TextDecoder('latin1');

function cString(bytes: Uint8Array, at: number): string {
  if (at >= bytes.length) return '';
  let end = bytes.indexOf(0, at);
  if (end < 0) end = bytes.length;
  return latin1.decode(bytes.subarray(at, end));
}
