/** Golden files beside the tests; rewritten only when SIGIL_UPDATE_GOLDEN=1. */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { expect } from 'vitest';

const DIR = new URL('./golden/', import.meta.url);

export function expectGolden(name: string, actual: string): void {
  const file = new URL(name, DIR);
  if (process.env.SIGIL_UPDATE_GOLDEN === '1') {
    mkdirSync(DIR, { recursive: true });
    writeFileSync(file, actual);
    return;
  }
  if (!existsSync(file))
    throw new Error(`golden file test/sbom/golden/${name} is missing: run with SIGIL_UPDATE_GOLDEN=1`);
  // Byte for byte: compare strings so a failure shows a diff, then the exact bytes.
  const expected = readFileSync(file, 'utf8');
  expect(actual).toBe(expected);
  expect(Buffer.from(actual, 'utf8').equals(readFileSync(file))).toBe(true);
}
