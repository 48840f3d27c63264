/** Copyright files of real Debian packages (the demo image's .debs, unpacked by testdata/debs.ts). */
import parseSpdx from 'spdx-expression-parse';
import { beforeAll, describe, expect, test } from 'vitest';
import { copyrightLicenses, isMachineReadable } from '../../../src/catalog/dpkg/copyright.ts';
import { toSpdxExpression } from '../../../src/catalog/license.ts';
import { debToLayerEntries, fetchDebs } from '../../../testdata/debs.ts';

const NAMES = ['base-files', 'zlib1g', 'libzstd1', 'netbase', 'mawk', 'libc6', 'gcc-12-base', 'sensible-utils'];
const copyright = new Map<string, string>();

beforeAll(async () => {
  const debs = await fetchDebs(NAMES);
  for (const [i, deb] of debs.entries()) {
    const pkg = await debToLayerEntries(deb);
    const entry = pkg.entries.find((e) => e.path === `usr/share/doc/${NAMES[i]}/copyright`);
    if (entry?.data === undefined) throw new Error(`${NAMES[i]}: no copyright file`);
    copyright.set(NAMES[i]!, entry.data.toString('utf8'));
  }
});

const licenseOf = (name: string) => toSpdxExpression(copyrightLicenses(copyright.get(name)!));

describe('copyright files of real packages', () => {
  test('DEP-5 files: License: synopses in file order, then SPDX', () => {
    expect(isMachineReadable(copyright.get('zlib1g')!)).toBe(true);
    expect(copyrightLicenses(copyright.get('zlib1g')!)).toEqual(['Zlib']);
    expect(licenseOf('zlib1g')).toEqual({ expression: 'Zlib', unknown: [] });
    expect(copyrightLicenses(copyright.get('libzstd1')!)).toEqual([
      'BSD-3-clause or GPL-2',
      'zlib',
      'Expat',
      'GPL-2',
      'BSD-3-clause',
    ]);
    expect(licenseOf('libzstd1').expression).toBe(
      'BSD-3-Clause AND (BSD-3-Clause OR GPL-2.0-only) AND GPL-2.0-only AND MIT AND Zlib',
    );
    expect(licenseOf('netbase')).toEqual({ expression: 'GPL-2.0-only', unknown: [] });
    expect(licenseOf('mawk').expression).toBe('CC-BY-3.0 AND GPL-2.0-only AND X11');
    // Debian-specific names with no SPDX id stay visible as LicenseRefs.
    expect(licenseOf('sensible-utils')).toEqual({
      expression: 'GPL-2.0-or-later AND LicenseRef-All-permissive AND LicenseRef-configure AND LicenseRef-installsh',
      unknown: ['All-permissive', 'configure', 'installsh'],
    });
  });

  test('free-text files: common-licenses references with the version wording around them', () => {
    expect(isMachineReadable(copyright.get('base-files')!)).toBe(false);
    // "either version 2 of the License, or (at your option) any later version … /usr/share/common-licenses/GPL"
    expect(licenseOf('base-files')).toEqual({ expression: 'GPL-2.0-or-later', unknown: [] });
    expect(licenseOf('libc6')).toEqual({ expression: 'GPL-2.0-or-later AND LGPL-2.1-or-later', unknown: [] });
    const gcc = licenseOf('gcc-12-base');
    expect(gcc.expression).toContain('GPL-3.0-or-later');
    expect(gcc.expression).toContain('Artistic-1.0-Perl');
  });

  test('every result is valid SPDX', () => {
    for (const name of NAMES) {
      const { expression } = licenseOf(name);
      expect(expression, name).toBeDefined();
      expect(() => parseSpdx(expression!), name).not.toThrow();
    }
  });

  test('a file that is neither DEP-5 nor mentions common-licenses gives nothing', () => {
    expect(copyrightLicenses('Copyright 2020 Someone.\nAll rights reserved.\n')).toEqual([]);
    expect(
      copyrightLicenses(
        'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\r\n\r\nFiles: *\r\nLicense: MIT\r\n',
      ),
    ).toEqual(['MIT']);
  });
});
