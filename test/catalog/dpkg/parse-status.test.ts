import { describe, expect, test } from 'vitest';
import type { CatalogFile } from '../../../src/catalog/cataloger.ts';
import { dpkgCataloger, dpkgWants } from '../../../src/catalog/dpkg/cataloger.ts';
import { parseRelation } from '../../../src/catalog/dpkg/dependencies.ts';
import { isInstalled, parseStanzas } from '../../../src/catalog/dpkg/parse-status.ts';
import type { Digest } from '../../../src/oci/digest.ts';

const L1 = `sha256:${'1'.repeat(64)}` as Digest;
const L2 = `sha256:${'2'.repeat(64)}` as Digest;
const L3 = `sha256:${'3'.repeat(64)}` as Digest;

const stanza = (name: string, version: string, extra = '', status = 'install ok installed') =>
  `Package: ${name}\nStatus: ${status}\nArchitecture: amd64\nVersion: ${version}\n${extra}Description: ${name}\n two lines\n`;

const status = (bytes: string, layer = L1, earlier?: { layerDiffId: Digest; bytes: string }[]): CatalogFile => ({
  path: '/var/lib/dpkg/status',
  bytes: Buffer.from(bytes),
  layerDiffId: layer,
  ...(earlier ? { earlier: earlier.map((e) => ({ layerDiffId: e.layerDiffId, bytes: Buffer.from(e.bytes) })) } : {}),
});

const catalog = (...files: CatalogFile[]) =>
  dpkgCataloger.catalog({ files, allPaths: new Set(), distro: { id: 'debian', versionId: '12' } });

describe('deb822 parsing', () => {
  test('continuation lines, several blank lines, CRLF and no final newline', () => {
    const text = `${stanza('a', '1')}\n\n\n${stanza('b', '2')}`.replace(/\n/g, '\r\n').replace(/\r\n$/, '');
    const { stanzas, warnings } = parseStanzas(text, 'status');
    expect(warnings).toEqual([]);
    expect(stanzas.map((s) => s.fields.get('package'))).toEqual(['a', 'b']);
    expect(stanzas[1]!.fields.get('description')).toBe('b\ntwo lines');
    expect(stanzas[1]!.line).toBe(10);
    expect(stanzas[0]!.text).not.toContain('\r');
  });

  test('a malformed paragraph is skipped with a warning naming file and line; the others are kept', async () => {
    const text = `${stanza('a', '1')}\nPackage: broken\nthis is not a field\nVersion: 1\n\n${stanza('c', '3')}`;
    const { stanzas, warnings } = parseStanzas(text, '/var/lib/dpkg/status');
    expect(stanzas.map((s) => s.fields.get('package'))).toEqual(['a', 'c']);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^\/var\/lib\/dpkg\/status:9: /);
    const r = await catalog(status(text));
    expect(r.packages.map((p) => p.name)).toEqual(['a', 'c']);
    expect(r.warnings).toEqual(warnings);
  });

  test('continuation before any field, duplicate fields, missing Version are reported', async () => {
    const text = ` orphan\nPackage: x\n\nPackage: d\nPackage: d\nVersion: 1\n\nPackage: nov\nStatus: install ok installed\n`;
    const r = await catalog(status(text));
    expect(r.packages).toEqual([]);
    expect(r.warnings).toEqual([
      expect.stringMatching(/status:1: continuation line/),
      expect.stringMatching(/status:5: field "Package" appears twice/),
      expect.stringMatching(/status:8: paragraph without Package or Version/),
    ]);
  });

  test('only install/hold + installed count', () => {
    const of = (s: string | undefined) =>
      isInstalled({ fields: new Map(s === undefined ? [] : [['status', s]]), line: 1, text: '' });
    expect(of('install ok installed')).toBe(true);
    expect(of('hold ok installed')).toBe(true);
    expect(of(undefined)).toBe(true); // distroless status.d
    expect(of('deinstall ok config-files')).toBe(false);
    expect(of('deinstall ok installed')).toBe(false);
    expect(of('install ok unpacked')).toBe(false);
    expect(of('purge ok not-installed')).toBe(false);
  });

  test('a removed package with config files left is not reported', async () => {
    const r = await catalog(status(`${stanza('kept', '1')}\n${stanza('gone', '2', '', 'deinstall ok config-files')}`));
    expect(r.packages.map((p) => p.name)).toEqual(['kept']);
  });
});

