import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import type { Package } from '../../src/catalog/package.ts';
import { SbomError, type SbomFormat } from '../../src/sbom/document.ts';
import { encoderFor, parseOutputFlag, SBOM_FORMATS } from '../../src/sbom/encoders.ts';
import { encodeTable } from '../../src/sbom/table.ts';
import { EPOCH, fixtureDocument, fixtureFiles, fixturePackages } from './fixtures.ts';
import { expectGolden } from './golden.ts';

const JSON_FORMATS: SbomFormat[] = ['spdx-json', 'cyclonedx-json', 'cyclonedx-json@1.7', 'json'];

/** Blank out exactly the fields allowed to change between runs without SOURCE_DATE_EPOCH. */
function redact(text: string): string {
  return text
    .replace(/"(created|timestamp|annotationDate)": "[^"]+"/g, '"$1": "<time>"')
    .replace(/"documentNamespace": "[^"]+"/, '"documentNamespace": "<ns>"')
    .replace(/"serialNumber": "[^"]+"/, '"serialNumber": "<serial>"');
}

describe('determinism', () => {
  test.each(JSON_FORMATS)('%s: the same packages in any order give byte-identical output', (format) => {
    const encoder = encoderFor(format);
    const doc = fixtureDocument({ files: fixtureFiles() });
    const reference = encoder.encode(doc, { sourceDateEpoch: EPOCH });
    expect(encoder.encode(doc, { sourceDateEpoch: EPOCH })).toBe(reference);
    const packages = fixturePackages();
    const files = fixtureFiles();
    fc.assert(
      fc.property(
        fc.shuffledSubarray(packages, { minLength: packages.length }),
        fc.shuffledSubarray(files, { minLength: files.length }),
        (shuffledPackages, shuffledFiles) => {
          const shuffled = fixtureDocument({
            packages: shuffledPackages.map((p) => ({ ...p, locations: [...p.locations].reverse() })),
            files: shuffledFiles,
          });
          expect(encoder.encode(shuffled, { sourceDateEpoch: EPOCH })).toBe(reference);
        },
      ),
      { numRuns: 25 },
    );
  });

  test('without SOURCE_DATE_EPOCH only time, namespace and serial differ between runs', async () => {
    const first = JSON_FORMATS.map((f) => encoderFor(f).encode(fixtureDocument()));
    await new Promise((r) => setTimeout(r, 1100)); // the times have whole seconds
    JSON_FORMATS.forEach((format, i) => {
      const again = encoderFor(format).encode(fixtureDocument());
      expect(again, format).not.toBe(first[i]);
      expect(redact(again), format).toBe(redact(first[i]!));
      expect(redact(again), format).toBe(
        redact(encoderFor(format).encode(fixtureDocument(), { sourceDateEpoch: EPOCH })),
      );
    });
  });

  test('doc.created sets the time; SOURCE_DATE_EPOCH still makes the ids repeatable', () => {
    const created = new Date('2025-06-30T12:34:56.789Z');
    const encode = () =>
      JSON.parse(encoderFor('spdx-json').encode(fixtureDocument({ created }), { sourceDateEpoch: EPOCH })) as {
        creationInfo: { created: string };
        documentNamespace: string;
      };
    const a = encode();
    expect(a.creationInfo.created).toBe('2025-06-30T12:34:56Z');
    expect(encode().documentNamespace).toBe(a.documentNamespace);
    const noEpoch = encoderFor('spdx-json').encode(fixtureDocument({ created }));
    expect(noEpoch).toContain('"created": "2025-06-30T12:34:56Z"');
    expect(noEpoch).not.toContain(a.documentNamespace);
  });

  test('CycloneDX order does not depend on the locale (localeCompare would move "aa…" after "z…" in Danish)', () => {
    const names = ['zebra', 'aardvark', 'Zulu', 'ångström', 'able'];
    const packages: Package[] = names.map((name) => ({
      id: `npm:${name}@1.0.0`,
      type: 'npm',
      name,
      version: '1.0.0',
      purl: `pkg:npm/${encodeURIComponent(name)}@1.0.0`,
      locations: [],
      dependsOn: names.filter((n) => n !== name).map((n) => `npm:${n}@1.0.0`),
    }));
    const script = `
      const { encodeCycloneDx } = await import(${JSON.stringify(new URL('../../src/sbom/cyclonedx.ts', import.meta.url).href)});
      const { fixtureDocument } = await import(${JSON.stringify(new URL('./fixtures.ts', import.meta.url).href)});
      const doc = fixtureDocument({ packages: JSON.parse(process.argv[1]) });
      process.stdout.write(encodeCycloneDx(doc, '1.6', { sourceDateEpoch: ${EPOCH} }));`;
    const run = (lang: string) =>
      execFileSync(process.execPath, ['--no-warnings', '--input-type=module', '-e', script, JSON.stringify(packages)], {
        env: { ...process.env, LANG: lang, LC_ALL: lang },
        encoding: 'utf8',
      });
    const danish = run('da_DK.UTF-8');
    expect(danish).toBe(run('en_US.UTF-8'));
    const order = (JSON.parse(danish) as { components: { name: string }[] }).components.map((c) => c.name);
    expect(order).toEqual(['debian', 'Zulu', 'aardvark', 'able', 'zebra', 'ångström']);
  });
});

