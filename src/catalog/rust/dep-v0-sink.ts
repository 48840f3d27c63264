/**
 * Streams an executable and keeps only its cargo-auditable dependency data: the `.dep-v0` ELF
 * section (`.rust-deps-v0` from rust-audit 0.1 as a fallback, as go-rustaudit reads it), inflated.
 *
 * Cost plan, since every executable of every image goes through here:
 * - not executable, or too small for an ELF header: `wants` says no, nothing is read;
 * - first bytes not `\x7fELF`, or a header without a section table: `write` says stop at once;
 * - otherwise bytes are kept (memory up to `memoryLimit`, then an unlinked temp file, see spool.ts)
 *   until the section table and `.shstrtab` have gone by. Linkers write them at the end, so usually
 *   that is the whole file; when they come first (some hand-made or post-processed files), the
 *   sink decides mid-stream: no `.dep-v0` means stop, a `.dep-v0` still ahead means only its
 *   bytes are kept from there on and the spool is dropped.
 * The extract is one tag byte then either the JSON (inflated, capped) or a message saying why the
 * section could not be read, so the cataloger can warn about the binary by name.
 */
import { inflateSync } from 'node:zlib';
import type { ContentExtractor, ExtractSink, FileHeader } from '../cataloger.ts';
import {
  ELF_HEADER_MAX,
  type ElfHeader,
  findSection,
  hasElfMagic,
  parseElfHeader,
  readSections,
  sectionTableRange,
  shstrtabRange,
} from './elf-sections.ts';
import { Spool } from './spool.ts';

/** Section names, preferred first: cargo-auditable's, then rust-audit 0.1's. */
export const DEP_SECTION_NAMES = ['.dep-v0', '.rust-deps-v0'] as const;

export interface DepV0SinkOptions {
  /** Bytes of a binary kept in memory before spooling to a temp file (4 MiB). */
  memoryLimit?: number;
  /** Largest compressed section read (8 MiB); real ones are a few KiB. */
  maxSectionSize?: number;
  /** Largest inflated JSON (8 MiB): a zlib bomb stops there. */
  maxJsonSize?: number;
  /** Directory for spool files; os.tmpdir() by default. */
  tmpDir?: string;
}

const DEFAULTS: Required<Omit<DepV0SinkOptions, 'tmpDir'>> = {
  memoryLimit: 4 * 1024 * 1024,
  maxSectionSize: 8 * 1024 * 1024,
  maxJsonSize: 8 * 1024 * 1024,
};

/** What the sink found: the inflated JSON, or why the section was there but unreadable. */
export type DepV0Extract = { ok: true; json: Uint8Array } | { ok: false; error: string };

const TAG_JSON = 0x01;
const TAG_ERROR = 0x02;

export function encodeDepV0Extract(e: DepV0Extract): Uint8Array {
  const body = e.ok ? e.json : new TextEncoder().encode(e.error);
  const out = new Uint8Array(body.length + 1);
  out[0] = e.ok ? TAG_JSON : TAG_ERROR;
  out.set(body, 1);
  return out;
}

export function decodeDepV0Extract(bytes: Uint8Array): DepV0Extract {
  const body = bytes.subarray(1);
  if (bytes[0] === TAG_JSON) return { ok: true, json: body };
  if (bytes[0] === TAG_ERROR) return { ok: false, error: new TextDecoder().decode(body) };
  return { ok: false, error: 'extract in an unknown format (cache from another sigil version?)' };
}

/** Executables only, and only those that can hold an ELF header. */
export function wantsExecutable(file: FileHeader): boolean {
  return (file.mode & 0o111) !== 0 && file.size >= 52;
}

export function depV0Extractor(options: DepV0SinkOptions = {}): ContentExtractor {
  return { wants: wantsExecutable, start: (file) => new DepV0Sink(file, options) };
}

export class DepV0Sink implements ExtractSink {
  private readonly o: Required<Omit<DepV0SinkOptions, 'tmpDir'>> & { tmpDir?: string };
  private readonly head = new Uint8Array(ELF_HEADER_MAX);
  private headLength = 0;
  private header: ElfHeader | undefined;
  /** Bytes seen so far. */
  private pos = 0;
  private spool: Spool | undefined;
  /** Once the section is located mid-stream: its range and the bytes gathered for it. */
  private target: { offset: number; size: number; bytes: Uint8Array } | undefined;
  private finished = false;
  private result: Uint8Array | undefined;
  private peak = 0;
  private spilled = false;

  private readonly file: FileHeader;

  constructor(file: FileHeader, options: DepV0SinkOptions = {}) {
    this.file = file;
    this.o = { ...DEFAULTS, ...options };
  }

  /** Most memory the sink held for file bytes, and whether it used a temp file: for tests and benchmarks. */
  get stats(): { peakMemoryBytes: number; spilled: boolean } {
    return {
      peakMemoryBytes: Math.max(this.peak, this.spool?.peakMemory ?? 0),
      spilled: this.spilled || !!this.spool?.spilled,
    };
  }

  write(chunk: Uint8Array): boolean {
    if (this.finished) return false;
    const start = this.pos;
    this.pos += chunk.length;
    if (this.header === undefined) {
      const n = Math.min(chunk.length, this.head.length - this.headLength);
      this.head.set(chunk.subarray(0, n), this.headLength);
      this.headLength += n;
      if (this.headLength >= 4 && !hasElfMagic(this.head)) return this.stop(undefined);
      if (this.headLength < this.head.length && this.pos < this.file.size) {
        // Not enough for a header yet; keep what came in the spool anyway.
        this.store(chunk, start);
        return true;
      }
      this.header = parseElfHeader(this.head.subarray(0, this.headLength));
      if (this.header === undefined || this.header.shoff === 0 || this.header.shoff >= this.file.size) {
        return this.stop(undefined);
      }
    }
    this.store(chunk, start);
    if (this.target !== undefined) {
      if (this.pos >= this.target.offset + this.target.size) return this.stop(this.inflate(this.target.bytes));
      return true;
    }
    return this.tryEarly();
  }

