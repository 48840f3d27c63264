import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateSbom } from '../../src/sbom/generate.ts';
import { goModuleBinary } from '../../testdata/go-binaries.ts';
import { auditJson, debianRipgrep, RIPGREP_CRATES, withAuditData } from '../../testdata/rust-binaries.ts';
import { buildImage, dir, file, type LayerSpec } from '../filesystem/layered-image.ts';

/**
 * Go and Rust binaries found through the real layer walk: streamed through the catalogers'
 * extractors, squashed with whiteouts, cached, and reported with the layer they came from.
 */
let layers: LayerSpec[];
let runtimeCrates: number;

beforeAll(async () => {
  const go = await readFile((await goModuleBinary()).path);
  const rg = withAuditData(await debianRipgrep(), auditJson(RIPGREP_CRATES));
  runtimeCrates = RIPGREP_CRATES.filter((c) => (c.kind ?? 'runtime') === 'runtime').length;
  layers = [
    { entries: [dir('usr'), dir('usr/bin'), file('usr/bin/goapp', go, 0o755), file('usr/bin/rg', rg, 0o755)] },
    // The same Go binary, not executable, is not looked into; then the later layer deletes goapp.
    { entries: [dir('opt'), file('opt/goapp.copy', go, 0o644)], compression: 'zstd' },
    { entries: [dir('usr/bin'), file('usr/bin/.wh.goapp', '')] },
  ];
}, 300_000);

describe('sbom: binaries through the layer walk', () => {
  it('reports the Rust crates of the surviving binary and none of the whited-out Go binary', async () => {
    const built = await buildImage(layers);
    const r = await generateSbom(`oci-dir:${built.dir}`, { cache: false });
    const byType = (t: string) => r.document.packages.filter((p) => p.type === t);
    expect(byType('go')).toEqual([]);
    const rust = byType('rust');
    expect(rust).toHaveLength(runtimeCrates);
    expect(rust.map((p) => p.locations[0]!.path)).toEqual(rust.map(() => '/usr/bin/rg'));
    expect(rust.every((p) => p.locations[0]!.layerDiffId === built.diffIds[0])).toBe(true);
    expect(rust.find((p) => p.name === 'ripgrep')?.purl).toMatch(/^pkg:cargo\/ripgrep@13\.0\.0$/);
  });

  it('--scope all-layers also reports the Go modules of the deleted binary, with the layer they were in', async () => {
    const built = await buildImage(layers);
    const r = await generateSbom(`oci-dir:${built.dir}`, { cache: false, scope: 'all-layers' });
    const go = r.document.packages.filter((p) => p.type === 'go');
    expect(go.map((p) => p.name)).toContain('stdlib');
    expect(go.length).toBeGreaterThanOrEqual(3);
    expect(go.every((p) => p.locations.every((l) => l.path === '/usr/bin/goapp'))).toBe(true);
    expect(go.every((p) => p.introducedBy === built.diffIds[0])).toBe(true);
  });

  it('a second run takes the extracts from the layer cache without reading a layer', async () => {
    const built = await buildImage(layers);
    const cacheDir = await mkdtemp(join(tmpdir(), 'sigil-bin-cache-'));
    const cold = await generateSbom(`oci-dir:${built.dir}`, { cacheDir });
    let reads = 0;
    const warm = await generateSbom(`oci-dir:${built.dir}`, {
      cacheDir,
      resultCache: false,
      onLayer: (e) => {
        if (!e.cached) reads++;
      },
    });
    expect(reads).toBe(0);
    expect(warm.document.packages).toEqual(cold.document.packages);
    expect(warm.document.packages.filter((p) => p.type === 'rust')).toHaveLength(runtimeCrates);
  });
});
