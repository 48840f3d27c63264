/**
 * The streaming build info sink: chunk boundaries anywhere (fast-check), aligned magic only, false
 * candidates skipped, bounded memory, and malformed or pre-1.18 build info turned into warnings.
 */
import { beforeAll, describe, expect, test } from 'vitest';
import fc from 'fast-check';
import type { CatalogResult } from '../../../src/catalog/cataloger.ts';
import { parseModinfo } from '../../../src/catalog/go/buildinfo.ts';
import { BUILDINFO_MAGIC, BuildInfoSink, MAX_BUILDINFO_BYTES } from '../../../src/catalog/go/buildinfo-scanner.ts';
import { goBinaryCataloger } from '../../../src/catalog/go/cataloger.ts';
import { mainModuleVersion, pseudoVersion } from '../../../src/catalog/go/package.ts';
import type { Digest } from '../../../src/oci/digest.ts';
import { debToLayerEntries, fetchDebs } from '../../../testdata/debs.ts';
import { goBuildInfoBlob } from './build-info-blob.ts';

const LAYER = `sha256:${'61'.repeat(32)}` as Digest;

function sinkOver(pieces: Iterable<Uint8Array>): { extract: Uint8Array | undefined; writes: number } {
  const sink = new BuildInfoSink();
  let writes = 0;
  for (const p of pieces) {
    writes++;
    if (!sink.write(p)) break;
  }
  return { extract: sink.end(), writes };
}

function* split(data: Uint8Array, cuts: number[]): Generator<Uint8Array> {
  let prev = 0;
  for (const c of [...new Set(cuts)].sort((a, b) => a - b)) {
    if (c <= prev || c >= data.length) continue;
    // A fresh copy per chunk, as a stream gives: the sink must not depend on the underlying buffer.
    yield Uint8Array.from(data.subarray(prev, c));
    prev = c;
  }
  yield Uint8Array.from(data.subarray(prev));
}

const ELF_HEAD = Buffer.from('7f454c46020101000000000000000000', 'hex');
const MODINFO =
  'path\texample.com/x\nmod\texample.com/x\t(devel)\t\ndep\tgolang.org/x/text\tv0.14.0\th1:ScX5w1eTa3QqT8oi6+ziP7dTV1S2+ALU0bI+0zXKWiQ=\nbuild\tvcs.revision=0123456789abcdef0123\nbuild\tvcs.time=2024-03-05T06:07:08Z\n';

/** An ELF-looking file with the blob at `at` (file offset) amid filler. */
function fakeBinary(at: number, b: Buffer, size = at + b.length + 4096): Buffer {
  const f = Buffer.alloc(size, 0x90);
  ELF_HEAD.copy(f);
  b.copy(f, at);
  return f;
}

function catalogBytes(bytes: Uint8Array | undefined): CatalogResult {
  const extracts = bytes === undefined ? [] : [{ path: '/bin/x', bytes, layerDiffId: LAYER }];
  return goBinaryCataloger.catalog({ files: [], allPaths: new Set(), extracts }) as CatalogResult;
}

let md2man: Buffer;
let md2manExtract: Uint8Array;
beforeAll(async () => {
  const [deb] = await fetchDebs(['go-md2man']);
  md2man = (await debToLayerEntries(deb!)).entries.find((e) => e.path === 'usr/bin/go-md2man')!.data!;
  md2manExtract = sinkOver([md2man]).extract!;
}, 120_000);

