/**
 * DSSE envelopes and in-toto statements against real cosign output (shared/vectors/cosign):
 * bundle envelopes verified over PAE with the signer's key or certificate, statements rebuilt
 * byte-for-byte, and a tampered legacy `.att` envelope that must fail.
 */
import { X509Certificate, createHash, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SignError } from '../../../src/sign/errors.ts';
import { dsseEnvelope, pae, parseEnvelope, signEnvelope, verifyEnvelope } from '../../../src/sign/payloads/dsse.ts';
import {
  IN_TOTO_PAYLOAD_TYPE,
  cosignSignStatement,
  inTotoStatement,
  parseStatement,
  statementMatchesDigest,
} from '../../../src/sign/payloads/in-toto.ts';
import { VECTORS_DIR } from '../../helpers/vectors.ts';

const COSIGN = join(VECTORS_DIR, 'cosign');
const read = (...p: string[]): Buffer => readFileSync(join(COSIGN, ...p));
const json = (...p: string[]) => JSON.parse(read(...p).toString('utf8'));
const enc = new TextEncoder();
const hexSha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

function tlogBody(bundle: { verificationMaterial: { tlogEntries: Array<{ canonicalizedBody: string }> } }) {
  return JSON.parse(
    Buffer.from(bundle.verificationMaterial.tlogEntries[0]!.canonicalizedBody, 'base64').toString('utf8'),
  );
}

describe('bundle-referrer-key-v3 (cosign v3.0.4 sign --key)', () => {
  const bundle = json('bundle-referrer-key-v3', 'bundle.sigstore.json');
  const key = createPublicKey(read('bundle-referrer-key-v3', 'cosign.pub'));
  const digest = 'sha256:d7d5640c741c60b47fa4b5530daa20a6469b55754a89dd42adbadadb59f9093c';

  it('the envelope (v3 shape, no keyid) verifies over PAE with cosign.pub', () => {
    const env = parseEnvelope(bundle.dsseEnvelope);
    expect(env.signatures[0]).not.toHaveProperty('keyid');
    expect(verifyEnvelope(env, key)).toEqual({ verified: [0] });
  });

  it('the statement is the v1 cosign sign statement, rebuilt byte-for-byte, and matches the subject', () => {
    const env = parseEnvelope(bundle.dsseEnvelope);
    const st = parseStatement(env.payload);
    expect(st._type).toBe('https://in-toto.io/Statement/v1');
    expect(st.predicateType).toBe('https://sigstore.dev/cosign/sign/v1');
    expect(statementMatchesDigest(st, digest)).toBe(true);
    expect(statementMatchesDigest(st, `sha256:${'0'.repeat(64)}`)).toBe(false);
    expect(statementMatchesDigest(st, digest, { env: 'prod' })).toBe(false);
    // v3.0.4 wrote no predicate; v3.0.5+ adds "predicate":{}.
    const rebuilt = cosignSignStatement(digest, {}, { emptyPredicate: false });
    expect(Buffer.from(rebuilt).equals(Buffer.from(env.payload))).toBe(true);
    expect(new TextDecoder().decode(cosignSignStatement(digest))).toMatch(
      /"predicateType":"https:\/\/sigstore.dev\/cosign\/sign\/v1","predicate":\{\}\}$/,
    );
    // Rekor's dsse entry hashed exactly these statement bytes.
    expect(hexSha256(rebuilt)).toBe(tlogBody(bundle).spec.payloadHash.value);
  });

  it('a changed payload or signature fails with SIGNATURE_INVALID', () => {
    const env = parseEnvelope(bundle.dsseEnvelope);
    const payload = env.payload.slice();
    payload[payload.length - 3] = payload[payload.length - 3]! ^ 1;
    expect(() => verifyEnvelope({ ...env, payload }, key)).toThrow(
      expect.objectContaining({ code: 'SIGNATURE_INVALID' }),
    );
    // Same bytes under another payload type are a different PAE.
    expect(() => verifyEnvelope({ ...env, payloadType: 'application/json' }, key, { payloadType: null })).toThrow(
      expect.objectContaining({ code: 'SIGNATURE_INVALID' }),
    );
    expect(() => verifyEnvelope({ ...env, payloadType: 'application/json' }, key)).toThrow(
      expect.objectContaining({ code: 'ENVELOPE_INVALID' }),
    );
  });
});

