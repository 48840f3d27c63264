import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import type { Descriptor, ImageConfig, ImageIndex, ImageManifest } from '../../src/oci/manifest.ts';
import { MediaType } from '../../src/oci/media-types.ts';
import {
  ARM64_PACKAGES,
  buildDemoImage,
  buildMultiPlatformImage,
  DEMO_LAYERS,
  DEMO_PACKAGES,
} from '../../testdata/build-images.ts';
import { demoImage, demoImageLayout, multiPlatformImage, writableCopy } from '../harness/images.ts';

const exec = promisify(execFile);
const temps: string[] = [];
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'sigil-testdata-'));
  temps.push(d);
  return d;
}
afterAll(async () => {
  for (const d of temps) await rm(d, { recursive: true, force: true });
});

const sha256 = (b: Uint8Array) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

async function blob(layout: string, d: Descriptor): Promise<Buffer> {
  const bytes = await readFile(join(layout, 'blobs', 'sha256', d.digest.slice(7)));
  expect(bytes.length, `size of ${d.digest}`).toBe(d.size);
  expect(sha256(bytes)).toBe(d.digest);
  return bytes;
}

/**
 * Check one image manifest of a layout as a strict reader would, and return its config and
 * the digests it references.
 */
async function checkImage(layout: string, desc: Descriptor): Promise<{ config: ImageConfig; refs: string[] }> {
  const manifest = JSON.parse((await blob(layout, desc)).toString()) as ImageManifest;
  expect(manifest.schemaVersion).toBe(2);
  expect(manifest.mediaType).toBe(MediaType.OciManifest);
  expect(manifest.config.mediaType).toBe(MediaType.OciConfig);
  const config = JSON.parse((await blob(layout, manifest.config)).toString()) as ImageConfig;
  expect(config.os).toBe(desc.platform?.os);
  expect(config.architecture).toBe(desc.platform?.architecture);
  expect(config.variant).toBe(desc.platform?.variant);
  expect(config.created).toBe('2024-01-01T00:00:00.000Z');
  expect(config.rootfs.type).toBe('layers');
  expect(config.history).toHaveLength(manifest.layers.length);
  const diffIds = [];
  for (const layer of manifest.layers) {
    expect(layer.mediaType).toBe(MediaType.OciLayerGzip);
    diffIds.push(sha256(gunzipSync(await blob(layout, layer))));
  }
  expect(config.rootfs.diff_ids).toEqual(diffIds);
  return { config, refs: [desc.digest, manifest.config.digest, ...manifest.layers.map((l) => l.digest)] };
}

/** Every file under blobs/sha256 must hash to its name. */
async function checkAllBlobs(layout: string): Promise<string[]> {
  const names = (await readdir(join(layout, 'blobs', 'sha256'))).sort();
  for (const n of names) expect(sha256(await readFile(join(layout, 'blobs', 'sha256', n)))).toBe(`sha256:${n}`);
  return names.map((n) => `sha256:${n}`);
}

/** Unpack the layers in order with GNU tar: the final filesystem (these images have no whiteouts). */
async function unpack(layout: string, manifestDigest: string): Promise<string> {
  const manifest = JSON.parse(
    await readFile(join(layout, 'blobs', 'sha256', manifestDigest.slice(7)), 'utf8'),
  ) as ImageManifest;
  const root = await tempDir();
  for (const l of manifest.layers) {
    await exec('tar', ['-xzf', join(layout, 'blobs', 'sha256', l.digest.slice(7)), '-C', root]);
  }
  return root;
}

async function dpkgPackages(root: string): Promise<string[]> {
  const { stdout } = await exec('dpkg-query', [`--admindir=${join(root, 'var/lib/dpkg')}`, '-W', '-f', '${Package}\n']);
  return stdout.trim().split('\n').sort();
}

