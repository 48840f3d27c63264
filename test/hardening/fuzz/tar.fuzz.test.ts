/**
 * Hostile layer blobs through the whole reading path: compression sniffing, gzip/zstd, the tar
 * parser, whiteouts and hardlinks (analyzeLayer), the squash with its symlink resolution, and the
 * Go build-info extractor that streams binaries. Inputs: mutated real tars (plain, gzip, zstd,
 * mutated before or after compression), tars of hand-written raw headers (any type flag, lying
 * sizes, base-256, PAX/GNU long names), and arbitrary bytes.
 */
import { gzipSync, zstdCompressSync } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, describe, expect, test } from 'vitest';
import { goBuildInfoExtractor } from '../../../src/catalog/go/buildinfo-scanner.ts';
import { isFilesystemError } from '../../../src/filesystem/errors.ts';
import { squashImage } from '../../../src/filesystem/squash.ts';
import { tarEntries } from '../../../src/filesystem/tar-entries.ts';
import { sha256 } from '../../../src/oci/digest.ts';
import { isOciError } from '../../../src/oci/errors.ts';
import { MediaType } from '../../../src/oci/media-types.ts';
import { dir, file, hardlink, symlink, tarBytes } from '../../filesystem/layered-image.ts';
import { FuzzFigures, fuzz, mutatedBytes } from './fuzz-kit.ts';
import { END_OF_ARCHIVE, fixChecksums, memoryLayer, paxRecords, rawHeader } from './tar-headers.ts';

const figures = new FuzzFigures('tar-layers');
afterAll(() => figures.write());

const typed = (e: unknown) => isFilesystemError(e) || isOciError(e);

const base = await tarBytes([
  dir('etc'),
  file('etc/os-release', 'ID=debian\nVERSION_ID=12\n'),
  file('var/lib/dpkg/status', 'Package: a\nStatus: install ok installed\nVersion: 1\n\n'),
  symlink('usr/lib/os-release', '../../etc/os-release'),
]);
const sample = await tarBytes([
  dir('./'),
  dir('etc'),
  file('etc/os-release', 'ID=alpine\nVERSION_ID=3.19.1\n'),
  file(`opt/${'long-name-'.repeat(20)}/x`, 'pax-named'),
  symlink('a', 'b'),
  symlink('b', 'a'),
  symlink('loop', 'loop'),
  symlink('etc/up', '../../../../etc'),
  hardlink('etc/hard', 'etc/os-release'),
  hardlink('etc/dangling', 'nowhere'),
  file('etc/.wh.os-release', ''),
  file('var/.wh..wh..opq', ''),
  file('usr/bin/.wh.', ''),
  file('usr/bin/tool', Buffer.concat([Buffer.from('\x7fELF'), Buffer.alloc(200)])),
  file('lib/apk/db/installed', 'P:musl\nV:1.2.4-r2\nA:x86_64\n\n'),
]);

function compress(tar: Uint8Array, how: 'none' | 'gzip' | 'zstd'): Uint8Array {
  return how === 'gzip' ? gzipSync(tar) : how === 'zstd' ? zstdCompressSync(tar) : tar;
}

const MEDIA = { none: MediaType.OciLayer, gzip: MediaType.OciLayerGzip, zstd: MediaType.OciLayerZstd };

/** The mutated layer on top of a clean one, squashed, every path resolved. */
async function squashOver(blob: Uint8Array, diffId: string, mediaType: string): Promise<void> {
  const layers = [memoryLayer(base), memoryLayer(blob, diffId, mediaType)];
  const result = await squashImage(
    { layers },
    {
      wants: () => true,
      maxFileSize: 1024 * 1024,
      maxLayerBytes: 16 * 1024 * 1024,
      fileDigests: true,
      extractors: [{ name: 'go', extractor: goBuildInfoExtractor }],
      concurrency: 1,
    },
  );
  for (const node of result.tree.files()) result.tree.resolve(node.path);
  for (const p of ['/a', '/b', '/loop', '/etc/up/os-release', '/usr/lib/os-release']) result.tree.resolve(p);
}

const compression = fc.constantFrom<'none' | 'gzip' | 'zstd'>('none', 'gzip', 'zstd');

