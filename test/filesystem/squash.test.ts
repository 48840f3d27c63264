import { describe, expect, it } from 'vitest';
import { squashImage } from '../../src/filesystem/squash.ts';
import type { SquashResult } from '../../src/filesystem/squash.ts';
import { buildImage, dir, file, hardlink, type LayerSpec, symlink } from './layered-image.ts';

const all = () => true;

async function squash(layers: LayerSpec[], wants: (p: string) => boolean = all) {
  const built = await buildImage(layers);
  const result = await squashImage(built.image, { wants });
  return { ...built, result };
}

function paths(r: SquashResult): string[] {
  return [...r.tree.nodes()].map((n) => n.path);
}

function text(r: SquashResult, path: string): string | undefined {
  const f = r.files.find((x) => x.path === path);
  return f === undefined ? undefined : Buffer.from(f.bytes).toString();
}

describe('squash: whiteouts', () => {
  it('a .wh. marker removes a file of a lower layer and nothing else', async () => {
    const { result } = await squash([
      { entries: [dir('etc'), file('etc/a', 'A'), file('etc/b', 'B')] },
      { entries: [dir('etc'), file('etc/.wh.a', '')] },
    ]);
    expect(paths(result)).toEqual(['/etc', '/etc/b']);
    expect(result.tree.get('/etc/a')).toBeUndefined();
    expect(result.files.map((f) => f.path)).toEqual(['/etc/b']);
  });

  it('a .wh. marker on a directory removes its whole subtree', async () => {
    const { result } = await squash([
      {
        entries: [
          dir('usr'),
          dir('usr/share'),
          dir('usr/share/doc'),
          file('usr/share/doc/x/copyright', 'c'),
          file('usr/keep', 'k'),
        ],
      },
      { entries: [file('usr/share/.wh.doc', '')] },
    ]);
    expect(paths(result)).toEqual(['/usr', '/usr/keep', '/usr/share']);
  });

  it.each([
    ['before', true],
    ['after', false],
  ])('an opaque marker placed %s its siblings hides only the lower layers’ content', async (_where, first) => {
    const marker = file('opt/app/.wh..wh..opq', '');
    const mine = [file('opt/app/new', 'new'), dir('opt/app/sub'), file('opt/app/sub/x', 'x')];
    const { result } = await squash([
      {
        entries: [
          dir('opt'),
          dir('opt/app'),
          file('opt/app/old', 'old'),
          dir('opt/app/sub'),
          file('opt/app/sub/y', 'y'),
          file('opt/other', 'o'),
        ],
      },
      { entries: [dir('opt/app'), ...(first ? [marker, ...mine] : [...mine, marker])] },
    ]);
    expect(paths(result)).toEqual(['/opt', '/opt/app', '/opt/app/new', '/opt/app/sub', '/opt/app/sub/x', '/opt/other']);
  });

  it('a directory replaced by a file or a symlink (no whiteout) hides the lower directory', async () => {
    const { result } = await squash([
      { entries: [dir('a'), file('a/1', '1'), dir('b'), file('b/2', '2'), dir('t')] },
      { entries: [file('a', 'now a file'), symlink('b', '/t')] },
    ]);
    expect(paths(result)).toEqual(['/a', '/b', '/t']);
    expect(result.tree.get('/a')?.type).toBe('file');
    expect(result.tree.get('/b')).toMatchObject({ type: 'symlink', linkTarget: '/t', layerIndex: 1 });
    expect(result.tree.resolve('/b/2')).toBeUndefined();
  });

  it('a file re-added above its whiteout is back, with no history from before the deletion', async () => {
    const { result, diffIds } = await squash([
      { entries: [file('etc/conf', 'v1')] },
      { entries: [file('etc/conf', 'v2')] },
      { entries: [file('etc/.wh.conf', '')] },
      { entries: [file('etc/conf', 'v4')] },
      { entries: [file('etc/conf', 'v5')] },
    ]);
    const f = result.files.find((x) => x.path === '/etc/conf')!;
    expect(Buffer.from(f.bytes).toString()).toBe('v5');
    expect(f.layerDiffId).toBe(diffIds[4]);
    expect(f.earlier?.map((e) => [e.layerDiffId, Buffer.from(e.bytes).toString()])).toEqual([[diffIds[3], 'v4']]);
    expect(result.tree.get('/etc/conf')?.layerIndex).toBe(4);
  });

  it('a bare ".wh." is an ordinary file, ".wh.." whites out nothing, ".wh.x" at the root works', async () => {
    const { result } = await squash([
      { entries: [dir('etc'), file('etc/passwd', 'root'), file('x', 'x'), file('y', 'y')] },
      { entries: [file('etc/.wh.', ''), file('etc/.wh..', ''), file('.wh.x', ''), file('.wh..wh.plnk', '')] },
    ]);
    expect(paths(result)).toEqual(['/etc', '/etc/.wh.', '/etc/passwd', '/y']);
    expect(result.warnings.some((w) => w.includes('etc/.wh..'))).toBe(true);
  });

  it('the same path twice in one layer: the last entry wins', async () => {
    const { result } = await squash([{ entries: [file('f', 'first'), file('f', 'second'), file('g', 'g'), dir('g')] }]);
    expect(text(result, '/f')).toBe('second');
    expect(result.tree.get('/g')?.type).toBe('dir');
    expect(text(result, '/g')).toBeUndefined();
  });

  it('entries without parent directory entries, "./" and "/" prefixes all land on one tree', async () => {
    const { result } = await squash([{ entries: [file('./a/b/c', '1'), file('/a/b/d', '2'), file('a//b/./e', '3')] }]);
    expect(paths(result)).toEqual(['/a', '/a/b', '/a/b/c', '/a/b/d', '/a/b/e']);
    expect(result.tree.get('/a')?.type).toBe('dir');
  });

  it('tar paths climbing out with ".." stay inside the root', async () => {
    const { result } = await squash([
      { entries: [file('../../etc/passwd', 'evil'), file('usr/../../../../tmp/x', 'x'), file('/abs/y', 'y')] },
    ]);
    expect(paths(result)).toEqual(['/abs', '/abs/y', '/etc', '/etc/passwd', '/tmp', '/tmp/x']);
    expect(text(result, '/etc/passwd')).toBe('evil');
  });
});

