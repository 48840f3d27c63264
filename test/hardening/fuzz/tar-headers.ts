/**
 * Raw tar headers written byte by byte, for inputs tar-stream's packer refuses to make: any type
 * flag, a size field that lies, base-256 numbers, PAX and GNU long-name records of any length,
 * names with `..`, NULs or no terminator. The checksum is computed, so the reader gets past it.
 */
import { Readable } from 'node:stream';
import { sha256 } from '../../../src/oci/digest.ts';
import type { Layer } from '../../../src/oci/image.ts';
import { MediaType } from '../../../src/oci/media-types.ts';

export interface RawHeader {
  name: string;
  /** One byte: '0' file, '1' hardlink, '2' symlink, '5' dir, 'x' pax, 'g' global pax, 'L'/'K' GNU long name/link. */
  typeflag: string;
  /** What the size field says; `body` may be shorter or longer. */
  size: number | bigint;
  /** Write the size in GNU base-256 instead of octal. */
  base256?: boolean;
  linkname?: string;
  prefix?: string;
  mode?: number;
  body?: Uint8Array;
  /** Pad the body to 512 (default true). */
  pad?: boolean;
}

function octal(value: number | bigint, width: number): string {
  return value
    .toString(8)
    .padStart(width - 1, '0')
    .slice(-(width - 1));
}

export function rawHeader(h: RawHeader): Buffer {
  const b = Buffer.alloc(512);
  b.write(h.name, 0, 100, 'latin1');
  b.write(`${octal(h.mode ?? 0o644, 8)}\0`, 100, 'latin1');
  b.write(`${octal(0, 8)}\0`, 108, 'latin1');
  b.write(`${octal(0, 8)}\0`, 116, 'latin1');
  if (h.base256) {
    // GNU: high bit of the first byte set, the rest a big-endian number.
    let v = BigInt(h.size);
    for (let i = 135; i > 124; i--) {
      b[i] = Number(v & 0xffn);
      v >>= 8n;
    }
    b[124] = 0x80;
  } else {
    b.write(`${octal(h.size, 12)}\0`, 124, 'latin1');
  }
  b.write(`${octal(0, 12)}\0`, 136, 'latin1');
  b.write(h.typeflag.slice(0, 1), 156, 'latin1');
  b.write(h.linkname ?? '', 157, 100, 'latin1');
  b.write('ustar\u000000', 257, 'latin1');
  b.write(h.prefix ?? '', 345, 155, 'latin1');
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (const x of b) sum += x;
  b.write(`${octal(sum, 7)}\0 `, 148, 'latin1');
  const body = Buffer.from(h.body ?? new Uint8Array());
  const pad = h.pad === false ? 0 : (512 - (body.length % 512)) % 512;
  return Buffer.concat([b, body, Buffer.alloc(pad)]);
}

/** A PAX extended header record set (`len key=value\n` each), as the entry before a file. */
export function paxRecords(records: Record<string, string>): Buffer {
  const parts = Object.entries(records).map(([k, v]) => {
    const text = ` ${k}=${v}\n`;
    let len = text.length + 1;
    while (`${len}${text}`.length !== len) len++;
    return `${len}${text}`;
  });
  return Buffer.from(parts.join(''), 'utf8');
}

export const END_OF_ARCHIVE = Buffer.alloc(1024);

/** A layer over bytes in memory: diffID and digest are the bytes' own, as an uncompressed blob has. */
export function memoryLayer(blob: Uint8Array, diffId = sha256(blob), mediaType: string = MediaType.OciLayer): Layer {
  const digest = sha256(blob);
  const descriptor = { mediaType, digest, size: blob.length };
  return {
    digest,
    diffId,
    mediaType,
    size: blob.length,
    descriptor,
    open: async () => Readable.from([Buffer.from(blob)]),
  };
}

/**
 * Recompute the checksum of every 512-byte block that carries the ustar magic, so a mutated
 * header field reaches the code that reads it instead of failing the checksum.
 */
export function fixChecksums(tar: Uint8Array): Buffer {
  const b = Buffer.from(tar);
  for (let off = 0; off + 512 <= b.length; off += 512) {
    if (b.toString('latin1', off + 257, off + 262) !== 'ustar') continue;
    b.fill(0x20, off + 148, off + 156);
    let sum = 0;
    for (let i = off; i < off + 512; i++) sum += b[i]!;
    b.write(`${sum.toString(8).padStart(6, '0')}\0 `, off + 148, 'latin1');
  }
  return b;
}
