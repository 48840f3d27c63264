/** Python metadata edge cases: missing fields, license precedence, classifiers, CRLF, RECORD CSV, dependencies. */
import { createRequire } from 'node:module';
import { describe, expect, test } from 'vitest';
import type { CatalogFile } from '../../../src/catalog/cataloger.ts';
import { pythonCataloger, pythonWants } from '../../../src/catalog/python/cataloger.ts';
import { CLASSIFIER_LICENSES, classifierLicenses, pythonLicense } from '../../../src/catalog/python/license.ts';
import { parseCoreMetadata } from '../../../src/catalog/python/metadata.ts';
import { filesFromInstalledFiles, filesFromRecord, firstCsvField } from '../../../src/catalog/python/record.ts';
import { parseRequirement, parseRequiresTxt } from '../../../src/catalog/python/requirements.ts';
import type { Digest } from '../../../src/oci/digest.ts';

const LAYER = `sha256:${'3e'.repeat(32)}` as Digest;
const SITE = '/usr/local/lib/python3.12/site-packages';
const enc = new TextEncoder();
const file = (path: string, text: string, layerDiffId = LAYER): CatalogFile => ({
  path,
  bytes: enc.encode(text),
  layerDiffId,
});
const meta = (text: string) => parseCoreMetadata(text, 'METADATA');
const catalog = (files: CatalogFile[]) => pythonCataloger.catalog({ files, allPaths: new Set() });

test('wants: dist-info METADATA/RECORD, egg-info PKG-INFO/installed-files.txt/requires.txt, single-file egg-info, EGG-INFO', () => {
  for (const p of [
    `${SITE}/requests-2.31.0.dist-info/METADATA`,
    `${SITE}/requests-2.31.0.dist-info/RECORD`,
    `${SITE}/Foo-1.0.DIST-INFO/METADATA`,
    '/usr/lib/python3/dist-packages/six-1.16.0.egg-info/PKG-INFO',
    '/usr/lib/python3/dist-packages/six-1.16.0.egg-info/installed-files.txt',
    '/usr/lib/python3/dist-packages/six-1.16.0.egg-info/requires.txt',
    '/usr/lib/python2.7/dist-packages/argparse-1.2.1.egg-info',
    `${SITE}/foo-1.0-py3.12.egg/EGG-INFO/PKG-INFO`,
  ])
    expect(pythonWants(p), p).toBe(true);
  for (const p of [
    `${SITE}/requests-2.31.0.dist-info/WHEEL`,
    `${SITE}/requests-2.31.0.dist-info/top_level.txt`,
    `${SITE}/requests/METADATA`,
    `${SITE}/six-1.16.0.egg-info/top_level.txt`,
    `${SITE}/requests/__init__.py`,
  ])
    expect(pythonWants(p), p).toBe(false);
});

describe('parseCoreMetadata', () => {
  test('stops at the blank line before the body: a "Name:" in the description is not a field', () => {
    const m = meta('Name: real\nVersion: 1\n\nName: fake\nVersion: 2\n');
    expect(m.fields.get('name')).toEqual(['real']);
    expect(m.fields.get('version')).toEqual(['1']);
  });

  test('CRLF and a BOM read the same as LF', () => {
    const lf = 'Metadata-Version: 2.1\nName: x\nVersion: 1.0\nClassifier: A\nClassifier: B\n\nbody\n';
    const crlf = `\uFEFF${lf.replace(/\n/g, '\r\n')}`;
    expect(meta(crlf)).toEqual(meta(lf));
    expect(meta(lf).fields.get('classifier')).toEqual(['A', 'B']);
  });

  test('continuation lines join their field; a stray line is a warning naming file and line', () => {
    const m = parseCoreMetadata(
      'Name: x\nLicense: Copyright (c) me\n        Permission is granted\nnot a field\n',
      'PKG-INFO',
    );
    expect(m.fields.get('license')).toEqual(['Copyright (c) me\nPermission is granted']);
    expect(m.warnings).toEqual(['PKG-INFO:4: "not a field" is not a "Field: value" line; skipped']);
  });
});

