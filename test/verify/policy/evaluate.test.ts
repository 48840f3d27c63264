import { describe, expect, it } from 'vitest';
import { parsePolicyText } from '../../../src/verify/policy/load.ts';
import type { Policy } from '../../../src/verify/policy/model.ts';
import { evaluatePolicies, decisionExitCode, reasonCodes } from '../../../src/verify/policy/index.ts';
import { attestationEvidence, keyChecker, keyPair, signatureEvidence } from './helpers.ts';

const DIGEST = `sha256:${'9f2c'.repeat(16)}`;
const OTHER = `sha256:${'77aa'.repeat(16)}`;
const ctx = { digest: DIGEST };

function policies(yaml: string): Policy[] {
  return parsePolicyText(yaml, '/tmp/policies/p.yaml').flatMap((d) => (d.kind === 'Policy' ? [d.policy] : []));
}

function keyPolicy(
  name: string,
  pems: string[],
  extra = '',
  opts: { threshold?: number; mode?: string; tlog?: string } = {},
): string {
  const auths = pems
    .map(
      (pem, i) => `    - name: key-${i}
      key:
        pem: |
${pem
  .trim()
  .split('\n')
  .map((l) => `          ${l}`)
  .join('\n')}
      tlog: ${opts.tlog ?? 'ignore'}`,
    )
    .join('\n');
  return `apiVersion: sigil.dev/v1
kind: Policy
metadata: { name: ${name} }
spec:
  mode: ${opts.mode ?? 'enforce'}
  images: [{ glob: ghcr.io/acme/** }]
  authorities:
${auths}
  signatures: { threshold: ${opts.threshold ?? 1} }
${extra}---
`;
}

const image = { reference: `ghcr.io/acme/app@${DIGEST}`, digest: DIGEST, pinned: true };

