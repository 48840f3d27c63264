/**
 * The python cataloger on real installed metadata from Debian 12 packages (shared/vectors/sbom/
 * python-site-packages), placed where Debian installs it, checked against the vector's
 * expected.tsv (CPython's importlib.metadata over the same directory).
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import type { CatalogFile, CatalogResult } from '../../../src/catalog/cataloger.ts';
import type { Package } from '../../../src/catalog/package.ts';
import { pythonCataloger } from '../../../src/catalog/python/cataloger.ts';
import type { Digest } from '../../../src/oci/digest.ts';
import { SBOM_VECTORS } from '../../helpers/vectors.ts';

const DIR = join(SBOM_VECTORS, 'python-site-packages');
const SITE = '/usr/lib/python3/dist-packages';
const LAYER = `sha256:${'1c'.repeat(32)}` as Digest;

let all: CatalogFile[];
let rows: Record<string, string>[];
let result: CatalogResult;
const pkg = (r: CatalogResult, name: string): Package => {
  const p = r.packages.find((x) => x.name === name);
  if (p === undefined) throw new Error(`no package ${name}`);
  return p;
};

/** Every file of the vector, as it would sit under `site` in an image. */
async function vectorFiles(site: string, layer: Digest): Promise<CatalogFile[]> {
  const out: CatalogFile[] = [];
  for (const dir of (await readdir(join(DIR, 'site-packages'))).sort()) {
    for (const name of (await readdir(join(DIR, 'site-packages', dir))).sort()) {
      const bytes = await readFile(join(DIR, 'site-packages', dir, name));
      out.push({ path: `${site}/${dir}/${name}`, bytes, layerDiffId: layer });
    }
  }
  return out;
}

beforeAll(async () => {
  all = await vectorFiles(SITE, LAYER);
  const [header, ...lines] = (await readFile(join(DIR, 'expected.tsv'), 'utf8')).replace(/\n$/, '').split('\n');
  const cols = header!.split('\t');
  rows = lines.map((r) => Object.fromEntries(r.split('\t').map((v, i) => [cols[i]!, v])));
  result = await pythonCataloger.catalog({
    files: all.filter((f) => pythonCataloger.wants(f.path)),
    allPaths: new Set(),
  });
});

