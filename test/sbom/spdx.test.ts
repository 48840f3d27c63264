import { describe, expect, test } from 'vitest';
import { encodeSpdx, packageSpdxId, spdxSupplier } from '../../src/sbom/spdx.ts';
import { EPOCH, fixtureDocument, fixtureFiles, LAYER0, LAYER1, SOURCE } from './fixtures.ts';
import { expectGolden } from './golden.ts';
import { spdxProblems } from './validate.ts';

interface SpdxJson {
  documentNamespace: string;
  creationInfo: { created: string; creators: string[] };
  packages: {
    SPDXID: string;
    name: string;
    versionInfo: string;
    supplier: string;
    licenseDeclared: string;
    licenseConcluded: string;
    sourceInfo?: string;
    primaryPackagePurpose: string;
    externalRefs?: { referenceCategory: string; referenceType: string; referenceLocator: string }[];
    annotations?: { comment: string }[];
    checksums?: { algorithm: string; checksumValue: string }[];
  }[];
  files?: { fileName: string; SPDXID: string; checksums: { algorithm: string }[]; comment?: string }[];
  hasExtractedLicensingInfos?: { licenseId: string }[];
  relationships: { spdxElementId: string; relationshipType: string; relatedSpdxElement: string }[];
}

const encode = (files = false) =>
  encodeSpdx(fixtureDocument(files ? { files: fixtureFiles() } : {}), { sourceDateEpoch: EPOCH });
const parse = (text: string) => JSON.parse(text) as SpdxJson;

