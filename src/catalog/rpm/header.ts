/**
 * rpm header blobs as the database stores them (rpm's `headerExport` image, lib/header.c):
 *
 *   il (uint32 BE)  number of index entries
 *   dl (uint32 BE)  length of the data store
 *   il × 16 bytes   entries: tag, type, offset into the data store, count (all int32 BE)
 *   dl bytes        data store
 *
 * Every read is bounds-checked against the blob: a truncated or hostile blob throws an
 * RpmDbError (HEADER_CORRUPT), never reads past the end or allocates more than the blob's size.
 */
import { RpmDbError } from './errors.ts';

/** Tags sigil reads (rpm lib/rpmtag.h). */
export const TAG = {
  NAME: 1000,
  VERSION: 1001,
  RELEASE: 1002,
  EPOCH: 1003,
  SIZE: 1009,
  VENDOR: 1011,
  LICENSE: 1014,
  ARCH: 1022,
  OLDFILENAMES: 1027,
  FILEMODES: 1030,
  FILEFLAGS: 1037,
  SOURCERPM: 1044,
  PROVIDENAME: 1047,
  REQUIRENAME: 1049,
  DIRINDEXES: 1116,
  BASENAMES: 1117,
  DIRNAMES: 1118,
  LONGSIZE: 5009,
  MODULARITYLABEL: 5096,
} as const;

/** Data types of index entries (rpm lib/rpmtag.h, `rpmTagType`). */
const TYPE = {
  NULL: 0,
  CHAR: 1,
  INT8: 2,
  INT16: 3,
  INT32: 4,
  INT64: 5,
  STRING: 6,
  BIN: 7,
  STRING_ARRAY: 8,
  I18NSTRING: 9,
} as const;

/** rpm's own limits (lib/header_internal.h HEADER_TAGS_MAX / HEADER_DATA_MAX): more is not a header. */
const MAX_ENTRIES = 0xffff;
const MAX_DATA = 0x0fffffff;
const ENTRY_SIZE = 16;

interface IndexEntry {
  type: number;
  offset: number;
  count: number;
}

const utf8 = new TextDecoder('utf-8');

export class RpmHeader {
  private readonly entries = new Map<number, IndexEntry>();
  private readonly data: Uint8Array;
  private readonly view: DataView;

  private constructor(blob: Uint8Array) {
    if (blob.length < 8) throw corrupt(`${blob.length} bytes, shorter than the 8-byte preamble`);
    const head = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
    const il = head.getUint32(0);
    const dl = head.getUint32(4);
    if (il === 0 || il > MAX_ENTRIES) throw corrupt(`${il} index entries (rpm allows 1..${MAX_ENTRIES})`);
    if (dl > MAX_DATA) throw corrupt(`data store of ${dl} bytes (rpm allows ${MAX_DATA})`);
    const dataStart = 8 + il * ENTRY_SIZE;
    if (dataStart + dl > blob.length) {
      throw corrupt(
        `index (${il} entries) and data (${dl} bytes) need ${dataStart + dl} bytes, blob has ${blob.length}`,
      );
    }
    this.data = blob.subarray(dataStart, dataStart + dl);
    this.view = new DataView(this.data.buffer, this.data.byteOffset, this.data.byteLength);
    for (let i = 0; i < il; i++) {
      const at = 8 + i * ENTRY_SIZE;
      const tag = head.getInt32(at);
      const type = head.getUint32(at + 4);
      const offset = head.getInt32(at + 8);
      const count = head.getUint32(at + 12);
      // Region tags (61-63) point at a trailer inside the data store and carry nothing sigil reads.
      if (tag >= 61 && tag <= 63) continue;
      if (offset < 0 || offset > dl) throw corrupt(`tag ${tag}: offset ${offset} outside the ${dl}-byte data store`);
      // Entries after the immutable region ("dribbles") override earlier ones: last one wins.
      this.entries.set(tag, { type, offset, count });
    }
  }

  /** Decode the index; throws RpmDbError HEADER_CORRUPT when it does not fit the blob. */
  static parse(blob: Uint8Array): RpmHeader {
    return new RpmHeader(blob);
  }

  has(tag: number): boolean {
    return this.entries.has(tag);
  }

  /** A STRING (or the default-locale I18NSTRING) value; undefined when the tag is absent. */
  string(tag: number): string | undefined {
    const e = this.entries.get(tag);
    if (e === undefined) return undefined;
    if (e.type !== TYPE.STRING && e.type !== TYPE.I18NSTRING && e.type !== TYPE.STRING_ARRAY) {
      throw corrupt(`tag ${tag}: type ${e.type}, expected a string`);
    }
    if (e.count < 1) throw corrupt(`tag ${tag}: string with count 0`);
    return this.readStrings(tag, e.offset, 1)[0];
  }

  /** A STRING_ARRAY (or I18NSTRING, all locales) value; [] when the tag is absent. */
  strings(tag: number): string[] {
    const e = this.entries.get(tag);
    if (e === undefined) return [];
    if (e.type === TYPE.STRING) return this.readStrings(tag, e.offset, 1);
    if (e.type !== TYPE.STRING_ARRAY && e.type !== TYPE.I18NSTRING) {
      throw corrupt(`tag ${tag}: type ${e.type}, expected a string array`);
    }
    return this.readStrings(tag, e.offset, e.count);
  }

  /** INT8/16/32/64 values as numbers; [] when the tag is absent. */
  integers(tag: number): number[] {
    const e = this.entries.get(tag);
    if (e === undefined) return [];
    const width = intWidth(e.type);
    if (width === undefined) throw corrupt(`tag ${tag}: type ${e.type}, expected an integer`);
    // Checked before allocating: a hostile count cannot ask for more than the data store holds.
    if (e.count > (this.data.length - e.offset) / width) {
      throw corrupt(`tag ${tag}: ${e.count} × ${width}-byte integers overrun the data store`);
    }
    const out = new Array<number>(e.count);
    for (let i = 0; i < e.count; i++) {
      const at = e.offset + i * width;
      out[i] =
        width === 1
          ? this.view.getUint8(at)
          : width === 2
            ? this.view.getUint16(at)
            : width === 4
              ? this.view.getUint32(at)
              : Number(this.view.getBigUint64(at));
    }
    return out;
  }

  /** The first value of an integer tag. */
  integer(tag: number): number | undefined {
    return this.has(tag) ? this.integers(tag)[0] : undefined;
  }

  private readStrings(tag: number, offset: number, count: number): string[] {
    // Every string takes at least its NUL: more strings than bytes left is a lie, not a big header.
    if (count > this.data.length - offset) throw corrupt(`tag ${tag}: ${count} strings cannot fit`);
    const out: string[] = [];
    let at = offset;
    for (let i = 0; i < count; i++) {
      const end = this.data.indexOf(0, at);
      if (end < 0) throw corrupt(`tag ${tag}: string ${i} at offset ${at} has no terminating NUL`);
      out.push(utf8.decode(this.data.subarray(at, end)));
      at = end + 1;
    }
    return out;
  }
}

function intWidth(type: number): number | undefined {
  switch (type) {
    case TYPE.CHAR:
    case TYPE.INT8:
      return 1;
    case TYPE.INT16:
      return 2;
    case TYPE.INT32:
      return 4;
    case TYPE.INT64:
      return 8;
    default:
      return undefined;
  }
}

function corrupt(detail: string): RpmDbError {
  return new RpmDbError('HEADER_CORRUPT', `rpm header: ${detail}`);
}