describe('python-site-packages (Debian 12 dist-packages)', () => {
  test('wants the metadata and file lists only', () => {
    const wanted = all.filter((f) => pythonCataloger.wants(f.path)).map((f) => f.path.slice(SITE.length + 1));
    expect(wanted).toEqual([
      'attrs-22.2.0.dist-info/METADATA',
      'attrs-22.2.0.dist-info/RECORD',
      'chardet-5.1.0.dist-info/METADATA',
      'chardet-5.1.0.dist-info/RECORD',
      'idna-3.3.egg-info/PKG-INFO',
      'six-1.16.0.egg-info/PKG-INFO',
    ]);
  });

  test('(name, version, arch) equals expected.tsv exactly; License, Metadata-Version and RECORD sizes too', () => {
    expect(result.warnings).toEqual([]);
    const ours = result.packages.map((p) => [p.name, p.version, p.arch ?? ''].join('\t')).sort();
    expect(ours).toEqual(rows.map((r) => [r.name, r.version, r.arch].join('\t')).sort());
    for (const row of rows) {
      const p = pkg(result, row.name!);
      expect(p.metadata?.License).toBe(row.license);
      expect(p.metadata?.['Metadata-Version']).toBe(row.metadata_version);
      // chardet's RECORD lists `../scripts/chardetect` twice (two hashes): 56 entries, 55 files.
      const duplicates = row.name === 'chardet' ? 1 : 0;
      expect(p.files?.length ?? 0).toBe(row.files_listed === '' ? 0 : Number(row.files_listed) - duplicates);
      expect(p.locations[0]!.path).toBe(`${SITE}/${row.dir}/${row.format === 'dist-info' ? 'METADATA' : 'PKG-INFO'}`);
      expect(p.type).toBe('python');
      expect([p.introducedBy, p.lastChangedBy]).toEqual([LAYER, LAYER]);
    }
  });

  test('licenses: the License field when it is SPDX, the classifier when it says more (chardet: LGPL → LGPLv2+)', () => {
    expect(pkg(result, 'attrs').license).toBe('MIT');
    expect(pkg(result, 'chardet').license).toBe('LGPL-2.0-or-later');
    expect(pkg(result, 'idna').license).toBe('BSD-3-Clause');
    expect(pkg(result, 'six').license).toBe('MIT');
  });

  test('purls, suppliers, owned files as absolute paths, locations', () => {
    expect(pkg(result, 'attrs').purl).toBe('pkg:pypi/attrs@22.2.0');
    expect(pkg(result, 'idna').purl).toBe('pkg:pypi/idna@3.3');
    expect(pkg(result, 'attrs').supplier).toBe('Hynek Schlawack <hs@ox.cx>');
    expect(pkg(result, 'chardet').supplier).toBe('Daniel Blanchard <dan.blanchard@gmail.com>');
    expect(pkg(result, 'six').supplier).toBe('Benjamin Peterson <benjamin@python.org>');
    const attrs = pkg(result, 'attrs');
    expect(attrs.files).toContain(`${SITE}/attr/__init__.py`);
    expect(attrs.files).toContain(`${SITE}/attrs/validators.py`);
    expect(attrs.files).toContain(`${SITE}/attrs-22.2.0.dist-info/RECORD`);
    // RECORD paths are relative to site-packages, `..` included.
    expect(pkg(result, 'chardet').files).toContain('/usr/lib/python3/scripts/chardetect');
    expect(attrs.files!.every((f) => f.startsWith(`${SITE}/`))).toBe(true);
    expect(attrs.locations.map((l) => l.path)).toEqual([
      `${SITE}/attrs-22.2.0.dist-info/METADATA`,
      `${SITE}/attrs-22.2.0.dist-info/RECORD`,
    ]);
    // attrs' Requires-Dist lines all carry `extra == …`: nothing it needs by default.
    expect(attrs.dependsOn).toBeUndefined();
    expect(pkg(result, 'six').files).toBeUndefined();
  });

  test('with the final filesystem at hand, only files that exist are owned', async () => {
    const r = await pythonCataloger.catalog({
      files: all.filter((f) => pythonCataloger.wants(f.path)),
      allPaths: new Set([`${SITE}/attr/__init__.py`, `${SITE}/attrs-22.2.0.dist-info/METADATA`]),
    });
    expect(pkg(r, 'attrs').files).toEqual([`${SITE}/attr/__init__.py`, `${SITE}/attrs-22.2.0.dist-info/METADATA`]);
  });

  test('the same distributions in two site-packages directories: one package each, two locations', async () => {
    const OTHER = `sha256:${'2d'.repeat(32)}` as Digest;
    const venv = await vectorFiles('/opt/venv/lib/python3.11/site-packages', OTHER);
    const files = [...all, ...venv]
      .filter((f) => pythonCataloger.wants(f.path))
      .sort((a, b) => (a.path < b.path ? -1 : 1));
    const r = await pythonCataloger.catalog({ files, allPaths: new Set() });
    expect(r.packages).toHaveLength(4);
    const six = pkg(r, 'six');
    expect(six.locations).toEqual([
      { path: '/opt/venv/lib/python3.11/site-packages/six-1.16.0.egg-info/PKG-INFO', layerDiffId: OTHER },
      { path: `${SITE}/six-1.16.0.egg-info/PKG-INFO`, layerDiffId: LAYER },
    ]);
    const attrs = pkg(r, 'attrs');
    expect(attrs.locations).toHaveLength(4);
    expect(attrs.files).toHaveLength(70);
    expect(attrs.files).toContain('/opt/venv/lib/python3.11/site-packages/attr/__init__.py');
  });
});
