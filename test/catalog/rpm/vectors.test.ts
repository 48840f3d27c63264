/**
 * The three real rpm databases (shared/vectors/sbom) at their real image paths, against the
 * expected.tsv each folder computed with rpm itself: every backend, every package, every column.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import type { CatalogFile } from '../../../src/catalog/cataloger.ts';
import type { Distro } from '../../../src/catalog/package.ts';
import { rpmCataloger } from '../../../src/catalog/rpm/cataloger.ts';
import { detectRpmDbFormat } from '../../../src/catalog/rpm/database.ts';
import { rpmLicenseExpression } from '../../../src/catalog/rpm/license.ts';
import { rpmEvr } from '../../../src/catalog/rpm/package.ts';
import type { Digest } from '../../../src/oci/digest.ts';
import { SBOM_VECTORS } from '../../helpers/vectors.ts';

const VECTORS = SBOM_VECTORS;
const LAYER = `sha256:${'cd'.repeat(32)}` as Digest;

const CASES = [
  {
    vector: 'rpm-sqlite-amazonlinux2023',
    file: 'rpmdb.sqlite',
    imagePath: '/var/lib/rpm/rpmdb.sqlite',
    format: 'sqlite',
    distro: { id: 'amzn', versionId: '2023' },
    count: 103,
  },
  {
    vector: 'rpm-ndb-sle15-bci',
    file: 'Packages.db',
    imagePath: '/usr/lib/sysimage/rpm/Packages.db',
    format: 'ndb',
    distro: { id: 'sles', versionId: '15.3' },
    count: 36,
  },
  {
    vector: 'rpm-bdb-ubi8-libuuid',
    file: 'Packages',
    imagePath: '/var/lib/rpm/Packages',
    format: 'bdb',
    distro: { id: 'rhel', versionId: '8.8' },
    count: 1,
  },
] as const;

async function expected(dir: string): Promise<Record<string, string>[]> {
  const [header, ...rows] = (await readFile(join(dir, 'expected.tsv'), 'utf8')).trim().split('\n');
  const cols = header!.split('\t');
  return rows.map((r) => Object.fromEntries(r.split('\t').map((v, i) => [cols[i]!, v])));
}

async function catalogVector(c: (typeof CASES)[number], allPaths = new Set<string>()) {
  const file: CatalogFile = {
    path: c.imagePath,
    bytes: await readFile(join(VECTORS, c.vector, c.file)),
    layerDiffId: LAYER,
  };
  expect(rpmCataloger.wants(file.path)).toBe(true);
  expect(detectRpmDbFormat(file.bytes)).toBe(c.format);
  const started = performance.now();
  const result = await rpmCataloger.catalog({ files: [file], allPaths, distro: c.distro as Distro });
  return { result, ms: performance.now() - started };
}

describe.each(CASES)('$vector ($format)', (c) => {
  test('name, version, arch set equals expected.tsv; epoch, release, source rpm, license, vendor, size too', async () => {
    const { result, ms } = await catalogVector(c);
    console.log(`rpm ${c.format} ${c.vector}: ${result.packages.length} packages in ${ms.toFixed(1)} ms`);
    expect(result.warnings).toEqual([]);
    const rows = await expected(join(VECTORS, c.vector));
    expect(rows).toHaveLength(c.count);
    // The README: the version column is bare VERSION; the EVR is built as [epoch:]version-release.
    const evr = (r: Record<string, string>) =>
      rpmEvr(r.version!, r.release, r.epoch === '' ? undefined : Number(r.epoch));
    expect(result.packages.map((p) => [p.name, p.version, p.arch ?? ''].join('\t')).sort()).toEqual(
      rows.map((r) => [r.name, evr(r), r.arch].join('\t')).sort(),
    );
    for (const row of rows) {
      const p = result.packages.find((x) => x.name === row.name && x.version === evr(row))!;
      expect(p.type).toBe('rpm');
      expect(p.metadata?.License ?? '').toBe(row.license);
      expect(p.supplier ?? '').toBe(row.vendor);
      // rpm --queryformat prints an absent tag as "(none)".
      expect(p.metadata?.SourceRpm ?? '(none)').toBe(row.sourcerpm);
      expect(p.metadata?.Size).toBe(row.size);
      if (row.name === 'gpg-pubkey') expect(p.license).toBeUndefined();
      else expect(p.license).toBe(rpmLicenseExpression(row.license!));
      expect(p.locations).toEqual([{ path: c.imagePath, layerDiffId: LAYER }]);
      expect(p.introducedBy).toBe(LAYER);
      if (row.sourcerpm !== '(none)') {
        expect(`${p.sourceName}-${p.sourceVersion}.src.rpm`).toBe(row.sourcerpm);
      }
    }
  });
});

test('amazonlinux 2023: purls, epochs, gpg-pubkey and dependencies', async () => {
  const { result } = await catalogVector(CASES[0]);
  const byName = (n: string) => result.packages.filter((p) => p.name === n);
  const ssl = byName('openssl-libs')[0]!;
  expect(ssl.version).toBe('1:3.0.8-1.amzn2023.0.4');
  expect(ssl.purl).toBe(
    'pkg:rpm/amzn/openssl-libs@3.0.8-1.amzn2023.0.4?arch=x86_64&distro=amzn-2023&epoch=1&upstream=openssl-3.0.8-1.amzn2023.0.4.src.rpm',
  );
  expect(ssl.license).toBe('Apache-2.0');
  expect(byName('bash')[0]!.license).toBe('GPL-3.0-or-later');
  // Legacy Fedora names with parentheses: the grouping survives (AND outside, OR inside).
  expect(byName('libidn2')[0]!.license).toBe('(GPL-2.0-or-later OR LGPL-3.0-or-later) AND GPL-3.0-or-later');
  expect(byName('python3-setuptools-wheel')[0]!.license).toBe('MIT AND (LicenseRef-BSD OR Apache-2.0)');

  // The imported signing key is a header like any other: syft keeps it, so do we (no arch, no source).
  const [key] = byName('gpg-pubkey');
  expect(key).toMatchObject({
    version: 'd832c631-63977702',
    purl: 'pkg:rpm/amzn/gpg-pubkey@d832c631-63977702?distro=amzn-2023',
  });
  expect(key!.arch).toBeUndefined();
  expect(key!.sourceName).toBeUndefined();

  // Requires resolve through Provides (sonames), package names and owned files; no dangling ids, no self-edges.
  const ids = new Set(result.packages.map((p) => p.id));
  for (const p of result.packages) {
    for (const d of p.dependsOn ?? []) expect(ids.has(d) && d !== p.id).toBe(true);
  }
  const glibc = byName('glibc')[0]!.id;
  expect(byName('bash')[0]!.dependsOn).toContain(glibc);
  expect(byName('python3-gpg')[0]!.dependsOn).toContain(byName('gpgme')[0]!.id);
  expect(result.packages.filter((p) => (p.dependsOn ?? []).includes(glibc)).length).toBeGreaterThan(40);

  // File lists: BASENAMES/DIRNAMES/DIRINDEXES, regular files only.
  expect(byName('bash')[0]!.files).toContain('/usr/bin/bash');
  expect(byName('bash')[0]!.files).not.toContain('/usr/bin'); // directories are not owned files
});

test('files are narrowed to the final filesystem when its paths are known', async () => {
  const all = await catalogVector(CASES[2]);
  const libuuid = all.result.packages[0]!;
  expect(libuuid.files).toEqual([
    '/usr/lib64/libuuid.so.1.3.0',
    '/usr/share/licenses/libuuid/COPYING',
    '/usr/share/licenses/libuuid/COPYING.BSD-3',
  ]);
  const narrowed = await catalogVector(CASES[2], new Set(['/usr/lib64/libuuid.so.1.3.0', '/etc/hostname']));
  expect(narrowed.result.packages[0]!.files).toEqual(['/usr/lib64/libuuid.so.1.3.0']);
  expect(libuuid.purl).toBe(
    'pkg:rpm/redhat/libuuid@2.32.1-42.el8_8?arch=x86_64&distro=rhel-8.8&upstream=util-linux-2.32.1-42.el8_8.src.rpm',
  );
});

test('the cataloger asks for the database paths only', () => {
  for (const dir of ['/var/lib/rpm/', '/usr/lib/sysimage/rpm/', '/usr/share/rpm/']) {
    for (const name of ['rpmdb.sqlite', 'Packages', 'Packages.db']) expect(rpmCataloger.wants(dir + name)).toBe(true);
  }
  for (const p of ['/var/lib/rpm/Name', '/var/lib/rpm/rpmdb.sqlite-wal', '/opt/var/lib/rpm/Packages', '/var/lib/rpm']) {
    expect(rpmCataloger.wants(p)).toBe(false);
  }
});
