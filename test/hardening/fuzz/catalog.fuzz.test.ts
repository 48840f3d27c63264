/**
 * Hostile package databases through each cataloger's public `catalog`: the real databases of
 * shared/vectors/sbom (dpkg status.d, apk installed, rpm BDB/NDB/sqlite, python METADATA/RECORD,
 * Java archives) and small hand-written ones (npm, composer, gemspec, Go build info, cargo-auditable
 * data), mutated. A cataloger must never throw: a bad record is a warning and the SBOM run goes
 * on (generate.ts lets a throw end the whole run). Its result must also stay encodable (no cycles,
 * no BigInt, strings where the model says strings).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, describe, expect, test } from 'vitest';
import { apkCataloger } from '../../../src/catalog/apk/cataloger.ts';
import type { CatalogFile, Cataloger } from '../../../src/catalog/cataloger.ts';
import { composerCataloger } from '../../../src/catalog/composer/cataloger.ts';
import { dpkgCataloger } from '../../../src/catalog/dpkg/cataloger.ts';
import { goBuildInfoBlob } from '../../catalog/go/build-info-blob.ts';
import { goBinaryCataloger } from '../../../src/catalog/go/cataloger.ts';
import { javaCataloger } from '../../../src/catalog/java/cataloger.ts';
import { npmCataloger } from '../../../src/catalog/npm/cataloger.ts';
import { parseOsRelease } from '../../../src/catalog/os-release.ts';
import { pythonCataloger } from '../../../src/catalog/python/cataloger.ts';
import { rpmCataloger } from '../../../src/catalog/rpm/cataloger.ts';
import { gemCataloger } from '../../../src/catalog/ruby/cataloger.ts';
import { rustAuditCataloger } from '../../../src/catalog/rust/cataloger.ts';
import type { Digest } from '../../../src/oci/digest.ts';
import { auditJson, minimalElf, RIPGREP_CRATES } from '../../../testdata/rust-binaries.ts';
import { SBOM_VECTORS } from '../../helpers/vectors.ts';
import { FuzzFigures, fuzz, mutatedBytes, mutatedJson, mutatedText } from './fuzz-kit.ts';

const figures = new FuzzFigures('catalogers');
afterAll(() => figures.write());

const LAYER = `sha256:${'fa'.repeat(32)}` as Digest;
const vector = (p: string) => readFileSync(join(SBOM_VECTORS, p));
const utf8 = (s: string) => Buffer.from(s, 'utf8');
/** Catalogers never throw: nothing counts as a clean refusal. */
const never = () => false;

function checkResult(r: { packages: unknown[]; warnings: string[] }): void {
  JSON.stringify(r);
  for (const w of r.warnings) expect(typeof w).toBe('string');
  for (const p of r.packages as { name: unknown; version: unknown; purl?: unknown }[]) {
    expect(typeof p.name).toBe('string');
    expect(typeof p.version).toBe('string');
    if (p.purl !== undefined) expect(typeof p.purl).toBe('string');
  }
}

async function runCataloger(c: Cataloger, files: CatalogFile[], extracts: CatalogFile[] = []): Promise<void> {
  const r = await c.catalog({
    files,
    extracts,
    allPaths: new Set(files.map((f) => f.path)),
    resolvePath: (p) => p,
    distro: { id: 'debian', versionId: '12' },
  });
  checkResult(r);
}

/** Mutate one file of a set (the others stay valid: the cataloger must keep reading them). */
function oneMutated(
  files: { path: string; bytes: Uint8Array }[],
  mutate: (f: { path: string; bytes: Uint8Array }) => fc.Arbitrary<Uint8Array>,
): fc.Arbitrary<CatalogFile[]> {
  return fc
    .nat({ max: files.length - 1 })
    .chain((i) =>
      mutate(files[i]!).map((bytes) =>
        files.map((f, j) => ({ path: f.path, bytes: j === i ? bytes : f.bytes, layerDiffId: LAYER })),
      ),
    );
}