describe('squash: links', () => {
  it('a hardlink takes its target’s bytes, also when only the link is wanted', async () => {
    const { result, opens } = await squash(
      [
        { entries: [file('usr/lib/real.so', 'ELF-bytes'), hardlink('usr/lib/wanted.so', 'usr/lib/real.so')] },
        { entries: [file('usr/lib/.wh.real.so', '')] },
      ],
      (p) => p === '/usr/lib/wanted.so',
    );
    // The target is gone in the final image; the link still serves the content (stereoscope PR #670 case c).
    expect(result.tree.get('/usr/lib/real.so')).toBeUndefined();
    expect(result.tree.get('/usr/lib/wanted.so')).toMatchObject({
      type: 'hardlink',
      size: 9,
      linkTarget: '/usr/lib/real.so',
    });
    expect(text(result, '/usr/lib/wanted.so')).toBe('ELF-bytes');
    expect([...result.tree.files()].map((f) => f.path)).toEqual(['/usr/lib/wanted.so']);
    // One extra pass over layer 0 for the unwanted target; layer 1 read once.
    expect(opens).toEqual([2, 1]);
  });

  it('a hardlink to a wanted target needs no second pass; later layers do not rebind it', async () => {
    const { result, opens } = await squash([
      { entries: [file('a', 'A'), hardlink('b', 'a')] },
      { entries: [file('a', 'changed')] },
    ]);
    expect(text(result, '/b')).toBe('A');
    expect(text(result, '/a')).toBe('changed');
    expect(opens).toEqual([1, 1]);
  });

  it('resolves symlinks: relative, absolute, through parent-directory links, ".." past the root, and loops', async () => {
    const { result } = await squash([
      {
        entries: [
          dir('usr/lib'),
          file('usr/lib/os-release', 'ID=debian'),
          symlink('etc/os-release', '../usr/lib/os-release'),
          symlink('lib', 'usr/lib'),
          symlink('abs', '/usr/lib/os-release'),
          symlink('up', '../../../../usr/lib/os-release'),
          dir('x/y'),
          symlink('x/y/rel', '../../lib/os-release'),
          symlink('loop1', 'loop2'),
          symlink('loop2', 'loop1'),
          symlink('self', 'self/a'),
          symlink('dangling', '/nope'),
        ],
      },
    ]);
    const t = result.tree;
    for (const p of ['/etc/os-release', '/lib/os-release', '/abs', '/up', '/x/y/rel', '/lib/../lib/os-release']) {
      expect(t.resolve(p)?.path, p).toBe('/usr/lib/os-release');
    }
    expect(t.get('/lib/os-release')).toBeUndefined();
    expect(t.get('/lib')?.type).toBe('symlink');
    expect(t.resolve('/lib')?.path).toBe('/usr/lib');
    expect(t.resolve('/loop1')).toBeUndefined();
    expect(t.resolve('/self')).toBeUndefined();
    expect(t.resolve('/dangling')).toBeUndefined();
  });

  it('a wanted symlink gets its target’s bytes, read in one more pass when the target was not wanted', async () => {
    const { result, opens, diffIds } = await squash(
      [
        { entries: [file('usr/lib/os-release', 'ID=debian\n')] },
        { entries: [symlink('etc/os-release', '../usr/lib/os-release')] },
      ],
      (p) => p === '/etc/os-release',
    );
    expect(result.files).toEqual([
      { path: '/etc/os-release', bytes: Buffer.from('ID=debian\n'), layerDiffId: diffIds[0] },
    ]);
    expect(opens).toEqual([2, 1]);
  });
});

