/**
 * The gemspec reader and the cataloger on hand-written specifications in the forms RubyGems writes
 * (3.1's if/else dependency block, 3.5's flat one, `s.license =`, escapes) and a few broken ones.
 */
import { describe, expect, test } from 'vitest';
import type { CatalogFile } from '../../../src/catalog/cataloger.ts';
import { gemCataloger, gemLicense } from '../../../src/catalog/ruby/cataloger.ts';
import { parseGemspec, parseValue } from '../../../src/catalog/ruby/gemspec.ts';
import { compareGemVersions, satisfies } from '../../../src/catalog/ruby/version.ts';
import type { Digest } from '../../../src/oci/digest.ts';

const LAYER = `sha256:${'ab'.repeat(32)}` as Digest;
const file = (path: string, text: string): CatalogFile => ({
  path,
  bytes: new TextEncoder().encode(text),
  layerDiffId: LAYER,
});

function spec(name: string, version: string, body = ''): string {
  return `# -*- encoding: utf-8 -*-
# stub: ${name} ${version} ruby lib

Gem::Specification.new do |s|
  s.name = "${name}".freeze
  s.version = "${version}"
${body}
end
`;
}

// Newer RubyGems: no respond_to? guards, requirement strings frozen too.
const FLAT = spec(
  'nokogiri',
  '1.16.0',
  `  s.licenses = ["MIT".freeze]
  s.specification_version = 4

  s.add_runtime_dependency(%q<racc>.freeze, ["~> 1.4".freeze])
  s.add_dependency(%q<mini_portile2>.freeze, ["~> 2.8.2".freeze])
  s.add_development_dependency(%q<rake>.freeze, [">= 0".freeze])`,
);

describe('parseGemspec', () => {
  test('the RubyGems 3.1 if/else block: the else branch (which repeats development deps) is skipped', () => {
    const r = parseGemspec(
      spec(
        'test-unit',
        '3.5.3',
        `  if s.respond_to? :add_runtime_dependency then
    s.add_runtime_dependency(%q<power_assert>.freeze, [">= 0"])
    s.add_development_dependency(%q<rake>.freeze, [">= 0"])
  else
    s.add_dependency(%q<power_assert>.freeze, [">= 0"])
    s.add_dependency(%q<rake>.freeze, [">= 0"])
  end`,
      ),
      '/x.gemspec',
    );
    expect(r.warnings).toEqual([]);
    expect(r.spec!.runtimeDependencies).toEqual([{ name: 'power_assert', requirements: ['>= 0'] }]);
    expect(r.spec!.developmentDependencies).toEqual([{ name: 'rake', requirements: ['>= 0'] }]);
  });

  test('the flat 3.5 form: add_dependency is runtime, development stays out', () => {
    const s = parseGemspec(FLAT, '/x.gemspec').spec!;
    expect(s.runtimeDependencies).toEqual([
      { name: 'racc', requirements: ['~> 1.4'] },
      { name: 'mini_portile2', requirements: ['~> 2.8.2'] },
    ]);
    expect(s.developmentDependencies.map((d) => d.name)).toEqual(['rake']);
  });

  test('license forms: licenses = [...], license = "…", single quotes, nil', () => {
    const lic = (body: string) => parseGemspec(spec('g', '1.0', body), '/g.gemspec').spec!.licenses;
    expect(lic('  s.licenses = ["Ruby".freeze, "BSD-2-Clause".freeze]')).toEqual(['Ruby', 'BSD-2-Clause']);
    expect(lic('  s.license = "Apache-2.0".freeze')).toEqual(['Apache-2.0']);
    expect(lic("  s.licenses    = ['MIT']")).toEqual(['MIT']);
    expect(lic('  s.licenses = "MIT"')).toEqual(['MIT']);
    expect(lic('  s.licenses = nil')).toEqual([]);
    expect(lic('')).toEqual([]);
  });

  test('String#inspect escapes and %q literals', () => {
    expect(parseValue('["Andr\\u00E9 Arko".freeze, "a\\"b\\\\c\\#{x}".freeze]')).toEqual(['André Arko', 'a"b\\c#{x}']);
    expect(parseValue('"caf\\xC3\\xA9"')).toEqual('café');
    expect(parseValue('"\\u{1F600} x"')).toEqual('\u{1F600} x');
    expect(parseValue('%q<racc>.freeze')).toBe('racc');
    // Computed values are not literals.
    expect(parseValue('Foo::VERSION')).toBeUndefined();
    expect(parseValue('"#{name}-x"')).toBeUndefined();
    expect(parseValue('"unterminated')).toBeUndefined();
  });

  test('authors, homepage, metadata guard and summary', () => {
    const s = parseGemspec(
      spec(
        'rake',
        '13.0.6',
        `  s.metadata = { "a" => "b" } if s.respond_to? :metadata=
  s.authors = ["Hiroshi SHIBATA".freeze, "Eric Hodel".freeze]
  s.homepage = "https://github.com/ruby/rake".freeze
  s.summary = "Rake is a Make-like program".freeze`,
      ),
      '/r.gemspec',
    ).spec!;
    expect(s.authors).toEqual(['Hiroshi SHIBATA', 'Eric Hodel']);
    expect(s.homepage).toBe('https://github.com/ruby/rake');
    expect(s.summary).toBe('Rake is a Make-like program');
  });

  test('platform: a string, a Gem::Platform object, or none for pure-Ruby gems', () => {
    const plat = (line: string) => parseGemspec(spec('nokogiri', '1.16.0', line), '/n.gemspec').spec!.platform;
    expect(plat('  s.platform = "x86_64-linux".freeze')).toBe('x86_64-linux');
    expect(plat('  s.platform = Gem::Platform.new(["x86_64", "linux", nil])')).toBe('x86_64-linux');
    expect(plat('  s.platform = "ruby".freeze')).toBeUndefined();
    expect(plat('')).toBeUndefined();
  });

  test('broken specifications: a warning naming the file, no spec', () => {
    expect(parseGemspec('{"name": "x"}', '/a/specifications/x-1.gemspec')).toEqual({
      warnings: ['/a/specifications/x-1.gemspec: no "Gem::Specification.new do |s|" block; not a gem specification'],
    });
    const noVersion = parseGemspec(spec('x', 'VERSION').replace('"VERSION"', 'X::VERSION'), '/b.gemspec');
    expect(noVersion.spec).toBeUndefined();
    expect(noVersion.warnings[0]).toMatch(/^\/b\.gemspec: no valid literal version for gem x/);
    const badName = parseGemspec(spec('bad name', '1.0'), '/c.gemspec');
    expect(badName.spec).toBeUndefined();
    expect(badName.warnings[0]).toMatch(/^\/c\.gemspec: no literal gem name/);
  });
});

