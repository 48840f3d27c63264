/**
 * Finds a Go binary's build info while the layer streams past, keeping only that blob.
 *
 * The Go linker writes a 32-byte header starting with `\xff Go buildinf:` at a 16-byte aligned
 * offset (ELF `.go.buildinfo`, Mach-O `__go_buildinfo`, PE `.data`), which Go's own
 * debug/buildinfo finds by scanning for the magic at that alignment. From Go 1.18 on (flags bit
 * 0x2) the Go version and the modinfo follow the header inline as two varint-length strings, so
 * one forward pass sees everything. Older binaries hold pointers to string headers in `.data`
 * whose bytes sit in `.rodata`, earlier in the file: a forward-only stream has already passed
 * them, so for those the header alone is kept and the cataloger says it cannot read the modules.
 */
import type { ContentExtractor, ExtractSink, FileHeader } from '../cataloger.ts';

export const BUILDINFO_MAGIC: Buffer = Buffer.from('\xff Go buildinf:', 'latin1');
export const BUILDINFO_HEADER_SIZE = 32;
const BUILDINFO_ALIGN = 16;
/** ptrSize at 14, flags at 15: bit 0x1 big-endian (pointer format only), bit 0x2 inline strings. */
export const FLAG_VERSION_INLINE = 0x2;
/**
 * A real modinfo is a few KiB (one line per module; kubelet's is ~20 KiB). 1 MiB bounds the
 * memory one binary can claim while still taking any build info a real program carries.
 */
export const MAX_BUILDINFO_BYTES = 1 << 20;

/** Executable formats Go builds: ELF, Mach-O (32/64 bit, either byte order, fat), PE. */
export function isExecutableFormat(head: Uint8Array): boolean {
  if (head.length < 4) return false;
  const b0 = head[0]!;
  const b1 = head[1]!;
  const b2 = head[2]!;
  const b3 = head[3]!;
  if (b0 === 0x7f && b1 === 0x45 && b2 === 0x4c && b3 === 0x46) return true; // \x7fELF
  if (b0 === 0x4d && b1 === 0x5a) return true; // MZ (PE)
  const be = ((b0 << 24) | (b1 << 16) | (b2 << 8) | b3) >>> 0;
  const le = ((b3 << 24) | (b2 << 16) | (b1 << 8) | b0) >>> 0;
  // feedface / feedfacf in either byte order; cafebabe / cafebabf are fat (universal) files.
  const macho = (m: number) => m === 0xfeedface || m === 0xfeedfacf;
  return macho(be) || macho(le) || be === 0xcafebabe || be === 0xcafebabf;
}

/**
 * Reads an unsigned LEB128 varint (Go's binary.Uvarint) at `off`: the value and the offset after
 * it, 'short' when the buffer ends inside it, undefined when it overflows 2^53.
 */
export function readUvarint(buf: Uint8Array, off: number): { value: number; next: number } | 'short' | undefined {
  let value = 0;
  let scale = 1;
  for (let i = off; i < buf.length; i++) {
    const b = buf[i]!;
    value += (b & 0x7f) * scale;
    if (value > Number.MAX_SAFE_INTEGER) return undefined;
    if (b < 0x80) return { value, next: i + 1 };
    scale *= 128;
    if (i - off >= 9) return undefined;
  }
  return 'short';
}

/**
 * How many bytes of a blob starting at the magic make the whole build info: a number when `buf`
 * holds enough to tell, 'more' when it needs more bytes, 'invalid' when this is no build info header
 * (the magic text also appears in programs that read build info, the go command itself).
 */
export function buildInfoLength(buf: Uint8Array): number | 'more' | 'invalid' {
  if (buf.length < BUILDINFO_HEADER_SIZE) return 'more';
  const ptrSize = buf[14]!;
  const flags = buf[15]!;
  if ((ptrSize !== 4 && ptrSize !== 8) || (flags & ~0x3) !== 0) return 'invalid';
  if ((flags & FLAG_VERSION_INLINE) === 0) return BUILDINFO_HEADER_SIZE;
  // Inline format: the rest of the header is zero padding.
  for (let i = 16; i < BUILDINFO_HEADER_SIZE; i++) if (buf[i] !== 0) return 'invalid';
  let off = BUILDINFO_HEADER_SIZE;
  for (let s = 0; s < 2; s++) {
    const v = readUvarint(buf, off);
    if (v === 'short') return 'more';
    if (v === undefined) return 'invalid';
    off = v.next + v.value;
    if (off > buf.length) return off > MAX_BUILDINFO_BYTES ? 'invalid' : 'more';
  }
  return off;
}

const TAIL = BUILDINFO_MAGIC.length - 1;
const MAX_FALSE_CANDIDATES = 64;

/**
 * One file's sink: sniffs the format from the first bytes, scans for the aligned magic without
 * looking at every byte in JS (Buffer.indexOf), then collects the blob up to its end.
 */
export class BuildInfoSink implements ExtractSink {
  private state: 'sniff' | 'scan' | 'collect' | 'done' = 'sniff';
  private head: Buffer = Buffer.alloc(0);
  /** File offset of the next byte `write` receives. */
  private offset = 0;
  /** The last bytes of the previous chunk, for a magic split across two chunks. */
  private carry: Buffer = Buffer.alloc(0);
  private collected: Buffer[] = [];
  private collectedBytes = 0;
  private extract: Uint8Array | undefined;