describe('bundle-attestation-keyless (cosign attest --type custom, Fulcio cert)', () => {
  const bundle = json('bundle-attestation-keyless', 'bundle.sigstore.json');
  const cert = new X509Certificate(Buffer.from(bundle.verificationMaterial.certificate.rawBytes, 'base64'));

  it('the envelope verifies with the certificate key', () => {
    const env = parseEnvelope(bundle.dsseEnvelope);
    expect(env.payloadType).toBe(IN_TOTO_PAYLOAD_TYPE);
    expect(verifyEnvelope(env, cert.publicKey).verified).toEqual([0]);
    // A different key does not.
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
    expect(() => verifyEnvelope(env, other)).toThrow(SignError);
  });

  it('the cosign ≤ 2.x serialization (keyid "") hashes to the Rekor envelopeHash', () => {
    const env = parseEnvelope(bundle.dsseEnvelope);
    const bytes = dsseEnvelope(env);
    expect(new TextDecoder().decode(bytes)).toMatch(
      /^\{"payloadType":"application\/vnd.in-toto\+json","payload":"[^"]+","signatures":\[\{"keyid":"","sig":"[^"]+"\}\]\}$/,
    );
    expect(hexSha256(bytes)).toBe(tlogBody(bundle).spec.envelopeHash.value);
  });

  it('the v0.1 statement with the custom predicate is rebuilt byte-for-byte from its fields', () => {
    const env = parseEnvelope(bundle.dsseEnvelope);
    const st = parseStatement(env.payload);
    expect(st._type).toBe('https://in-toto.io/Statement/v0.1');
    expect(st.subject).toEqual([
      {
        name: '127.0.0.1:60943/repo',
        digest: { sha256: '732112270d7e59418a8c080b134b24cabd67d250d0d0147a97ed95ba5c280aa4' },
      },
    ]);
    expect(st.predicate).toEqual({ Data: '{"foo": "bar"}\n', Timestamp: '2025-02-28T19:18:11Z' });
    const rebuilt = inTotoStatement({
      version: 'v0.1',
      subjects: st.subject,
      predicateType: st.predicateType,
      predicate: st.predicate,
    });
    expect(Buffer.from(rebuilt).equals(Buffer.from(env.payload))).toBe(true);
    expect(statementMatchesDigest(st, 'sha256:732112270d7e59418a8c080b134b24cabd67d250d0d0147a97ed95ba5c280aa4')).toBe(
      true,
    );
  });
});

describe('negative-att-keyless-distroless-tampered (legacy .att layer, edited envelope)', () => {
  const bytes = new Uint8Array(read('negative-att-keyless-distroless-tampered', 'envelope.json'));
  const cert = new X509Certificate(read('negative-att-keyless-distroless-tampered', 'certificate.pem'));

  it('parses the cosign ≤ 2.x shape and re-serializes it to the same bytes', () => {
    const env = parseEnvelope(bytes);
    expect(env.signatures[0]!.keyid).toBe('');
    expect(Buffer.from(dsseEnvelope(env)).equals(Buffer.from(bytes))).toBe(true);
    expect(parseStatement(env.payload).predicateType).toBe('https://cosign.sigstore.dev/attestation/vuln/v1');
  });

  it('does not verify with the certificate key: SIGNATURE_INVALID', () => {
    const env = parseEnvelope(bytes);
    expect(() => verifyEnvelope(env, cert.publicKey)).toThrow(expect.objectContaining({ code: 'SIGNATURE_INVALID' }));
  });
});