describe('gem versions', () => {
  test('ordering follows Gem::Version: numbers above letters, trailing zeros ignored', () => {
    const sorted = ['1.10', '1.2', '1.2.0.rc1', '1.2.0', '2.0.a', '1.9.9'].sort(compareGemVersions);
    expect(sorted).toEqual(['1.2.0.rc1', '1.2', '1.2.0', '1.9.9', '1.10', '2.0.a']);
    expect(compareGemVersions('1.0', '1.0.0')).toBe(0);
  });

  test('requirements, ~> included', () => {
    expect(satisfies('1.7.0', '~> 1.4')).toBe(true);
    expect(satisfies('2.0.0', '~> 1.4')).toBe(false);
    expect(satisfies('2.0.a', '~> 1.4')).toBe(false);
    expect(satisfies('2.8.9', '~> 2.8.2')).toBe(true);
    expect(satisfies('2.9.0', '~> 2.8.2')).toBe(false);
    expect(satisfies('2.8.1', '~> 2.8.2')).toBe(false);
    expect(satisfies('0.3.1', '>= 0.3.0')).toBe(true);
    expect(satisfies('1.0', '1.0.0')).toBe(true);
    expect(satisfies('1.0', '!= 1.0')).toBe(false);
    expect(satisfies('1.0', '< 1.0')).toBe(false);
  });
});