describe('licenses', () => {
  test('License-Expression (PEP 639) wins over License and classifiers', () => {
    const m = meta(
      'Name: x\nVersion: 1\nLicense: BSD\nLicense-Expression: Apache-2.0 OR BSD-3-Clause\nClassifier: License :: OSI Approved :: MIT License\n',
    );
    expect(pythonLicense(m)).toBe('Apache-2.0 OR BSD-3-Clause');
  });

  test('a License naming SPDX licenses wins over classifiers; a vague one loses to them', () => {
    expect(pythonLicense(meta('License: MIT\nClassifier: License :: OSI Approved :: BSD License\n'))).toBe('MIT');
    expect(
      pythonLicense(
        meta('License: GPL\nClassifier: License :: OSI Approved :: GNU General Public License v3 (GPLv3)\n'),
      ),
    ).toBe('GPL-3.0-only');
    expect(pythonLicense(meta('License: UNKNOWN\nClassifier: License :: OSI Approved :: MIT License\n'))).toBe('MIT');
    // Nothing better: the vague License still says something.
    expect(pythonLicense(meta('License: LGPL\n'))).toBe('LicenseRef-LGPL');
    expect(pythonLicense(meta('License: UNKNOWN\n'))).toBeUndefined();
    expect(pythonLicense(meta('Name: x\n'))).toBeUndefined();
  });

  test('a pasted license text is not read as a name when classifiers say it', () => {
    const m = meta(
      'License: Copyright (c) 2010 Someone\n        Permission is hereby granted, free of charge\nClassifier: License :: OSI Approved :: MIT License\n',
    );
    expect(pythonLicense(m)).toBe('MIT');
  });

  test('classifiers: mapped when they name one license, last segment kept otherwise, several ANDed', () => {
    expect(
      classifierLicenses([
        'License :: OSI Approved :: MIT License',
        'License :: OSI Approved :: BSD License',
        'License :: OSI Approved',
        'Programming Language :: Python :: 3',
        'License :: OSI Approved :: GNU Lesser General Public License v2 or later (LGPLv2+)',
      ]),
    ).toEqual(['MIT', 'BSD License', 'LGPL-2.0-or-later']);
    expect(
      pythonLicense(
        meta(
          'Classifier: License :: OSI Approved :: Apache Software License\nClassifier: License :: OSI Approved :: ISC License (ISCL)\n',
        ),
      ),
    ).toBe('ISC AND LicenseRef-Apache-Software-License');
  });

  test('every classifier in the table maps to a current SPDX license id', () => {
    const ids = new Set(createRequire(import.meta.url)('spdx-license-ids') as string[]);
    for (const [classifier, id] of CLASSIFIER_LICENSES) expect(ids.has(id), `${classifier} → ${id}`).toBe(true);
  });
});

describe('RECORD and installed-files.txt', () => {
  test('CSV: quoted paths with commas and quotes, ".." resolved, absolute kept, duplicates once', () => {
    const record = [
      'pkg/__init__.py,sha256=abc,10',
      '"pkg/a,b.py",sha256=def,20',
      '"pkg/say ""hi"".txt",,',
      '../../../bin/tool,sha256=ghi,30',
      '/etc/pkg.conf,,',
      'pkg/__init__.py,sha256=abc,10',
      'pkg-1.0.dist-info/RECORD,,',
      '',
    ].join('\r\n');
    expect(filesFromRecord(record, SITE)).toEqual([
      '/etc/pkg.conf',
      '/usr/local/bin/tool',
      `${SITE}/pkg-1.0.dist-info/RECORD`,
      `${SITE}/pkg/__init__.py`,
      `${SITE}/pkg/a,b.py`,
      `${SITE}/pkg/say "hi".txt`,
    ]);
    expect(firstCsvField('"a""b",c')).toBe('a"b');
  });

  test('installed-files.txt is relative to the egg-info directory', () => {
    expect(filesFromInstalledFiles('../six.py\n./\nPKG-INFO\n', `${SITE}/six-1.16.0.egg-info`)).toEqual([
      `${SITE}/six-1.16.0.egg-info/PKG-INFO`,
      `${SITE}/six.py`,
    ]);
  });
});