  end(): Uint8Array | undefined {
    if (!this.finished) {
      let result: Uint8Array | undefined;
      try {
        result = this.target !== undefined ? this.truncated() : this.locate(this.pos, true);
      } catch {
        // Unreadable spool or a malformed table: not something to catalog.
        result = undefined;
      }
      this.stop(result);
    }
    return this.result;
  }

  /** Drop what the sink holds (memory, temp file) without an extract; for callers that abandon the file. */
  dispose(): void {
    this.stop(undefined);
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  private stop(result: Uint8Array | undefined): false {
    this.finished = true;
    this.result = result;
    if (this.spool !== undefined) {
      this.peak = Math.max(this.peak, this.spool.peakMemory);
      this.spilled ||= this.spool.spilled;
      this.spool.close();
      this.spool = undefined;
    }
    this.target = undefined;
    return false;
  }

  private store(chunk: Uint8Array, start: number): void {
    const t = this.target;
    if (t !== undefined) {
      const from = Math.max(start, t.offset);
      const to = Math.min(start + chunk.length, t.offset + t.size);
      if (to > from) t.bytes.set(chunk.subarray(from - start, to - start), from - t.offset);
      return;
    }
    this.spool ??= new Spool(this.file.size, { memoryLimit: this.o.memoryLimit, tmpDir: this.o.tmpDir });
    this.spool.append(chunk);
  }

  /** Mid-stream: once the section table and `.shstrtab` are in, the rest of the file is needed at most in part. */
  private tryEarly(): boolean {
    const h = this.header!;
    const spool = this.spool!;
    const known = Math.max(this.file.size, this.pos);
    const count = h.shnum === 0 ? 1 : h.shnum;
    if (this.pos < h.shoff + count * h.shentsize) return true;
    try {
      const range = sectionTableRange(h, known, (o, l) => spool.read(o, l));
      if (range === undefined) return this.stop(undefined);
      if (this.pos < range.offset + range.length) return true;
      const strtab = shstrtabRange(h, spool.read(range.offset, range.length));
      if (strtab === undefined) return this.stop(undefined);
      if (this.pos < strtab.offset + strtab.size) return true;
      const located = this.locate(known, false);
      if (located !== 'ahead') return this.stop(located);
      return true;
    } catch {
      return this.stop(undefined);
    }
  }

  /**
   * Find the section in what was spooled. At the end (`final`) everything is there; mid-stream a
   * section past the current position turns into a `target` and the spool is dropped ('ahead').
   */
  private locate(fileSize: number, final: true): Uint8Array | undefined;
  private locate(fileSize: number, final: false): Uint8Array | undefined | 'ahead';
  private locate(fileSize: number, final: boolean): Uint8Array | undefined | 'ahead' {
    const h = this.header;
    const spool = this.spool;
    if (h === undefined || spool === undefined) return undefined;
    const read = (o: number, l: number): Uint8Array => spool.read(o, l);
    const range = sectionTableRange(h, Math.min(fileSize, spool.length), read);
    if (range === undefined) return undefined;
    const sections = readSections(h, read(range.offset, range.length), Math.min(fileSize, spool.length), read);
    if (sections === undefined) return undefined;
    const dep = findSection(sections, DEP_SECTION_NAMES);
    if (dep === undefined) return undefined;
    const where = `section ${dep.name}`;
    if (dep.size > this.o.maxSectionSize) {
      return error(`${where} is ${dep.size} bytes, more than the ${this.o.maxSectionSize}-byte limit`);
    }
    if (dep.offset + dep.size <= spool.length) return this.inflate(read(dep.offset, dep.size), dep.name);
    if (final || dep.offset + dep.size > fileSize) {
      return error(`${where} at ${dep.offset}+${dep.size} runs past the end of the file (${fileSize} bytes)`);
    }
    const bytes = new Uint8Array(dep.size);
    if (dep.offset < spool.length) bytes.set(read(dep.offset, spool.length - dep.offset));
    this.peak = Math.max(this.peak, spool.peakMemory, dep.size);
    this.spilled ||= spool.spilled;
    spool.close();
    this.spool = undefined;
    this.target = { offset: dep.offset, size: dep.size, bytes };
    this.targetName = dep.name;
    return 'ahead';
  }

  private targetName = DEP_SECTION_NAMES[0] as string;

  private truncated(): Uint8Array {
    const t = this.target!;
    return error(
      `section ${this.targetName} at ${t.offset}+${t.size} runs past the end of the file (${this.pos} bytes)`,
    );
  }

  private inflate(compressed: Uint8Array, name = this.targetName): Uint8Array {
    try {
      const json = inflateSync(compressed, { maxOutputLength: this.o.maxJsonSize });
      return encodeDepV0Extract({ ok: true, json: new Uint8Array(json.buffer, json.byteOffset, json.byteLength) });
    } catch (e) {
      const code = (e as { code?: string }).code;
      const why =
        code === 'ERR_BUFFER_TOO_LARGE'
          ? `inflates to more than ${this.o.maxJsonSize} bytes`
          : `is not zlib data (${(e as Error).message})`;
      return error(`section ${name} ${why}`);
    }
  }
}

function error(message: string): Uint8Array {
  return encodeDepV0Extract({ ok: false, error: message });
}