describe('dpkg cataloger details', () => {
  test('wants the database, info lists, status.d stanzas and md5sums, copyright files, nothing else', () => {
    for (const p of [
      '/var/lib/dpkg/status',
      '/var/lib/dpkg/status.d/base',
      '/var/lib/dpkg/status.d/libgtk2.0-0',
      '/var/lib/dpkg/status.d/netbase.md5sums',
      '/var/lib/dpkg/info/libc6:amd64.list',
      '/var/lib/dpkg/info/mawk.md5sums',
      '/usr/share/doc/zlib1g/copyright',
    ])
      expect(dpkgWants(p), p).toBe(true);
    for (const p of [
      '/var/lib/dpkg/status-old',
      '/var/lib/dpkg/available',
      '/var/lib/dpkg/status.d/netbase.preinst',
      '/var/lib/dpkg/status.d/sub/x',
      '/var/lib/dpkg/info/mawk.postinst',
      '/var/lib/dpkg/info/format',
      '/usr/share/doc/zlib1g/changelog.gz',
      '/usr/share/doc/a/b/copyright',
      '/opt/var/lib/dpkg/status',
    ])
      expect(dpkgWants(p), p).toBe(false);
  });

  test('provenance: introduced by the first layer listing it, last changed where its paragraph changed', async () => {
    const a1 = stanza('a', '1');
    const a2 = stanza('a', '2');
    const b = stanza('b', '1');
    const c = stanza('c', '1');
    const r = await catalog(
      status(`${a2}\n${b}\n${c}`, L3, [
        { layerDiffId: L1, bytes: `${a1}\n${b}` },
        { layerDiffId: L2, bytes: `${a2}\n${b}` },
      ]),
    );
    const get = (n: string) => r.packages.find((p) => p.name === n)!;
    expect([get('a').introducedBy, get('a').lastChangedBy]).toEqual([L1, L2]);
    expect([get('b').introducedBy, get('b').lastChangedBy]).toEqual([L1, L1]);
    expect([get('c').introducedBy, get('c').lastChangedBy]).toEqual([L3, L3]);
  });

  test('provenance: removed in one layer and reinstalled identically counts as a change', async () => {
    const b = stanza('b', '1');
    const r = await catalog(
      status(b, L3, [
        { layerDiffId: L1, bytes: b },
        { layerDiffId: L2, bytes: stanza('b', '1', '', 'deinstall ok config-files') },
      ]),
    );
    expect([r.packages[0]!.introducedBy, r.packages[0]!.lastChangedBy]).toEqual([L1, L3]);
  });

  test('dependencies: alternatives take the first installed, :any and versions ignored, self and unknown dropped', async () => {
    const text = [
      stanza(
        'app',
        '1',
        'Depends: missing | libfoo:any (>= 1.0), libbar [amd64] <!nocheck>, app, ghost\nPre-Depends: awk\n',
      ),
      stanza('libfoo', '2'),
      stanza('libbar', '3'),
      stanza('mawk', '4', 'Provides: awk\n'),
    ].join('\n');
    const r = await catalog(status(text));
    expect(r.packages.find((p) => p.name === 'app')!.dependsOn).toEqual([
      'deb:libbar@3:amd64',
      'deb:libfoo@2:amd64',
      'deb:mawk@4:amd64',
    ]);
    expect(parseRelation(' libc6:amd64 (>= 2.34) [amd64] <!nocheck>')).toEqual({ name: 'libc6', arch: 'amd64' });
  });

  test('source, epoch and purl', async () => {
    const r = await catalog(
      status(stanza('bash', '5.2.15-2+b2', 'Source: bash (5.2.15-2)\nMaintainer: Matthias Klose <doko@debian.org>\n')),
    );
    const p = r.packages[0]!;
    expect(p).toMatchObject({
      id: 'deb:bash@5.2.15-2+b2:amd64',
      sourceName: 'bash',
      sourceVersion: '5.2.15-2',
      supplier: 'Matthias Klose <doko@debian.org>',
      purl: 'pkg:deb/debian/bash@5.2.15-2+b2?arch=amd64&distro=debian-12&upstream=bash%405.2.15-2',
    });
  });

  test('copyright file of a package gives its license', async () => {
    const copyright: CatalogFile = {
      path: '/usr/share/doc/a/copyright',
      layerDiffId: L1,
      bytes: Buffer.from(
        'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\nFiles: *\nCopyright: x\nLicense: GPL-2+ or Artistic\n\nFiles: debian/*\nLicense: Expat\n\nLicense: Expat\n Permission is hereby granted\n',
      ),
    };
    const r = await catalog(status(stanza('a', '1')), copyright);
    expect(r.packages[0]!.license).toBe('(GPL-2.0-or-later OR Artistic-1.0-Perl) AND MIT');
  });
});