describe('sigil JSON', () => {
  test('is the model, sorted, and matches its golden file', () => {
    const text = encoderFor('json').encode(fixtureDocument({ files: fixtureFiles() }), { sourceDateEpoch: EPOCH });
    expectGolden('sigil.json', text);
    const out = JSON.parse(text) as { schemaVersion: number; packages: Package[]; created: string };
    expect(out.schemaVersion).toBe(1);
    expect(out.created).toBe('2024-01-01T00:00:00Z');
    expect(out.packages.map((p) => p.name)).toEqual([
      'base-files',
      'bash',
      'libc6',
      'slf4j-api',
      '@babel/core',
      'debug',
      'requests',
    ]);
    // Dependencies on absent packages and on itself are gone, duplicates merged.
    expect(out.packages[1]!.dependsOn).toEqual(['deb:base-files@12.4+deb12u5:amd64', 'deb:libc6@2.36-9+deb12u4:amd64']);
    expect(Object.keys(out)).toEqual(['schemaVersion', 'tool', 'created', 'source', 'distro', 'packages', 'files']);
  });
});

describe('table', () => {
  test('NAME VERSION TYPE, sorted, aligned; duplicates counted', () => {
    const doc = fixtureDocument();
    doc.packages.push(
      { ...doc.packages[4]!, id: 'npm:debug@4.3.4:/other' },
      { ...doc.packages[4]!, id: 'npm:debug@4.3.4:/third' },
    );
    const text = encodeTable(doc);
    expectGolden('table.txt', text);
    expect(text.split('\n')[0]).toMatch(/^NAME +VERSION +TYPE$/);
    expect(text).toContain('(+2 duplicates)');
    const lines = text.trimEnd().split('\n');
    const versionColumn = lines[0]!.indexOf('VERSION');
    for (const line of lines.slice(1)) expect(line[versionColumn - 1]).toBe(' ');
    expect(encodeTable(fixtureDocument({ packages: [] }))).toBe('No packages discovered\n');
  });
});

describe('encoderFor / parseOutputFlag', () => {
  test('every format has an encoder with its id; aliases resolve', () => {
    expect([...SBOM_FORMATS].sort()).toEqual(['cyclonedx-json', 'cyclonedx-json@1.7', 'json', 'spdx-json', 'table']);
    for (const f of SBOM_FORMATS) expect(encoderFor(f).id).toBe(f);
    expect(encoderFor('spdx-json@2.3').id).toBe('spdx-json');
    expect(encoderFor('CycloneDX-JSON@1.6').id).toBe('cyclonedx-json');
  });

  test('an unknown format names the known ones', () => {
    expect(() => encoderFor('syft-json')).toThrow(SbomError);
    expect(() => encoderFor('cyclonedx-xml')).toThrow(
      'unknown SBOM format "cyclonedx-xml": use one of spdx-json, cyclonedx-json, cyclonedx-json@1.7, json, table',
    );
    try {
      encoderFor('x');
    } catch (e) {
      expect((e as SbomError).code).toBe('FORMAT_UNKNOWN');
    }
  });

  test('FORMAT[=FILE]', () => {
    expect(parseOutputFlag('spdx-json')).toEqual({ format: 'spdx-json' });
    expect(parseOutputFlag('spdx-json=out.json')).toEqual({ format: 'spdx-json', file: 'out.json' });
    expect(parseOutputFlag('cyclonedx-json@1.7=dir/a=b.cdx.json')).toEqual({
      format: 'cyclonedx-json@1.7',
      file: 'dir/a=b.cdx.json',
    });
    expect(() => parseOutputFlag('=out.json')).toThrow(/expected FORMAT\[=FILE\]/);
    expect(() => parseOutputFlag('spdx-json=')).toThrow(/no file after "="/);
    expect(() => parseOutputFlag('spdx=out.json')).toThrow(/unknown SBOM format "spdx"/);
  });
});

describe('document checks', () => {
  test('two different packages with one id are refused; identical ones are merged', () => {
    const doc = fixtureDocument();
    doc.packages.push({ ...doc.packages[0]! });
    const once = encoderFor('spdx-json').encode(fixtureDocument(), { sourceDateEpoch: EPOCH });
    expect(encoderFor('spdx-json').encode(doc, { sourceDateEpoch: EPOCH })).toBe(once);
    doc.packages.push({ ...doc.packages[0]!, version: '9.9' });
    for (const format of JSON_FORMATS) {
      expect(() => encoderFor(format).encode(doc)).toThrow(
        /two different packages share the id "deb:libc6@2.36-9\+deb12u4:amd64"/,
      );
    }
  });

  test('a bad SOURCE_DATE_EPOCH is an error, not a silent "now"', () => {
    expect(() => encoderFor('spdx-json').encode(fixtureDocument(), { sourceDateEpoch: -1 })).toThrow(/sourceDateEpoch/);
    expect(() => encoderFor('cyclonedx-json').encode(fixtureDocument(), { sourceDateEpoch: 1.5 })).toThrow(
      /sourceDateEpoch/,
    );
  });
});

describe('loadEncoder', () => {
  test('loads, for every format and alias, the same encoder encoderFor returns', async () => {
    const { loadEncoder } = await import('../../src/sbom/formats.ts');
    for (const f of [...SBOM_FORMATS, 'spdx-json@2.3', 'cyclonedx-json@1.6']) {
      expect(await loadEncoder(f)).toBe(encoderFor(f));
    }
    await expect(loadEncoder('cyclonedx-xml')).rejects.toThrow(/use one of spdx-json/);
  });
});