const asText = (f: { bytes: Uint8Array }) => mutatedText(Buffer.from(f.bytes).toString('utf8')).map(utf8);
const asJson = (f: { bytes: Uint8Array }) => mutatedJson(JSON.parse(Buffer.from(f.bytes).toString('utf8')));
const textOrBytes = (f: { bytes: Uint8Array }) => fc.oneof({ weight: 3, arbitrary: asText(f) }, mutatedBytes(f.bytes));
const jsonOrBytes = (f: { bytes: Uint8Array }) => fc.oneof({ weight: 3, arbitrary: asJson(f) }, mutatedBytes(f.bytes));

describe('OS package databases', () => {
  test('dpkg: status.d stanzas, md5sums, a status file and copyright', async () => {
    const d = 'dpkg-distroless-layout-derived-bookworm/var/lib/dpkg/status.d';
    const status = ['base', 'netbase', 'tzdata']
      .map((n) => vector(`dpkg-distroless-static-debian11/var/lib/dpkg/status.d/${n}`).toString())
      .join('\n');
    const files = [
      { path: '/var/lib/dpkg/status', bytes: utf8(status) },
      ...[
        'base-files',
        'base-files.md5sums',
        'netbase',
        'netbase.md5sums',
        'libslf4j-java',
        'libslf4j-java.md5sums',
      ].map((n) => ({ path: `/var/lib/dpkg/status.d/${n}`, bytes: vector(`${d}/${n}`) })),
      {
        path: '/usr/share/doc/netbase/copyright',
        bytes: utf8(
          'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\nFiles: *\nCopyright: x\nLicense: GPL-2\n\nFiles: a/*\nLicense: MIT or Apache-2.0\n',
        ),
      },
      { path: '/var/lib/dpkg/info/netbase.list', bytes: utf8('/.\n/etc\n/etc/protocols\n/etc/services\n') },
    ];
    await fuzz(figures, 'dpkg', oneMutated(files, textOrBytes), (fs) => runCataloger(dpkgCataloger, fs), {
      numRuns: 210,
      typed: never,
    });
  });

  test('apk: lib/apk/db/installed', async () => {
    const files = [{ path: '/lib/apk/db/installed', bytes: vector('apk-alpine-3.16-python/lib/apk/db/installed') }];
    await fuzz(figures, 'apk', oneMutated(files, textOrBytes), (fs) => runCataloger(apkCataloger, fs), {
      numRuns: 100,
      typed: never,
    });
  });

  test('rpm: Berkeley DB and NDB Packages', async () => {
    const input = fc.oneof(
      oneMutated([{ path: '/var/lib/rpm/Packages', bytes: vector('rpm-bdb-ubi8-libuuid/Packages') }], (f) =>
        mutatedBytes(f.bytes, 8),
      ),
      oneMutated([{ path: '/usr/lib/sysimage/rpm/Packages.db', bytes: vector('rpm-ndb-sle15-bci/Packages.db') }], (f) =>
        mutatedBytes(f.bytes, 8),
      ),
    );
    await fuzz(figures, 'rpm (bdb, ndb)', input, (fs) => runCataloger(rpmCataloger, fs), {
      numRuns: 100,
      typed: never,
    });
  });

  test('rpm: sqlite (each input is a temp copy opened by node:sqlite, so fewer)', async () => {
    const files = [{ path: '/var/lib/rpm/rpmdb.sqlite', bytes: vector('rpm-sqlite-amazonlinux2023/rpmdb.sqlite') }];
    await fuzz(
      figures,
      'rpm (sqlite)',
      oneMutated(files, (f) => mutatedBytes(f.bytes, 6)),
      (fs) => runCataloger(rpmCataloger, fs),
      { numRuns: 25, typed: never, perInputMs: 5000 },
    );
  });

  test('os-release', async () => {
    const sample = vector('dpkg-distroless-static-debian11/os-release.txt').toString();
    await fuzz(figures, 'os-release', mutatedText(sample), (t) => parseOsRelease(t), { numRuns: 210, typed: never });
  });
});

