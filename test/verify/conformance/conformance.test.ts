/**
 * Every vendored sigstore-conformance bundle-verify case (assets/README.md), run through
 * verifyBlob as the suite's test_verify runs a client: the case's key.pub, or its identity and
 * issuer (defaults from the suite), its trusted_root.json or the embedded public-good root, its
 * artifact (default a.txt). Folders ending in `_fail` must fail; the others must verify.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { Authority } from '../../../src/verify/authority.ts';
import { readPublicKey } from '../../../src/verify/trust-material.ts';
import { verifyBlob } from '../../../src/verify/verify-blob.ts';

const ASSETS = fileURLToPath(new URL('./assets/', import.meta.url));
const DEFAULT_IDENTITY =
  'https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main';
const DEFAULT_ISSUER = 'https://token.actions.githubusercontent.com';

/**
 * Cases where sigil's answer differs from the suite's, each with the reason. The test asserts
 * the divergence still holds, so fixing one shows up as a failure to update this list.
 */
const KNOWN_DIVERGENCES: Record<string, string> = {};

export function caseAuthority(dir: string): Authority {
  const root = join(dir, 'trusted_root.json');
  const trustedRoot = existsSync(root) ? { trustedRoot: root } : {};
  if (existsSync(join(dir, 'key.pub'))) {
    return {
      kind: 'key',
      name: 'key.pub',
      publicKey: readPublicKey(join(dir, 'key.pub')),
      tlog: 'required',
      ...trustedRoot,
    };
  }
  const read = (f: string, d: string) => (existsSync(join(dir, f)) ? readFileSync(join(dir, f), 'utf8').trim() : d);
  return {
    kind: 'keyless',
    name: 'identity',
    identities: [{ subject: read('identity', DEFAULT_IDENTITY), issuer: read('issuer', DEFAULT_ISSUER) }],
    sct: 'required',
    tlog: 'required',
    ...trustedRoot,
  };
}

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
