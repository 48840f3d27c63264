import { createHash, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Digest } from '../../src/oci/digest.ts';
import type { Authority, CheckResult, IdentityMatcher } from '../../src/verify/authority.ts';
import { checkEvidence } from '../../src/verify/check.ts';
import { type Evidence, evidenceFromBundle, evidenceFromTagLayer } from '../../src/verify/evidence/index.ts';
import { certificateIdentity } from '../../src/verify/fulcio-extensions.ts';
import { embeddedTrustedRoot } from '../../src/verify/trust-material.ts';
import { COSIGN, vec, vecJson, vecText } from './evidence/vector-trust.ts';

const SIMPLE = 'application/vnd.dev.cosign.simplesigning.v1+json';
const DSSE = 'application/vnd.dsse.envelope.v1+json';
const GH_OAUTH = 'https://github.com/login/oauth';

function sha256(b: Uint8Array | string): Digest {
  return `sha256:${createHash('sha256').update(b).digest('hex')}` as Digest;
}

function legacy(dir: string, annotationsFile = 'layer-annotations.json', payload = vec(dir, 'payload.json')): Evidence {
  return evidenceFromTagLayer(
    { mediaType: SIMPLE, annotations: vecJson(dir, annotationsFile), payload },
    { description: `${dir} layer` },
  );
}

function keyAuth(dir: string, tlog: 'required' | 'optional' | 'ignore', extra: Partial<Authority> = {}): Authority {
  return {
    kind: 'key',
    name: 'k',
    publicKey: createPublicKey(vecText(dir, 'cosign.pub')),
    tlog,
    ...extra,
  } as Authority;
}

function keyless(identities: IdentityMatcher[], extra: Record<string, unknown> = {}): Authority {
  return { kind: 'keyless', name: 'kl', identities, sct: 'required', tlog: 'required', ...extra } as Authority;
}

function fail(r: CheckResult): Extract<CheckResult, { ok: false }> {
  if (r.ok) throw new Error(`expected a failure, got ok (${r.checks.join(',')})`);
  return r;
}

/** The same bytes with one byte changed inside the JSON (a digit of the digest or a letter). */
function flipOneByte(b: Uint8Array, at: number): Uint8Array {
  const c = new Uint8Array(b);
  c[at] = c[at] === 0x61 ? 0x62 : 0x61;
  return c;
}

describe('the embedded public-good trusted root', () => {
  it('is read offline from @sigstore/tuf seeds and lists Fulcio, Rekor, CT logs and TSA', () => {
    const root = embeddedTrustedRoot();
    expect(String(root['mediaType'])).toContain('trustedroot');
    expect((root['tlogs'] as unknown[]).length).toBeGreaterThan(0);
    expect((root['certificateAuthorities'] as unknown[]).length).toBeGreaterThan(0);
    expect((root['ctlogs'] as unknown[]).length).toBeGreaterThan(0);
  });
});