describe('BuildInfoSink', () => {
  test('property: the same extract whatever the chunk boundaries (go-md2man)', () => {
    const magicAt = md2man.indexOf(BUILDINFO_MAGIC);
    expect(magicAt % 16).toBe(0);
    // Cuts anywhere, and cuts clustered around the magic and the strings after it.
    const cut = fc.oneof(
      fc.integer({ min: 1, max: md2man.length - 1 }),
      fc.integer({ min: magicAt - 20, max: magicAt + 700 }),
    );
    fc.assert(
      fc.property(fc.array(cut, { maxLength: 40 }), (cuts) => {
        const { extract } = sinkOver(split(md2man, cuts));
        expect(Buffer.from(extract!).equals(Buffer.from(md2manExtract))).toBe(true);
      }),
      { numRuns: 150 },
    );
  });

  test('property: one-byte and tiny chunks around the magic, synthetic blob at any aligned offset', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 300 }), fc.integer({ min: 1, max: 7 }), (slot, step) => {
        const b = goBuildInfoBlob('go1.22.1', MODINFO);
        const file = fakeBinary(slot * 16, b);
        const cuts: number[] = [];
        for (let o = slot * 16 - 20; o < slot * 16 + b.length + 5; o += step) cuts.push(o);
        expect(Buffer.from(sinkOver(split(file, cuts)).extract!).equals(b)).toBe(true);
      }),
      { numRuns: 100 },
    );
  });

  test('stops reading right after the build info, and at the first chunk of a non-executable format', () => {
    const file = fakeBinary(4096, goBuildInfoBlob('go1.22.1', MODINFO), 1 << 20);
    const chunks = [
      ...split(
        file,
        Array.from({ length: 256 }, (_, i) => i * 4096),
      ),
    ];
    expect(sinkOver(chunks).writes).toBe(2);
    const script = Buffer.concat([Buffer.from('#!/bin/sh\n'), goBuildInfoBlob('go1.22.1', MODINFO)]);
    expect(sinkOver(split(script, [4, 8, 16])).writes).toBe(1);
    expect(sinkOver([script]).extract).toBeUndefined();
  });

  test('Mach-O (both byte orders, fat) and PE are sniffed as executables; the magic is found there too', () => {
    const b = goBuildInfoBlob('go1.22.1', MODINFO);
    for (const head of ['cffaedfe', 'feedfacf', 'cefaedfe', 'cafebabe', '4d5a9000']) {
      const file = fakeBinary(64, b);
      Buffer.from(head, 'hex').copy(file);
      expect(Buffer.from(sinkOver([file]).extract!).equals(b)).toBe(true);
    }
  });

  test('an unaligned magic, or one with no valid header (the go command holds the text), is passed over', () => {
    const real = goBuildInfoBlob('go1.22.1', MODINFO);
    const file = fakeBinary(8192, real);
    BUILDINFO_MAGIC.copy(file, 1000 + 3); // unaligned
    BUILDINFO_MAGIC.copy(file, 2048); // aligned, but ptrSize/flags are filler bytes
    expect(Buffer.from(sinkOver(split(file, [2050, 2060])).extract!).equals(real)).toBe(true);
  });

  test('a crafted file with a plausible magic every 16 bytes is given up on quickly, not re-scanned per candidate', () => {
    const size = 8 << 20;
    const file = Buffer.alloc(size, 0);
    ELF_HEAD.copy(file);
    // Valid header, a Go version string declared ~1 MiB long, whose end never comes valid.
    const cand = Buffer.concat([goBuildInfoBlob('go1', '').subarray(0, 32), Buffer.from([0xf0, 0xff, 0x3f])]);
    for (let o = 4096; o + 48 <= size; o += 48 * 16) cand.copy(file, o - (o % 16));
    const t0 = performance.now();
    const { extract } = sinkOver(
      split(
        file,
        Array.from({ length: size / 65536 }, (_, i) => i * 65536),
      ),
    );
    expect(performance.now() - t0).toBeLessThan(3000);
    // Either given up on or the last candidate's bytes kept as truncated: never more than the cap.
    expect(extract === undefined || extract.length <= MAX_BUILDINFO_BYTES).toBe(true);
  });

  test('memory stays bounded: a declared length over the cap is no build info', () => {
    const b = goBuildInfoBlob('go1.22.1', MODINFO);
    const huge = Buffer.concat([b.subarray(0, 32), Buffer.from([0x80, 0x80, 0x80, 0x01]), Buffer.alloc(64)]);
    const file = fakeBinary(4096, huge, 4 * MAX_BUILDINFO_BYTES);
    expect(
      sinkOver(
        split(
          file,
          Array.from({ length: 64 }, (_, i) => i * 65536),
        ),
      ).extract,
    ).toBeUndefined();
  });

  test('throughput on a 64 MiB executable without build info (scan never stops early)', () => {
    const size = 64 << 20;
    const file = Buffer.alloc(size, 0x41);
    ELF_HEAD.copy(file);
    const chunks = [
      ...split(
        file,
        Array.from({ length: size / 65536 }, (_, i) => i * 65536),
      ),
    ];
    const t0 = performance.now();
    expect(sinkOver(chunks).extract).toBeUndefined();
    const mbps = size / 2 ** 20 / ((performance.now() - t0) / 1000);
    console.log(`go build info scan: ${mbps.toFixed(0)} MiB/s over ${size >> 20} MiB`);
    expect(mbps).toBeGreaterThan(100);
  });
});

