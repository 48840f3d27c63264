import { BUILDINFO_MAGIC } from '../../../src/catalog/go/buildinfo-scanner.ts';

/** A Go 1.18+ build info blob: header, then varint-length Go version and framed modinfo. */
export function goBuildInfoBlob(goVersion: string, modinfo: string): Buffer {
  const header = Buffer.alloc(32);
  BUILDINFO_MAGIC.copy(header);
  header[14] = 8;
  header[15] = 0x2;
  const framed = Buffer.concat([Buffer.alloc(16, 0x30), Buffer.from(modinfo), Buffer.alloc(16, 0xf9)]);
  const str = (b: Buffer) => {
    const len: number[] = [];
    let n = b.length;
    while (n >= 0x80) {
      len.push((n & 0x7f) | 0x80);
      n >>>= 7;
    }
    len.push(n);
    return Buffer.concat([Buffer.from(len), b]);
  };
  return Buffer.concat([header, str(Buffer.from(goVersion)), str(framed)]);
}