describe('squash: provenance and options', () => {
  it('records the layer of each node and reports each layer on its own', async () => {
    const { result, diffIds } = await squash([
      { entries: [file('a', '1'), file('b', '1')] },
      { entries: [file('b', '2'), file('.wh.a', '')] },
    ]);
    expect(result.tree.get('/b')).toMatchObject({ layerIndex: 1, layerDiffId: diffIds[1], size: 1, mode: 0o644 });
    expect(result.layers.map((l) => l.diffId)).toEqual(diffIds);
    expect(result.layers[1]).toMatchObject({ whiteouts: ['/a'], opaqueDirs: [] });
    expect(result.layers[0]!.captured.map((c) => c.path)).toEqual(['/a', '/b']);
  });

  it('skips a wanted file over the size cap with a warning naming it and its layer', async () => {
    const built = await buildImage([{ entries: [file('big', Buffer.alloc(2000, 1)), file('small', 'ok')] }]);
    const r = await squashImage(built.image, { wants: all, maxFileSize: 1000 });
    expect(r.files.map((f) => f.path)).toEqual(['/small']);
    expect(r.tree.get('/big')?.size).toBe(2000);
    expect(r.warnings).toEqual([expect.stringContaining(`/big in layer ${built.digests[0]} is 2000 bytes`)]);
  });

  it('reports progress per layer and bounds concurrency', async () => {
    const built = await buildImage([0, 1, 2, 3].map((i) => ({ entries: [file(`f${i}`, 'x'.repeat(100_000))] })));
    const events: { index: number; done: boolean; bytes: number }[] = [];
    await squashImage(built.image, { wants: all, concurrency: 1, onLayer: (e) => events.push(e) });
    const done = events.filter((e) => e.done);
    // With one worker, layers finish in order and each starts after the previous one is done.
    expect(done.map((e) => e.index)).toEqual([0, 1, 2, 3]);
    const firstOf = (i: number) => events.findIndex((e) => e.index === i);
    expect(firstOf(1)).toBeGreaterThan(events.indexOf(done[0]!));
    expect(done.map((e) => e.bytes)).toEqual(built.image.layers.map((l) => l.size));
  });

  it('rejects a cache without a salt and a zero concurrency', async () => {
    const built = await buildImage([{ entries: [file('a', 'a')] }]);
    const cache = { get: async () => undefined, put: async () => {} };
    await expect(squashImage(built.image, { wants: all, cache })).rejects.toMatchObject({ code: 'INVALID_OPTIONS' });
    await expect(squashImage(built.image, { wants: all, concurrency: 0 })).rejects.toMatchObject({
      code: 'INVALID_OPTIONS',
    });
  });

  it('stops when aborted', async () => {
    const built = await buildImage([{ entries: [file('a', 'a')] }]);
    const controller = new AbortController();
    controller.abort();
    await expect(squashImage(built.image, { wants: all, signal: controller.signal })).rejects.toThrow();
  });
});
