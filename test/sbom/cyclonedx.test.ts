import { describe, expect, test } from 'vitest';
import { cdxSupplier, encodeCycloneDx } from '../../src/sbom/cyclonedx.ts';
import { EPOCH, fixtureDocument, fixtureFiles, LAYER0, LAYER1, SOURCE } from './fixtures.ts';
import { expectGolden } from './golden.ts';
import { cycloneDxProblems } from './validate.ts';

interface CdxComponent {
  type: string;
  name: string;
  group?: string;
  version?: string;
  'bom-ref'?: string;
  purl?: string;
  supplier?: { name?: string; contact?: { name?: string; email?: string }[] };
  licenses?: ({ license: { id?: string; name?: string } } | { expression: string })[];
  properties?: { name: string; value: string }[];
  hashes?: { alg: string; content: string }[];
}
interface CdxJson {
  specVersion: string;
  serialNumber: string;
  metadata: { timestamp: string; tools: { components: CdxComponent[] }; component: CdxComponent };
  components: CdxComponent[];
  dependencies: { ref: string; dependsOn?: string[] }[];
}

const parse = (text: string) => JSON.parse(text) as CdxJson;

describe.each(['1.6', '1.7'] as const)('CycloneDX %s JSON', (version) => {
  const encode = (files = false) =>
    encodeCycloneDx(fixtureDocument(files ? { files: fixtureFiles() } : {}), version, { sourceDateEpoch: EPOCH });

  test('is valid by the library strict validator, with sound bom-refs and dependencies', async () => {
    expect(await cycloneDxProblems(encode(), version)).toEqual([]);
    expect(await cycloneDxProblems(encode(true), version)).toEqual([]);
    const empty = encodeCycloneDx(fixtureDocument({ packages: [], distro: undefined }), version);
    expect(await cycloneDxProblems(empty, version)).toEqual([]);
  });

  test('matches the golden files (SOURCE_DATE_EPOCH fixed)', () => {
    expectGolden(`cyclonedx-${version}.json`, encode());
    expectGolden(`cyclonedx-${version}-files.json`, encode(true));
  });

  test('metadata: the image as a container with its digest and oci purl, sigil as the tool', () => {
    const bom = parse(encode());
    expect(bom.specVersion).toBe(version);
    expect(bom.metadata.timestamp).toBe('2024-01-01T00:00:00.000Z');
    expect(bom.serialNumber).toMatch(/^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(bom.metadata.tools.components).toEqual([{ type: 'application', name: 'sigil', version: '0.1.0' }]);
    const image = bom.metadata.component;
    expect(image.type).toBe('container');
    expect(image.name).toBe('ghcr.io/example/app:1.0');
    expect(image.version).toBe(SOURCE.manifestDigest);
    expect(image['bom-ref']).toBe(`image:${SOURCE.manifestDigest}`);
    expect(image.purl).toBe(
      `pkg:oci/app@sha256%3A${SOURCE.manifestDigest.slice(7)}?arch=amd64&repository_url=ghcr.io%2Fexample%2Fapp&tag=1.0`,
    );
    const props = Object.fromEntries(image.properties!.map((p) => [p.name, p.value]));
    expect(props['sigil:image:layer:0:diffID']).toBe(LAYER0.diffId);
    expect(props['sigil:image:layer:1:diffID']).toBe(LAYER1.diffId);
    expect(props['sigil:image:platform']).toBe('linux/amd64');
  });

  test('components: OS first, then packages with bom-ref = id, purl, licenses, supplier, layer properties', () => {
    const bom = parse(encode());
    expect(bom.components.map((c) => `${c.type}:${c.name}`)).toEqual([
      'operating-system:debian',
      'library:base-files',
      'library:bash',
      'library:libc6',
      'library:slf4j-api',
      'library:@babel/core',
      'library:debug',
      'library:requests',
    ]);
    const byName = new Map(bom.components.map((c) => [c.name, c]));
    const libc = byName.get('libc6')!;
    expect(libc['bom-ref']).toBe('deb:libc6@2.36-9+deb12u4:amd64');
    expect(libc.purl).toBe('pkg:deb/debian/libc6@2.36-9+deb12u4?arch=amd64&distro=debian-12&upstream=glibc');
    expect(libc.licenses).toEqual([
      { expression: 'GPL-2.0-or-later AND LGPL-2.1-or-later AND LicenseRef-Unicode-DFS' },
    ]);
    expect(libc.supplier).toEqual({
      name: 'GNU Libc Maintainers',
      contact: [{ name: 'GNU Libc Maintainers', email: 'debian-glibc@lists.debian.org' }],
    });
    // Both places the package was recorded, in layer order.
    expect(
      libc.properties!.filter((p) => p.name.startsWith('sigil:location:') || p.name.startsWith('sigil:layer:')),
    ).toEqual([
      { name: 'sigil:layer:introducedBy', value: LAYER0.diffId },
      { name: 'sigil:layer:lastChangedBy', value: LAYER1.diffId },
      { name: 'sigil:location:0:layerID', value: LAYER0.diffId },
      { name: 'sigil:location:0:path', value: '/var/lib/dpkg/status' },
      { name: 'sigil:location:1:layerID', value: LAYER1.diffId },
      { name: 'sigil:location:1:path', value: '/var/lib/dpkg/status' },
    ]);
    expect(libc.properties).toContainEqual({ name: 'sigil:metadata:Installed-Size', value: '12986' });
    expect(byName.get('bash')!.licenses).toEqual([{ license: { id: 'GPL-3.0-or-later' } }]);
    expect(byName.get('debug')!.licenses).toEqual([{ expression: 'MIT OR Apache-2.0' }]);
    expect(byName.get('base-files')!.licenses).toBeUndefined();
    expect(byName.get('@babel/core')!.purl).toBe('pkg:npm/%40babel/core@7.24.0');
    expect(byName.get('@babel/core')!.group).toBeUndefined();
    expect(byName.get('slf4j-api')!.group).toBe('org.slf4j');
    expect(byName.get('requests')!.supplier).toEqual({ name: 'Python Software Foundation' });
    expect(byName.get('debian')!['bom-ref']).toBe('os:debian@12');
  });

  test('dependencies: one entry per component, no duplicates, only refs that exist', () => {
    const bom = parse(encode());
    const withDeps = bom.dependencies.filter((d) => d.dependsOn !== undefined);
    expect(withDeps).toEqual([
      {
        ref: 'deb:bash@5.2.15-2+b2:amd64',
        dependsOn: ['deb:base-files@12.4+deb12u5:amd64', 'deb:libc6@2.36-9+deb12u4:amd64'],
      },
      {
        ref: 'npm:@babel/core@7.24.0:/app/node_modules/@babel/core',
        dependsOn: ['npm:debug@4.3.4:/app/node_modules/debug'],
      },
    ]);
    expect(bom.dependencies.map((d) => d.ref).sort()).toEqual(
      [bom.metadata.component, ...bom.components].map((c) => c['bom-ref']).sort(),
    );
  });

  test('files appear only with --files, as file components with hashes and layer', () => {
    expect(parse(encode()).components.filter((c) => c.type === 'file')).toEqual([]);
    const files = parse(encode(true)).components.filter((c) => c.type === 'file');
    expect(files.map((f) => f.name)).toHaveLength(5);
    const bash = files.find((f) => f.name === '/usr/bin/bash')!;
    expect(bash.hashes).toEqual([{ alg: 'SHA-256', content: expect.stringMatching(/^[0-9a-f]{64}$/) }]);
    expect(bash.properties).toEqual([
      { name: 'sigil:file:layerID', value: LAYER0.diffId },
      { name: 'sigil:file:owner:0', value: 'deb:bash@5.2.15-2+b2:amd64' },
    ]);
  });
});

describe('CycloneDX', () => {
  test('1.6 and 1.7 differ in spec version and schema only', () => {
    const a = encodeCycloneDx(fixtureDocument(), '1.6', { sourceDateEpoch: EPOCH });
    const b = encodeCycloneDx(fixtureDocument(), '1.7', { sourceDateEpoch: EPOCH });
    const strip = (t: string) => {
      const j = JSON.parse(t) as Record<string, unknown>;
      delete j.$schema;
      delete j.specVersion;
      delete j.serialNumber;
      return j;
    };
    expect(strip(a)).toEqual(strip(b));
    expect(a).not.toBe(b);
  });

  test('suppliers: organisations, maintainers with and without a usable address', () => {
    const plain = (s: string | undefined) => JSON.parse(JSON.stringify(cdxSupplier(s) ?? null)) as unknown;
    expect(cdxSupplier(undefined)).toBeUndefined();
    expect(cdxSupplier('NOASSERTION')).toBeUndefined();
    expect(cdxSupplier('Organization: Red Hat, Inc.')?.name).toBe('Red Hat, Inc.');
    const person = cdxSupplier('Person: Jane Doe (jane@example.org)')!;
    expect(person.name).toBe('Jane Doe');
    expect([...person.contact].map((c) => [c.name, c.email])).toEqual([['Jane Doe', 'jane@example.org']]);
    const noMail = cdxSupplier('Debian QA Group <packages@qa>')!;
    expect([...noMail.contact].map((c) => c.email)).toEqual([undefined]);
    expect(noMail.name).toBe('Debian QA Group <packages@qa>');
    expect(plain('')).toBeNull();
  });

  // The mutations reach into arbitrary JSON paths; typing them would only restate the schema.
  /* eslint-disable @typescript-eslint/no-explicit-any */
  test('the validator rejects invalid BOMs (so the validity tests can fail)', async () => {
    const good = JSON.parse(encodeCycloneDx(fixtureDocument(), '1.6', { sourceDateEpoch: EPOCH })) as Record<
      string,
      any
    >;
    const broken = async (mutate: (d: Record<string, any>) => void) => {
      const d = structuredClone(good);
      mutate(d);
      return (await cycloneDxProblems(JSON.stringify(d), '1.6')).join('\n');
    };
    expect(await broken((d) => (d.components[1].type = 'banana'))).toMatch(/schema/);
    expect(await broken((d) => (d.serialNumber = 'not-a-urn'))).toMatch(/schema/);
    expect(
      await broken((d) => (d.components[2].licenses = [{ license: { id: 'MIT' } }, { expression: 'MIT OR X11' }])),
    ).toMatch(/schema/);
    expect(await broken((d) => (d.components[2]['bom-ref'] = d.components[1]['bom-ref']))).toMatch(/duplicate bom-ref/);
    expect(await broken((d) => d.dependencies.push({ ref: 'nope' }))).toMatch(/unknown ref nope/);
    expect(await broken((d) => (d.dependencies[0].dependsOn = ['x', 'x']))).toMatch(/duplicate dependsOn/);
  });
  /* eslint-enable @typescript-eslint/no-explicit-any */
});
