import type { FileHandle } from 'node:fs/promises';
import { open } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { OciError } from './errors.ts';

const BLOCK = 512;
const ZERO = Buffer.alloc(BLOCK * 2);
/** Largest size the 11-digit octal field holds; beyond it a pax `size` record carries it. */
const MAX_OCTAL_SIZE = 0o77777777777;

/**
 * Appends members to a new tar file (POSIX ustar, pax records for long names and huge sizes).
 * Written through a file handle rather than tar-stream's pack so that a member whose data
 * fails (a digest mismatch half-way through a layer) can be cut off again: the file is
 * truncated back to where that member's header began, and the archive stays valid.
 * Members must be added one at a time; callers serialise.
 */
export class TarWriter {
  private position = 0;
  private closed = false;

  private constructor(
    private readonly fh: FileHandle,
    readonly path: string,
  ) {}

  /** Create `path`, failing if it exists (temporary names are unique; never overwrite). */
  static async create(path: string): Promise<TarWriter> {
    return new TarWriter(await open(path, 'wx'), path);
  }

  async addDirectory(name: string): Promise<void> {
    await this.write(header(name.endsWith('/') ? name : `${name}/`, 0, '5', 0o755));
  }

  async addBytes(name: string, bytes: Uint8Array): Promise<void> {
    const start = this.position;
    try {
      await this.write(header(name, bytes.byteLength, '0', 0o644));
      await this.write(bytes);
      await this.pad(bytes.byteLength);
    } catch (e) {
      await this.rollback(start);
      throw e;
    }
  }

  /**
   * Add a member of `size` bytes read from `data`. If `data` fails or yields another length,
   * the member is removed again and the error rethrown.
   */
  async addStream(name: string, size: number, data: Readable): Promise<void> {
    const start = this.position;
    try {
      await this.write(header(name, size, '0', 0o644));
      let written = 0;
      for await (const chunk of data as AsyncIterable<Buffer>) {
        written += chunk.length;
        if (written > size) throw new OciError('SIZE_MISMATCH', `${name}: more than the expected ${size} bytes`);
        await this.write(chunk);
      }
      if (written !== size) throw new OciError('SIZE_MISMATCH', `${name}: got ${written} bytes, expected ${size}`);
      await this.pad(size);
    } catch (e) {
      data.destroy();
      await this.rollback(start);
      throw e;
    }
  }

  /** Write the end-of-archive marker and flush to disk; the file is complete after this. */
  async finish(): Promise<void> {
    await this.write(ZERO);
    await this.fh.sync();
    await this.close();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.fh.close();
  }

  private async pad(size: number): Promise<void> {
    const rest = size % BLOCK;
    if (rest) await this.write(ZERO.subarray(0, BLOCK - rest));
  }

  private async write(bytes: Uint8Array): Promise<void> {
    let off = 0;
    while (off < bytes.byteLength) {
      const { bytesWritten } = await this.fh.write(bytes, off, bytes.byteLength - off, this.position);
      off += bytesWritten;
      this.position += bytesWritten;
    }
  }

  private async rollback(start: number): Promise<void> {
    if (this.closed) return;
    await this.fh.truncate(start).catch(() => {});
    this.position = start;
  }
}

/** Header block(s) for one member: a pax header first when the name or size does not fit ustar. */
function header(name: string, size: number, type: '0' | '5', mode: number): Buffer {
  const nameBytes = Buffer.from(name, 'utf8');
  const records: string[] = [];
  if (nameBytes.length > 100) records.push(paxRecord('path', name));
  if (size > MAX_OCTAL_SIZE) records.push(paxRecord('size', String(size)));
  const main = ustar(nameBytes.length > 100 ? nameBytes.subarray(0, 100) : nameBytes, size, type, mode);
  if (records.length === 0) return main;
  const pax = Buffer.from(records.join(''), 'utf8');
  const padded = Buffer.alloc(Math.ceil(pax.length / BLOCK) * BLOCK);
  pax.copy(padded);
  return Buffer.concat([ustar(Buffer.from('PaxHeader', 'utf8'), pax.length, 'x', 0o644), padded, main]);
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  // The length prefix counts itself, so find the fixed point.
  let len = Buffer.byteLength(body) + 1;
  while (String(len).length + Buffer.byteLength(body) !== len) len = String(len).length + Buffer.byteLength(body);
  return `${len}${body}`;
}

function ustar(name: Buffer, size: number, type: string, mode: number): Buffer {
  const h = Buffer.alloc(BLOCK);
  name.copy(h, 0);
  octal(h, 100, 8, mode);
  octal(h, 108, 8, 0); // uid
  octal(h, 116, 8, 0); // gid
  octal(h, 124, 12, Math.min(size, MAX_OCTAL_SIZE));
  // mtime 0: the same content always makes the same archive bytes.
  octal(h, 136, 12, 0);
  h.write(type, 156, 'latin1');
  h.write('ustar\x0000', 257, 'latin1');
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return h;
}

function octal(h: Buffer, offset: number, width: number, value: number): void {
  h.write(`${value.toString(8).padStart(width - 1, '0')}\0`, offset, 'latin1');
}