describe('language ecosystems', () => {
  test('python: METADATA, RECORD, PKG-INFO', async () => {
    const site = 'python-site-packages/site-packages';
    const files = [
      'chardet-5.1.0.dist-info/METADATA',
      'chardet-5.1.0.dist-info/RECORD',
      'attrs-22.2.0.dist-info/METADATA',
      'attrs-22.2.0.dist-info/RECORD',
      'six-1.16.0.egg-info/PKG-INFO',
    ].map((p) => ({ path: `/usr/lib/python3/dist-packages/${p}`, bytes: vector(`${site}/${p}`) }));
    await fuzz(figures, 'python', oneMutated(files, textOrBytes), (fs) => runCataloger(pythonCataloger, fs), {
      numRuns: 210,
      typed: never,
    });
  });

  test('npm: package.json and package-lock.json', async () => {
    const files = [
      {
        path: '/app/node_modules/left-pad/package.json',
        bytes: utf8(
          JSON.stringify({
            name: 'left-pad',
            version: '1.3.0',
            license: 'WTFPL',
            author: { name: 'azer', email: 'a@b.c' },
            dependencies: { 'is-number': '^7.0.0' },
          }),
        ),
      },
      {
        path: '/app/node_modules/@scope/is-number/package.json',
        bytes: utf8(JSON.stringify({ name: '@scope/is-number', version: '7.0.0', licenses: [{ type: 'MIT' }] })),
      },
      {
        path: '/app/package-lock.json',
        bytes: utf8(
          JSON.stringify({
            name: 'app',
            version: '1.0.0',
            lockfileVersion: 3,
            packages: {
              '': { name: 'app', version: '1.0.0', dependencies: { 'left-pad': '^1.3.0' } },
              'node_modules/left-pad': { version: '1.3.0', license: 'WTFPL', dependencies: { 'is-number': '^7' } },
              'node_modules/is-number': { version: '7.0.0', dev: true },
              'node_modules/linked': { link: true, resolved: '../../../../etc' },
            },
            dependencies: { 'left-pad': { version: '1.3.0', requires: { 'is-number': '^7' } } },
          }),
        ),
      },
    ];
    await fuzz(figures, 'npm', oneMutated(files, jsonOrBytes), (fs) => runCataloger(npmCataloger, fs), {
      numRuns: 180,
      typed: never,
    });
  });

  test('composer: installed.json and composer.lock', async () => {
    const pkg = (name: string, version: string) => ({
      name,
      version,
      version_normalized: `${version}.0`,
      type: 'library',
      license: ['MIT'],
      authors: [{ name: 'A', email: 'a@example.com' }],
      require: { php: '>=8.0', 'ext-json': '*', 'psr/log': '^3' },
      dist: { type: 'zip', url: 'https://example.com/x.zip', reference: 'abc' },
    });
    const files = [
      {
        path: '/app/vendor/composer/installed.json',
        bytes: utf8(JSON.stringify({ packages: [pkg('acme/a', '1.0.0'), pkg('psr/log', '3.0.0')], dev: true })),
      },
      {
        path: '/app/composer.lock',
        bytes: utf8(
          JSON.stringify({ packages: [pkg('acme/a', '1.0.0')], 'packages-dev': [pkg('phpunit/phpunit', '10.0.0')] }),
        ),
      },
    ];
    await fuzz(figures, 'composer', oneMutated(files, jsonOrBytes), (fs) => runCataloger(composerCataloger, fs), {
      numRuns: 210,
      typed: never,
    });
  });

  test('ruby: gemspec', async () => {
    const spec = `# -*- encoding: utf-8 -*-
# stub: nokogiri 1.16.0 x86_64-linux ruby lib

Gem::Specification.new do |s|
  s.name = "nokogiri".freeze
  s.version = "1.16.0"
  s.platform = "x86_64-linux".freeze
  s.authors = ["Mike Dalessio".freeze, "Aaron Patterson".freeze]
  s.licenses = ["MIT".freeze]
  s.homepage = "https://nokogiri.org"
  s.specification_version = 4

  if s.respond_to? :add_runtime_dependency then
    s.add_runtime_dependency(%q<racc>.freeze, ["~> 1.4".freeze])
  else
    s.add_dependency(%q<racc>.freeze, ["~> 1.4".freeze])
  end
  s.add_dependency(%q<mini_portile2>.freeze, ["~> 2.8.2".freeze, ">= 2.8".freeze])
  s.add_development_dependency(%q<rake>.freeze, [">= 0".freeze])
end
`;
    const files = [
      { path: '/usr/local/bundle/specifications/nokogiri-1.16.0-x86_64-linux.gemspec', bytes: utf8(spec) },
      {
        path: '/usr/local/lib/ruby/gems/3.3.0/specifications/default/racc-1.7.3.gemspec',
        bytes: utf8(spec.replaceAll('nokogiri', 'racc').replaceAll('1.16.0', '1.7.3')),
      },
    ];
    await fuzz(figures, 'ruby gemspec', oneMutated(files, textOrBytes), (fs) => runCataloger(gemCataloger, fs), {
      numRuns: 210,
      typed: never,
    });
  });

  test('java: jar and war archives (zip structure, MANIFEST.MF, pom.properties, nested jars)', async () => {
    const files = ['slf4j-api.jar', 'hamcrest-2.2.jar', 'sample-webapp-1.0.0.war'].map((n) => ({
      path: `/opt/app/lib/${n}`,
      bytes: vector(`java-archives/${n}`),
    }));
    await fuzz(
      figures,
      'java archives',
      oneMutated(files, (f) => mutatedBytes(f.bytes, 6)),
      (fs) => runCataloger(javaCataloger, fs),
      { numRuns: 80, typed: never },
    );
  });

  test('go: build info blobs', async () => {
    const modinfo = [
      'path\texample.com/cmd/x',
      'mod\texample.com/x\t(devel)\t',
      'dep\tgolang.org/x/text\tv0.14.0\th1:ScX5w1eTa3QqT8oi6+ziP7dTV1S2+ALU0bI+0zXKWiQ=',
      'dep\tgithub.com/a/b\tv1.0.0',
      '=>\t../local\t',
      'build\t-ldflags="-X main.version=1.2.3"',
      'build\tvcs.revision=0123456789abcdef0123',
      'build\tvcs.time=2024-03-05T06:07:08Z',
      '',
    ].join('\n');
    const input = fc.oneof(
      mutatedText(modinfo).map((m) => goBuildInfoBlob('go1.22.1', m)),
      mutatedBytes(goBuildInfoBlob('go1.22.1 X:boringcrypto', modinfo)),
    );
    await fuzz(
      figures,
      'go build info',
      input,
      (bytes) => runCataloger(goBinaryCataloger, [], [{ path: '/usr/bin/x', bytes, layerDiffId: LAYER }]),
      { numRuns: 280, typed: never },
    );
  });

  test('rust: cargo-auditable .dep-v0 in an ELF, through the extractor', async () => {
    const json = JSON.parse(auditJson(RIPGREP_CRATES)) as unknown;
    const elf = (data: Uint8Array) =>
      minimalElf({ is64: true, littleEndian: true, sections: [{ name: '.dep-v0', data: deflateSync(data) }] });
    const input = fc.oneof(
      mutatedJson(json).map((j) => elf(j)),
      mutatedBytes(elf(Buffer.from(JSON.stringify(json)))),
    );
    await fuzz(
      figures,
      'rust cargo-auditable',
      input,
      async (bytes) => {
        const ex = rustAuditCataloger.extractor!;
        const header = { path: '/usr/bin/rg', mode: 0o755, size: bytes.length };
        const extracts: CatalogFile[] = [];
        if (ex.wants(header)) {
          const sink = ex.start(header);
          for (let at = 0; at < bytes.length; at += 4096) if (!sink.write(bytes.subarray(at, at + 4096))) break;
          const got = sink.end();
          if (got !== undefined) extracts.push({ path: header.path, bytes: got, layerDiffId: LAYER });
        }
        await runCataloger(rustAuditCataloger, [], extracts);
      },
      { numRuns: 210, typed: never },
    );
  });
});

