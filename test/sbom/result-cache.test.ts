import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateSbom, type GenerateSbomOptions } from '../../src/sbom/generate.ts';
import { buildImage, dir, file, type LayerSpec } from '../filesystem/layered-image.ts';

/**
 * The SBOM result cache: the same layers again skip the squash and the catalogers; anything the
 * result depends on (a layer, the scope, --files, the catalogers) makes it miss.
 */
function stanza(name: string, version: string): string {
  return [
    `Package: ${name}`,
    'Status: install ok installed',
    'Architecture: amd64',
    `Version: ${version}`,
    'Maintainer: Test <test@example.org>',
    `Description: ${name}`,
    '',
  ].join('\n');
}

const osRelease = file('etc/os-release', 'ID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n');
const base: LayerSpec = {
  entries: [
    dir('etc'),
    osRelease,
    dir('var'),
    dir('var/lib'),
    dir('var/lib/dpkg'),
    file('var/lib/dpkg/status', `${stanza('libfoo1', '1.0-1')}\n${stanza('bar', '2.0-3')}`),
  ],
};
const upgrade: LayerSpec = {
  entries: [
    dir('var/lib/dpkg'),
    file('var/lib/dpkg/status', `${stanza('libfoo1', '1.1-1')}\n${stanza('bar', '2.0-3')}`),
  ],
};

async function counted(source: string, options: GenerateSbomOptions) {
  let reads = 0;
  const r = await generateSbom(source, {
    ...options,
    onLayer: (e) => {
      if (e.done && !e.cached) reads++;
    },
  });
  const names = r.document.packages.map((p) => `${p.name}@${p.version}`).sort();
  return { r, reads, names };
}

describe('sbom result cache', () => {
  it('the same image again reads no layer and gives the same document', async () => {
    const built = await buildImage([base, upgrade]);
    const cacheDir = await mkdtemp(join(tmpdir(), 'sigil-result-cache-'));
    const cold = await counted(`oci-dir:${built.dir}`, { cacheDir });
    expect(cold.reads).toBe(2);
    expect(cold.names).toEqual(['bar@2.0-3', 'libfoo1@1.1-1']);
    const entries = await readdir(join(cacheDir, 'sboms'));
    expect(entries).toHaveLength(1);
    // Without the per-layer analyses, only the result cache can spare the reads.
    await rm(join(cacheDir, 'layers'), { recursive: true });
    const warm = await counted(`oci-dir:${built.dir}`, { cacheDir });
    expect(warm.reads).toBe(0);
    expect(warm.r.document).toEqual(cold.r.document);
    expect(warm.r.stats.files).toBe(cold.r.stats.files);
    expect(warm.r.attributed).toEqual(cold.r.attributed);
  });

  it('a new top layer misses it and still takes the lower layers from the layer cache', async () => {
    const cacheDir = await mkdtemp(join(tmpdir(), 'sigil-result-cache-'));
    const first = await buildImage([base]);
    const one = await counted(`oci-dir:${first.dir}`, { cacheDir });
    expect(one.names).toEqual(['bar@2.0-3', 'libfoo1@1.0-1']);
    const second = await buildImage([base, upgrade]);
    const two = await counted(`oci-dir:${second.dir}`, { cacheDir });
    expect(two.reads).toBe(1);
    expect(two.names).toEqual(['bar@2.0-3', 'libfoo1@1.1-1']);
    expect(await readdir(join(cacheDir, 'sboms'))).toHaveLength(2);
  });

  it('scope, --files and the catalogers are part of the key', async () => {
    const built = await buildImage([base, upgrade]);
    const cacheDir = await mkdtemp(join(tmpdir(), 'sigil-result-cache-'));
    await counted(`oci-dir:${built.dir}`, { cacheDir });
    const all = await counted(`oci-dir:${built.dir}`, { cacheDir, scope: 'all-layers' });
    // Served the squashed result, the purged 1.0-1 would be missing.
    expect(all.names).toEqual(['bar@2.0-3', 'libfoo1@1.0-1', 'libfoo1@1.1-1']);
    const withFiles = await counted(`oci-dir:${built.dir}`, { cacheDir, files: true });
    expect(withFiles.reads).toBe(2); // file digests are hashed as layers stream: the layer cache misses too
    expect(withFiles.r.document.files).toBeDefined();
    const noCatalogers = await counted(`oci-dir:${built.dir}`, { cacheDir, catalogers: [] });
    expect(noCatalogers.names).toEqual([]);
    expect(await readdir(join(cacheDir, 'sboms'))).toHaveLength(4);
  });

  it('a damaged entry is a miss and is replaced; --verify-diffids and resultCache: false bypass it', async () => {
    const built = await buildImage([base, upgrade]);
    const cacheDir = await mkdtemp(join(tmpdir(), 'sigil-result-cache-'));
    const cold = await counted(`oci-dir:${built.dir}`, { cacheDir });
    const [entry] = await readdir(join(cacheDir, 'sboms'));
    await writeFile(join(cacheDir, 'sboms', entry!), '{"packages": "not a list"');
    const again = await counted(`oci-dir:${built.dir}`, { cacheDir });
    expect(again.names).toEqual(cold.names);
    expect(again.r.warnings).toEqual([]);
    // Replaced: with the per-layer analyses gone, the next run is answered from it alone.
    await rm(join(cacheDir, 'layers'), { recursive: true });
    const hit = await counted(`oci-dir:${built.dir}`, { cacheDir });
    expect(hit.reads).toBe(0);
    expect(hit.names).toEqual(cold.names);
    await rm(join(cacheDir, 'layers'), { recursive: true, force: true });
    const verified = await counted(`oci-dir:${built.dir}`, { cacheDir, verifyDiffIds: true });
    expect(verified.reads).toBe(2);
    expect(verified.names).toEqual(cold.names);
    await rm(join(cacheDir, 'layers'), { recursive: true, force: true });
    const bypass = await counted(`oci-dir:${built.dir}`, { cacheDir, resultCache: false });
    expect(bypass.reads).toBe(2);
    expect(bypass.names).toEqual(cold.names);
    expect(await readdir(join(cacheDir, 'sboms'))).toEqual([entry]);
  });
});
