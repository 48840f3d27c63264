import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ContentExtractor, NamedExtractor } from '../../src/filesystem/content-extractor.ts';
import { directoryLayerCache } from '../../src/filesystem/layer-cache.ts';
import { squashImage } from '../../src/filesystem/squash.ts';
import { buildImage, dir, file, hardlink } from './layered-image.ts';

/**
 * A stand-in "binary" format: executables starting with `BIN:` whose extract is the text up to
 * the first newline. It counts chunks, starts and ends, so the tests can see how it was driven.
 */
function headerExtractor() {
  const stats = { started: [] as string[], ended: 0, chunksAfterDone: 0 };
  const extractor: ContentExtractor = {
    wants: (f) => (f.mode & 0o111) !== 0,
    start: (f) => {
      stats.started.push(f.path);
      const kept: Buffer[] = [];
      let done = false;
      return {
        write(chunk) {
          if (done) stats.chunksAfterDone++;
          kept.push(Buffer.from(chunk));
          const all = Buffer.concat(kept);
          if (all.length >= 4 && !all.subarray(0, 4).equals(Buffer.from('BIN:'))) return !(done = true);
          if (all.includes(0x0a)) return !(done = true);
          return true;
        },
        end() {
          stats.ended++;
          const all = Buffer.concat(kept);
          if (!all.subarray(0, 4).equals(Buffer.from('BIN:'))) return undefined;
          const nl = all.indexOf(0x0a);
          return all.subarray(4, nl < 0 ? all.length : nl);
        },
      };
    },
  };
  return { named: { name: 'bin', extractor } satisfies NamedExtractor, stats };
}

const none = () => false;
const text = (b: Uint8Array) => Buffer.from(b).toString();

describe('squash: content extractors', () => {
  it('streams only the files the extractor wants and keeps only the extracts of the final filesystem', async () => {
    const { named, stats } = headerExtractor();
    const big = Buffer.concat([Buffer.from('BIN:v1\n'), Buffer.alloc(3 * 1024 * 1024, 7)]);
    const built = await buildImage([
      {
        entries: [
          dir('usr'),
          dir('usr/bin'),
          file('usr/bin/a', big, 0o755),
          file('usr/bin/b', 'BIN:old\n', 0o755),
          file('usr/bin/gone', 'BIN:gone\n', 0o755),
          file('usr/bin/notbin', 'ELF?', 0o755),
          file('usr/bin/data', 'BIN:not executable\n', 0o644),
        ],
      },
      {
        entries: [
          dir('usr/bin'),
          file('usr/bin/b', 'BIN:new\n', 0o755),
          file('usr/bin/.wh.gone', ''),
          hardlink('usr/bin/a2', 'usr/bin/b'),
        ],
      },
    ]);
    const r = await squashImage(built.image, { wants: none, extractors: [named] });
    expect(r.extracts.map((x) => [x.path, text(x.bytes), x.extractor])).toEqual([
      ['/usr/bin/a', 'v1', 'bin'],
      ['/usr/bin/a2', 'new', 'bin'],
      ['/usr/bin/b', 'new', 'bin'],
    ]);
    expect(r.extracts.find((x) => x.path === '/usr/bin/b')!.layerDiffId).toBe(built.diffIds[1]);
    // Not-wanted files never reach a sink; each started sink is ended once; a sink that said
    // "done" gets no more chunks (the 3 MiB file is never fed past its first chunk).
    expect(stats.started.sort()).toEqual([
      '/usr/bin/a',
      '/usr/bin/b',
      '/usr/bin/b',
      '/usr/bin/gone',
      '/usr/bin/notbin',
    ]);
    expect(stats.ended).toBe(stats.started.length);
    expect(stats.chunksAfterDone).toBe(0);
    // The all-layers view keeps each layer's own extracts, the removed one included.
    expect(r.layers[0]!.extracts.map((x) => x.path)).toEqual(['/usr/bin/a', '/usr/bin/b', '/usr/bin/gone']);
  });

  it('a wanted file is captured and extracted from the same read', async () => {
    const { named } = headerExtractor();
    const built = await buildImage([{ entries: [file('bin/x', 'BIN:both\n', 0o755)] }]);
    const r = await squashImage(built.image, { wants: (p) => p === '/bin/x', extractors: [named] });
    expect(r.files.map((f) => text(f.bytes))).toEqual(['BIN:both\n']);
    expect(r.extracts.map((x) => text(x.bytes))).toEqual(['both']);
  });

  it('extracts survive the layer cache, and the extractor set is part of the key', async () => {
    const cache = directoryLayerCache(await mkdtemp(join(tmpdir(), 'sigil-cache-')));
    const built = await buildImage([{ entries: [file('bin/x', 'BIN:cached\n', 0o755)] }]);
    const first = headerExtractor();
    await squashImage(built.image, { wants: none, extractors: [first.named], cache, cacheSalt: 's' });
    const second = headerExtractor();
    const r = await squashImage(built.image, { wants: none, extractors: [second.named], cache, cacheSalt: 's' });
    expect(second.stats.started).toEqual([]);
    expect(built.opens).toEqual([1]);
    expect(r.extracts.map((x) => text(x.bytes))).toEqual(['cached']);
    // Without the extractor the cached entry (which has extracts) must not be served as if it had none to offer.
    await squashImage(built.image, { wants: none, cache, cacheSalt: 's' });
    expect(built.opens).toEqual([2]);
  });

  it('a truncated layer still ends every sink it started, and the error names the layer', async () => {
    let started = 0;
    let ended = 0;
    const named: NamedExtractor = {
      name: 'count',
      extractor: {
        wants: () => true,
        start: () => {
          started++;
          return { write: () => true, end: () => (ended++, undefined) };
        },
      },
    };
    const built = await buildImage([
      {
        entries: [file('bin/x', Buffer.alloc(200_000, 1), 0o755)],
        compression: 'none',
        mangleTar: (t) => t.subarray(0, 100_000),
      },
    ]);
    await expect(squashImage(built.image, { wants: none, extractors: [named] })).rejects.toThrow(/layer sha256:/);
    expect(started).toBe(1);
    expect(ended).toBe(1);
  });
});
