/**
 * The gem cataloger on real installed specifications from Debian 12: Ruby 3.1's own gem home
 * (libruby3.1: bundled and default gems) and Debian's rubygems-integration directory (rake,
 * ruby-minitest, …), laid out as the .debs install them. The truth is read independently: each
 * file's `# stub:` header and `s.version` line with a plain regex, the file name, and for the
 * Debian-packaged gems the .deb's own version.
 */
import { beforeAll, describe, expect, test } from 'vitest';
import type { CatalogFile, CatalogResult } from '../../../src/catalog/cataloger.ts';
import { gemCataloger } from '../../../src/catalog/ruby/cataloger.ts';
import type { Digest } from '../../../src/oci/digest.ts';
import { type DebPackage, debToLayerEntries, fetchDebs } from '../../../testdata/debs.ts';

const DEBS = [
  'libruby3.1',
  'rake',
  'ruby-minitest',
  'ruby-power-assert',
  'ruby-test-unit',
  'ruby-webrick',
  'ruby-xmlrpc',
  'ruby-net-telnet',
];
const LAYER = `sha256:${'9e'.repeat(32)}` as Digest;

let debs: DebPackage[];
let specs: CatalogFile[];
let allPaths: Set<string>;
let result: CatalogResult;

beforeAll(async () => {
  debs = await Promise.all((await fetchDebs(DEBS)).map((p) => debToLayerEntries(p)));
  specs = [];
  allPaths = new Set();
  for (const deb of debs) {
    for (const e of deb.entries) {
      if (e.type !== 'file') continue;
      allPaths.add(`/${e.path}`);
      if (e.path.endsWith('.gemspec')) specs.push({ path: `/${e.path}`, bytes: e.data!, layerDiffId: LAYER });
    }
  }
  result = await gemCataloger.catalog({ files: specs.filter((f) => gemCataloger.wants(f.path)), allPaths });
}, 60_000);

/** name and version by a different route than the parser: the `# stub:` header line and `s.version`. */
function truth(f: CatalogFile): { name: string; version: string } {
  const text = Buffer.from(f.bytes).toString('latin1');
  const stub = /^# stub: (\S+) (\S+)/m.exec(text)!;
  const version = /^\s*s\.version = "([^"]+)"/m.exec(text)![1]!;
  expect(stub[2]).toBe(version);
  expect(f.path.endsWith(`/${stub[1]}-${version}.gemspec`)).toBe(true);
  return { name: stub[1]!, version };
}