describe('key authorities with real signatures', () => {
  const a = keyPair();
  const b = keyPair();

  it('§8 case 7: own key allows; another key denies with KEY_MISMATCH under THRESHOLD_NOT_MET', async () => {
    const ev = [signatureEvidence(a.privateKey, DIGEST)];
    const ok = await evaluatePolicies(image, policies(keyPolicy('p', [a.pem])), ev, keyChecker, ctx);
    expect(ok.images[0]!.decision).toBe('allow');
    expect(ok.exitCode).toBe(0);
    expect(ok.images[0]!.policies[0]!.authorities[0]!.candidates[0]!.result).toBe('pass');
    const bad = await evaluatePolicies(image, policies(keyPolicy('p', [b.pem])), ev, keyChecker, ctx);
    const p = bad.images[0]!.policies[0]!;
    expect(bad.exitCode).toBe(1);
    expect(p.result).toBe('fail');
    expect(p.reasons[0]).toMatchObject({ code: 'THRESHOLD_NOT_MET', message: '0 of 1 required authorities passed' });
    expect(p.authorities[0]!.candidates[0]).toMatchObject({
      result: 'fail',
      code: 'KEY_MISMATCH',
      scheme: 'tag',
      format: 'legacy-sig',
    });
  });

  it('§8 case 6: tlog required without an entry → TLOG_ENTRY_MISSING; ignore → allow', async () => {
    const ev = [signatureEvidence(a.privateKey, DIGEST)];
    const req = await evaluatePolicies(
      image,
      policies(keyPolicy('p', [a.pem], '', { tlog: 'required' })),
      ev,
      keyChecker,
      ctx,
    );
    expect(req.images[0]!.decision).toBe('deny');
    expect(reasonCodes(req.images[0]!)).toContain('TLOG_ENTRY_MISSING');
    const ign = await evaluatePolicies(image, policies(keyPolicy('p', [a.pem])), ev, keyChecker, ctx);
    expect(ign.images[0]!.decision).toBe('allow');
  });

  it('§8 case 8: nothing attached → NO_SIGNATURES_FOUND (distinct from KEY_MISMATCH)', async () => {
    const r = await evaluatePolicies(image, policies(keyPolicy('p', [a.pem])), [], keyChecker, ctx);
    const codes = reasonCodes(r.images[0]!);
    expect(codes).toContain('NO_SIGNATURES_FOUND');
    expect(codes).not.toContain('KEY_MISMATCH');
    expect(r.exitCode).toBe(1);
  });

  it('signature over another digest → PAYLOAD_DIGEST_MISMATCH with expected/actual', async () => {
    const r = await evaluatePolicies(
      image,
      policies(keyPolicy('p', [a.pem])),
      [signatureEvidence(a.privateKey, OTHER)],
      keyChecker,
      ctx,
    );
    const c = r.images[0]!.policies[0]!.authorities[0]!.candidates[0]!;
    expect(c.code).toBe('PAYLOAD_DIGEST_MISMATCH');
    expect(c.checks.at(-1)).toMatchObject({ check: 'digest', ok: false, expected: DIGEST, actual: OTHER });
  });

  it('§8 case 13 (key form): threshold 2 with two authorities that accept the same signer', async () => {
    // Two authorities holding the same key: one signature may back only one of them.
    const pol = policies(keyPolicy('p', [a.pem, a.pem], '', { threshold: 2 }));
    const one = await evaluatePolicies(image, pol, [signatureEvidence(a.privateKey, DIGEST)], keyChecker, ctx);
    expect(one.images[0]!.decision).toBe('deny');
    expect(one.images[0]!.policies[0]!.reasons[0]!.code).toBe('THRESHOLD_NOT_MET');
    expect(one.images[0]!.policies[0]!.authorities.map((x) => x.result)).toEqual(['pass', 'pass']);
    const two = await evaluatePolicies(
      image,
      pol,
      [signatureEvidence(a.privateKey, DIGEST), signatureEvidence(a.privateKey, DIGEST)],
      keyChecker,
      ctx,
    );
    expect(two.images[0]!.decision).toBe('allow');
    // Two different keys, two signatures: allow.
    const both = await evaluatePolicies(
      image,
      policies(keyPolicy('p', [a.pem, b.pem], '', { threshold: 2 })),
      [signatureEvidence(b.privateKey, DIGEST), signatureEvidence(a.privateKey, DIGEST)],
      keyChecker,
      ctx,
    );
    expect(both.images[0]!.decision).toBe('allow');
  });

  it('§8 case 15: requireDigest denies a tag reference with IMAGE_NOT_PINNED; digest evaluates normally', async () => {
    const pol = policies(keyPolicy('p', [a.pem]).replace('  signatures:', '  requireDigest: true\n  signatures:'));
    const ev = [signatureEvidence(a.privateKey, DIGEST)];
    const tag = await evaluatePolicies(
      { reference: 'ghcr.io/acme/app:1.4.0', digest: DIGEST, pinned: false },
      pol,
      ev,
      keyChecker,
      ctx,
    );
    expect(tag.images[0]!.decision).toBe('deny');
    expect(tag.images[0]!.tag).toBe('1.4.0');
    expect(tag.images[0]!.policies[0]!.reasons[0]!.code).toBe('IMAGE_NOT_PINNED');
    expect((await evaluatePolicies(image, pol, ev, keyChecker, ctx)).images[0]!.decision).toBe('allow');
  });

  it('§8 case 10: modes and the combination rule', async () => {
    const sbom = `  attestations:
    - name: sbom
      predicateType: spdxjson
`;
    const pA = keyPolicy('a', [a.pem]);
    const pB = keyPolicy('b', [a.pem], sbom);
    const pC = keyPolicy('c', [b.pem], '', { mode: 'warn' });
    const ev = [signatureEvidence(a.privateKey, DIGEST)];
    const r = await evaluatePolicies(image, policies(pA + pB + pC), ev, keyChecker, ctx);
    const img = r.images[0]!;
    expect(r.exitCode).toBe(1);
    expect(img.policies.map((p) => [p.name, p.result, p.wouldDeny ?? false])).toEqual([
      ['a', 'pass', false],
      ['b', 'fail', false],
      ['c', 'fail', true],
    ]);
    expect(img.policies[1]!.attestations[0]).toMatchObject({
      predicateType: 'https://spdx.dev/Document',
      result: 'fail',
      reasons: [{ code: 'ATTESTATION_MISSING' }],
    });
    expect(img.warnings.join('\n')).toMatch(/policy c/);
    const audit = await evaluatePolicies(
      image,
      policies(pA + pB.replace('mode: enforce', 'mode: audit') + pC),
      ev,
      keyChecker,
      ctx,
    );
    expect(audit.exitCode).toBe(0);
    expect(audit.images[0]!.policies[1]!.wouldDeny).toBe(true);
    const dry = await evaluatePolicies(image, policies(pA + pB + pC), ev, keyChecker, ctx, { dryRun: true });
    expect(dry.images[0]).toMatchObject({ decision: 'allow', enforcedDecision: 'deny' });
    expect(dry.exitCode).toBe(0);
  });

  it('§8 case 12: nothing selected → NO_MATCHING_POLICY deny; noMatch allow → exit 0; --explain lists why', async () => {
    const pol = policies(keyPolicy('p', [a.pem]));
    const other = { reference: 'quay.io/other/img:1', digest: DIGEST, pinned: false };
    const deny = await evaluatePolicies(other, pol, [], keyChecker, ctx, { explain: true });
    expect(deny.exitCode).toBe(1);
    expect(deny.images[0]!.reasons[0]!.code).toBe('NO_MATCHING_POLICY');
    expect(deny.images[0]!.notSelected![0]!.code).toBe('NOT_SELECTED_NO_GLOB_MATCH');
    expect((await evaluatePolicies(other, pol, [], keyChecker, ctx, { noMatch: 'allow' })).exitCode).toBe(0);
    const warn = await evaluatePolicies(other, pol, [], keyChecker, ctx, { noMatch: 'warn' });
    expect(warn.exitCode).toBe(0);
    expect(warn.images[0]!.warnings).toHaveLength(1);
  });

  it('§8 case 14: evidence unavailable → policy error, exit 2; plus a static-fail enforce policy → exit 1', async () => {
    const unavailable = {
      error: { code: 'REGISTRY_ERROR', message: 'ghcr.io: 503 on referrers and tag list (retried)' },
    };
    const r = await evaluatePolicies(image, policies(keyPolicy('p', [a.pem])), unavailable, keyChecker, ctx);
    expect(r.images[0]!.policies[0]!.result).toBe('error');
    expect(r.exitCode).toBe(2);
    expect(reasonCodes(r.images[0]!)).toContain('REGISTRY_ERROR');
    const block = `apiVersion: sigil.dev/v1
kind: Policy
metadata: { name: block }
spec:
  images: [{ glob: ghcr.io/acme/** }]
  authorities: [{ name: no, static: { action: fail, message: blocked repository } }]
`;
    const both = await evaluatePolicies(image, policies(keyPolicy('p', [a.pem]) + block), unavailable, keyChecker, ctx);
    expect(both.exitCode).toBe(1);
    expect(both.images[0]!.policies[1]!.reasons[0]).toMatchObject({
      code: 'STATIC_FAIL',
      message: 'blocked repository',
    });
    expect(decisionExitCode(both)).toBe(1);
  });
});

