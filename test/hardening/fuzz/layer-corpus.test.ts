/**
 * A corpus of hostile layers, built by code as real OCI layouts and read the way `sigil sbom`
 * reads them (generateSbom with its layer cache in a temp dir): path traversal, symlink and
 * hardlink tricks, odd whiteouts, a 1 MiB PAX header, a GNU long-name bomb, and gzip/zstd bombs
 * of 1 GiB of zeros. Each must give an SBOM or a typed error, in bounded time and memory, and
 * nothing may be written outside the cache dir: sigil never extracts a layer, and the sentinel
 * paths the entries aim at must not exist afterwards.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { gzipSync, zstdCompressSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { isFilesystemError } from '../../../src/filesystem/errors.ts';
import { squashImage } from '../../../src/filesystem/squash.ts';
import { sha256 } from '../../../src/oci/digest.ts';
import { generateSbom } from '../../../src/sbom/generate.ts';
import {
  buildImage,
  dir,
  type Entry,
  file,
  hardlink,
  type LayerSpec,
  symlink,
} from '../../filesystem/layered-image.ts';
import { FuzzFigures } from './fuzz-kit.ts';
import { END_OF_ARCHIVE, paxRecords, rawHeader } from './tar-headers.ts';

const figures = new FuzzFigures('layer-corpus');
afterAll(() => figures.write());

const SENTINEL = `sigil-fuzz-sentinel-${process.pid}-${Date.now()}`;
let work: string;
const built: string[] = [];
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'sigil-corpus-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
  for (const d of built) await rm(d, { recursive: true, force: true });
});

/** Every place a hostile name could land if anything extracted it. */
function sentinelPaths(): string[] {
  const roots = ['/', '/tmp', tmpdir(), process.cwd(), resolve(process.cwd(), '../..'), work];
  const names = ['dotdot', 'abs', 'mixed', 'via-link', 'hard', 'pax', 'upper', 'wh'].map((s) => `${SENTINEL}-${s}`);
  return roots.flatMap((r) => names.flatMap((n) => [join(r, n), join(r, 'etc', n)]));
}

/** Files the cache dir may hold: per-layer analyses and whole results, content-addressed. */
async function cacheFiles(cacheDir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else out.push(relative(cacheDir, p));
    }
  };
  if (existsSync(cacheDir)) await walk(cacheDir);
  return out.sort();
}

interface Outcome {
  packages: number;
  warnings: string[];
  error?: unknown;
  ms: number;
  rssGrowth: number;
  heapGrowth: number;
}

/** generateSbom over the layers, with RSS and heap sampled while it runs. */
async function sbomOf(name: string, layers: LayerSpec[]): Promise<Outcome> {
  const img = await buildImage(layers);
  built.push(img.dir);
  const cacheDir = join(work, `cache-${name}`);
  global.gc?.();
  const before = process.memoryUsage();
  let peakRss = before.rss;
  let peakHeap = before.heapUsed;
  const sampler = setInterval(() => {
    const m = process.memoryUsage();
    peakRss = Math.max(peakRss, m.rss);
    peakHeap = Math.max(peakHeap, m.heapUsed);
  }, 20);
  const started = performance.now();
  const row = figures.row(`corpus: ${name}`);
  row.inputs++;
  let outcome: Outcome;
  try {
    const r = await generateSbom(`oci-dir:${img.dir}`, { cacheDir });
    outcome = { packages: r.document.packages.length, warnings: r.warnings, ms: 0, rssGrowth: 0, heapGrowth: 0 };
    row.accepted++;
  } catch (error) {
    outcome = { packages: 0, warnings: [], error, ms: 0, rssGrowth: 0, heapGrowth: 0 };
    if (isFilesystemError(error)) row.refused++;
    else row.crashes++;
  } finally {
    clearInterval(sampler);
  }
  const m = process.memoryUsage();
  outcome.ms = performance.now() - started;
  outcome.rssGrowth = Math.max(peakRss, m.rss) - before.rss;
  outcome.heapGrowth = Math.max(peakHeap, m.heapUsed) - before.heapUsed;
  row.slowestMs = Math.max(row.slowestMs, outcome.ms);
  // Whatever happened: nothing outside the cache dir, and only content-addressed files in it.
  for (const p of sentinelPaths()) expect(existsSync(p), p).toBe(false);
  for (const f of await cacheFiles(cacheDir)) expect(f).toMatch(/^(layers\/[0-9a-f]{64}|sboms\/[0-9a-f]{64}\.json)$/);
  return outcome;
}

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/** A gzip stream of a tar whose one file is `size` zero bytes, as concatenated gzip members (~1 KiB per MiB). */
function gzipZeros(name: string, size: number): Buffer {
  const header = rawHeader({ name, typeflag: '0', size, pad: true });
  const mib = gzipSync(Buffer.alloc(MiB), { level: 9 });
  const tail = gzipSync(Buffer.concat([Buffer.alloc((512 - (size % 512)) % 512), END_OF_ARCHIVE]));
  return Buffer.concat([gzipSync(header), ...Array.from({ length: size / MiB }, () => mib), tail]);
}

