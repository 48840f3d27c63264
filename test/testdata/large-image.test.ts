import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import type { ImageConfig, ImageManifest } from '../../src/oci/manifest.ts';
import { MediaType } from '../../src/oci/media-types.ts';
import { buildLargeImage } from '../../testdata/large-image.ts';
import { largeImage, largeImageLayout } from '../harness/images.ts';

const temps: string[] = [];
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'sigil-large-'));
  temps.push(d);
  return d;
}
afterAll(async () => {
  for (const d of temps) await rm(d, { recursive: true, force: true });
});

const sha256 = (b: Uint8Array) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const MiB = 1024 * 1024;

async function read(layout: string, digest: string): Promise<Buffer> {
  const b = await readFile(join(layout, 'blobs', 'sha256', digest.slice(7)));
  expect(sha256(b)).toBe(digest);
  return b;
}

describe('large image', () => {
  it('splits the size into tar layers of incompressible, seeded, reproducible data', async () => {
    const dir = await tempDir();
    const built = await buildLargeImage(dir, 5 * MiB + 123, { layerBytes: 2 * MiB, filesPerLayer: 3 });
    expect(built.layers).toHaveLength(3);
    const manifest = JSON.parse((await read(dir, built.manifest.digest)).toString()) as ImageManifest;
    const config = JSON.parse((await read(dir, manifest.config.digest)).toString()) as ImageConfig;
    let fileBytes = 0;
    for (const [i, l] of manifest.layers.entries()) {
      expect(l.mediaType).toBe(MediaType.OciLayer);
      const tar = await read(dir, l.digest);
      expect(config.rootfs.diff_ids[i]).toBe(l.digest); // uncompressed: diff_id is the digest
      // ustar size fields of the file entries (entries 3.. after two directories).
      let off = 0;
      while (off + 512 <= tar.length && tar[off] !== 0) {
        const size = Number.parseInt(
          tar
            .subarray(off + 124, off + 136)
            .toString()
            .trim() || '0',
          8,
        );
        fileBytes += size;
        off += 512 + Math.ceil(size / 512) * 512;
      }
      expect(gzipSync(tar, { level: 1 }).length).toBeGreaterThan(tar.length * 0.99);
    }
    expect(fileBytes).toBe(5 * MiB + 123);
    expect(built.layerBytes).toBeGreaterThan(5 * MiB);

    const again = await buildLargeImage(await tempDir(), 5 * MiB + 123, { layerBytes: 2 * MiB, filesPerLayer: 3 });
    expect(again.manifest.digest).toBe(built.manifest.digest);
    const reseeded = await buildLargeImage(await tempDir(), 5 * MiB + 123, {
      layerBytes: 2 * MiB,
      filesPerLayer: 3,
      seed: 'other',
    });
    expect(reseeded.layers[0]!.descriptor.digest).not.toBe(built.layers[0]!.descriptor.digest);
  });

  it('can gzip its layers, keeping diff_ids over the tar', async () => {
    const dir = await tempDir();
    const built = await buildLargeImage(dir, 3 * MiB, { layerBytes: 3 * MiB, compression: 'gzip' });
    const layer = built.layers[0]!;
    expect(layer.descriptor.mediaType).toBe(MediaType.OciLayerGzip);
    expect(sha256(gunzipSync(await read(dir, layer.descriptor.digest)))).toBe(layer.diffId);
    expect(layer.diffId).not.toBe(layer.descriptor.digest);
  });

  it('is cached per size by the harness', async () => {
    const first = await largeImage(4 * MiB);
    expect(await largeImageLayout(4 * MiB)).toBe(first.layoutDir);
    expect(first.layoutDir).toMatch(/large4194304-[0-9a-f]{12}\/layout$/);
    expect(JSON.parse(await readFile(join(first.layoutDir, 'index.json'), 'utf8')).manifests[0].digest).toBe(
      first.manifest.digest,
    );
  });

  it('survives two processes building the same image into an empty cache at once', async () => {
    const cache = await tempDir();
    const harness = fileURLToPath(new URL('../harness/images.ts', import.meta.url));
    const script = `import { largeImageLayout } from ${JSON.stringify(harness)};
      process.stdout.write(await largeImageLayout(${3 * MiB}));`;
    const run = () =>
      promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
        env: { ...process.env, SIGIL_TESTDATA_CACHE: cache },
      });
    const [a, b] = await Promise.all([run(), run()]);
    expect(a.stdout).toBe(b.stdout);
    expect(a.stdout.startsWith(cache)).toBe(true);
    // One finished entry, no temporary build directories left behind.
    expect(await readdir(cache)).toEqual([expect.stringMatching(/^large3145728-[0-9a-f]{12}$/)]);
    expect(JSON.parse(await readFile(join(a.stdout, 'index.json'), 'utf8')).manifests).toHaveLength(1);
  });
});