describe('checkEvidence on every cosign vector that should verify (offline)', () => {
  it('legacy-sig-key-only: both cosign signatures pass with cosign.pub and tlog ignore; the foreign one fails', async () => {
    const dir = 'legacy-sig-key-only';
    const digest = sha256(vec(dir, 'subject-manifest.json'));
    const a = keyAuth(dir, 'ignore');
    const r1 = await checkEvidence(legacy(dir), a, { digest });
    expect(r1).toMatchObject({ ok: true, checks: ['signature', 'digest'], signer: { kind: 'key' } });
    const r2 = await checkEvidence(legacy(dir, 'second-layer-annotations.json', vec(dir, 'second-payload.json')), a, {
      digest,
    });
    expect(r2.ok).toBe(true);
    const r3 = fail(
      await checkEvidence(
        legacy(dir, 'negative-otherkey-layer-annotations.json', vec(dir, 'negative-otherkey-payload.json')),
        a,
        { digest },
      ),
    );
    // no hint, no tlog: a different key cannot be told from an altered payload
    expect(r3).toMatchObject({ code: 'SIGNATURE_INVALID', check: 'signature' });
    // tlog required by default: nothing logged
    expect(fail(await checkEvidence(legacy(dir), keyAuth(dir, 'required'), { digest }))).toMatchObject({
      code: 'TLOG_ENTRY_MISSING',
      check: 'tlog',
    });
    expect((await checkEvidence(legacy(dir), keyAuth(dir, 'optional'), { digest })).ok).toBe(true);
  });

  it('legacy-sig-key-rekor: key + SET under the public-good Rekor key; signedAt = integrated time', async () => {
    const dir = 'legacy-sig-key-rekor';
    const r = await checkEvidence(legacy(dir), keyAuth(dir, 'required'), {
      digest: sha256(vec(dir, 'subject-manifest.json')),
    });
    expect(r).toMatchObject({ ok: true, checks: ['signature', 'digest', 'tlog'] });
    expect(r.ok && r.signedAt?.toISOString()).toBe(new Date(1674251859 * 1000).toISOString());
  });

  it('legacy-sig-keyless-rekor: Fulcio cert, SCT, SET, mitr@redhat.com via GitHub OAuth', async () => {
    const dir = 'legacy-sig-keyless-rekor';
    const r = await checkEvidence(legacy(dir), keyless([{ issuer: GH_OAUTH, subject: 'mitr@redhat.com' }]), {
      digest: sha256(vec(dir, 'subject-manifest.json')),
    });
    expect(r).toMatchObject({
      ok: true,
      checks: ['signature', 'digest', 'tlog', 'certificateChain', 'sct', 'identity.issuer', 'identity.subject'],
      signer: { kind: 'certificate', issuer: GH_OAUTH, subjectAlternativeNames: ['mitr@redhat.com'] },
    });
  });

  it('legacy-sig-manifest-v3: cosign v3.0.4 classic .sig', async () => {
    const dir = 'legacy-sig-manifest-v3';
    const m = vecJson<{ layers: { mediaType: string; annotations: Record<string, string> }[] }>(
      dir,
      'sig-manifest.json',
    );
    const e = evidenceFromTagLayer(
      { mediaType: m.layers[0]!.mediaType, annotations: m.layers[0]!.annotations, payload: vec(dir, 'payload.json') },
      { description: 'v3' },
    );
    const r = await checkEvidence(e, keyAuth(dir, 'ignore'), {
      digest: 'sha256:f20c43161d73848408ef247f0ec7111b19fe58ffebc0cbcaa0d2c8bda4967268' as Digest,
    });
    expect(r.ok).toBe(true);
  });

  it('bundle-referrer-key-v3: dsse + inclusion proof + checkpoint + TSA under the public-good root', async () => {
    const dir = 'bundle-referrer-key-v3';
    const e = evidenceFromBundle(vec(dir, 'bundle.sigstore.json'), { description: 'referrer' });
    const r = await checkEvidence(e, keyAuth(dir, 'required'), {
      digest: 'sha256:d7d5640c741c60b47fa4b5530daa20a6469b55754a89dd42adbadadb59f9093c' as Digest,
    });
    expect(r).toMatchObject({ ok: true, checks: ['signature', 'digest', 'tlog', 'timestamp'] });
  });

  it('bundle-attestation-keyless: DSSE attestation, in-toto subject, cody@soyland.com (own and embedded root)', async () => {
    const dir = 'bundle-attestation-keyless';
    const e = evidenceFromBundle(vec(dir, 'bundle.sigstore.json'), { description: 'referrer' });
    const digest = 'sha256:732112270d7e59418a8c080b134b24cabd67d250d0d0147a97ed95ba5c280aa4' as Digest;
    const id = [{ issuer: GH_OAUTH, subjectRegExp: 'cody@soyland\\.com' }];
    expect((await checkEvidence(e, keyless(id), { digest })).ok).toBe(true);
    const own = await checkEvidence(e, keyless(id, { trustedRoot: join(COSIGN, dir, 'trusted_root.json') }), {
      digest,
    });
    expect(own.ok).toBe(true);
  });

  it('legacy-sig-custom-pki-rsa: private CA (--ca-roots/--ca-intermediates), no tlog, no SCT, checked at now', async () => {
    const dir = 'legacy-sig-custom-pki-rsa';
    const a = keyless([{ subject: 'qiwan@redhat.com' }], {
      caRoots: join(COSIGN, dir, 'ca-roots.pem'),
      caIntermediates: join(COSIGN, dir, 'ca-intermediates.pem'),
      sct: 'ignore',
      tlog: 'ignore',
    });
    const digest = sha256(vec(dir, 'subject-manifest.json'));
    const r = await checkEvidence(legacy(dir), a, { digest, now: new Date('2026-01-01T00:00:00Z') });
    expect(r).toMatchObject({ ok: true, checks: ['signature', 'digest', 'certificateChain', 'identity.subject'] });
    expect(r.ok && r.signer.kind === 'certificate' && r.signer.subjectAlternativeNames).toContain('qiwan@redhat.com');
    const later = fail(await checkEvidence(legacy(dir), a, { digest, now: new Date('2060-01-01T00:00:00Z') }));
    expect(later.code).toBe('CERT_TIME_UNVERIFIED');
  });
});

