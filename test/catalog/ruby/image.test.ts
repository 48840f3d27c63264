/**
 * The gem cataloger end to end through generateSbom on a three-layer OCI layout built from real
 * Debian 12 .debs: Ruby 3.1 with rake, power_assert and test-unit installed by dpkg; then a
 * `gem install webrick`-like layer (webrick's real specification and files under /usr/local/bundle);
 * then a layer that removes test-unit 3.5.3's specification with a whiteout.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { dpkgCataloger } from '../../../src/catalog/dpkg/cataloger.ts';
import type { Package } from '../../../src/catalog/package.ts';
import { gemCataloger } from '../../../src/catalog/ruby/cataloger.ts';
import type { Descriptor } from '../../../src/oci/manifest.ts';
import { generateSbom, type GenerateSbomResult } from '../../../src/sbom/generate.ts';
import { debToLayerEntries, dpkgLayerEntries, fetchDebs, type LayerEntry } from '../../../testdata/debs.ts';
import { initLayout, REF_NAME_ANNOTATION, writeImageManifest, writeIndexJson } from '../../../testdata/oci-layout.ts';
import { writeTarLayer } from '../../../testdata/tar-layer.ts';

const INTEGRATION = 'usr/share/rubygems-integration/all';
let dir: string;
let diffIds: string[];
let gemsOnly: GenerateSbomResult;
let withDpkg: GenerateSbomResult;
/** Every gemspec the three layers leave, named as `name@version` from the file name. */
let expectedFinal: string[];
/** The .debs' versions, read from their control files (a security update changes them). */
let debVersion: Record<string, string>;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sigil-gem-image-'));
  await initLayout(dir);
  const [libruby, rake, powerAssert, testUnit, webrick] = await Promise.all(
    (await fetchDebs(['libruby3.1', 'rake', 'ruby-power-assert', 'ruby-test-unit', 'ruby-webrick'])).map((p) =>
      debToLayerEntries(p),
    ),
  );
  debVersion = { libruby: libruby!.version, rake: rake!.version };
  const base = await writeTarLayer(dir, dpkgLayerEntries([libruby!, rake!, powerAssert!, testUnit!]));
  // What `gem install webrick` leaves in the official ruby image's GEM_HOME: the same spec and files.
  const bundle: LayerEntry[] = [];
  for (const e of webrick!.entries) {
    if (e.type !== 'file' || !e.path.startsWith(`${INTEGRATION}/`)) continue;
    bundle.push({ ...e, path: `usr/local/bundle/${e.path.slice(INTEGRATION.length + 1)}` });
  }
  const gemInstall = await writeTarLayer(dir, bundle);
  const uninstall = await writeTarLayer(dir, [
    {
      path: 'usr/lib/ruby/gems/3.1.0/specifications/.wh.test-unit-3.5.3.gemspec',
      type: 'file',
      mode: 0o644,
      data: Buffer.alloc(0),
    },
  ]);
  diffIds = [base.diffId, gemInstall.diffId, uninstall.diffId];
  const config = { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: diffIds } };
  const { manifest } = await writeImageManifest(dir, config, [base, gemInstall, uninstall]);
  const named: Descriptor = { ...manifest, annotations: { [REF_NAME_ANNOTATION]: 'ruby' } };
  await writeIndexJson(dir, [named]);

  const specPaths = [...libruby!.entries, ...rake!.entries, ...powerAssert!.entries, ...testUnit!.entries, ...bundle]
    .map((e) => `/${e.path}`)
    .filter((p) => p.endsWith('.gemspec') && p.includes('/specifications/'))
    .filter((p) => p !== '/usr/lib/ruby/gems/3.1.0/specifications/test-unit-3.5.3.gemspec');
  expectedFinal = [
    ...new Set(specPaths.map((p) => /([^/]+)-([0-9][^-/]*)\.gemspec$/.exec(p)!).map((m) => `${m[1]}@${m[2]}`)),
  ].sort();

  gemsOnly = await generateSbom(`oci-dir:${dir}:ruby`, { catalogers: [gemCataloger], cache: false });
  withDpkg = await generateSbom(`oci-dir:${dir}:ruby`, { catalogers: [dpkgCataloger, gemCataloger], cache: false });
}, 120_000);

afterAll(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

const get = (r: GenerateSbomResult, id: string): Package => {
  const p = r.document.packages.find((x) => x.id === id);
  if (p === undefined) throw new Error(`no package ${id}`);
  return p;
};

describe('ruby image', () => {
  test('every specification the final filesystem holds, and no other', () => {
    expect(gemsOnly.warnings).toEqual([]);
    const got = gemsOnly.document.packages.map((p) => `${p.name}@${p.version}`).sort();
    expect(got).toEqual(expectedFinal);
    expect(got).toContain('test-unit@3.5.7');
    expect(got).not.toContain('test-unit@3.5.3'); // whited out by layer 3
    expect(gemsOnly.stats.packages).toEqual({ gem: expectedFinal.length });
  });

  test('layer provenance and locations', () => {
    const [l1, l2] = diffIds;
    const webrick = get(gemsOnly, 'gem:webrick@1.8.1');
    expect([webrick.introducedBy, webrick.lastChangedBy]).toEqual([l2, l2]);
    expect(webrick.locations).toEqual([
      { path: '/usr/local/bundle/specifications/webrick-1.8.1.gemspec', layerDiffId: l2 },
    ]);
    // Debian's webrick specification lists no `s.files`, so no files are claimed for it.
    expect(webrick.files).toBeUndefined();
    const rake = get(gemsOnly, 'gem:rake@13.0.6');
    expect([rake.introducedBy, rake.lastChangedBy]).toEqual([l1, l1]);
    expect(rake.locations.map((l) => l.path).sort()).toEqual([
      '/usr/lib/ruby/gems/3.1.0/specifications/rake-13.0.6.gemspec',
      `/${INTEGRATION}/specifications/rake-13.0.6.gemspec`,
    ]);
    expect(get(gemsOnly, 'gem:test-unit@3.5.7').dependsOn).toEqual(['gem:power_assert@2.0.3']);
  });

  test('with dpkg: gems whose specification a deb owns are attributed to it; the gem-installed one stays', () => {
    const gems = withDpkg.document.packages.filter((p) => p.type === 'gem').map((p) => p.id);
    expect(gems).toEqual(['gem:webrick@1.8.1']);
    expect(withDpkg.attributed).toContain(
      `gem rake@13.0.6 is part of deb:libruby3.1@${debVersion.libruby}:amd64, deb:rake@${debVersion.rake}:all`,
    );
    expect(withDpkg.attributed.filter((a) => a.startsWith('gem ')).length).toBe(expectedFinal.length - 1);
  });
});
