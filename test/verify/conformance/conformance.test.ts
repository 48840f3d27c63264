/**
 * Every vendored sigstore-conformance bundle-verify case (assets/README.md), run through
 * verifyBlob as the suite's test_verify runs a client: the case's key.pub, or its identity and
 * issuer (defaults from the suite), its trusted_root.json or the embedded public-good root, its
 * artifact (default a.txt). Folders ending in `_fail` must fail; the others must verify.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { verifyBlob } from '../../../src/verify/verify-blob.ts';
import { ASSETS, caseAuthority } from './case-authority.ts';

/**
 * Cases where sigil's answer differs from the suite's, each with the reason. The test asserts
 * the divergence still holds, so fixing one shows up as a failure to update this list.
 */
const KNOWN_DIVERGENCES: Record<string, string> = {};

const cases = readdirSync(ASSETS, { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name)
  .sort();

describe('sigstore-conformance bundle-verify cases', () => {
  it('vendors the cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(60);
  });
  for (const name of cases) {
    const expectPass = !name.endsWith('_fail');
    it(`${name}: ${expectPass ? 'verifies' : 'is refused'}`, async () => {
      const dir = join(ASSETS, name);
      const artifact = existsSync(join(dir, 'artifact')) ? join(dir, 'artifact') : join(ASSETS, 'a.txt');
      let ok: boolean;
      let why: string;
      try {
        const authority = caseAuthority(dir);
        const r = await verifyBlob(
          readFileSync(join(dir, 'bundle.sigstore.json')),
          { kind: 'bytes', bytes: readFileSync(artifact) },
          {
            authority,
          },
        );
        ok = r.ok;
        why = r.ok ? r.checks.join(',') : `[${r.code}] ${r.check}: ${r.message}`;
      } catch (err) {
        ok = false;
        why = `threw ${(err as Error).message}`;
      }
      if (name in KNOWN_DIVERGENCES) expect(ok, why).toBe(!expectPass);
      else expect(ok, why).toBe(expectPass);
    });
  }
});