describe('Debian 12 ruby gems', () => {
  test('wants every installed specification, default gems included, and nothing else', () => {
    const wanted = [...allPaths].filter((p) => gemCataloger.wants(p)).sort();
    expect(wanted).toEqual(specs.map((f) => f.path).sort());
    expect(wanted.length).toBeGreaterThan(80);
    expect(wanted.filter((p) => p.includes('/specifications/default/')).length).toBeGreaterThan(50);
    // bundler's template and gem sources are Ruby too, but not installed specifications.
    expect(gemCataloger.wants('/usr/lib/ruby/3.1.0/bundler/templates/newgem/newgem.gemspec.tt')).toBe(false);
    expect(gemCataloger.wants('/src/app/myapp.gemspec')).toBe(false);
  });

  test('one package per distinct name@version, equal to the headers and file names', () => {
    expect(result.warnings).toEqual([]);
    const expected = new Set(specs.map(truth).map((t) => `${t.name}@${t.version}`));
    expect(result.packages.map((p) => `${p.name}@${p.version}`).sort()).toEqual([...expected].sort());
    for (const p of result.packages) {
      expect(p.type).toBe('gem');
      expect(p.purl).toBe(`pkg:gem/${p.name}@${p.version}`);
      expect(p.id).toBe(`gem:${p.name}@${p.version}`);
      expect([p.introducedBy, p.lastChangedBy]).toEqual([LAYER, LAYER]);
    }
  });

  test('Debian-packaged gems carry the .deb upstream version', () => {
    const integration = result.packages.filter((p) =>
      p.locations.some((l) => l.path.startsWith('/usr/share/rubygems-integration/all/specifications/')),
    );
    expect(integration.map((p) => p.name).sort()).toEqual(
      ['minitest', 'net-telnet', 'power_assert', 'rake', 'test-unit', 'webrick', 'xmlrpc'].sort(),
    );
    for (const p of integration) {
      const deb = debs.find((d) => d.entries.some((e) => `/${e.path}` === p.locations.at(-1)!.path))!;
      // 13.0.6-3 -> 13.0.6; 1.0.0-5+b1 -> 1.0.0
      expect(deb.version.replace(/^\d+:/, '').replace(/-[^-]+$/, '')).toBe(p.version);
    }
  });

  test('several versions are several packages; one version in two gem homes is one package', () => {
    const testUnit = result.packages.filter((p) => p.name === 'test-unit').map((p) => p.version);
    expect(testUnit.sort()).toEqual(['3.5.3', '3.5.7']);
    const rake = result.packages.filter((p) => p.name === 'rake');
    expect(rake).toHaveLength(1);
    expect(rake[0]!.locations.map((l) => l.path).sort()).toEqual([
      '/usr/lib/ruby/gems/3.1.0/specifications/rake-13.0.6.gemspec',
      '/usr/share/rubygems-integration/all/specifications/rake-13.0.6.gemspec',
    ]);
    // Both specifications list only exe/rake, and both gem homes hold it.
    expect(rake[0]!.files).toEqual([
      '/usr/lib/ruby/gems/3.1.0/gems/rake-13.0.6/exe/rake',
      '/usr/share/rubygems-integration/all/gems/rake-13.0.6/exe/rake',
    ]);
    // Which rexml libruby3.1 bundles follows Debian's security updates (3.3.9 in 3.1.2-8.x,
    // 3.2.5 again in 3.1.7+really3.1.2): the version is read from the file name.
    const spec = specs.find((f) => /\/3\.1\.0\/specifications\/rexml-[^/]+\.gemspec$/.test(f.path))!;
    const rexmlVersion = /rexml-([^/]+)\.gemspec$/.exec(spec.path)![1]!;
    const rexml = result.packages.find((p) => p.id === `gem:rexml@${rexmlVersion}`)!;
    // The truth: every quoted string on the `s.files` line, joined to the gem directory.
    const line = /^\s*s\.files = (.*)$/m.exec(Buffer.from(spec.bytes).toString('utf8'))![1]!;
    const listed = [...line.matchAll(/"([^"]*)"/g)].map(
      (m) => `/usr/lib/ruby/gems/3.1.0/gems/rexml-${rexmlVersion}/${m[1]!}`,
    );
    expect(listed.length).toBeGreaterThan(10);
    expect(listed.every((f) => allPaths.has(f))).toBe(true);
    expect(rexml.files).toEqual(listed.sort());
    // Default gems keep their code in rubylibdir, not gems/: of irb's 47 listed files only the
    // executable is under gems/irb-1.4.1, and only that one is claimed.
    expect(result.packages.find((p) => p.id === 'gem:irb@1.4.1')!.files).toEqual([
      '/usr/lib/ruby/gems/3.1.0/gems/irb-1.4.1/exe/irb',
    ]);
  });

  test('licenses, authors and runtime dependencies as the specifications say', () => {
    const byKey = new Map(result.packages.map((p) => [`${p.name}@${p.version}`, p]));
    expect(byKey.get('rake@13.0.6')!.license).toBe('MIT');
    expect(byKey.get('rake@13.0.6')!.supplier).toBe('Hiroshi SHIBATA, Eric Hodel, Jim Weirich');
    expect(byKey.get('irb@1.4.1')!.license).toBe('Ruby OR BSD-2-Clause');
    // BSDL is Ruby's 2-clause BSD file, PSFL the Python licence.
    expect(byKey.get('test-unit@3.5.7')!.license).toBe('Ruby OR BSD-2-Clause OR PSF-2.0');
    // bundler's authors are written with \u escapes.
    const bundler = result.packages.filter((p) => p.name === 'bundler');
    expect(bundler).toHaveLength(1);
    expect(bundler[0]!.supplier).toContain('André Arko');
    // irb needs reline (a default gem); test-unit needs power_assert (>= 0: the newest installed),
    // and its development dependencies (rake, bundler) are not runtime edges.
    const reline = result.packages.filter((p) => p.name === 'reline');
    expect(reline).toHaveLength(1);
    expect(byKey.get('irb@1.4.1')!.dependsOn).toEqual([reline[0]!.id]);
    expect(byKey.get('test-unit@3.5.7')!.dependsOn).toEqual(['gem:power_assert@2.0.3']);
    expect(byKey.get('test-unit@3.5.3')!.dependsOn).toEqual(['gem:power_assert@2.0.3']);
    // Every edge points at a package that exists.
    const ids = new Set(result.packages.map((p) => p.id));
    for (const p of result.packages) for (const d of p.dependsOn ?? []) expect(ids.has(d)).toBe(true);
  });
});
