/**
 * The encoders on real data: the demo image (3 layers of real Debian .debs) cataloged by the dpkg
 * cataloger, with licenses from the real copyright files, encoded in every format and validated.
 */
import { beforeAll, describe, expect, test } from 'vitest';
import { dpkgCataloger } from '../../src/catalog/dpkg/cataloger.ts';
import { detectDistro, osReleaseWants } from '../../src/catalog/os-release.ts';
import type { SbomDocument, SbomFileEntry } from '../../src/sbom/document.ts';
import { encoderFor } from '../../src/sbom/encoders.ts';
import { readDemoFiles } from '../catalog/demo-files.ts';
import { EPOCH } from './fixtures.ts';
import { cycloneDxProblems, spdxProblems } from './validate.ts';

let doc: SbomDocument;

beforeAll(async () => {
  const demo = await readDemoFiles((p) => dpkgCataloger.wants(p) || osReleaseWants(p));
  const distro = detectDistro(demo.files.filter((f) => osReleaseWants(f.path)));
  const result = await dpkgCataloger.catalog({
    files: demo.files.filter((f) => dpkgCataloger.wants(f.path)),
    allPaths: demo.allPaths,
    distro,
  });
  const files: SbomFileEntry[] = [];
  for (const p of result.packages) for (const path of p.files ?? []) files.push({ path, ownerIds: [p.id] });
  doc = {
    source: {
      name: `oci-dir:${demo.image.layoutDir}:demo`,
      manifestDigest: demo.image.manifest.digest,
      mediaType: demo.image.manifest.mediaType,
      platform: demo.image.manifest.platform,
      layers: demo.image.layers.map((l) => ({
        digest: l.descriptor.digest,
        diffId: l.diffId,
        mediaType: l.descriptor.mediaType,
        size: l.descriptor.size,
      })),
    },
    distro,
    packages: result.packages,
    files,
    tool: { name: 'sigil', version: '0.0.0-test' },
  };
});

describe('encoders on the demo image', () => {
  test('SPDX: valid, one package per dpkg package, every LicenseRef declared', () => {
    const started = performance.now();
    const text = encoderFor('spdx-json').encode({ ...doc, files: undefined }, { sourceDateEpoch: EPOCH });
    const withFiles = encoderFor('spdx-json').encode(doc, { sourceDateEpoch: EPOCH });
    console.log(
      `SPDX for ${doc.packages.length} packages / ${doc.files!.length} files: ${(performance.now() - started).toFixed(1)} ms, ` +
        `${text.length} / ${withFiles.length} bytes`,
    );
    expect(spdxProblems(text)).toEqual([]);
    expect(spdxProblems(withFiles)).toEqual([]);
    const out = JSON.parse(text) as { packages: { name: string; licenseDeclared: string }[] };
    expect(
      out.packages
        .slice(1)
        .map((p) => p.name)
        .sort(),
    ).toEqual(doc.packages.map((p) => p.name).sort());
    expect(doc.packages.length).toBeGreaterThan(5);
    // Real copyright files give real licenses: most packages declare one.
    const declared = out.packages.slice(1).filter((p) => p.licenseDeclared !== 'NOASSERTION');
    expect(declared.length).toBeGreaterThan(doc.packages.length / 2);
  });

  test.each(['1.6', '1.7'] as const)('CycloneDX %s: valid, one library per dpkg package', async (version) => {
    const format = version === '1.6' ? 'cyclonedx-json' : 'cyclonedx-json@1.7';
    const text = encoderFor(format).encode(doc, { sourceDateEpoch: EPOCH });
    expect(await cycloneDxProblems(text, version)).toEqual([]);
    const bom = JSON.parse(text) as { components: { type: string; purl?: string }[] };
    const libraries = bom.components.filter((c) => c.type === 'library');
    expect(libraries.map((c) => c.purl).sort()).toEqual(doc.packages.map((p) => p.purl).sort());
    expect(bom.components.filter((c) => c.type === 'operating-system')).toHaveLength(1);
  });

  test('table and sigil JSON list every package', () => {
    const table = encoderFor('table').encode(doc);
    expect(table.trimEnd().split('\n')).toHaveLength(1 + doc.packages.length);
    const json = JSON.parse(encoderFor('json').encode(doc, { sourceDateEpoch: EPOCH })) as { packages: unknown[] };
    expect(json.packages).toHaveLength(doc.packages.length);
  });
});
