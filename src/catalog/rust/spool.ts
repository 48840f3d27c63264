/**
 * A write-once byte store with bounded memory: the first bytes stay in memory up to a limit, the
 * whole content moves to a temp file under os.tmpdir() once it grows past it. Used to keep a
 * binary's bytes until its section table (usually at the end) says where the wanted section was.
 *
 * Temp file lifetime: the file is unlinked right after it is opened (POSIX keeps it readable
 * through the open descriptor), so no path is ever left behind, even if the process dies or the
 * owner never calls `close()`. The descriptor is closed by `close()`, and as a last resort by a
 * FinalizationRegistry when an abandoned spool is garbage-collected.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Prefix of spool file names, so tests (and curious operators) can tell them apart. */
export const SPOOL_PREFIX = 'sigil-spool-';

/** Bytes gathered before each write(2): tar chunks are often small, one syscall per MiB is plenty. */
const STAGING = 1024 * 1024;

const abandoned = new FinalizationRegistry<number>((fd) => {
  try {
    closeSync(fd);
  } catch {
    // already closed
  }
});

export interface SpoolOptions {
  /** Bytes kept in memory before moving to a temp file. */
  memoryLimit: number;
  /** Directory for the temp file; os.tmpdir() by default. */
  tmpDir?: string;
}

export class Spool {
  /** Bytes appended so far. */
  length = 0;
  /** The most memory this spool held at once (buffers it allocated). */
  peakMemory = 0;
  /** True once the content went to a temp file. */
  spilled = false;

  private mem: Buffer;
  private fd: number | undefined;
  private staging: Buffer | undefined;
  private staged = 0;
  /** Bytes already written to the temp file; the staged ones follow them. */
  private onDisk = 0;
  private closed = false;
  private readonly token = {};

  private readonly options: SpoolOptions;

  constructor(expectedSize: number, options: SpoolOptions) {
    this.options = options;
    this.mem = Buffer.allocUnsafe(Math.min(Math.max(expectedSize, 0), options.memoryLimit));
    this.peakMemory = this.mem.length;
  }

  append(chunk: Uint8Array): void {
    if (this.closed) throw new Error('spool: append after close');
    if (this.fd === undefined) {
      const needed = this.length + chunk.length;
      if (needed <= this.mem.length) {
        this.mem.set(chunk, this.length);
        this.length = needed;
        return;
      }
      if (needed <= this.options.memoryLimit) {
        // The header's size was wrong (or unknown): grow within the limit.
        const grown = Buffer.allocUnsafe(Math.min(this.options.memoryLimit, Math.max(needed, this.mem.length * 2)));
        this.mem.copy(grown, 0, 0, this.length);
        this.mem = grown;
        this.peakMemory = Math.max(this.peakMemory, grown.length);
        this.mem.set(chunk, this.length);
        this.length = needed;
        return;
      }
      this.spill();
    }
    this.toFile(chunk);
  }

  /** `length` bytes from `offset`; the range must lie within what was appended. */
  read(offset: number, length: number): Uint8Array {
    if (offset < 0 || length < 0 || offset + length > this.length) {
      throw new RangeError(`spool: read ${offset}+${length} past ${this.length}`);
    }
    if (this.fd === undefined) return this.mem.subarray(offset, offset + length);
    this.flush();
    const out = Buffer.allocUnsafe(length);
    let done = 0;
    while (done < length) {
      const n = readSync(this.fd, out, done, length - done, offset + done);
      if (n === 0) throw new Error(`spool: short read at ${offset + done}`);
      done += n;
    }
    return out;
  }

  /** Free the memory and close (so delete) the temp file. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.mem = Buffer.alloc(0);
    this.staging = undefined;
    if (this.fd !== undefined) {
      abandoned.unregister(this.token);
      closeSync(this.fd);
      this.fd = undefined;
    }
  }

  private spill(): void {
    const path = join(
      this.options.tmpDir ?? tmpdir(),
      `${SPOOL_PREFIX}${process.pid}-${randomBytes(6).toString('hex')}`,
    );
    const fd = openSync(path, 'wx+', 0o600);
    try {
      unlinkSync(path);
    } catch (e) {
      closeSync(fd);
      throw e;
    }
    this.fd = fd;
    abandoned.register(this, fd, this.token);
    this.spilled = true;
    this.staging = Buffer.allocUnsafe(STAGING);
    const kept = this.mem.subarray(0, this.length);
    this.peakMemory = Math.max(this.peakMemory, this.mem.length + STAGING);
    writeAll(fd, kept, 0);
    this.onDisk = kept.length;
    this.mem = Buffer.alloc(0);
  }

  private toFile(chunk: Uint8Array): void {
    const staging = this.staging!;
    let at = 0;
    while (at < chunk.length) {
      const n = Math.min(chunk.length - at, staging.length - this.staged);
      staging.set(chunk.subarray(at, at + n), this.staged);
      this.staged += n;
      at += n;
      if (this.staged === staging.length) this.flush();
    }
    this.length += chunk.length;
  }

  private flush(): void {
    if (this.staged === 0 || this.fd === undefined) return;
    writeAll(this.fd, this.staging!.subarray(0, this.staged), this.onDisk);
    this.onDisk += this.staged;
    this.staged = 0;
  }
}

function writeAll(fd: number, bytes: Uint8Array, position: number): void {
  let done = 0;
  while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done, position + done);
}