/** The same as concatenated zstd frames. */
function zstdZeros(name: string, size: number): Buffer {
  const header = rawHeader({ name, typeflag: '0', size, pad: true });
  const mib = zstdCompressSync(Buffer.alloc(MiB));
  const tail = zstdCompressSync(Buffer.concat([Buffer.alloc((512 - (size % 512)) % 512), END_OF_ARCHIVE]));
  return Buffer.concat([zstdCompressSync(header), ...Array.from({ length: size / MiB }, () => mib), tail]);
}

const rawLayer = (tar: Buffer, compression: 'gzip' | 'zstd' | 'none' = 'gzip'): LayerSpec => ({
  entries: [],
  compression,
  mangleTar: () => tar,
});

const base: LayerSpec = {
  entries: [
    dir('etc'),
    file('etc/os-release', 'ID=debian\nVERSION_ID=12\n'),
    file(
      'var/lib/dpkg/status',
      'Package: base-files\nStatus: install ok installed\nVersion: 12.4\nArchitecture: amd64\n\n',
    ),
    file('usr/bin/.keep', ''),
  ],
};

describe('path and link tricks', () => {
  const hostile: Entry[] = [
    file(`../../../../../../../../tmp/${SENTINEL}-dotdot`, 'x'),
    file(`/tmp/${SENTINEL}-abs`, 'x'),
    file(`./a/../../../../../../tmp/${SENTINEL}-mixed`, 'x'),
    symlink('escape', '/tmp'),
    file(`escape/${SENTINEL}-via-link`, 'x'),
    symlink('a', 'b'),
    symlink('b', 'a'),
    symlink('self', 'self'),
    symlink('c1', 'c2/in'),
    symlink('c2', 'c1/in'),
    hardlink(`tmp/${SENTINEL}-hard`, '../../../../etc/passwd'),
    hardlink('early', 'later'),
    file('later', 'x'),
    hardlink('missing-target', 'nowhere/at/all'),
    file('usr/bin/.wh.', 'bare whiteout name: an ordinary file'),
    file('.wh..wh..opq', ''),
    file('nowhere/.wh..wh..opq', ''),
    file('etc/.wh...', ''),
    file('etc/.wh..', ''),
    file(`etc/.wh.${SENTINEL}-wh`, ''),
  ];

  test('traversal, absolute names, symlink loops and cycles, bad hardlinks, odd whiteouts: an SBOM, nothing written outside', async () => {
    const out = await sbomOf('paths and links', [base, { entries: hostile }]);
    expect(out.error).toBeUndefined();
    expect(out.ms).toBeLessThan(20_000);
    expect(out.warnings.join('\n')).toMatch(/hardlink \/early points at \/later/);
    expect(out.warnings.join('\n')).toMatch(/ignored whiteout etc\/\.wh\.\.\./);
  });

  test('the squashed tree keeps every name inside the root and resolves loops to nothing', async () => {
    const img = await buildImage([base, { entries: hostile }]);
    built.push(img.dir);
    const { tree } = await squashImage(img.image, { wants: () => true });
    const paths = [...tree.nodes()].map((n) => n.path);
    for (const p of paths) expect(p.split('/').slice(1)).not.toContain('..');
    expect(paths).toEqual(
      expect.arrayContaining([
        `/tmp/${SENTINEL}-dotdot`,
        `/tmp/${SENTINEL}-abs`,
        `/tmp/${SENTINEL}-mixed`,
        '/usr/bin/.wh.',
      ]),
    );
    for (const loop of ['/a', '/b', '/self', '/c1/in/x', '/c2/in']) expect(tree.resolve(loop)).toBeUndefined();
    // `.wh..wh..opq` at the root hides the lower layer: the base's files are gone.
    expect(tree.get('/etc/os-release')).toBeUndefined();
  });
});

