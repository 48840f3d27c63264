import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { FilesystemError } from '../../src/filesystem/errors.ts';
import { analyzeLayer } from '../../src/filesystem/layer-analysis.ts';
import { squashImage } from '../../src/filesystem/squash.ts';
import { memoryLayerCache } from '../../src/filesystem/layer-cache.ts';
import { sniffCompression, tarEntries } from '../../src/filesystem/tar-entries.ts';
import { sha256 } from '../../src/oci/digest.ts';
import { OciError } from '../../src/oci/errors.ts';
import { MediaType } from '../../src/oci/media-types.ts';
import { buildImage, dir, file, hardlink, symlink, tarBytes } from './layered-image.ts';

const all = () => true;

describe('tarEntries', () => {
  it('streams entries with normalised paths; unread bodies are drained; read() gives the whole body', async () => {
    const t = await tarBytes([
      dir('./etc'),
      file('./etc/big', Buffer.alloc(300_000, 7)),
      file('./etc/small', 'hello'),
      symlink('./etc/l', 'small'),
      hardlink('./etc/h', './etc/small'),
    ]);
    const seen = [];
    for await (const e of tarEntries(Readable.from([gzipSync(t)]), 'layer test')) {
      seen.push({ path: e.path, type: e.type, size: e.size, link: e.linkname });
      if (e.path === '/etc/small') expect((await e.read()).toString()).toBe('hello');
    }
    expect(seen).toEqual([
      { path: '/etc', type: 'dir', size: 0, link: undefined },
      { path: '/etc/big', type: 'file', size: 300_000, link: undefined },
      { path: '/etc/small', type: 'file', size: 5, link: undefined },
      { path: '/etc/l', type: 'symlink', size: 0, link: 'small' },
      { path: '/etc/h', type: 'hardlink', size: 0, link: './etc/small' },
    ]);
  });

  it('stopping early destroys the source stream', async () => {
    const t = await tarBytes([file('a', 'a'), file('b', 'b')]);
    const src = Readable.from([t]);
    for await (const e of tarEntries(src, 'layer test')) {
      expect(e.path).toBe('/a');
      break;
    }
    expect(src.destroyed).toBe(true);
  });

  it('an empty blob is an empty layer', async () => {
    const entries = [];
    for await (const e of tarEntries(Readable.from([]), 'layer test')) entries.push(e);
    expect(entries).toEqual([]);
  });

  it('sniffs compression from magic bytes only', () => {
    expect(sniffCompression(Buffer.from([0x1f, 0x8b, 8, 0]))).toBe('gzip');
    expect(sniffCompression(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]))).toBe('zstd');
    expect(sniffCompression(Buffer.from('etc/passwd'))).toBe('none');
    expect(sniffCompression(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0]))).toEqual({ unsupported: 'xz' });
  });
});

describe('layer formats', () => {
  it('zstd, uncompressed and gzip layers in one image; magic bytes decide, not the (wrong) media types', async () => {
    const built = await buildImage([
      { entries: [file('zstd', 'z')], compression: 'zstd', mediaType: MediaType.OciLayerGzip },
      { entries: [file('plain', 'p')], compression: 'none', mediaType: MediaType.OciLayerZstd },
      { entries: [file('gzip', 'g')], compression: 'gzip', mediaType: MediaType.OciLayer },
    ]);
    const r = await squashImage(built.image, { wants: all });
    expect(r.files.map((f) => [f.path, Buffer.from(f.bytes).toString(), f.layerDiffId])).toEqual([
      ['/gzip', 'g', built.diffIds[2]],
      ['/plain', 'p', built.diffIds[1]],
      ['/zstd', 'z', built.diffIds[0]],
    ]);
  });
});

