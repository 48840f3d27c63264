import { mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  decodeAnalysis,
  directoryLayerCache,
  encodeAnalysis,
  layerCacheKey,
} from '../../src/filesystem/layer-cache.ts';
import { squashImage } from '../../src/filesystem/squash.ts';
import { sha256 } from '../../src/oci/digest.ts';
import { buildImage, countOpens, dir, file, hardlink, symlink } from './layered-image.ts';

const wants = (p: string) => p.startsWith('/etc/');

async function twoLayerImage() {
  return buildImage([
    {
      entries: [
        dir('etc'),
        file('etc/a', 'A1'),
        file('etc/bin', Buffer.from([0, 255, 1, 254])),
        file('usr/x', 'x'),
        hardlink('etc/h', 'usr/x'),
      ],
    },
    { entries: [file('etc/a', 'A2'), symlink('etc/l', 'a'), file('etc/.wh.bin', '')], compression: 'zstd' },
  ]);
}

describe('layer cache', () => {
  it('round trip: the second squash reads no layer and gives the same result', async () => {
    const cacheDir = await mkdtemp(join(tmpdir(), 'sigil-cache-'));
    const built = await twoLayerImage();
    const cache = directoryLayerCache(cacheDir);
    const first = await squashImage(built.image, { wants, cache, cacheSalt: 'test v1' });
    expect(built.opens).toEqual([2, 1]); // layer 0 twice: /etc/h's target /usr/x was not wanted
    expect((await readdir(cacheDir)).sort()).toEqual(
      built.diffIds.map((d, i) => layerCacheKey(d, `test v1\0maxFileSize=67108864\0blob=${built.digests[i]}`)).sort(),
    );

    const again = countOpens(built.image);
    const events: boolean[] = [];
    const second = await squashImage(again.image, {
      wants,
      cache,
      cacheSalt: 'test v1',
      onLayer: (e) => events.push(e.cached === true),
    });
    expect(again.opens).toEqual([0, 0]);
    expect(events).toEqual([true, true]);
    expect(second.files).toEqual(first.files);
    expect([...second.tree.nodes()]).toEqual([...first.tree.nodes()]);
    expect(second.layers).toEqual(first.layers);
    expect(second.files.map((f) => [f.path, Buffer.from(f.bytes).toString()])).toEqual([
      ['/etc/a', 'A2'],
      ['/etc/h', 'x'],
      ['/etc/l', 'A2'],
    ]);
    expect(second.files[0]!.earlier?.map((e) => Buffer.from(e.bytes).toString())).toEqual(['A1']);

    // Another salt (other catalogers) misses.
    const other = countOpens(built.image);
    await squashImage(other.image, { wants, cache, cacheSalt: 'test v2' });
    expect(other.opens).toEqual([2, 1]);
  });

  it('a damaged or foreign cache file is a miss, and is replaced', async () => {
    const cacheDir = await mkdtemp(join(tmpdir(), 'sigil-cache-'));
    const built = await twoLayerImage();
    const cache = directoryLayerCache(cacheDir);
    await squashImage(built.image, { wants, cache, cacheSalt: 's' });
    const [key] = await readdir(cacheDir);
    await writeFile(join(cacheDir, key!), 'SGLA0001garbage');
    const again = countOpens(built.image);
    await squashImage(again.image, { wants, cache, cacheSalt: 's' });
    expect(again.opens.reduce((a, b) => a + b)).toBeGreaterThan(0);
    const third = countOpens(built.image);
    await squashImage(third.image, { wants, cache, cacheSalt: 's' });
    expect(third.opens).toEqual([0, 0]);
  });

  it('an entry stored under another diffID is not used', async () => {
    const cacheDir = await mkdtemp(join(tmpdir(), 'sigil-cache-'));
    const built = await buildImage([{ entries: [file('etc/a', 'real')] }]);
    const cache = directoryLayerCache(cacheDir);
    const key = layerCacheKey(built.diffIds[0]!, `s\0maxFileSize=67108864\0blob=${built.digests[0]}`);
    await cache.put(key, {
      diffId: sha256('another layer'),
      entries: [],
      whiteouts: [],
      opaqueDirs: [],
      captured: [],
      extracts: [],
      warnings: [],
    });
    const r = await squashImage(built.image, { wants, cache, cacheSalt: 's' });
    expect(r.files.map((f) => f.path)).toEqual(['/etc/a']);
    expect(built.opens).toEqual([1]);
  });

  it('two processes’ worth of concurrent writers leave whole entries and no temp files', async () => {
    const cacheDir = await mkdtemp(join(tmpdir(), 'sigil-cache-'));
    const built = await twoLayerImage();
    await Promise.all(
      [1, 2, 3, 4].map(() => squashImage(built.image, { wants, cache: directoryLayerCache(cacheDir), cacheSalt: 's' })),
    );
    const names = await readdir(cacheDir);
    expect(names).toHaveLength(2);
    expect(names.every((n) => !n.startsWith('.'))).toBe(true);
  });

  it('encodes bytes exactly (no text round trip) and rejects unsafe keys', async () => {
    const bytes = new Uint8Array(256).map((_, i) => i);
    const a = {
      diffId: sha256('x'),
      entries: [{ path: '/b', type: 'file' as const, size: 256, mode: 0o644 }],
      whiteouts: ['/w'],
      opaqueDirs: ['/o'],
      captured: [
        { path: '/b', bytes },
        { path: '/empty', bytes: new Uint8Array() },
      ],
      extracts: [{ path: '/b', extractor: 'go-binary', bytes: new Uint8Array([1, 2, 3]) }],
      warnings: ['w'],
    };
    const decoded = decodeAnalysis(encodeAnalysis(a))!;
    expect(
      decoded.captured.map((c) => [
        c.path,
        Buffer.from(c.bytes).equals(Buffer.from(a.captured.find((x) => x.path === c.path)!.bytes)),
      ]),
    ).toEqual([
      ['/b', true],
      ['/empty', true],
    ]);
    expect([...decoded.extracts[0]!.bytes]).toEqual([1, 2, 3]);
    expect({ ...decoded, captured: [], extracts: [] }).toEqual({ ...a, captured: [], extracts: [] });
    expect(decoded.extracts.map((x) => [x.path, x.extractor])).toEqual([['/b', 'go-binary']]);
    expect(decodeAnalysis(encodeAnalysis(a).subarray(0, 100))).toBeUndefined();
    const cache = directoryLayerCache(await mkdtemp(join(tmpdir(), 'sigil-cache-')));
    await expect(cache.get('../escape')).rejects.toMatchObject({ code: 'INVALID_OPTIONS' });
    await expect(cache.put('.hidden', a)).rejects.toMatchObject({ code: 'INVALID_OPTIONS' });
  });
});
