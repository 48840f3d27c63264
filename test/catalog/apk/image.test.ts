/**
 * apk and python catalogers end to end through generateSbom on a two-layer OCI layout built from
 * the real vectors: an alpine:3.16-like base layer (the database's first 14 records, os-release),
 * then a "python" layer with the full database and the Debian 12 site-packages metadata under
 * /usr/local/lib/python3.10/site-packages.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { apkCataloger } from '../../../src/catalog/apk/cataloger.ts';
import type { Package } from '../../../src/catalog/package.ts';
import { pythonCataloger } from '../../../src/catalog/python/cataloger.ts';
import type { Descriptor } from '../../../src/oci/manifest.ts';
import { generateSbom, type GenerateSbomResult } from '../../../src/sbom/generate.ts';
import type { LayerEntry } from '../../../testdata/debs.ts';
import { initLayout, REF_NAME_ANNOTATION, writeImageManifest, writeIndexJson } from '../../../testdata/oci-layout.ts';
import { writeTarLayer } from '../../../testdata/tar-layer.ts';
import { SBOM_VECTORS } from '../../helpers/vectors.ts';

const VECTORS = SBOM_VECTORS;
const SITE = 'usr/local/lib/python3.10/site-packages';
// Alpine 3.16.3's /etc/os-release as the alpine-baselayout-data package ships it.
const OS_RELEASE = `NAME="Alpine Linux"
ID=alpine
VERSION_ID=3.16.3
PRETTY_NAME="Alpine Linux v3.16"
HOME_URL="https://alpinelinux.org/"
BUG_REPORT_URL="https://gitlab.alpinelinux.org/alpine/aports/-/issues"
`;

let dir: string;
let result: GenerateSbomResult;
let diffIds: string[];
const file = (path: string, data: string | Buffer): LayerEntry => ({
  path,
  type: 'file',
  mode: 0o644,
  data: Buffer.from(data),
});
const byName = (name: string): Package => {
  const p = result.document.packages.find((x) => x.name === name);
  if (p === undefined) throw new Error(`no package ${name}`);
  return p;
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sigil-apk-image-'));
  await initLayout(dir);
  const db = await readFile(join(VECTORS, 'apk-alpine-3.16-python/lib/apk/db/installed'), 'utf8');
  const baseDb = `${db
    .split('\n\n')
    .filter((r) => r.trim() !== '')
    .slice(0, 14)
    .join('\n\n')}\n\n`;
  const base = await writeTarLayer(dir, [
    file('etc/os-release', OS_RELEASE),
    file('lib/apk/db/installed', baseDb),
    file('usr/bin/ssl_client', 'not really a binary'),
  ]);
  const python: LayerEntry[] = [file('lib/apk/db/installed', db)];
  const site = join(VECTORS, 'python-site-packages/site-packages');
  for (const d of await readdir(site)) {
    for (const f of await readdir(join(site, d)))
      python.push(file(`${SITE}/${d}/${f}`, await readFile(join(site, d, f))));
  }
  python.push(file(`${SITE}/six.py`, '# six\n'));
  const top = await writeTarLayer(dir, python);
  diffIds = [base.diffId, top.diffId];
  const config = { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: diffIds } };
  const { manifest } = await writeImageManifest(dir, config, [base, top]);
  const named: Descriptor = { ...manifest, annotations: { [REF_NAME_ANNOTATION]: 'python' } };
  await writeIndexJson(dir, [named]);
  result = await generateSbom(`oci-dir:${dir}:python`, { catalogers: [apkCataloger, pythonCataloger], cache: false });
});

afterAll(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

test('36 apk and 4 python packages, the distro from os-release in the apk purls', () => {
  expect(result.warnings).toEqual([]);
  expect(result.stats.packages).toEqual({ apk: 36, python: 4 });
  expect(result.document.distro).toMatchObject({ id: 'alpine', versionId: '3.16.3' });
  expect(byName('busybox').purl).toBe('pkg:apk/alpine/busybox@1.35.0-r17?arch=x86_64&distro=alpine-3.16.3');
  expect(byName('chardet').purl).toBe('pkg:pypi/chardet@5.1.0');
});

test('layer provenance: the base image’s packages from layer 1, the python layer’s from layer 2', () => {
  const [l1, l2] = diffIds;
  for (const name of ['musl', 'busybox', 'apk-tools', 'libc-utils']) {
    expect([byName(name).introducedBy, byName(name).lastChangedBy], name).toEqual([l1, l1]);
  }
  for (const name of ['.python-rundeps', 'tzdata', 'sqlite-libs']) {
    expect([byName(name).introducedBy, byName(name).lastChangedBy], name).toEqual([l2, l2]);
  }
  expect(byName('six').introducedBy).toBe(l2);
  expect(byName('six').locations).toEqual([{ path: `/${SITE}/six-1.16.0.egg-info/PKG-INFO`, layerDiffId: l2 }]);
});

test('owned files are the final filesystem’s regular files', () => {
  expect(byName('ssl_client').files).toEqual(['/usr/bin/ssl_client']);
  expect(byName('musl').files).toBeUndefined(); // none of its files are in this image
  // The image holds attrs' dist-info but not its modules: only those four of RECORD's 35 paths exist.
  expect(byName('attrs').files).toEqual(
    ['METADATA', 'RECORD', 'WHEEL', 'top_level.txt'].map((f) => `/${SITE}/attrs-22.2.0.dist-info/${f}`),
  );
});