describe('bad input', () => {
  async function failure(spec: Parameters<typeof buildImage>[0][number], options = {}) {
    const built = await buildImage([{ entries: [file('ok', 'fine')] }, spec]);
    const err = await squashImage(built.image, { wants: all, ...options }).then(
      () => undefined,
      (e: unknown) => e,
    );
    return { err: err as FilesystemError, digest: built.digests[1]! };
  }

  // A big compressible file so a flipped byte lands inside deflate/zstd data.
  const payload = [file('data', Buffer.from('all work and no play '.repeat(5000)))];

  it('a corrupt gzip stream is LAYER_CORRUPT naming the layer digest', async () => {
    const { err, digest } = await failure({
      entries: payload,
      mangleBlob: (b) => {
        const c = Buffer.from(b);
        c[Math.floor(c.length / 2)]! ^= 0xff;
        c[Math.floor(c.length / 2) + 1]! ^= 0xff;
        return c;
      },
    });
    expect(err).toBeInstanceOf(FilesystemError);
    expect(err.code).toBe('LAYER_CORRUPT');
    expect(err.message).toContain(digest);
  });

  it('a truncated gzip stream and a truncated zstd stream are LAYER_CORRUPT naming the digest', async () => {
    for (const compression of ['gzip', 'zstd'] as const) {
      const { err, digest } = await failure({
        entries: payload,
        compression,
        mangleBlob: (b) => b.subarray(0, b.length - 20),
      });
      expect(err, compression).toBeInstanceOf(FilesystemError);
      expect(err.code).toBe('LAYER_CORRUPT');
      expect(err.message).toContain(digest);
    }
  });

  it('a truncated tar (inside a file body) is LAYER_CORRUPT naming the digest', async () => {
    const { err, digest } = await failure({
      entries: payload,
      compression: 'none',
      mangleTar: (t) => t.subarray(0, 512 + 1000),
    });
    expect(err.code).toBe('LAYER_CORRUPT');
    expect(err.message).toContain(digest);
    expect(err.message).toMatch(/Unexpected end of data/);
  });

  it('bytes that are not a tar, and an xz layer, are LAYER_CORRUPT', async () => {
    const garbage = await failure({ entries: [], compression: 'none', mangleTar: () => Buffer.alloc(2048, 0x41) });
    expect(garbage.err.code).toBe('LAYER_CORRUPT');
    expect(garbage.err.message).toContain(garbage.digest);
    const xz = await failure({
      entries: [],
      compression: 'none',
      mangleTar: () => Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0, 1, 2, 3]),
    });
    expect(xz.err.message).toMatch(/xz-compressed layers are not supported/);
  });

  it('a decompression bomb stops at maxLayerBytes with LAYER_TOO_LARGE', async () => {
    const { err, digest } = await failure(
      { entries: [file('zeros', Buffer.alloc(5_000_000))] },
      { maxLayerBytes: 1_000_000 },
    );
    expect(err.code).toBe('LAYER_TOO_LARGE');
    expect(err.message).toContain(digest);
  });

  it('with verifyDiffIds, a config whose diffID does not match the layer content is DIFFID_MISMATCH', async () => {
    for (const compression of ['gzip', 'zstd', 'none'] as const) {
      const { err, digest } = await failure(
        { entries: [file('x', 'x')], compression, claimDiffId: sha256('other') },
        { verifyDiffIds: true },
      );
      expect(err.code, compression).toBe('DIFFID_MISMATCH');
      expect(err.message).toContain(digest);
    }
  });

  it('by default only an uncompressed blob (where the check is the blob digest itself) is held to its diffID', async () => {
    const none = await failure({ entries: [file('x', 'x')], compression: 'none', claimDiffId: sha256('other') });
    expect(none.err.code).toBe('DIFFID_MISMATCH');
    for (const compression of ['gzip', 'zstd'] as const) {
      const { err } = await failure({ entries: [file('x', 'x')], compression, claimDiffId: sha256('other') });
      expect(err, compression).toBeUndefined();
    }
  });

  it('an image claiming another layer’s diffID for other bytes cannot poison that layer’s cache entry', async () => {
    const cache = memoryLayerCache();
    const real = await buildImage([{ entries: [file('etc/a', 'real content')] }]);
    const liar = await buildImage([{ entries: [file('etc/a', 'forged content')], claimDiffId: real.diffIds[0]! }]);
    await squashImage(liar.image, { wants: all, cache, cacheSalt: 's' });
    const r = await squashImage(real.image, { wants: all, cache, cacheSalt: 's' });
    expect(Buffer.from(r.files[0]!.bytes).toString()).toBe('real content');
    expect(real.opens).toEqual([1]);
  });

  it('a blob altered on disk keeps the source’s DIGEST_MISMATCH', async () => {
    const built = await buildImage([{ entries: [file('x', 'original')], compression: 'none' }]);
    const blobFile = join(built.dir, 'blobs', 'sha256', built.digests[0]!.slice(7));
    const bytes = await readFile(blobFile);
    await writeFile(blobFile, Buffer.from(bytes.toString('latin1').replace('original', 'ORIGINAL'), 'latin1'));
    const err = await squashImage(built.image, { wants: all }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OciError);
    expect((err as OciError).code).toBe('DIGEST_MISMATCH');
  });

  it('analyzeLayer reports a hardlink to nothing as a warning, not an error', async () => {
    const built = await buildImage([{ entries: [hardlink('orphan', 'missing')] }]);
    const a = await analyzeLayer(built.image.layers[0]!, { wants: all });
    expect(a.entries).toEqual([{ path: '/orphan', type: 'hardlink', size: 0, mode: 0o644, linkTarget: '/missing' }]);
    expect(a.warnings).toEqual([expect.stringContaining('hardlink /orphan points at /missing')]);
  });

  it('nothing is written to disk while reading a layer', async () => {
    const built = await buildImage([{ entries: [file('../../../../tmp/escape', 'x'), file('/etc/abs', 'y')] }]);
    const before = await readdir(built.dir, { recursive: true });
    const r = await squashImage(built.image, { wants: all });
    expect(r.files.map((f) => f.path)).toEqual(['/etc/abs', '/tmp/escape']);
    expect(await readdir(built.dir, { recursive: true })).toEqual(before);
  });
});
