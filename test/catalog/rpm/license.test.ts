import { describe, expect, test } from 'vitest';
import { rpmLicenseExpression } from '../../../src/catalog/rpm/license.ts';

describe('rpm License tags', () => {
  test.each([
    // SPDX as written by Fedora ≥ 38 and SUSE: kept, canonicalised.
    ['GPL-3.0-or-later WITH GCC-exception-3.1', 'GPL-3.0-or-later WITH GCC-exception-3.1'],
    ['BSD-3-Clause or GPL-2.0', 'BSD-3-Clause OR GPL-2.0-only'],
    // Legacy Fedora short names.
    ['ASL 2.0', 'Apache-2.0'],
    ['GPLv2+', 'GPL-2.0-or-later'],
    ['GPL+ or Artistic', 'GPL-1.0-or-later OR Artistic-1.0-Perl'],
    ['zlib and Boost', 'Zlib AND BSL-1.0'],
    ['Public Domain', 'LicenseRef-Fedora-Public-Domain'],
    // Parentheses group; AND binds tighter than OR (SPDX precedence) where there are none.
    ['(GPLv2+ or LGPLv3+) and GPLv3+', '(GPL-2.0-or-later OR LGPL-3.0-or-later) AND GPL-3.0-or-later'],
    ['MIT and (BSD or ASL 2.0)', 'MIT AND (LicenseRef-BSD OR Apache-2.0)'],
    ['MIT or GPLv2 and BSD', 'MIT OR (GPL-2.0-only AND LicenseRef-BSD)'],
    // Ambiguous legacy names stay LicenseRefs instead of becoming a guessed version.
    ['BSD', 'LicenseRef-BSD'],
    // Broken structure falls back to the generic reader rather than failing.
    ['MIT and (BSD', 'MIT AND LicenseRef-BSD'],
  ])('%s → %s', (input, want) => {
    expect(rpmLicenseExpression(input)).toBe(want);
  });

  test('empty values carry no license', () => {
    expect(rpmLicenseExpression('  ')).toBeUndefined();
  });
});