describe('demo image', () => {
  it('is a valid OCI layout: blobs match their names, manifest, config and diff_ids agree', async () => {
    const layout = await demoImageLayout();
    expect(JSON.parse(await readFile(join(layout, 'oci-layout'), 'utf8'))).toEqual({ imageLayoutVersion: '1.0.0' });
    const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as ImageIndex;
    expect(index.schemaVersion).toBe(2);
    expect(index.manifests).toHaveLength(1);
    const desc = index.manifests[0]!;
    expect(desc.annotations?.['org.opencontainers.image.ref.name']).toBe('demo');
    expect(desc.platform).toEqual({ architecture: 'amd64', os: 'linux' });
    const { refs } = await checkImage(layout, desc);
    expect(refs).toHaveLength(2 + DEMO_LAYERS.length);
    // No stray blobs: everything stored is referenced.
    expect(await checkAllBlobs(layout)).toEqual([...refs].sort());

    const built = await demoImage();
    expect(built.manifest.digest).toBe(desc.digest);
    expect(built.layers.map((l) => l.packages)).toEqual(DEMO_LAYERS);
    const total = built.layers.reduce((n, l) => n + l.descriptor.size, 0);
    expect(total).toBeLessThan(15_000_000);
  });

  it('has a dpkg database listing exactly the chosen packages, whose files all verify', async () => {
    const built = await demoImage();
    const root = await unpack(built.layoutDir, built.manifest.digest);
    expect(await dpkgPackages(root)).toEqual([...DEMO_PACKAGES].sort());
    expect(built.packages.map((p) => p.name)).toEqual(DEMO_PACKAGES);

    const status = await readFile(join(root, 'var/lib/dpkg/status'), 'utf8');
    expect(status).toMatch(/Package: netbase\nStatus: install ok installed\n/);
    const protocolsMd5 = createHash('md5')
      .update(await readFile(join(root, 'etc/protocols')))
      .digest('hex');
    expect(status).toMatch(new RegExp(`\nConffiles:\n( \\S+ [0-9a-f]{32}\n)* /etc/protocols ${protocolsMd5}\n`));

    // dpkg itself checks every installed file against info/*.md5sums (and finds each .list).
    const ok = await exec('dpkg', [`--root=${root}`, '--verify']);
    expect(ok.stdout + ok.stderr).toBe('');
    // ...and would notice a change: the check above is not vacuous.
    await writeFile(join(root, 'etc/protocols'), 'tampered\n');
    await rm(join(root, 'usr/bin/mawk'));
    const bad = await exec('dpkg', [`--root=${root}`, '--verify']).catch((e: { stdout: string }) => e);
    expect(bad.stdout).toContain('c /etc/protocols');
    expect(bad.stdout).toMatch(/missing\s+\/usr\/bin\/mawk/);

    // Multi-Arch: same libraries have arch-qualified info files, as on a real system.
    const { stdout } = await exec('dpkg-query', [`--admindir=${join(root, 'var/lib/dpkg')}`, '-L', 'libc6']);
    expect(stdout).toContain('/lib/x86_64-linux-gnu/libc.so.6');
  });

  it('is reproducible: two builds give the same digests as the cached one', async () => {
    const [a, b] = [await tempDir(), await tempDir()];
    const first = await buildDemoImage(a);
    const second = await buildDemoImage(b, { name: 'demo' });
    expect(second.manifest.digest).toBe(first.manifest.digest);
    expect(second.layers.map((l) => l.descriptor.digest)).toEqual(first.layers.map((l) => l.descriptor.digest));
    expect(await readFile(join(b, 'index.json'))).toEqual(await readFile(join(a, 'index.json')));
    expect(first.manifest.digest).toBe((await demoImage()).manifest.digest);
    // A different ref name changes index.json only, never the image.
    const renamed = await buildDemoImage(await tempDir(), { name: 'other' });
    expect(renamed.manifest.digest).toBe(first.manifest.digest);
  });

  it('hands out writable copies that leave the cache alone', async () => {
    const layout = await demoImageLayout();
    const copy = await writableCopy(layout);
    temps.push(copy);
    await writeFile(join(copy, 'index.json'), '{}');
    expect(JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')).manifests).toHaveLength(1);
  });
});

describe('multi-platform image', () => {
  it('is an index of linux/amd64 (the demo image) and linux/arm64/v8 with distinct content', async () => {
    const built = await multiPlatformImage();
    const layout = built.layoutDir;
    const top = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as ImageIndex;
    expect(top.manifests).toHaveLength(1);
    const indexDesc = top.manifests[0]!;
    expect(indexDesc.mediaType).toBe(MediaType.OciIndex);
    expect(indexDesc.annotations?.['org.opencontainers.image.ref.name']).toBe('multi');
    const index = JSON.parse((await blob(layout, indexDesc)).toString()) as ImageIndex;
    expect(index.mediaType).toBe(MediaType.OciIndex);
    expect(index.manifests.map((m) => m.platform)).toEqual([
      { architecture: 'amd64', os: 'linux' },
      { architecture: 'arm64', os: 'linux', variant: 'v8' },
    ]);
    const refs = [indexDesc.digest];
    for (const m of index.manifests) refs.push(...(await checkImage(layout, m)).refs);
    expect(await checkAllBlobs(layout)).toEqual([...new Set(refs)].sort());

    expect(index.manifests[0]!.digest).toBe((await demoImage()).manifest.digest);
    const [amd64, arm64] = built.images;
    const amdLayers = new Set(amd64!.layers.map((l) => l.descriptor.digest));
    expect(arm64!.layers.every((l) => !amdLayers.has(l.descriptor.digest))).toBe(true);

    const root = await unpack(layout, index.manifests[1]!.digest);
    expect(await dpkgPackages(root)).toEqual([...ARM64_PACKAGES].sort());
    expect(arm64!.packages.every((p) => p.architecture === 'all')).toBe(true);
  });

  it('is reproducible', async () => {
    const a = await buildMultiPlatformImage(await tempDir());
    expect(a.index.digest).toBe((await multiPlatformImage()).index.digest);
  });
});
