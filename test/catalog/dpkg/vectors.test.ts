/** Real distroless status.d databases (shared/vectors/sbom) against their dpkg-query ground truth. */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import type { CatalogFile } from '../../../src/catalog/cataloger.ts';
import { dpkgCataloger } from '../../../src/catalog/dpkg/cataloger.ts';
import { detectDistro } from '../../../src/catalog/os-release.ts';
import type { Digest } from '../../../src/oci/digest.ts';
import { SBOM_VECTORS } from '../../helpers/vectors.ts';

const VECTORS = SBOM_VECTORS;
const LAYER = `sha256:${'ab'.repeat(32)}` as Digest;

async function statusDFiles(dir: string): Promise<CatalogFile[]> {
  const base = join(dir, 'var/lib/dpkg/status.d');
  const files: CatalogFile[] = [];
  for (const name of (await readdir(base)).sort()) {
    files.push({ path: `/var/lib/dpkg/status.d/${name}`, bytes: await readFile(join(base, name)), layerDiffId: LAYER });
  }
  return files;
}

async function expected(dir: string): Promise<Record<string, string>[]> {
  const [header, ...rows] = (await readFile(join(dir, 'expected.tsv'), 'utf8')).trim().split('\n');
  const cols = header!.split('\t');
  return rows.map((r) => Object.fromEntries(r.split('\t').map((v, i) => [cols[i]!, v])));
}

describe.each(['dpkg-distroless-static-debian11', 'dpkg-distroless-layout-derived-bookworm'])('%s', (vector) => {
  const dir = join(VECTORS, vector);

  test('packages, sources and database files match expected.tsv exactly', async () => {
    const files = await statusDFiles(dir);
    const wanted = files.filter((f) => dpkgCataloger.wants(f.path));
    expect(wanted).toHaveLength(files.length); // stanza files and .md5sums sidecars
    const result = await dpkgCataloger.catalog({
      files: wanted,
      allPaths: new Set(files.map((f) => f.path)),
      distro: { id: 'debian', versionId: vector.includes('debian11') ? '11' : '12' },
    });
    expect(result.warnings).toEqual([]);
    const rows = await expected(dir);
    const ours = result.packages.map((p) => [p.name, p.version, p.arch ?? ''].join('\t')).sort();
    expect(ours).toEqual(rows.map((r) => [r.name, r.version, r.arch].join('\t')).sort());
    for (const row of rows) {
      const p = result.packages.find((x) => x.name === row.name)!;
      expect(p.sourceName ?? p.name).toBe(row.source);
      expect(p.sourceVersion ?? p.version).toBe(row.source_version);
      expect(p.locations[0]!.path).toBe(`/var/lib/dpkg/status.d/${row.status_d_file}`);
      expect(p.introducedBy).toBe(LAYER);
    }
  });
});

test('distroless: files come from status.d/<pkg>.md5sums, and the distro from /usr/lib/os-release alone', async () => {
  const dir = join(VECTORS, 'dpkg-distroless-layout-derived-bookworm');
  const files = await statusDFiles(dir);
  const result = await dpkgCataloger.catalog({ files, allPaths: new Set(), distro: { id: 'debian', versionId: '12' } });
  const netbase = result.packages.find((p) => p.name === 'netbase')!;
  const md5 = (await readFile(join(dir, 'var/lib/dpkg/status.d/netbase.md5sums'), 'utf8'))
    .trim()
    .split('\n')
    .map((l) => `/${l.split(/\s+/)[1]}`)
    .sort();
  expect(netbase.files).toEqual(md5);
  expect(netbase.files).toContain('/usr/share/doc/netbase/copyright');
  expect(netbase.locations.map((l) => l.path)).toEqual([
    '/var/lib/dpkg/status.d/netbase',
    '/var/lib/dpkg/status.d/netbase.md5sums',
  ]);
  expect(netbase.purl).toBe('pkg:deb/debian/netbase@6.4?arch=all&distro=debian-12');

  const osRelease = await readFile(join(VECTORS, 'dpkg-distroless-static-debian11/os-release.txt'));
  expect(detectDistro([{ path: '/usr/lib/os-release', bytes: osRelease, layerDiffId: LAYER }])).toEqual({
    id: 'debian',
    versionId: '11',
    prettyName: 'Distroless',
  });
});