describe('attestations with CEL (§8 case 9 shape, key-signed)', () => {
  const a = keyPair();
  const att = (cond: string): string => `  attestations:
    - name: custom
      predicateType: custom
      conditions:
        - name: c
          expr: '${cond}'
          message: condition said no
`;
  const pol = (cond: string): Policy[] => policies(keyPolicy('p', [a.pem], att(cond), { threshold: 0 }));

  it('allow; false → CONDITION_FALSE; missing field → CONDITION_ERROR; other digest → ATTESTATION_SUBJECT_MISMATCH', async () => {
    const ev = [
      await attestationEvidence(a.privateKey, DIGEST, 'https://cosign.sigstore.dev/attestation/v1', {
        Data: 'foo\n',
        Timestamp: 'x',
      }),
    ];
    const ok = await evaluatePolicies(image, pol('predicate.Data.contains("foo")'), ev, keyChecker, ctx);
    expect(ok.images[0]!.decision).toBe('allow');
    expect(ok.images[0]!.policies[0]!.attestations[0]!.candidates[0]!.format).toBe('bundle-v0.3');

    const f = await evaluatePolicies(image, pol('predicate.Data.contains("baz")'), ev, keyChecker, ctx);
    expect(f.images[0]!.decision).toBe('deny');
    expect(f.images[0]!.policies[0]!.attestations[0]!.reasons[0]).toEqual({
      code: 'CONDITION_FALSE',
      message: 'condition said no',
      condition: 'c',
      expression: 'predicate.Data.contains("baz")',
    });

    const e = await evaluatePolicies(image, pol('predicate.Nope == 1'), ev, keyChecker, ctx);
    expect(e.images[0]!.decision).toBe('deny');
    expect(e.images[0]!.policies[0]!.attestations[0]!.reasons[0]).toMatchObject({
      code: 'CONDITION_ERROR',
      condition: 'c',
    });
    expect(e.images[0]!.policies[0]!.attestations[0]!.reasons[0]!.message).toMatch(/Nope/);

    const other = { reference: `ghcr.io/acme/app@${OTHER}`, digest: OTHER, pinned: true };
    const m = await evaluatePolicies(other, pol('predicate.Data.contains("foo")'), ev, keyChecker, { digest: OTHER });
    expect(m.images[0]!.decision).toBe('deny');
    expect(m.images[0]!.policies[0]!.attestations[0]!.reasons[0]!.code).toBe('ATTESTATION_SUBJECT_MISMATCH');
  });

  it('an attestation signed by another key is ATTESTATION_MISSING with the candidate’s KEY_MISMATCH', async () => {
    const ev = [
      await attestationEvidence(keyPair().privateKey, DIGEST, 'https://cosign.sigstore.dev/attestation/v1', {
        Data: 'foo',
      }),
    ];
    const r = await evaluatePolicies(image, pol('true'), ev, keyChecker, ctx);
    const at = r.images[0]!.policies[0]!.attestations[0]!;
    expect(at.reasons[0]!.code).toBe('ATTESTATION_MISSING');
    expect(at.candidates[0]!.code).toBe('KEY_MISMATCH');
  });
});
