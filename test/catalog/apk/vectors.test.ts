/**
 * The apk cataloger on a real Alpine 3.16.3 database (python:3.10-alpine, shared/vectors/sbom),
 * checked against the vector's expected.tsv (an awk split of the same file, made without this code).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import parseSpdx from 'spdx-expression-parse';
import { beforeAll, describe, expect, test } from 'vitest';
import { apkCataloger } from '../../../src/catalog/apk/cataloger.ts';
import { ApkDependencyIndex } from '../../../src/catalog/apk/dependencies.ts';
import { apkLicense } from '../../../src/catalog/apk/package.ts';
import { parseInstalled } from '../../../src/catalog/apk/parse-installed.ts';
import type { CatalogFile, CatalogResult } from '../../../src/catalog/cataloger.ts';
import type { Package } from '../../../src/catalog/package.ts';
import type { Digest } from '../../../src/oci/digest.ts';
import { SBOM_VECTORS } from '../../helpers/vectors.ts';

const DIR = join(SBOM_VECTORS, 'apk-alpine-3.16-python');
const DB = '/lib/apk/db/installed';
const BASE = `sha256:${'0a'.repeat(32)}` as Digest;
const TOP = `sha256:${'0b'.repeat(32)}` as Digest;
const DISTRO = { id: 'alpine', versionId: '3.16.3' };

let bytes: Uint8Array;
let rows: Record<string, string>[];
let result: CatalogResult;
const byName = (name: string): Package => {
  const p = result.packages.find((x) => x.name === name);
  if (p === undefined) throw new Error(`no package ${name}`);
  return p;
};

beforeAll(async () => {
  bytes = await readFile(join(DIR, 'lib/apk/db/installed'));
  const [header, ...lines] = (await readFile(join(DIR, 'expected.tsv'), 'utf8')).replace(/\n$/, '').split('\n');
  const cols = header!.split('\t');
  rows = lines.map((r) => Object.fromEntries(r.split('\t').map((v, i) => [cols[i]!, v])));
  result = await apkCataloger.catalog({
    files: [{ path: DB, bytes, layerDiffId: TOP }],
    allPaths: new Set(),
    distro: DISTRO,
  });
});

describe('apk-alpine-3.16-python', () => {
  test('(name, version, arch) equals expected.tsv exactly: 36 packages, the virtual .python-rundeps included', () => {
    expect(result.warnings).toEqual([]);
    expect(rows).toHaveLength(36);
    const ours = result.packages.map((p) => [p.name, p.version, p.arch ?? ''].join('\t')).sort();
    expect(ours).toEqual(rows.map((r) => [r.name, r.version, r.arch].join('\t')).sort());
    expect(new Set(result.packages.map((p) => p.id)).size).toBe(36);
  });

  test('origin, raw license and commit columns match; every license is a valid SPDX expression', () => {
    for (const row of rows) {
      const p = byName(row.name!);
      expect(p.metadata?.originPackage ?? '').toBe(row.origin);
      if (row.origin !== '') expect(p.sourceName ?? p.name).toBe(row.origin);
      expect(p.metadata?.license ?? '').toBe(row.license);
      expect(p.metadata?.gitCommit ?? '').toBe(row.commit);
      expect(p.type).toBe('apk');
      if (row.license === '') expect(p.license).toBeUndefined();
      else expect(() => parseSpdx(p.license!)).not.toThrow();
      expect(p.locations).toEqual([{ path: DB, layerDiffId: TOP }]);
      expect(p.introducedBy).toBe(TOP);
    }
  });

  test('licenses: SPDX values kept whole, space-separated names split, the cut-off value loses its dangling AND', () => {
    expect(byName('ca-certificates').license).toBe('MPL-2.0 AND MIT');
    expect(byName('musl-utils').license).toBe('GPL-2.0-or-later AND LicenseRef-BSD AND MIT');
    expect(byName('keyutils-libs').license).toBe('GPL-2.0-or-later AND LGPL-2.0-or-later');
    expect(byName('libuuid').license).toBe('GPL-3.0-or-later AND GPL-2.0-or-later AND GPL-2.0-only');
    expect(byName('xz-libs').license).toBe('GPL-2.0-or-later AND LicenseRef-Public-Domain AND LGPL-2.1-or-later');
    expect(apkLicense('MIT OR Public-Domain')).toBe('MIT OR LicenseRef-Public-Domain');
    expect(apkLicense('(GPL2+ OR MIT) AND Public-Domain')).toBe(
      '(GPL-2.0-or-later OR MIT) AND LicenseRef-Public-Domain',
    );
    expect(apkLicense('  ')).toBeUndefined();
    expect(byName('sqlite-libs').license).toBe('blessing');
    expect(byName('libbz2').license).toBe('bzip2-1.0.6');
  });

  test('purls in syft form: distro qualifier, upstream only when origin differs', () => {
    expect(byName('musl').purl).toBe('pkg:apk/alpine/musl@1.2.3-r1?arch=x86_64&distro=alpine-3.16.3');
    expect(byName('ssl_client').purl).toBe(
      'pkg:apk/alpine/ssl_client@1.35.0-r17?arch=x86_64&distro=alpine-3.16.3&upstream=busybox',
    );
    expect(byName('.python-rundeps').purl).toBe(
      'pkg:apk/alpine/.python-rundeps@20221112.072824?arch=noarch&distro=alpine-3.16.3',
    );
    expect(byName('ssl_client').supplier).toBe('Sören Tempel <soeren+alpine@soeren-tempel.net>');
    expect(byName('.python-rundeps').supplier).toBeUndefined();
  });

  test('dependencies resolve through names, so: and cmd:/path provides; every D: token resolves', () => {
    const id = (n: string) => byName(n).id;
    expect(byName('ssl_client').dependsOn).toEqual([id('libcrypto1.1'), id('libssl1.1'), id('musl')].sort());
    // `D:alpine-baselayout-data=3.2.0-r23 /bin/sh so:libc.musl-x86_64.so.1`: /bin/sh is busybox's `p:`.
    expect(byName('alpine-baselayout').dependsOn).toEqual(
      [id('alpine-baselayout-data'), id('busybox'), id('musl')].sort(),
    );
    expect(byName('apk-tools').dependsOn).toEqual(
      [id('musl'), id('ca-certificates-bundle'), id('libcrypto1.1'), id('libssl1.1'), id('zlib')].sort(),
    );
    expect(byName('musl').dependsOn).toBeUndefined();
    // The virtual package says why the Python runtime libraries are there.
    expect(byName('.python-rundeps').dependsOn).toEqual(
      expect.arrayContaining([id('libbz2'), id('sqlite-libs'), id('ncurses-libs'), id('libuuid')]),
    );

    const { records } = parseInstalled(new TextDecoder().decode(bytes), DB);
    const index = new ApkDependencyIndex();
    for (const r of records) index.add(byName(r.fields.get('P')!), r.fields.get('p'));
    for (const r of records) {
      expect(index.resolve(byName(r.fields.get('P')!), r.fields.get('D')).unresolved).toEqual([]);
    }
  });

  test('files: F:/R: lines become absolute paths; with the final filesystem at hand only its regular files', async () => {
    expect(byName('ssl_client').files).toEqual(['/usr/bin/ssl_client']);
    expect(byName('libuuid').files).toEqual(['/lib/libuuid.so.1', '/lib/libuuid.so.1.3.0']);
    const rLines = new TextDecoder()
      .decode(bytes)
      .split('\n')
      .filter((l) => l.startsWith('R:')).length;
    expect(result.packages.reduce((n, p) => n + (p.files?.length ?? 0), 0)).toBe(rLines);

    // libuuid.so.1 is a symlink (a:0:0:777): not a regular file of the final filesystem.
    const filtered = await apkCataloger.catalog({
      files: [{ path: DB, bytes, layerDiffId: TOP }],
      allPaths: new Set(['/lib/libuuid.so.1.3.0', '/usr/bin/ssl_client', DB]),
      distro: DISTRO,
    });
    const f = (n: string) => filtered.packages.find((p) => p.name === n)!;
    expect(f('libuuid').files).toEqual(['/lib/libuuid.so.1.3.0']);
    expect(f('ssl_client').files).toEqual(['/usr/bin/ssl_client']);
    expect(f('musl').files).toBeUndefined();
  });
});

describe('layer provenance from earlier versions of the database', () => {
  test('base packages come from the base layer; an upgraded one was last changed on top; new ones on top', async () => {
    // The lower layer's database: the 14 records of alpine:3.16 (the file's first 14), with zlib one
    // revision older, as if the python layer had run `apk upgrade zlib`.
    const text = new TextDecoder().decode(bytes);
    const records = text.split('\n\n').filter((r) => r.trim() !== '');
    const base = records
      .slice(0, 14)
      .map((r) => (r.includes('\nP:zlib\n') ? r.replace('V:1.2.12-r3', 'V:1.2.12-r1') : r))
      .join('\n\n');
    expect(records.slice(0, 14).map((r) => /\nP:(.*)\n/.exec(r)![1])).toContain('libc-utils');
    const db: CatalogFile = {
      path: DB,
      bytes,
      layerDiffId: TOP,
      earlier: [{ layerDiffId: BASE, bytes: new TextEncoder().encode(`${base}\n\n`) }],
    };
    const r = await apkCataloger.catalog({ files: [db], allPaths: new Set(), distro: DISTRO });
    const p = (n: string) => r.packages.find((x) => x.name === n)!;
    expect([p('musl').introducedBy, p('musl').lastChangedBy]).toEqual([BASE, BASE]);
    expect([p('zlib').introducedBy, p('zlib').lastChangedBy]).toEqual([BASE, TOP]);
    expect([p('tzdata').introducedBy, p('tzdata').lastChangedBy]).toEqual([TOP, TOP]);
    expect([p('.python-rundeps').introducedBy, p('.python-rundeps').lastChangedBy]).toEqual([TOP, TOP]);
    expect(r.packages.filter((x) => x.introducedBy === BASE)).toHaveLength(14);
  });
});
