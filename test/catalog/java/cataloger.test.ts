/**
 * The Java cataloger on the real archives of shared/vectors/sbom/java-archives (Debian's jars and a
 * war built with the JDK's jar tool) against expected.tsv, computed there with unzip; plus broken
 * and hostile zips written here with node:zlib.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32, deflateRawSync } from 'node:zlib';
import { describe, expect, test } from 'vitest';
import type { CatalogFile } from '../../../src/catalog/cataloger.ts';
import { readMembers } from '../../../src/catalog/java/archive.ts';
import { createJavaCataloger, javaCataloger } from '../../../src/catalog/java/cataloger.ts';
import { parseManifest } from '../../../src/catalog/java/manifest.ts';
import type { Digest } from '../../../src/oci/digest.ts';
import { SBOM_VECTORS } from '../../helpers/vectors.ts';

const DIR = join(SBOM_VECTORS, 'java-archives');
const LAYER = `sha256:${'ef'.repeat(32)}` as Digest;
const ARCHIVES = ['hamcrest-2.2.jar', 'slf4j-api.jar', 'sample-webapp-1.0.0.war'];

async function vectorFiles(): Promise<CatalogFile[]> {
  return Promise.all(
    ARCHIVES.map(async (n) => ({ path: `/app/${n}`, bytes: await readFile(join(DIR, n)), layerDiffId: LAYER })),
  );
}

/** A zip with stored (method 0) or deflated (method 8) members: local headers, central directory, end record. */
function zip(members: { name: string; data: Buffer; store?: boolean }[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const m of members) {
    const body = m.store ? m.data : deflateRawSync(m.data);
    const name = Buffer.from(m.name);
    const crc = crc32(m.data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(m.store ? 0 : 8, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(m.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(m.store ? 0 : 8, 10);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(body.length, 20);
    central.writeUInt32LE(m.data.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, body);
    centrals.push(central, name);
    offset += local.length + name.length + body.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(members.length, 8);
  end.writeUInt16LE(members.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

const manifest = (lines: string[]) => ({
  name: 'META-INF/MANIFEST.MF',
  data: Buffer.from(lines.join('\r\n') + '\r\n\r\n'),
});

describe('java-archives vectors', () => {
  test('exactly the entries of expected.tsv, with group ids, evidence and nested paths', async () => {
    const { packages, warnings } = await javaCataloger.catalog({ files: await vectorFiles(), allPaths: new Set() });
    expect(warnings).toEqual([]);
    const [header, ...rows] = (await readFile(join(DIR, 'expected.tsv'), 'utf8')).trim().split('\n');
    const cols = header!.split('\t');
    const expected = rows
      .map((r) => Object.fromEntries(r.split('\t').map((v, i) => [cols[i]!, v])))
      .map((r) => [r.name, r.version, r.group_id, `/app/${r.path!.replace('!', ':')}`, r.evidence].join('\t'))
      .sort();
    const ours = packages
      .flatMap((p) =>
        p.locations.map((l) => [p.name, p.version, p.metadata?.groupId ?? '', l.path, p.metadata?.evidence].join('\t')),
      )
      .sort();
    // The war itself has neither pom.properties nor a useful manifest: only its file name names it
    // (syft reports it the same way); expected.tsv lists the nested jars alone.
    expect(ours).toEqual([...expected, 'sample-webapp\t1.0.0\t\t/app/sample-webapp-1.0.0.war\tfile-name'].sort());
    // name@version at two paths is one package.
    expect(packages).toHaveLength(4);
    const byName = Object.fromEntries(packages.map((p) => [p.name, p]));
    expect(byName['slf4j-api']!.purl).toBe('pkg:maven/org.slf4j/slf4j-api@1.7.32');
    expect(byName['slf4j-simple']!.purl).toBe('pkg:maven/org.slf4j/slf4j-simple@1.7.32');
    // hamcrest has no pom.properties; Bundle-SymbolicName org.hamcrest is the groupId hint (syft's rule).
    expect(byName['hamcrest']!.purl).toBe('pkg:maven/org.hamcrest/hamcrest@2.2');
    expect(byName['sample-webapp']!.purl).toBe('pkg:maven/sample-webapp/sample-webapp@1.0.0');
    expect(packages.every((p) => p.locations.every((l) => l.layerDiffId === LAYER))).toBe(true);
  });

  test('manifest continuation lines are unfolded', async () => {
    const budget = { remaining: 1 << 20, limit: 1 << 20 };
    const [member] = await readMembers(
      await readFile(join(DIR, 'hamcrest-2.2.jar')),
      (n) => n === 'META-INF/MANIFEST.MF',
      budget,
    );
    const text = member!.bytes.toString('utf8');
    expect(text).toMatch(/\r\n /); // folded in the file
    const m = parseManifest(text);
    expect(m.get('import-package')).toContain('org.hamcrest.comparator;version="[2.2,3)"');
    expect(m.get('import-package')).not.toMatch(/\r|\n/);
    expect(m.get('bundle-symbolicname')).toBe('org.hamcrest');
  });
});

describe('broken and hostile archives', () => {
  test('a corrupt zip is a warning naming the file; the others are still reported', async () => {
    const files = await vectorFiles();
    const truncated = files[0]!.bytes.subarray(0, 60_000);
    files.push({ path: '/app/broken-1.0.jar', bytes: truncated, layerDiffId: LAYER });
    const { packages, warnings } = await javaCataloger.catalog({ files, allPaths: new Set() });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^\/app\/broken-1\.0\.jar: not a readable zip archive/);
    expect(packages.map((p) => p.name).sort()).toEqual(['hamcrest', 'sample-webapp', 'slf4j-api', 'slf4j-simple']);
  });

  test('a zip bomb is capped with a warning; what was read before the cap is kept', async () => {
    const bomb = zip([
      {
        name: 'META-INF/maven/com.example/app/pom.properties',
        data: Buffer.from('groupId=com.example\nartifactId=app\nversion=1.0\n'),
      },
      { name: 'BOOT-INF/lib/zeros.jar', data: Buffer.alloc(64 * 1024 * 1024) },
    ]);
    expect(bomb.length).toBeLessThan(128 * 1024);
    const cataloger = createJavaCataloger({ maxUncompressedBytes: 1024 * 1024 });
    const { packages, warnings } = await cataloger.catalog({
      files: [{ path: '/app/bomb.jar', bytes: bomb, layerDiffId: LAYER }],
      allPaths: new Set(),
    });
    expect(packages.map((p) => p.purl)).toEqual(['pkg:maven/com.example/app@1.0']);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(
      /^\/app\/bomb\.jar: member BOOT-INF\/lib\/zeros\.jar declares 67108864 bytes; over the 1048576-byte/,
    );
  });

  test('the byte budget covers nested archives too, and nesting stops at the depth limit', async () => {
    const slf4j = await readFile(join(DIR, 'slf4j-api.jar'));
    let nested: Buffer = slf4j;
    for (let i = 0; i < 3; i++) nested = zip([{ name: `lib/level${i}.jar`, data: nested, store: true }]);
    const shallow = createJavaCataloger({ maxDepth: 2 });
    const r1 = await shallow.catalog({
      files: [{ path: '/n.ear', bytes: nested, layerDiffId: LAYER }],
      allPaths: new Set(),
    });
    expect(r1.packages).toEqual([]);
    expect(r1.warnings).toEqual([
      '/n.ear:lib/level2.jar:lib/level1.jar:lib/level0.jar: nested deeper than 2 archives; not read',
    ]);
    const deep = await javaCataloger.catalog({
      files: [{ path: '/n.ear', bytes: nested, layerDiffId: LAYER }],
      allPaths: new Set(),
    });
    expect(deep.packages[0]!.locations[0]!.path).toBe('/n.ear:lib/level2.jar:lib/level1.jar:lib/level0.jar');
    // Each level is under the cap on its own; together they are not.
    const tight = createJavaCataloger({ maxUncompressedBytes: Math.round(slf4j.length * 2.5) });
    const r2 = await tight.catalog({
      files: [{ path: '/n.ear', bytes: nested, layerDiffId: LAYER }],
      allPaths: new Set(),
    });
    expect(r2.packages).toEqual([]);
    expect(r2.warnings).toHaveLength(1);
    expect(r2.warnings[0]).toMatch(/^\/n\.ear:lib\/level2\.jar:lib\/level1\.jar: member lib\/level0\.jar declares/);
  });

  test('manifest fallback, Bundle-License, file-name fallback', async () => {
    const withLicense = zip([
      manifest([
        'Manifest-Version: 1.0',
        'Bundle-SymbolicName: com.example.lib;singleton:=true',
        'Implementation-Title: lib',
        'Implementation-Version: 3.1',
        'Bundle-License: https://www.apache.org/licenses/LICENSE-2.0.txt',
      ]),
    ]);
    const bare = zip([manifest(['Manifest-Version: 1.0', 'Main-Class: x.Main'])]);
    const { packages, warnings } = await javaCataloger.catalog({
      files: [
        { path: '/a/lib.jar', bytes: withLicense, layerDiffId: LAYER },
        { path: '/a/commons-io-2.11.0.jar', bytes: bare, layerDiffId: LAYER },
        { path: '/a/app.jar', bytes: bare, layerDiffId: LAYER },
      ],
      allPaths: new Set(),
    });
    expect(warnings).toEqual([]);
    expect(packages.map((p) => [p.purl, p.license ?? '', p.metadata?.evidence])).toEqual([
      ['pkg:maven/com.example.lib/lib@3.1', 'Apache-2.0', 'MANIFEST.MF'],
      ['pkg:maven/commons-io/commons-io@2.11.0', '', 'file-name'],
    ]);
  });

  test('wants the archive extensions only', () => {
    for (const p of ['/a/x.jar', '/a/x.war', '/a/x.ear', '/a/x.jpi', '/a/x.hpi', '/a/X.JAR'])
      expect(javaCataloger.wants(p)).toBe(true);
    for (const p of ['/a/x.zip', '/a/x.jar.sha1', '/a/jar']) expect(javaCataloger.wants(p)).toBe(false);
  });
});
