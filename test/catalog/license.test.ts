import fc from 'fast-check';
import parseSpdx from 'spdx-expression-parse';
import { describe, expect, test } from 'vitest';
import { licenseRef, toSpdxExpression } from '../../src/catalog/license.ts';

const expr = (...v: string[]) => toSpdxExpression(v).expression;

describe('toSpdxExpression', () => {
  test('valid SPDX is kept; deprecated GNU ids become -only / -or-later', () => {
    expect(expr('MIT')).toBe('MIT');
    expect(expr('Apache-2.0 OR MIT')).toBe('Apache-2.0 OR MIT');
    expect(expr('GPL-2.0')).toBe('GPL-2.0-only');
    expect(expr('GPL-2.0+')).toBe('GPL-2.0-or-later');
    expect(expr('LGPL-2.1+ WITH GCC-exception-3.1')).toBe('LGPL-2.1-or-later WITH GCC-exception-3.1');
    expect(expr('Apache-2.0 OR MIT AND Zlib')).toBe('Apache-2.0 OR (MIT AND Zlib)');
    expect(expr('LicenseRef-foo')).toBe('LicenseRef-foo');
  });

  test('Debian DEP-5 short names and expressions', () => {
    expect(expr('GPL-2')).toBe('GPL-2.0-only');
    expect(expr('GPL-2+')).toBe('GPL-2.0-or-later');
    expect(expr('LGPL-2.1+')).toBe('LGPL-2.1-or-later');
    expect(expr('zlib')).toBe('Zlib');
    expect(expr('Expat')).toBe('MIT');
    expect(expr('BSD-3-clause or GPL-2')).toBe('BSD-3-Clause OR GPL-2.0-only');
    expect(expr('GPL-2+ or Artistic')).toBe('GPL-2.0-or-later OR Artistic-1.0-Perl');
    expect(expr('GFDL-NIV-1.2+')).toBe('GFDL-1.2-no-invariants-or-later');
    expect(expr('GPL-3+ with GCC-exception-3.1 exception')).toBe('GPL-3.0-or-later WITH GCC-exception-3.1');
    expect(expr('MIT or GPL-2, and Zlib')).toBe('(MIT OR GPL-2.0-only) AND Zlib');
  });

  test('near misses corrected only where the text gives the version; -only/-or-later as the text says', () => {
    expect(expr('The MIT License')).toBe('MIT');
    expect(expr('Apache License, Version 2.0')).toBe('Apache-2.0');
    expect(expr('GPLv3')).toBe('GPL-3.0-only');
    expect(expr('GNU GPL v3 or later')).toBe('GPL-3.0-or-later');
    // spdx-correct would say BSD-2-Clause and LGPL-3.0-or-later: guesses, not facts.
    expect(toSpdxExpression(['BSD'])).toEqual({ expression: 'LicenseRef-BSD', unknown: ['BSD'] });
    expect(expr('LGPL')).toBe('LicenseRef-LGPL');
  });

  test('unknown names become LicenseRef-, joined with AND, sorted, deduplicated', () => {
    expect(toSpdxExpression(['public-domain', 'Zlib', 'zlib', 'MIT', 'GPL-2 or foo bar'])).toEqual({
      expression: '(GPL-2.0-only OR LicenseRef-foo-bar) AND LicenseRef-public-domain AND MIT AND Zlib',
      unknown: ['foo bar', 'public-domain'],
    });
    expect(toSpdxExpression(['', 'NONE', 'NOASSERTION'])).toEqual({ unknown: [] });
    expect(expr('b', 'a')).toBe(expr('a', 'b'));
    expect(licenseRef('  (c) Foo & Bar, Inc. ')).toBe('LicenseRef-c-Foo-Bar-Inc');
    expect(licenseRef('!!!')).toBe('LicenseRef-unknown');
    expect(licenseRef('x'.repeat(500))).toHaveLength('LicenseRef-'.length + 64);
  });

  test('property: any input gives an expression spdx-expression-parse accepts', () => {
    const word = fc.oneof(
      fc.string(),
      fc.constantFrom(
        'GPL-2+',
        'MIT',
        'and',
        'or',
        'with',
        'exception',
        ',',
        '(',
        ')',
        'AND',
        'OR',
        'WITH',
        '+',
        'Expat',
        'LicenseRef-x',
        'GCC-exception-3.1',
      ),
    );
    const value = fc.oneof(
      fc.string({ maxLength: 80 }),
      fc.array(word, { maxLength: 8 }).map((w) => w.join(' ')),
    );
    fc.assert(
      fc.property(fc.array(value, { maxLength: 5 }), (values) => {
        const { expression } = toSpdxExpression(values);
        if (expression !== undefined) expect(() => parseSpdx(expression)).not.toThrow();
        expect(toSpdxExpression([...values].reverse()).expression).toBe(expression);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('spdx-correct is not allowed to collapse text into one wrong license', () => {
  test('a list of names stays a list', () => {
    const { expression } = toSpdxExpression(['MIT BSD GPL2+']);
    expect(expression).not.toBe('BSD-2-Clause');
    expect(expression).toMatch(/LicenseRef/);
  });

  test('a Lesser GPL long name does not become the GPL', () => {
    const { expression } = toSpdxExpression(['GNU Lesser General Public License v2 or later (LGPLv2+)']);
    expect(expression).not.toMatch(/^GPL-/);
  });

  test('one misspelt name is still corrected', () => {
    expect(toSpdxExpression(['The MIT License']).expression).toBe('MIT');
  });
});
