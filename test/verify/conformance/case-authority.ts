import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Authority } from '../../../src/verify/authority.ts';
import { readPublicKey } from '../../../src/verify/trust-material.ts';

export const ASSETS = fileURLToPath(new URL('./assets/', import.meta.url));
const DEFAULT_IDENTITY =
  'https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main';
const DEFAULT_ISSUER = 'https://token.actions.githubusercontent.com';

/** The authority the suite's test_verify uses for a case folder (assets/README.md). */
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