  write(chunk: Uint8Array): boolean {
    let data = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (this.state === 'done') return false;
    if (this.state === 'sniff') {
      // The format needs 4 bytes; a chunk that small is rare but legal.
      this.head = Buffer.concat([this.head, data]);
      if (this.head.length < 4) return true;
      if (!isExecutableFormat(this.head)) return this.finish(undefined);
      this.state = 'scan';
      data = this.head;
      this.head = Buffer.alloc(0);
    }
    const start = this.offset;
    this.offset += data.length;
    if (this.state === 'scan') return this.scan(data, start);
    return this.collect(data);
  }

  end(): Uint8Array | undefined {
    if (this.state === 'collect') {
      // The file ended inside the blob: keep what came, the parser reports it as truncated.
      this.finish(Buffer.concat(this.collected));
    }
    this.state = 'done';
    return this.extract;
  }

  /** `data` starts at file offset `abs`. */
  private scan(data: Buffer, abs: number): boolean {
    if (this.carry.length > 0) {
      // Only a magic starting inside the carry can span the boundary; aligned starts are enough.
      const carry = this.carry;
      const joined = Buffer.concat([carry, data.subarray(0, TAIL)]);
      const carryAbs = abs - carry.length;
      for (
        let i = joined.indexOf(BUILDINFO_MAGIC);
        i >= 0 && i < carry.length;
        i = joined.indexOf(BUILDINFO_MAGIC, i + 1)
      ) {
        if ((carryAbs + i) % BUILDINFO_ALIGN === 0) {
          this.carry = Buffer.alloc(0);
          return this.startCollect(Buffer.concat([carry.subarray(i), data]), carryAbs + i);
        }
      }
    }
    for (let i = data.indexOf(BUILDINFO_MAGIC); i >= 0; i = data.indexOf(BUILDINFO_MAGIC, i + 1)) {
      if ((abs + i) % BUILDINFO_ALIGN !== 0) continue;
      // Judge the candidate in place when the chunk holds enough of it: no copy for a false one.
      const length = buildInfoLength(data.subarray(i));
      if (typeof length === 'number') return this.finish(data.subarray(i, i + length));
      if (length === 'invalid') {
        if (this.rejectCandidate()) return this.finish(undefined);
        continue;
      }
      this.carry = Buffer.alloc(0);
      return this.startCollect(data.subarray(i), abs + i);
    }
    // The stream's last bytes, not just this chunk's: chunks shorter than the magic happen. A copy,
    // as the caller may reuse its chunk buffer.
    const tail = data.length >= TAIL ? data : Buffer.concat([this.carry, data]);
    this.carry = Buffer.from(tail.subarray(Math.max(0, tail.length - TAIL)));
    return true;
  }

  private candidateAbs = 0;

  private startCollect(data: Buffer, abs: number): boolean {
    this.state = 'collect';
    this.candidateAbs = abs;
    this.collected = [];
    this.collectedBytes = 0;
    return this.collect(data);
  }

  private collect(data: Buffer): boolean {
    const room = MAX_BUILDINFO_BYTES - this.collectedBytes;
    this.collected.push(Buffer.from(data.subarray(0, room)));
    this.collectedBytes += Math.min(room, data.length);
    const buf = this.collected.length === 1 ? this.collected[0]! : Buffer.concat(this.collected);
    this.collected = [buf];
    const length = buildInfoLength(buf);
    if (typeof length === 'number') return this.finish(buf.subarray(0, length));
    if (length === 'invalid') {
      if (this.rejectCandidate()) return this.finish(undefined);
      // Not build info after all: scan again from the byte after this magic. Everything after it
      // that was collected is re-scanned, then the rest of the stream follows.
      this.state = 'scan';
      this.collected = [];
      this.collectedBytes = 0;
      const rest = Buffer.concat([buf.subarray(1), data.subarray(room)]);
      return this.scan(rest, this.candidateAbs + 1);
    }
    if (this.collectedBytes >= MAX_BUILDINFO_BYTES) return this.finish(buf);
    return true;
  }

  private falseCandidates = 0;

  /**
   * Counts a magic that was no build info; true once there were too many. A crafted file with an
   * aligned magic every 16 bytes, each declaring long strings, would otherwise make the sink
   * re-scan up to 1 MiB per candidate. Real binaries hold the text once or twice (the go command).
   */
  private rejectCandidate(): boolean {
    this.falseCandidates++;
    return this.falseCandidates > MAX_FALSE_CANDIDATES;
  }

  private finish(extract: Uint8Array | undefined): false {
    this.state = 'done';
    this.extract = extract === undefined ? undefined : new Uint8Array(extract);
    this.collected = [];
    this.carry = Buffer.alloc(0);
    return false;
  }
}

/** Regular files with any execute bit: what trivy selects too (syft sniffs MIME types instead). */
export function wantsExecutable(file: FileHeader): boolean {
  return (file.mode & 0o111) !== 0 && file.size >= BUILDINFO_HEADER_SIZE;
}

export const goBuildInfoExtractor: ContentExtractor = {
  wants: wantsExecutable,
  start: () => new BuildInfoSink(),
};