describe('gemCataloger', () => {
  const home = '/usr/local/bundle/specifications';
  const files = [
    file(`${home}/nokogiri-1.16.0.gemspec`, FLAT),
    file(`${home}/racc-1.4.16.gemspec`, spec('racc', '1.4.16', '  s.license = "Ruby"')),
    file(`${home}/racc-1.7.3.gemspec`, spec('racc', '1.7.3', '  s.licenses = ["Ruby".freeze, "BSD-2-Clause".freeze]')),
    file(`${home}/racc-2.0.0.gemspec`, spec('racc', '2.0.0')),
    file(`${home}/rake-13.1.0.gemspec`, spec('rake', '13.1.0', '  s.authors = ["Hiroshi SHIBATA".freeze]')),
    file(`${home}/broken-1.0.gemspec`, 'Gem::Specification.new do |s|\n  s.name = "broken"\n'),
    file(`${home}/notes.txt`, 'not wanted'),
  ];
  const run = () =>
    gemCataloger.catalog({ files: files.filter((f) => gemCataloger.wants(f.path)), allPaths: new Set() });

  test('several versions are several packages; a broken file is a warning and the rest still report', async () => {
    const r = await run();
    expect(r.packages.map((p) => p.id)).toEqual([
      'gem:nokogiri@1.16.0',
      'gem:racc@1.4.16',
      'gem:racc@1.7.3',
      'gem:racc@2.0.0',
      'gem:rake@13.1.0',
    ]);
    expect(r.warnings).toEqual([
      `${home}/broken-1.0.gemspec: no valid literal version for gem broken (s.version = "…"); specification skipped`,
    ]);
  });

  test('runtime dependencies go to the highest installed version that meets the requirement; dev ones not at all', async () => {
    const r = await run();
    const noko = r.packages.find((p) => p.name === 'nokogiri')!;
    // racc ~> 1.4: 2.0.0 is installed but out of range, 1.7.3 beats 1.4.16; mini_portile2 is absent; rake is development.
    expect(noko.dependsOn).toEqual(['gem:racc@1.7.3']);
    expect(noko.metadata?.dependencies).toBe('racc (~> 1.4), mini_portile2 (~> 2.8.2)');
  });

  test('purl, license, supplier, locations', async () => {
    const r = await run();
    const racc = r.packages.find((p) => p.id === 'gem:racc@1.7.3')!;
    expect(racc.purl).toBe('pkg:gem/racc@1.7.3');
    expect(racc.license).toBe('Ruby OR BSD-2-Clause');
    expect(racc.locations).toEqual([{ path: `${home}/racc-1.7.3.gemspec`, layerDiffId: LAYER }]);
    expect(r.packages.find((p) => p.id === 'gem:racc@1.4.16')!.license).toBe('Ruby');
    expect(r.packages.find((p) => p.id === 'gem:racc@2.0.0')!.license).toBeUndefined();
    expect(r.packages.find((p) => p.name === 'rake')!.supplier).toBe('Hiroshi SHIBATA');
  });

  test('wants installed specifications only', () => {
    expect(gemCataloger.wants('/usr/lib/ruby/gems/3.1.0/specifications/rake-13.0.6.gemspec')).toBe(true);
    expect(gemCataloger.wants('/usr/lib/ruby/gems/3.1.0/specifications/default/irb-1.4.1.gemspec')).toBe(true);
    expect(gemCataloger.wants('/var/lib/gems/3.1.0/specifications/rails-7.1.0.gemspec')).toBe(true);
    expect(gemCataloger.wants('/usr/share/rubygems-integration/all/specifications/rake-13.0.6.gemspec')).toBe(true);
    expect(gemCataloger.wants('/app/rails.gemspec')).toBe(false);
    expect(gemCataloger.wants('/usr/lib/ruby/gems/3.1.0/gems/rake-13.0.6/rake.gemspec')).toBe(false);
  });

  test('platform gems: arch, purl qualifier, id, and files under gems/<name>-<version>-<platform>/', async () => {
    const base = '/usr/local/bundle';
    const text = spec(
      'nokogiri',
      '1.16.0',
      '  s.platform = "x86_64-linux".freeze\n  s.files = ["lib/nokogiri.rb".freeze, "../../etc/passwd".freeze]',
    );
    const r = await gemCataloger.catalog({
      files: [
        file(`${base}/specifications/nokogiri-1.16.0-x86_64-linux.gemspec`, text),
        file(`${base}/specifications/nokogiri-1.16.0.gemspec`, spec('nokogiri', '1.16.0')),
      ],
      allPaths: new Set([`${base}/gems/nokogiri-1.16.0-x86_64-linux/lib/nokogiri.rb`, '/etc/passwd']),
    });
    expect(r.packages.map((p) => [p.id, p.purl, p.arch])).toEqual([
      ['gem:nokogiri@1.16.0', 'pkg:gem/nokogiri@1.16.0', undefined],
      ['gem:nokogiri@1.16.0:x86_64-linux', 'pkg:gem/nokogiri@1.16.0?platform=x86_64-linux', 'x86_64-linux'],
    ]);
    // A listed path that climbs out of the gem directory is not the gem's file.
    expect(r.packages[1]!.files).toEqual([`${base}/gems/nokogiri-1.16.0-x86_64-linux/lib/nokogiri.rb`]);
  });

  test('license names: BSDL and PSFL, unknown names as LicenseRef, duplicates once', () => {
    expect(gemLicense(['Ruby', 'BSDL', 'PSFL'])).toBe('Ruby OR BSD-2-Clause OR PSF-2.0');
    expect(gemLicense(['ruby'])).toBe('Ruby');
    expect(gemLicense(['MIT', 'mit'])).toBe('MIT');
    expect(gemLicense(['Nonstandard'])).toBe('LicenseRef-Nonstandard');
    expect(gemLicense([])).toBeUndefined();
  });
});