describe('mutated layers', () => {
  test('mutated tar, then compressed', async () => {
    // Half the time with checksums recomputed, so a changed size, type or name gets read.
    const input = fc.tuple(
      fc.tuple(mutatedBytes(sample), fc.boolean()).map(([t, fix]) => (fix ? fixChecksums(t) : t)),
      compression,
    );
    await fuzz(
      figures,
      'layer walk + squash (tar mutated)',
      input,
      ([tar, how]) => squashOver(compress(tar, how), sha256(tar), MEDIA[how]),
      { numRuns: 400, typed },
    );
  });

  test('compressed, then mutated (broken gzip/zstd framing)', async () => {
    const input = fc
      .constantFrom<'gzip' | 'zstd'>('gzip', 'zstd')
      .chain((how) => fc.tuple(mutatedBytes(compress(sample, how), 2), fc.constant(how)));
    await fuzz(
      figures,
      'layer walk + squash (compressed stream mutated)',
      input,
      ([blob, how]) => squashOver(blob, sha256(sample), MEDIA[how]),
      { numRuns: 240, typed },
    );
  });

  test('arbitrary bytes as a layer', async () => {
    const input = fc.oneof(
      fc.uint8Array({ maxLength: 2048 }),
      fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.concat([Buffer.from([0x1f, 0x8b]), b])),
      fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), b])),
    );
    await fuzz(figures, 'layer walk (arbitrary bytes)', input, (blob) => squashOver(blob, sha256(blob), MEDIA.none), {
      numRuns: 240,
      typed,
    });
  });
});

describe('hand-written headers', () => {
  const name = fc.oneof(
    fc.constantFrom(
      '../../etc/x',
      '/etc/passwd',
      './a/../../b',
      '.wh.',
      '.wh..wh..opq',
      'etc/.wh...',
      'etc/.wh..',
      '.wh...',
      '',
      '/',
      '.',
      '..',
      'a\0b',
      'x'.repeat(100),
    ),
    fc.string({ maxLength: 100 }),
  );
  const header = fc.record({
    name,
    typeflag: fc.oneof(
      fc.constantFrom('0', '1', '2', '3', '4', '5', '6', '7', 'x', 'g', 'L', 'K', 'S', 'V', '\0'),
      fc.string({ minLength: 1, maxLength: 1 }),
    ),
    size: fc.oneof(
      { weight: 6, arbitrary: fc.constant('exact' as const) },
      fc.integer({ min: 0, max: 4096 }),
      fc.constantFrom(0o77777777777, 2 ** 33, 2 ** 40),
      fc.bigInt({ min: 0n, max: 2n ** 80n }),
    ),
    base256: fc.boolean(),
    linkname: fc.oneof(
      fc.constantFrom('', '../../../etc/shadow', '/', '.', 'a', 'self'),
      fc.string({ maxLength: 100 }),
    ),
    prefix: fc.oneof(fc.constant(''), fc.constantFrom('..', '../..', '/abs'), fc.string({ maxLength: 40 })),
    body: fc.oneof(
      fc.uint8Array({ maxLength: 1024 }),
      fc
        .dictionary(
          fc.constantFrom('path', 'linkpath', 'size', 'uid', 'mtime', 'x'),
          fc.oneof(
            fc.constantFrom('../../../../etc/passwd', '-1', '99999999999999999999', 'NaN', '', '1e400'),
            fc.string({ maxLength: 40 }),
          ),
        )
        .map((r) => paxRecords(r)),
      fc.integer({ min: 1024, max: 256 * 1024 }).map((n) => paxRecords({ path: 'p'.repeat(n) })),
    ),
    pad: fc.boolean(),
  });
  const archive = fc
    .tuple(fc.array(header, { minLength: 1, maxLength: 6 }), fc.boolean())
    .map(([hs, end]) =>
      Buffer.concat([
        ...hs.map((h) => rawHeader({ ...h, size: h.size === 'exact' ? h.body.length : h.size })),
        end ? END_OF_ARCHIVE : Buffer.alloc(0),
      ]),
    );

  test('raw tar headers: any type flag, lying sizes, long names, hostile paths', async () => {
    await fuzz(
      figures,
      'layer walk + squash (raw headers)',
      fc.tuple(archive, compression),
      ([tar, how]) => squashOver(compress(tar, how), sha256(tar), MEDIA[how]),
      { numRuns: 320, typed },
    );
  });

  test('tarEntries paths are always absolute, normalised and inside the root', async () => {
    await fuzz(
      figures,
      'tarEntries path normalisation',
      archive,
      async (tar) => {
        for await (const e of tarEntries(await memoryLayer(tar).open(), 'fuzz')) {
          expect(e.path.startsWith('/')).toBe(true);
          expect(e.path.split('/').slice(1)).not.toContain('..');
          expect(e.path === '/' || !e.path.endsWith('/')).toBe(true);
        }
      },
      { numRuns: 240, typed },
    );
  });
});