describe('requirements', () => {
  test('PEP 508 names, extras and markers', () => {
    expect(parseRequirement("coverage[toml] (>=5.3) ; extra == 'cov'")).toEqual({ name: 'coverage', extraOnly: true });
    expect(parseRequirement('zope.interface')).toEqual({ name: 'zope.interface', extraOnly: false });
    expect(parseRequirement('typing-extensions>=4; python_version < "3.11"')).toEqual({
      name: 'typing-extensions',
      extraOnly: false,
    });
    expect(parseRequirement('pkg @ https://example.com/pkg.whl')).toEqual({ name: 'pkg', extraOnly: false });
    expect(parseRequirement('  ')).toBeUndefined();
  });

  test('requires.txt sections: [extra] is extra-only, [:marker] is not', () => {
    expect(parseRequiresTxt('six>=1.5\n\n[:python_version < "3"]\nenum34\n\n[socks]\nPySocks\n')).toEqual([
      { name: 'six', extraOnly: false },
      { name: 'enum34', extraOnly: false },
      { name: 'PySocks', extraOnly: true },
    ]);
  });
});

describe('cataloger', () => {
  test('a METADATA without Version is skipped with a warning naming the file; the others stay', async () => {
    const r = await catalog([
      file(`${SITE}/broken-1.0.dist-info/METADATA`, 'Metadata-Version: 2.1\nName: broken\n'),
      file(`${SITE}/good-1.0.dist-info/METADATA`, 'Metadata-Version: 2.1\nName: good\nVersion: 1.0\n'),
    ]);
    expect(r.packages.map((p) => p.name)).toEqual(['good']);
    expect(r.warnings).toEqual([`${SITE}/broken-1.0.dist-info/METADATA: no Version field; distribution skipped`]);
  });

  test('names are PEP 503-normalised; Requires-Dist resolves by normalised name, extras and missing ones skipped', async () => {
    const r = await catalog([
      file(
        `${SITE}/My_App-2.0.dist-info/METADATA`,
        [
          'Name: My_App',
          'Version: 2.0',
          'Requires-Dist: Zope.Interface (>=5)',
          'Requires-Dist: typing_extensions; python_version < "3.11"',
          "Requires-Dist: pytest ; extra == 'test'",
          'Requires-Dist: not-installed',
          '',
          'Requires-Dist: in-the-body',
        ].join('\n'),
      ),
      file(`${SITE}/zope.interface-6.0.dist-info/METADATA`, 'Name: zope.interface\nVersion: 6.0\n'),
      file(`${SITE}/typing_extensions-4.9.0.dist-info/METADATA`, 'Name: typing_extensions\nVersion: 4.9.0\n'),
      file(`${SITE}/pytest-8.0.0.dist-info/METADATA`, 'Name: pytest\nVersion: 8.0.0\n'),
    ]);
    const app = r.packages.find((p) => p.name === 'my-app')!;
    expect(app.purl).toBe('pkg:pypi/my-app@2.0');
    expect(app.metadata?.Name).toBe('My_App');
    expect(app.dependsOn).toEqual(['python:typing-extensions@4.9.0', 'python:zope-interface@6.0']);
    expect(r.packages.map((p) => p.id)).toEqual([
      'python:my-app@2.0',
      'python:pytest@8.0.0',
      'python:typing-extensions@4.9.0',
      'python:zope-interface@6.0',
    ]);
  });

  test('two versions of a dependency: the one in the same site-packages wins', async () => {
    const venv = '/opt/venv/lib/python3.12/site-packages';
    const r = await catalog([
      file(`${venv}/app-1.dist-info/METADATA`, 'Name: app\nVersion: 1\nRequires-Dist: six\n'),
      file(`${venv}/six-1.16.0.dist-info/METADATA`, 'Name: six\nVersion: 1.16.0\n'),
      file(`${SITE}/six-1.15.0.dist-info/METADATA`, 'Name: six\nVersion: 1.15.0\n'),
    ]);
    expect(r.packages.find((p) => p.name === 'app')!.dependsOn).toEqual(['python:six@1.16.0']);
  });

  test('setuptools installs: single-file egg-info, egg-info dir with installed-files.txt and requires.txt', async () => {
    const dist = '/usr/lib/python3/dist-packages';
    const r = await catalog([
      file(
        '/usr/lib/python2.7/dist-packages/argparse-1.2.1.egg-info',
        'Metadata-Version: 1.1\nName: argparse\nVersion: 1.2.1\nLicense: Python Software Foundation License\n',
      ),
      file(
        `${dist}/requests-2.28.1.egg-info/PKG-INFO`,
        'Metadata-Version: 2.1\nName: requests\nVersion: 2.28.1\nLicense: Apache 2.0\n',
      ),
      file(`${dist}/requests-2.28.1.egg-info/installed-files.txt`, '../requests/__init__.py\nPKG-INFO\n'),
      file(`${dist}/requests-2.28.1.egg-info/requires.txt`, 'idna<4,>=2.5\n\n[socks]\nPySocks!=1.5.7,>=1.5.6\n'),
      file(`${dist}/idna-3.3.egg-info/PKG-INFO`, 'Name: idna\nVersion: 3.3\n'),
      file(`${dist}/PySocks-1.7.1.egg-info/PKG-INFO`, 'Name: PySocks\nVersion: 1.7.1\n'),
    ]);
    const argparse = r.packages.find((p) => p.name === 'argparse')!;
    expect(argparse.locations).toEqual([
      { path: '/usr/lib/python2.7/dist-packages/argparse-1.2.1.egg-info', layerDiffId: LAYER },
    ]);
    expect(argparse.license).toBe('PSF-2.0');
    const requests = r.packages.find((p) => p.name === 'requests')!;
    expect(requests.files).toEqual([`${dist}/requests-2.28.1.egg-info/PKG-INFO`, `${dist}/requests/__init__.py`]);
    expect(requests.dependsOn).toEqual(['python:idna@3.3']);
    expect(requests.license).toBe('Apache-2.0');
    expect(requests.locations.map((l) => l.path)).toEqual([
      `${dist}/requests-2.28.1.egg-info/PKG-INFO`,
      `${dist}/requests-2.28.1.egg-info/installed-files.txt`,
    ]);
  });

  test('a RECORD without METADATA describes nothing', async () => {
    const r = await catalog([file(`${SITE}/ghost-1.0.dist-info/RECORD`, 'ghost.py,,\n')]);
    expect(r).toEqual({ packages: [], warnings: [] });
  });

  test('provenance: the first layer holding METADATA brought it, the last that rewrote it changed it', async () => {
    const [L1, L2, L3] = ['41', '42', '43'].map((h) => `sha256:${h.repeat(32)}` as Digest) as [Digest, Digest, Digest];
    const v = 'Name: x\nVersion: 1\n';
    const f: CatalogFile = {
      ...file(`${SITE}/x-1.dist-info/METADATA`, v, L3),
      earlier: [
        { layerDiffId: L1, bytes: enc.encode(v) },
        { layerDiffId: L2, bytes: enc.encode(`${v}Summary: reinstalled\n`) },
      ],
    };
    const r = await catalog([f]);
    expect([r.packages[0]!.introducedBy, r.packages[0]!.lastChangedBy]).toEqual([L1, L3]);
    const same = await catalog([{ ...f, earlier: [{ layerDiffId: L1, bytes: enc.encode(v) }] }]);
    expect([same.packages[0]!.introducedBy, same.packages[0]!.lastChangedBy]).toEqual([L1, L1]);
  });
});
