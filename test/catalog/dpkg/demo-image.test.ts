/**
 * The dpkg cataloger on the demo image (3 layers of real Debian .debs), checked against dpkg's own
 * reading of the same database: `dpkg-query` over the final status file and .list files copied
 * into a scratch admin directory.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { CatalogResult } from '../../../src/catalog/cataloger.ts';
import { dpkgCataloger } from '../../../src/catalog/dpkg/cataloger.ts';
import { detectDistro, osReleaseWants } from '../../../src/catalog/os-release.ts';
import type { Package } from '../../../src/catalog/package.ts';
import parseSpdx from 'spdx-expression-parse';
import { type DemoFiles, readDemoFiles } from '../demo-files.ts';

let demo: DemoFiles;
let result: CatalogResult;
let admindir: string;
let catalogMs: number;

function dpkgQuery(...args: string[]): string {
  return execFileSync('dpkg-query', [`--admindir=${admindir}`, ...args], { encoding: 'utf8' });
}

beforeAll(async () => {
  demo = await readDemoFiles((p) => dpkgCataloger.wants(p) || osReleaseWants(p));
  const distro = detectDistro(demo.files.filter((f) => osReleaseWants(f.path)));
  const files = demo.files.filter((f) => dpkgCataloger.wants(f.path));
  const started = performance.now();
  result = await dpkgCataloger.catalog({ files, allPaths: demo.allPaths, distro });
  catalogMs = performance.now() - started;
  console.log(`dpkg cataloger on the demo image: ${catalogMs.toFixed(1)} ms for ${files.length} files`);

  admindir = await mkdtemp(join(tmpdir(), 'sigil-dpkg-'));
  await mkdir(join(admindir, 'info'), { recursive: true });
  await mkdir(join(admindir, 'updates'), { recursive: true });
  for (const f of demo.files) {
    if (f.path === '/var/lib/dpkg/status') await writeFile(join(admindir, 'status'), f.bytes);
    else if (f.path.startsWith('/var/lib/dpkg/info/'))
      await writeFile(join(admindir, 'info', basename(f.path)), f.bytes);
  }
  await writeFile(join(admindir, 'info', 'format'), '1\n');
});

afterAll(async () => {
  if (admindir !== undefined) await rm(admindir, { recursive: true, force: true });
});

const byName = (name: string): Package => {
  const p = result.packages.find((x) => x.name === name);
  if (p === undefined) throw new Error(`no package ${name}`);
  return p;
};

describe('dpkg cataloger on the demo image', () => {
  test('finds exactly the packages dpkg-query lists, with name, version and arch', () => {
    const truth = dpkgQuery('-W', '-f', '${Package}\t${Version}\t${Architecture}\n').trim().split('\n').sort();
    const ours = result.packages.map((p) => `${p.name}\t${p.version}\t${p.arch}`).sort();
    expect(ours).toEqual(truth);
    expect(ours).toHaveLength(demo.image.packages.length);
    expect(result.warnings).toEqual([]);
  });

  test('source packages as dpkg-query reports them', () => {
    const truth = dpkgQuery('-W', '-f', '${Package}\t${source:Package}\t${source:Version}\n').trim().split('\n').sort();
    const ours = result.packages
      .map((p) => `${p.name}\t${p.sourceName ?? p.name}\t${p.sourceVersion ?? p.version}`)
      .sort();
    expect(ours).toEqual(truth);
  });

  test('introducedBy and lastChangedBy are the layer that installed each package', () => {
    for (const layer of demo.image.layers) {
      for (const name of layer.packages) {
        const p = byName(name);
        expect(p.introducedBy, name).toBe(layer.diffId);
        // Later layers rewrite the status file but leave each earlier paragraph as it was.
        expect(p.lastChangedBy, name).toBe(layer.diffId);
      }
    }
    // The database file itself comes from the top layer.
    const top = demo.image.layers.at(-1)!.diffId;
    for (const p of result.packages) expect(p.locations[0]).toEqual({ path: '/var/lib/dpkg/status', layerDiffId: top });
  });

  test('files are the regular files dpkg -L lists, without directories or symlinks', () => {
    for (const p of result.packages) {
      const listed = dpkgQuery('-L', p.arch === 'all' ? p.name : `${p.name}:${p.arch}`)
        .trim()
        .split('\n')
        .filter((l) => demo.allPaths.has(l));
      expect(listed.length, p.name).toBeGreaterThan(0);
      expect(new Set(p.files), p.name).toEqual(new Set(listed));
      const list = p.locations.find((l) => l.path.endsWith('.list'));
      expect(list?.layerDiffId, p.name).toBe(p.introducedBy);
    }
    expect(byName('libc6').files).toContain('/lib/x86_64-linux-gnu/libc.so.6');
  });

  test('dependencies resolve to installed packages, through Provides and arch qualifiers', () => {
    const id = (n: string) => byName(n).id;
    expect(byName('libc6').dependsOn).toEqual([id('libgcc-s1')]);
    expect(byName('libgcc-s1').dependsOn).toEqual([id('gcc-12-base'), id('libc6')].sort());
    // base-files Pre-Depends on the virtual package awk, which mawk provides.
    expect(byName('base-files').dependsOn).toEqual([id('mawk')]);
    expect(byName('netbase').dependsOn).toBeUndefined();
    const ids = new Set(result.packages.map((p) => p.id));
    for (const p of result.packages) for (const d of p.dependsOn ?? []) expect(ids.has(d)).toBe(true);
  });

  test('purls, licenses and suppliers', () => {
    const zlib = byName('zlib1g');
    expect(zlib.purl).toBe(
      `pkg:deb/debian/zlib1g@${zlib.version.replace(':', '%3A')}?arch=amd64&distro=debian-12&upstream=zlib`,
    );
    expect(byName('netbase').purl).toBe(
      `pkg:deb/debian/netbase@${byName('netbase').version}?arch=all&distro=debian-12`,
    );
    expect(zlib.license).toBe('Zlib');
    expect(byName('netbase').license).toBe('GPL-2.0-only');
    expect(byName('libzstd1').license).toBe(
      'BSD-3-Clause AND (BSD-3-Clause OR GPL-2.0-only) AND GPL-2.0-only AND MIT AND Zlib',
    );
    expect(byName('mawk').license).toBe('CC-BY-3.0 AND GPL-2.0-only AND X11');
    // Free-text copyright files: the common-licenses references and the wording around them.
    expect(byName('base-files').license).toBe('GPL-2.0-or-later');
    expect(byName('libc6').license).toBe('GPL-2.0-or-later AND LGPL-2.1-or-later');
    for (const p of result.packages) if (p.license !== undefined) expect(() => parseSpdx(p.license!)).not.toThrow();
    expect(byName('libc6').supplier).toBe('GNU Libc Maintainers <debian-glibc@lists.debian.org>');
  });

  test('output is deterministic and fast', async () => {
    const again = await dpkgCataloger.catalog({
      files: demo.files.filter((f) => dpkgCataloger.wants(f.path)),
      allPaths: demo.allPaths,
      distro: { id: 'debian', versionId: '12' },
    });
    expect(again).toEqual(result);
    expect(catalogMs).toBeLessThan(500);
  });
});