describe('tampered copies fail with a specific reason code', () => {
  const rekorDir = 'legacy-sig-key-rekor';
  const rekorDigest = sha256(vec(rekorDir, 'subject-manifest.json'));
  const keylessDir = 'legacy-sig-keyless-rekor';
  const keylessDigest = sha256(vec(keylessDir, 'subject-manifest.json'));
  const mitr = [{ issuer: GH_OAUTH, subject: 'mitr@redhat.com' }];

  it('one payload byte changed: SIGNATURE_INVALID (key and keyless)', async () => {
    const p = vec(rekorDir, 'payload.json');
    const i = Buffer.from(p).indexOf('docker-reference') + 30;
    const r = fail(
      await checkEvidence(legacy(rekorDir, undefined, flipOneByte(p, i)), keyAuth(rekorDir, 'required'), {
        digest: rekorDigest,
      }),
    );
    expect(r).toMatchObject({ code: 'SIGNATURE_INVALID', check: 'signature', checks: [] });
    const q = vec(keylessDir, 'payload.json');
    const k = fail(
      await checkEvidence(
        legacy(keylessDir, undefined, flipOneByte(q, Buffer.from(q).indexOf('docker-reference') + 30)),
        keyless(mitr),
        {
          digest: keylessDigest,
        },
      ),
    );
    expect(k.code).toBe('SIGNATURE_INVALID');
  });

  it('a swapped digest: PAYLOAD_DIGEST_MISMATCH naming both', async () => {
    const other = sha256('another manifest');
    const r = fail(await checkEvidence(legacy(rekorDir), keyAuth(rekorDir, 'required'), { digest: other }));
    expect(r).toMatchObject({ code: 'PAYLOAD_DIGEST_MISMATCH', check: 'digest', expected: other, actual: rekorDigest });
    const att = evidenceFromBundle(vec('bundle-attestation-keyless', 'bundle.sigstore.json'), { description: 'r' });
    const a = fail(
      await checkEvidence(att, keyless([{ issuer: GH_OAUTH, subject: 'cody@soyland.com' }]), { digest: other }),
    );
    expect(a).toMatchObject({
      code: 'PAYLOAD_DIGEST_MISMATCH',
      actual: 'sha256:732112270d7e59418a8c080b134b24cabd67d250d0d0147a97ed95ba5c280aa4',
    });
  });

  it('the wrong identity, the wrong issuer, a missing claim; RE2 regexps are full-match', async () => {
    const e = legacy(keylessDir);
    const ctx = { digest: keylessDigest };
    const subj = fail(await checkEvidence(e, keyless([{ issuer: GH_OAUTH, subject: 'someone@else.com' }]), ctx));
    expect(subj).toMatchObject({
      code: 'IDENTITY_SUBJECT_MISMATCH',
      check: 'identity.subject',
      expected: 'someone@else.com',
      actual: 'mitr@redhat.com',
      checks: ['signature', 'digest', 'tlog', 'certificateChain', 'sct', 'identity.issuer'],
    });
    const iss = fail(
      await checkEvidence(e, keyless([{ issuer: 'https://accounts.google.com', subject: 'mitr@redhat.com' }]), ctx),
    );
    expect(iss).toMatchObject({
      code: 'IDENTITY_ISSUER_MISMATCH',
      expected: 'https://accounts.google.com',
      actual: GH_OAUTH,
    });
    // unanchored "redhat" would match under cosign; RE2 full-match does not
    const partial = fail(await checkEvidence(e, keyless([{ issuer: GH_OAUTH, subjectRegExp: 'redhat' }]), ctx));
    expect(partial.code).toBe('IDENTITY_SUBJECT_MISMATCH');
    expect(
      (
        await checkEvidence(
          e,
          keyless([{ issuerRegExp: 'https://github\\.com/.*', subjectRegExp: '.*@redhat\\.com' }]),
          ctx,
        )
      ).ok,
    ).toBe(true);
    const claim = fail(
      await checkEvidence(e, keyless([{ ...mitr[0]!, claims: { runnerEnvironment: 'github-hosted' } }]), ctx),
    );
    expect(claim).toMatchObject({ code: 'IDENTITY_CLAIM_MISSING', check: 'identity.claims.runnerEnvironment' });
  });

  it('the wrong key: KEY_MISMATCH (the Rekor body names the signing key); keyless evidence to a key authority too', async () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const wrong = { kind: 'key', name: 'other', publicKey, tlog: 'required' } as Authority;
    const r = fail(await checkEvidence(legacy(rekorDir), wrong, { digest: rekorDigest }));
    expect(r).toMatchObject({ code: 'KEY_MISMATCH', check: 'signature' });
    const v3 = evidenceFromBundle(vec('bundle-referrer-key-v3', 'bundle.sigstore.json'), { description: 'r' });
    expect(
      fail(
        await checkEvidence(v3, wrong, {
          digest: 'sha256:d7d5640c741c60b47fa4b5530daa20a6469b55754a89dd42adbadadb59f9093c' as Digest,
        }),
      ).code,
    ).toBe('KEY_MISMATCH');
    expect(fail(await checkEvidence(legacy(keylessDir), wrong, { digest: keylessDigest })).code).toBe('KEY_MISMATCH');
  });

  it('an expired certificate without tlog evidence: CERT_TIME_UNVERIFIED', async () => {
    const r = fail(
      await checkEvidence(legacy(keylessDir), keyless(mitr, { tlog: 'ignore' }), { digest: keylessDigest }),
    );
    expect(r).toMatchObject({ code: 'CERT_TIME_UNVERIFIED', check: 'certificate.time' });
  });

  it('a SET from another log: TLOG_ENTRY_INVALID; a root without the Fulcio CA: CERT_CHAIN_INVALID', async () => {
    const att = evidenceFromBundle(vec('bundle-attestation-keyless', 'bundle.sigstore.json'), { description: 'r' });
    const digest = 'sha256:732112270d7e59418a8c080b134b24cabd67d250d0d0147a97ed95ba5c280aa4' as Digest;
    const id = [{ issuer: GH_OAUTH, subject: 'cody@soyland.com' }];
    const root = embeddedTrustedRoot();
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'sigil-check-'));
    const noTlog = join(dir, 'no-tlog.json');
    writeFileSync(noTlog, JSON.stringify({ ...root, tlogs: [] }));
    const noCa = join(dir, 'no-ca.json');
    writeFileSync(noCa, JSON.stringify({ ...root, certificateAuthorities: [] }));
    expect(fail(await checkEvidence(att, keyless(id, { trustedRoot: noTlog }), { digest }))).toMatchObject({
      code: 'TLOG_ENTRY_INVALID',
      check: 'tlog.inclusion',
    });
    expect(fail(await checkEvidence(att, keyless(id, { trustedRoot: noCa }), { digest }))).toMatchObject({
      code: 'CERT_CHAIN_INVALID',
    });
    const noCt = join(dir, 'no-ct.json');
    writeFileSync(noCt, JSON.stringify({ ...root, ctlogs: [] }));
    expect(fail(await checkEvidence(att, keyless(id, { trustedRoot: noCt }), { digest })).code).toBe('SCT_INVALID');
    expect((await checkEvidence(att, keyless(id, { trustedRoot: noCt, sct: 'ignore' }), { digest })).ok).toBe(true);
    const missing = fail(await checkEvidence(att, keyless(id, { trustedRoot: join(dir, 'nope.json') }), { digest }));
    expect(missing.code).toBe('TRUST_ROOT_ERROR');
  });

  it('the tampered distroless .att (intoto 0.0.1 entry): SIGNATURE_INVALID', async () => {
    const dir = 'negative-att-keyless-distroless-tampered';
    const e = evidenceFromTagLayer(
      {
        mediaType: DSSE,
        annotations: {
          'dev.cosignproject.cosign/signature': '',
          'dev.sigstore.cosign/certificate': vecText(dir, 'certificate.pem'),
          'dev.sigstore.cosign/chain': vecText(dir, 'chain.pem'),
          'dev.sigstore.cosign/bundle': vecText(dir, 'bundle-annotation.json'),
        },
        payload: vec(dir, 'envelope.json'),
      },
      { description: '.att' },
    );
    const r = fail(
      await checkEvidence(e, keyless([{ issuerRegExp: '.*', subjectRegExp: '.*' }]), {
        digest: 'sha256:a1e82f6a5f6dfc735165d3442e7cc5a615f72abac3db19452481f5f3c90fbfa8' as Digest,
      }),
    );
    expect(r.code).toBe('SIGNATURE_INVALID');
  });

  it('annotations (-a): ANNOTATION_MISMATCH names the pair', async () => {
    const dir = 'legacy-sig-key-only';
    const r = fail(
      await checkEvidence(legacy(dir), keyAuth(dir, 'ignore', { annotations: { env: 'prod' } }), {
        digest: sha256(vec(dir, 'subject-manifest.json')),
      }),
    );
    expect(r).toMatchObject({ code: 'ANNOTATION_MISMATCH', expected: 'env=prod', actual: '(absent)' });
  });

  it('unreadable evidence: EVIDENCE_MALFORMED with the reading problem', async () => {
    const e = evidenceFromTagLayer({ mediaType: SIMPLE, annotations: {}, payload: vec(rekorDir, 'payload.json') });
    const r = fail(await checkEvidence(e, keyAuth(rekorDir, 'ignore'), { digest: rekorDigest }));
    expect(r).toMatchObject({ code: 'EVIDENCE_MALFORMED', message: expect.stringContaining('signature annotation') });
  });
});

describe('certificate identity extraction', () => {
  it('reads the GitHub Actions extensions by sigstore-go name, issuer from 1.8', () => {
    const pem = vecText('fulcio-cert-github-actions', 'certificate.pem');
    const der = Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    const id = certificateIdentity(der);
    expect(id.issuer).toBe('https://token.actions.githubusercontent.com');
    expect(id.subjectAlternativeNames[0]).toMatch(/^https:\/\/github\.com\//);
    expect(id.extensions['runnerEnvironment']).toMatch(/hosted/);
    expect(id.extensions['githubWorkflowTrigger']).toBeDefined();
    expect(id.extensions['sourceRepositoryURI']).toMatch(/^https:\/\/github\.com\//);
  });
});
