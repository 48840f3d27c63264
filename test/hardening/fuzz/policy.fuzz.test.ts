/**
 * Hostile policy files: the example and demo policies of policies/ mutated as text (YAML syntax,
 * anchors, tags, long lines) and as structure (fields dropped, retyped, blown up, then written
 * back as YAML), plus alias bombs. parsePolicyText must load or throw POLICY_INVALID; it must not
 * throw anything else or take long (regexps are RE2, CEL is compiled, aliases are capped).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, test } from 'vitest';
import { parseAllDocuments, stringify } from 'yaml';
import { parsePolicyText } from '../../../src/verify/policy/load.ts';
import { FuzzFigures, fuzz, mutatedJsonValue, mutatedText } from './fuzz-kit.ts';

const figures = new FuzzFigures('policy');
afterAll(() => figures.write());

const POLICIES = join(import.meta.dirname, '../../../policies');
const files = [
  'examples/github-release.yaml',
  'examples/internal-registry.yaml',
  'examples/supply-chain.yaml',
  'demo/release.yaml',
].map((f) => ({ file: join(POLICIES, f), text: readFileSync(join(POLICIES, f), 'utf8') }));

const billionLaughs = [
  'a: &a ["x","x","x","x","x","x","x","x","x","x"]',
  'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]',
  'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]',
  'd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]',
  'e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]',
  'f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]',
  'g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f]',
  'apiVersion: sigil.dev/v1',
  'kind: Policy',
  'metadata: {name: bomb}',
  'spec: {images: [{glob: "**"}], authorities: *g}',
].join('\n');

describe('policy files', () => {
  test('regression: a 94 KB subjectRegExp is POLICY_INVALID at once (RE2JS took 150 s to compile it)', () => {
    const text = files[0]!.text.replace(/subjectRegExp: .*/, `subjectRegExp: ${'x'.repeat(94_000)}`);
    expect(text).not.toBe(files[0]!.text);
    const started = performance.now();
    expect(() => parsePolicyText(text, files[0]!.file)).toThrow(
      expect.objectContaining({ code: 'POLICY_INVALID', message: expect.stringContaining('the limit is 4096') }),
    );
    expect(performance.now() - started).toBeLessThan(1000);
  });

  test('regression: a YAML alias bomb is POLICY_INVALID (yaml threw a plain ReferenceError)', () => {
    expect(() => parsePolicyText(billionLaughs, files[0]!.file)).toThrow(
      expect.objectContaining({ code: 'POLICY_INVALID', message: expect.stringContaining('alias') }),
    );
  });

  test('parsePolicyText: text mutations of the shipped policies', async () => {
    const input = fc
      .nat({ max: files.length - 1 })
      .chain((i) => mutatedText(files[i]!.text).map((t) => ({ ...files[i]!, text: t })));
    await fuzz(figures, 'policy YAML (text mutations)', input, ({ text, file }) => parsePolicyText(text, file), {
      numRuns: 320,
    });
  });

  test('parsePolicyText: structural mutations written back as YAML', async () => {
    const input = fc.nat({ max: files.length - 1 }).chain((i) =>
      mutatedJsonValue(parseAllDocuments(files[i]!.text).map((d) => d.toJS() as unknown)).map((docs) => ({
        file: files[i]!.file,
        text: Array.isArray(docs) ? docs.map((d) => stringify(d)).join('---\n') : stringify(docs),
      })),
    );
    await fuzz(figures, 'policy YAML (field mutations)', input, ({ text, file }) => parsePolicyText(text, file), {
      numRuns: 240,
    });
  });

  test('parsePolicyText: arbitrary text, YAML alias bombs, deep nesting', async () => {
    const input = fc.oneof(
      fc.string({ maxLength: 400 }),
      fc.constant(billionLaughs),
      fc.integer({ min: 100, max: 5000 }).map((n) => `${'['.repeat(n)}${']'.repeat(n)}`),
      fc.integer({ min: 100, max: 5000 }).map((n) => `${'- '.repeat(n)}x`),
      fc.integer({ min: 2, max: 50 }).map((n) => Array.from({ length: n }, () => files[0]!.text).join('\n---\n')),
    );
    await fuzz(figures, 'policy YAML (arbitrary, bombs)', input, (text) => parsePolicyText(text, files[0]!.file), {
      numRuns: 80,
    });
  });
});