describe('malformed and old build info become warnings naming the binary', () => {
  test('truncated strings (the file ended inside them)', () => {
    const b = goBuildInfoBlob('go1.22.1', MODINFO);
    const file = fakeBinary(4096, b, 4096 + 60);
    const r = catalogBytes(sinkOver([file]).extract);
    expect(r.packages).toEqual([]);
    expect(r.warnings).toEqual([expect.stringMatching(/^\/bin\/x: Go binary build info: .*ends inside the modinfo/)]);
  });

  test('pre-1.18 pointer format: header kept, warning says modules were not read', () => {
    const header = goBuildInfoBlob('go1.16', '').subarray(0, 32);
    header[15] = 0; // pointer format, little-endian
    const extract = sinkOver([fakeBinary(4096, Buffer.concat([header, Buffer.alloc(64, 7)]))]).extract!;
    expect(extract.length).toBe(32);
    const r = catalogBytes(extract);
    expect(r.packages).toEqual([]);
    expect(r.warnings[0]).toMatch(/^\/bin\/x: .*before Go 1\.18/);
  });

  test('a garbled modinfo line', () => {
    const r = catalogBytes(goBuildInfoBlob('go1.22.1', 'path\texample.com/x\nnonsense line\n'));
    expect(r.packages).toEqual([]);
    expect(r.warnings[0]).toMatch(/^\/bin\/x: Go binary build info: modinfo line 2/);
  });
});

describe('modinfo to packages', () => {
  test('h1 sums, vcs pseudo-version for a (devel) main module, experiments split off the Go version', () => {
    const r = catalogBytes(goBuildInfoBlob('go1.21.0 X:loopvar', MODINFO));
    expect(r.warnings).toEqual([]);
    const main = r.packages.find((p) => p.name === 'example.com/x')!;
    expect(main.version).toBe('v0.0.0-20240305060708-0123456789ab');
    expect(main.purl).toBe('pkg:golang/example.com/x@v0.0.0-20240305060708-0123456789ab');
    const text = r.packages.find((p) => p.name === 'golang.org/x/text')!;
    expect(text.purl).toBe('pkg:golang/golang.org/x/text@v0.14.0');
    expect(text.metadata).toMatchObject({
      h1Digest: 'h1:ScX5w1eTa3QqT8oi6+ziP7dTV1S2+ALU0bI+0zXKWiQ=',
      goVersion: 'go1.21.0',
      goExperiments: 'loopvar',
    });
    expect(r.packages.find((p) => p.name === 'stdlib')!.purl).toBe('pkg:golang/stdlib@1.21.0');
  });

  test('quoted build keys and values (Go strconv.Quote) are unquoted', () => {
    const info = parseModinfo(
      'go1.22.1',
      'build\t-ldflags="-s -w -X \\"main.Version=v2.0.1\\""\nbuild\t"we\\tird"=a\\x\n',
    );
    expect(info.settings).toEqual([
      ['-ldflags', '-s -w -X "main.Version=v2.0.1"'],
      ['we\tird', 'a\\x'],
    ]);
    expect(mainModuleVersion('(devel)', new Map(info.settings))).toBe('v2.0.1');
    expect(pseudoVersion('abc', 'not a time')).toBe('v0.0.0-00010101000000-abc');
  });
});