describe('regressions (minimal inputs the fuzzer found)', () => {
  test('ruby: a gemspec line with 100 KB of blanks parses in well under a second (was 12 s, quadratic regexp)', async () => {
    const spec = `Gem::Specification.new do |s|\n  s.name = "x"\n  s.version = "1.0"\n  s.summary = "y"${' '.repeat(100_000)}.freeze\nend\n`;
    const started = performance.now();
    const r = await gemCataloger.catalog({
      files: [{ path: '/usr/local/bundle/specifications/x-1.0.gemspec', bytes: utf8(spec), layerDiffId: LAYER }],
      allPaths: new Set(),
    });
    expect(performance.now() - started).toBeLessThan(1000);
    expect(r.packages.map((p) => p.name)).toEqual(['x']);
  });

  const catalogOne = async (c: Cataloger, path: string, text: string, extracts: CatalogFile[] = []) => {
    const r = await c.catalog({
      files: text === '' ? [] : [{ path, bytes: utf8(text), layerDiffId: LAYER }],
      extracts,
      allPaths: new Set([path]),
    });
    checkResult(r);
    return r;
  };

  test('composer: a package named "/" is reported without a purl instead of ending the SBOM run', async () => {
    const r = await catalogOne(
      composerCataloger,
      '/app/vendor/composer/installed.json',
      JSON.stringify({
        packages: [
          { name: '/', version: '1.0.0' },
          { name: 'acme/a', version: '1.0.0' },
        ],
      }),
    );
    expect(r.packages.map((p) => [p.name, p.purl])).toEqual([
      ['/', ''],
      ['acme/a', 'pkg:composer/acme/a@1.0.0'],
    ]);
  });

  test('go: a module version "v…" that is not semver does not crash (packageurl-js threw a ReferenceError)', async () => {
    const blob = goBuildInfoBlob(
      'go1.22.1',
      'path\texample.com/x\nmod\texample.com/x\t(devel)\t\ndep\tgolang.org/x/text\tv0.14.0"h1\t\n',
    );
    const r = await catalogOne(goBinaryCataloger, '/x', '', [{ path: '/usr/bin/x', bytes: blob, layerDiffId: LAYER }]);
    expect(r.packages.find((p) => p.name === 'golang.org/x/text')).toMatchObject({ version: 'v0.14.0"h1', purl: '' });
  });

  test('rust: a crate named by a tab (no purl can hold it) is reported without a purl', async () => {
    const json = JSON.stringify({
      packages: [{ name: '\t', version: '1.0.0', source: 'crates.io', kind: 'runtime', root: true }],
    });
    const bytes = minimalElf({
      is64: true,
      littleEndian: true,
      sections: [{ name: '.dep-v0', data: deflateSync(json) }],
    });
    const ex = rustAuditCataloger.extractor!;
    const sink = ex.start({ path: '/usr/bin/x', mode: 0o755, size: bytes.length });
    sink.write(bytes);
    const extract = sink.end()!;
    const r = await catalogOne(rustAuditCataloger, '/x', '', [
      { path: '/usr/bin/x', bytes: extract, layerDiffId: LAYER },
    ]);
    expect(r.packages.map((p) => [p.name, p.purl])).toEqual([['\t', '']]);
  });
});