describe('SPDX 2.3 JSON', () => {
  test('is valid against the official SPDX 2.3 schema and the spec rules the schema leaves out', () => {
    expect(spdxProblems(encode())).toEqual([]);
    expect(spdxProblems(encode(true))).toEqual([]);
    expect(spdxProblems(encodeSpdx(fixtureDocument({ packages: [], distro: undefined })))).toEqual([]);
  });

  test('matches the golden files (SOURCE_DATE_EPOCH fixed)', () => {
    expectGolden('spdx.json', encode());
    expectGolden('spdx-files.json', encode(true));
  });

  test('the document DESCRIBES the image, which CONTAINS every package', () => {
    const doc = parse(encode());
    const root = doc.packages[0]!;
    expect(root.primaryPackagePurpose).toBe('CONTAINER');
    expect(root.name).toBe('ghcr.io/example/app:1.0');
    expect(root.versionInfo).toBe(SOURCE.manifestDigest);
    expect(root.checksums).toEqual([{ algorithm: 'SHA256', checksumValue: SOURCE.manifestDigest.slice(7) }]);
    expect(root.externalRefs![0]!.referenceLocator).toBe(
      `pkg:oci/app@sha256%3A${SOURCE.manifestDigest.slice(7)}?arch=amd64&repository_url=ghcr.io%2Fexample%2Fapp&tag=1.0`,
    );
    expect(doc.relationships[0]).toEqual({
      spdxElementId: 'SPDXRef-DOCUMENT',
      relationshipType: 'DESCRIBES',
      relatedSpdxElement: root.SPDXID,
    });
    const contained = doc.relationships
      .filter((r) => r.spdxElementId === root.SPDXID && r.relationshipType === 'CONTAINS')
      .map((r) => r.relatedSpdxElement);
    expect(contained.sort()).toEqual(
      doc.packages
        .slice(1)
        .map((p) => p.SPDXID)
        .sort(),
    );
    expect(doc.packages).toHaveLength(1 + 7);
  });

  test('dependencies are DEPENDS_ON, without duplicates, self-edges or edges to absent packages', () => {
    const doc = parse(encode());
    const name = new Map(doc.packages.map((p) => [p.SPDXID, p.name]));
    const edges = doc.relationships
      .filter((r) => r.relationshipType === 'DEPENDS_ON')
      .map((r) => `${name.get(r.spdxElementId)!} -> ${name.get(r.relatedSpdxElement)!}`);
    expect(edges).toEqual(['bash -> base-files', 'bash -> libc6', '@babel/core -> debug']);
  });

  test('package fields: ids, supplier, licenses, purl, sourceInfo, layer annotations', () => {
    const doc = parse(encode());
    const byName = new Map(doc.packages.map((p) => [p.name, p]));
    const libc = byName.get('libc6')!;
    expect(libc.SPDXID).toMatch(/^SPDXRef-Package-deb-libc6-[0-9a-f]{16}$/);
    expect(libc.supplier).toBe('Person: GNU Libc Maintainers (debian-glibc@lists.debian.org)');
    expect(libc.licenseDeclared).toBe('GPL-2.0-or-later AND LGPL-2.1-or-later AND LicenseRef-Unicode-DFS');
    expect(libc.licenseConcluded).toBe('NOASSERTION');
    expect(libc.sourceInfo).toBe('acquired package info from DPKG DB: /var/lib/dpkg/status');
    expect(libc.externalRefs).toEqual([
      {
        referenceCategory: 'PACKAGE-MANAGER',
        referenceType: 'purl',
        referenceLocator: 'pkg:deb/debian/libc6@2.36-9+deb12u4?arch=amd64&distro=debian-12&upstream=glibc',
      },
    ]);
    expect(libc.annotations!.map((a) => a.comment)).toEqual([
      `sigil:layer:introducedBy: ${LAYER0.diffId}`,
      `sigil:layer:lastChangedBy: ${LAYER1.diffId}`,
    ]);
    expect(doc.hasExtractedLicensingInfos!.map((l) => l.licenseId)).toEqual(['LicenseRef-Unicode-DFS']);
    expect(byName.get('debug')!.licenseDeclared).toBe('MIT OR Apache-2.0');
    expect(byName.get('base-files')!.licenseDeclared).toBe('NOASSERTION');
    expect(byName.get('requests')!.supplier).toBe('Organization: Python Software Foundation');
    expect(byName.get('slf4j-api')!.supplier).toBe('NOASSERTION');
    const babel = byName.get('@babel/core')!;
    expect(babel.SPDXID).toMatch(/^SPDXRef-Package-npm--babel-core-[0-9a-f]{16}$/);
    expect(babel.externalRefs![0]!.referenceLocator).toBe('pkg:npm/%40babel/core@7.24.0');
  });

  test('a license that is not a valid expression becomes a declared LicenseRef', () => {
    const doc = fixtureDocument();
    doc.packages[2] = { ...doc.packages[2]!, license: 'GPL v2, see COPYING' };
    const text = encodeSpdx(doc, { sourceDateEpoch: EPOCH });
    expect(spdxProblems(text)).toEqual([]);
    const out = parse(text);
    expect(out.packages.find((p) => p.name === 'base-files')!.licenseDeclared).toBe('LicenseRef-GPL-v2-see-COPYING');
    expect(out.hasExtractedLicensingInfos!.map((l) => l.licenseId)).toContain('LicenseRef-GPL-v2-see-COPYING');
  });

  test('files appear only with --files: relative names, checksums, layer comment, CONTAINS from the owner', () => {
    expect(parse(encode()).files).toBeUndefined();
    const doc = parse(encode(true));
    expect(doc.files!.map((f) => f.fileName)).toEqual([
      'app/node_modules/debug/src/very/long/directory/name/that/goes/on/index.js',
      'app/server.js',
      'etc/debian_version',
      'lib/x86_64-linux-gnu/libc.so.6',
      'usr/bin/bash',
    ]);
    const bash = doc.files!.find((f) => f.fileName === 'usr/bin/bash')!;
    expect(bash.comment).toBe(`layerID: ${LAYER0.diffId}`);
    // SPDX 2.3 makes SHA1 mandatory for files; SHA256 follows when known.
    expect(bash.checksums.map((c) => c.algorithm)).toEqual(['SHA1', 'SHA256']);
    const owner = doc.relationships.find((r) => r.relatedSpdxElement === bash.SPDXID)!;
    expect(owner.spdxElementId).toBe(doc.packages.find((p) => p.name === 'bash')!.SPDXID);
    // An unowned file belongs to the image.
    const server = doc.files!.find((f) => f.fileName === 'app/server.js')!;
    expect(doc.relationships.find((r) => r.relatedSpdxElement === server.SPDXID)!.spdxElementId).toBe(
      doc.packages[0]!.SPDXID,
    );
    const long = doc.files![0]!;
    expect(long.SPDXID).toMatch(/^SPDXRef-File-\.\.\.[^/]{1,40}-[0-9a-f]{16}$/);
    expect(long.checksums[0]!.algorithm).toBe('SHA1');
  });

  test('namespace and created: fixed by SOURCE_DATE_EPOCH, from the digest and content', () => {
    const a = parse(encode());
    expect(a.creationInfo).toEqual({ creators: ['Tool: sigil-0.1.0'], created: '2024-01-01T00:00:00Z' });
    expect(a.documentNamespace).toMatch(
      /^https:\/\/sigil\.dev\/spdxdocs\/ghcr\.io\/example\/app-1\.0-[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    // Another image digest, or other content for the same image, gives another namespace.
    const other = parse(
      encodeSpdx(fixtureDocument({ source: { ...SOURCE, manifestDigest: `sha256:${'1'.repeat(64)}` } }), {
        sourceDateEpoch: EPOCH,
      }),
    );
    expect(other.documentNamespace).not.toBe(a.documentNamespace);
    expect(parse(encode(true)).documentNamespace).not.toBe(a.documentNamespace);
  });

  test('suppliers in SPDX agent syntax', () => {
    expect(spdxSupplier(undefined)).toBe('NOASSERTION');
    expect(spdxSupplier('  ')).toBe('NOASSERTION');
    expect(spdxSupplier('Organization: Debian')).toBe('Organization: Debian');
    expect(spdxSupplier('Jane Doe <jane@example.org>')).toBe('Person: Jane Doe (jane@example.org)');
    expect(spdxSupplier('<jane@example.org>')).toBe('Person: (jane@example.org)');
    expect(spdxSupplier('Jane Doe')).toBe('Person: Jane Doe');
  });

  test('SPDX ids replace characters outside [A-Za-z0-9.-]', () => {
    expect(packageSpdxId({ id: 'x', type: 'npm', name: '@scope/na_me+1' })).toMatch(
      /^SPDXRef-Package-npm--scope-na-me-1-[0-9a-f]{16}$/,
    );
  });
});

// The mutations reach into arbitrary JSON paths; typing them would only restate the schema.
/* eslint-disable @typescript-eslint/no-explicit-any */
describe('SPDX validation setup', () => {
  test('rejects documents that break the schema or the spec rules', () => {
    const good = JSON.parse(encode()) as Record<string, unknown>;
    const broken = (mutate: (d: Record<string, any>) => void) => {
      const d = structuredClone(good) as Record<string, any>;
      mutate(d);
      return spdxProblems(JSON.stringify(d));
    };
    expect(broken((d) => delete d.dataLicense).join()).toMatch(/schema: .*dataLicense/);
    expect(broken((d) => (d.relationships[1].relationshipType = 'DEPENDENCY_ON')).join()).toMatch(/schema/);
    expect(broken((d) => (d.packages[1].primaryPackagePurpose = 'OPERATING-SYSTEM')).join()).toMatch(/schema/);
    expect(broken((d) => delete d.packages[1].downloadLocation).join()).toMatch(/downloadLocation/);
    expect(broken((d) => delete d.hasExtractedLicensingInfos)).toEqual([
      expect.stringMatching(/uses undeclared LicenseRef-Unicode-DFS/),
    ]);
    expect(broken((d) => (d.relationships[2].relatedSpdxElement = 'SPDXRef-nope'))).toEqual([
      expect.stringMatching(/unknown element SPDXRef-nope/),
    ]);
    expect(broken((d) => (d.packages[2].SPDXID = d.packages[1].SPDXID)).join()).toMatch(/duplicate SPDXID/);
    expect(broken((d) => (d.creationInfo.created = '2024-01-01T00:00:00.123Z')).join()).toMatch(/created/);
  });
});
/* eslint-enable @typescript-eslint/no-explicit-any */
