import { describe, expect, it } from 'vitest';
import { PolicyLoadError, loadPolicies, parsePolicyText } from '../../../src/verify/policy/load.ts';

const head = `apiVersion: sigil.dev/v1
kind: Policy
metadata: { name: p }
spec:
  images: [{ glob: ghcr.io/acme/** }]
`;
const keyless = `  authorities:
    - name: gh
      keyless:
        identities:
          - issuer: https://token.actions.githubusercontent.com
            subject: https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1
`;

function loadError(text: string): PolicyLoadError {
  try {
    parsePolicyText(text, 'p.yaml');
  } catch (err) {
    expect(err).toBeInstanceOf(PolicyLoadError);
    return err as PolicyLoadError;
  }
  throw new Error('loaded');
}

describe('strict loading', () => {
  it('loads the shipped examples of §6', () => {
    const set = loadPolicies('policies/examples');
    expect(set.policies.map((p) => p.name).sort()).toEqual([
      'acme-github-release',
      'acme-supply-chain',
      'internal-registry',
    ]);
    expect(set.settings.noMatch).toBe('deny');
    const sc = set.policies.find((p) => p.name === 'acme-supply-chain')!;
    expect(sc.threshold).toBe(0);
    expect(sc.mode).toBe('warn');
    expect(sc.attestations.map((a) => a.conditions.length)).toEqual([2, 2]);
    const ir = set.policies.find((p) => p.name === 'internal-registry')!;
    expect(ir.authorities.map((a) => a.kind)).toEqual(['key', 'key']);
  });

  it('unknown field, with file, line and path', () => {
    const e = loadError(head + keyless.replace('      keyless:', '      keyles: {}\n      keyless:'));
    expect(e.code).toBe('POLICY_INVALID');
    expect(e.line).toBe(8);
    expect(e.path).toBe('spec.authorities[0].keyles');
    expect(e.message).toMatch(/^p\.yaml:8: spec\.authorities\[0\]\.keyles: unknown field/);
  });

  it('duplicate keys, wrong types, YAML 1.2 core (yes is a string)', () => {
    expect(loadError(head + '  images: []\n' + keyless).message).toMatch(/YAML: .*[Mm]ap keys must be unique/);
    const t = loadError(head + keyless + '  signatures: { threshold: "1" }\n');
    expect(t.path).toBe('spec.signatures.threshold');
    expect(t.line).toBe(12);
    expect(loadError(head + keyless + '  requireDigest: yes\n').path).toBe('spec.requireDigest');
  });

  it('invalid globs, regexps and CEL; half identities; threshold; duplicate names', () => {
    expect(loadError(head.replace('ghcr.io/acme/**', '"*"') + keyless).message).toMatch(/write `\*\*`/);
    expect(loadError(head.replace('ghcr.io/acme/**', 'ghcr.io/acme/app:*') + keyless).message).toMatch(
      /tags and digests are never part/,
    );
    expect(loadError(head + keyless.replace('subject:', 'subjectRegExp: (?=x)')).message).toMatch(/invalid RE2 regexp/);
    expect(loadError(head + keyless.replace(/\n\s+subject: .*\n/, '\n')).message).toMatch(
      /exactly one of subject \| subjectRegExp/,
    );
    expect(loadError(head + keyless + '  signatures: { threshold: 2 }\n').message).toMatch(
      /threshold 2 is more than the 1 authority/,
    );
    const cel = (expr: string): string =>
      head +
      keyless +
      `  attestations:\n    - name: a\n      predicateType: custom\n      conditions:\n        - { name: c, expr: '${expr}' }\n`;
    expect(loadError(cel('predicate.x ==')).message).toMatch(/CEL parse error/);
    expect(loadError(cel('foo.x == 1')).message).toMatch(/undeclared "foo"/);
    expect(loadError(cel('"yes"')).message).toMatch(/must return a bool/);
    expect(() => parsePolicyText(cel('predicate.all(k, k != "x") && has(predicate.y)'), 'p.yaml')).not.toThrow();
    const dup = loadError(head + keyless + keyless.replace('  authorities:\n', ''));
    expect(dup.message).toMatch(/duplicate authority name "gh"/);
    expect(
      loadError(head + keyless.replace('issuer: https', 'claims: { nope: x }\n            issuer: https')).message,
    ).toMatch(/unknown field "nope"/);
    expect(loadError(head.replace('kind: Policy', 'kind: Polcy') + keyless).path).toBe('kind');
  });

  it('lint warnings are collected while loading: unanchored regexp, implied registry, GitHub any owner', () => {
    const warnings: { message: string; line: number }[] = [];
    parsePolicyText(
      head.replace('ghcr.io/acme/**', 'acme/*') +
        keyless.replace(
          'subject: https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1',
          'subjectRegExp: trailofbits',
        ),
      'p.yaml',
      warnings as never,
    );
    const text = warnings.map((w) => w.message).join('\n');
    expect(text).toMatch(/names no registry: it matches docker\.io\/acme\/\*/);
    expect(text).toMatch(/"trailofbits" is matched in full; cosign would match it anywhere/);
    expect(text).toMatch(/allows any owner/);
  });

  it('a private key in place of the public key is a load error', async () => {
    const { generateKeyPairSync } = await import('node:crypto');
    const pem = generateKeyPairSync('ec', { namedCurve: 'P-256' })
      .privateKey.export({ type: 'pkcs8', format: 'pem' })
      .toString();
    const text =
      head +
      `  authorities:\n    - name: k\n      key:\n        pem: |\n${pem
        .trim()
        .split('\n')
        .map((l) => '          ' + l)
        .join('\n')}\n      tlog: ignore\n`;
    expect(loadError(text).message).toMatch(/private key/);
  });
});