describe('pae', () => {
  it('is the DSSEv1 encoding with byte lengths', () => {
    expect(new TextDecoder().decode(pae('application/vnd.in-toto+json', enc.encode('{"a":1}')))).toBe(
      'DSSEv1 28 application/vnd.in-toto+json 7 {"a":1}',
    );
    // The DSSE spec's test vector.
    expect(Buffer.from(pae('http://example.com/HelloWorld', enc.encode('hello world'))).toString()).toBe(
      'DSSEv1 29 http://example.com/HelloWorld 11 hello world',
    );
  });

  it('counts UTF-8 bytes, not characters, for multibyte type and payload (fast-check)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'grapheme' }), (type, payloadText) => {
        const payload = enc.encode(payloadText);
        const out = Buffer.from(pae(type, payload));
        const typeBytes = Buffer.byteLength(type, 'utf8');
        const head = `DSSEv1 ${typeBytes} `;
        expect(out.subarray(0, head.length).toString('latin1')).toBe(head);
        expect(out.subarray(head.length, head.length + typeBytes).equals(Buffer.from(type, 'utf8'))).toBe(true);
        const mid = ` ${payload.length} `;
        expect(out.subarray(head.length + typeBytes, head.length + typeBytes + mid.length).toString('latin1')).toBe(
          mid,
        );
        expect(out.length).toBe(head.length + typeBytes + mid.length + payload.length);
        expect(out.subarray(out.length - payload.length).equals(Buffer.from(payload))).toBe(true);
      }),
    );
    expect(new TextDecoder().decode(pae('é', enc.encode('日本')))).toBe('DSSEv1 2 é 6 日本');
  });
});

describe('signEnvelope / parseEnvelope', () => {
  it('signs with a key and with a signer object; both verify and round-trip through JSON', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    const statement = cosignSignStatement(`sha256:${'e'.repeat(64)}`, { env: 'prod' });
    const env = await signEnvelope(statement, IN_TOTO_PAYLOAD_TYPE, privateKey);
    expect(verifyEnvelope(parseEnvelope(dsseEnvelope(env)), publicKey).verified).toEqual([0]);

    const remote = await signEnvelope(statement, IN_TOTO_PAYLOAD_TYPE, {
      keyid: 'k1',
      sign: async (data) => {
        const { signBytes } = await import('../../../src/sign/raw-signature.ts');
        return signBytes(privateKey, data);
      },
    });
    const back = parseEnvelope(dsseEnvelope(remote));
    expect(back.signatures[0]!.keyid).toBe('k1');
    // Two signatures, one by a stranger: only the right one is reported.
    const stranger = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const bad = await signEnvelope(statement, IN_TOTO_PAYLOAD_TYPE, stranger);
    expect(
      verifyEnvelope({ ...env, signatures: [bad.signatures[0]!, env.signatures[0]!] }, publicKey).verified,
    ).toEqual([1]);
    const st = parseStatement(back.payload);
    expect(statementMatchesDigest(st, `sha256:${'e'.repeat(64)}`, { env: 'prod' })).toBe(true);
    expect(statementMatchesDigest(st, `sha256:${'e'.repeat(64)}`, { env: 'dev' })).toBe(false);
  });

  it('accepts the v3 protojson field order and URL-safe base64; rejects broken envelopes', () => {
    const payload = Buffer.from('{"x":"???>>>"}').toString('base64url');
    const env = parseEnvelope(enc.encode(`{"payload":"${payload}","payloadType":"t","signatures":[{"sig":"AAEC"}]}`));
    expect(new TextDecoder().decode(env.payload)).toBe('{"x":"???>>>"}');
    expect(env.signatures).toEqual([{ sig: new Uint8Array([0, 1, 2]) }]);
    for (const bad of [
      'nope',
      '{"payloadType":"t","signatures":[]}',
      '{"payloadType":"t","payload":"AA==","signatures":[{"keyid":""}]}',
      '{"payloadType":"t","payload":"A*A=","signatures":[]}',
      '{"payloadType":"t","payload":"AA==","signatures":{}}',
    ]) {
      expect(() => parseEnvelope(enc.encode(bad)), bad).toThrow(expect.objectContaining({ code: 'ENVELOPE_INVALID' }));
    }
  });
});