describe('oversized headers', () => {
  test('a 1 MiB PAX path header is read (one entry with a 1 MiB name)', async () => {
    const longName = `pax/${'p'.repeat(MiB)}/${SENTINEL}-pax`;
    const tar = Buffer.concat([
      rawHeader({
        name: 'PaxHeader',
        typeflag: 'x',
        size: paxRecords({ path: longName }).length,
        body: paxRecords({ path: longName }),
      }),
      rawHeader({ name: 'short', typeflag: '0', size: 1, body: Buffer.from('x') }),
      END_OF_ARCHIVE,
    ]);
    const out = await sbomOf('1 MiB PAX header', [base, rawLayer(tar)]);
    expect(out.error).toBeUndefined();
    const img = await buildImage([rawLayer(tar)]);
    built.push(img.dir);
    const { tree } = await squashImage(img.image, { wants: () => false });
    expect([...tree.nodes()].some((n) => n.path === `/${longName}`)).toBe(true);
  });

  // tar-stream holds a long-name or PAX header whole before decoding it; its own 4 MiB cap stops this.
  test('a GNU long-name header claiming 1 GiB (gzip bomb) is LAYER_CORRUPT, with memory bounded', async () => {
    const header = rawHeader({ name: '././@LongLink', typeflag: 'L', size: GiB, pad: true });
    const mib = gzipSync(Buffer.alloc(MiB, 0x61), { level: 9 });
    const blob = Buffer.concat([gzipSync(header), ...Array.from({ length: 1024 }, () => mib)]);
    const out = await sbomOf('GNU long-name bomb', [
      base,
      { entries: [], mangleBlob: () => blob, claimDiffId: sha256('x') },
    ]);
    expect(out.error).toMatchObject({ code: 'LAYER_CORRUPT' });
    expect(out.rssGrowth).toBeLessThan(256 * MiB);
    figures.row('corpus: GNU long-name bomb').slowestMs = out.ms;
  });
});

describe('zstd frames', () => {
  test('regression: a zstd layer of several frames (zstd:chunked, cat a.zst b.zst) is read whole, not as a truncated tar', async () => {
    // node:zlib's zstd decompressor stopped after the first frame: this layer was LAYER_CORRUPT.
    const blob = zstdZeros('var/lib/dpkg/status.d/frames', 4 * MiB);
    const out = await sbomOf('multi-frame zstd', [
      base,
      { entries: [], compression: 'zstd', mangleBlob: () => blob, claimDiffId: sha256('frames') },
    ]);
    expect(out.error).toBeUndefined();
  });
});

describe('decompression bombs (1 GiB of zeros in ~1 MB)', () => {
  for (const [kind, make] of [
    ['gzip', gzipZeros],
    ['zstd', zstdZeros],
  ] as const) {
    test(`${kind}: a wanted file of 1 GiB is skipped with a warning; memory stays flat, time bounded`, async () => {
      const blob = make('var/lib/dpkg/status.d/bomb', GiB);
      expect(blob.length).toBeLessThan(8 * MiB);
      const out = await sbomOf(`${kind} bomb (default cap)`, [
        base,
        { entries: [], compression: kind, mangleBlob: () => blob, claimDiffId: sha256(`${kind}-bomb`) },
      ]);
      expect(out.error).toBeUndefined();
      expect(out.warnings.join('\n')).toMatch(
        /status\.d\/bomb .* is 1073741824 bytes, over the .* file size cap: not read/,
      );
      expect(out.rssGrowth).toBeLessThan(256 * MiB);
      expect(out.heapGrowth).toBeLessThan(128 * MiB);
      expect(out.ms).toBeLessThan(60_000);
      process.stdout.write(
        `${kind} bomb: ${blob.length} bytes -> 1 GiB in ${Math.round(out.ms)} ms, RSS +${Math.round(out.rssGrowth / MiB)} MiB, heap +${Math.round(out.heapGrowth / MiB)} MiB\n`,
      );
    }, 120_000);

    test(`${kind}: with maxLayerBytes 64 MiB (the squash's cap) the same bomb stops early with LAYER_TOO_LARGE`, async () => {
      const blob = make('zeros', GiB);
      const img = await buildImage([
        base,
        { entries: [], compression: kind, mangleBlob: () => blob, claimDiffId: sha256(`${kind}-bomb`) },
      ]);
      built.push(img.dir);
      const row = figures.row(`corpus: ${kind} bomb (64 MiB cap)`);
      row.inputs++;
      const started = performance.now();
      const err = await squashImage(img.image, { wants: () => true, maxLayerBytes: 64 * MiB }).then(
        () => undefined,
        (e: unknown) => e,
      );
      const ms = performance.now() - started;
      row.slowestMs = ms;
      if (isFilesystemError(err)) row.refused++;
      else row.crashes++;
      expect(err).toMatchObject({ code: 'LAYER_TOO_LARGE' });
      expect(ms).toBeLessThan(10_000);
    });
  }
});
