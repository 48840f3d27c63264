/**
 * Simple-signing payloads against the real cosign payloads in shared/vectors/cosign: rebuilt
 * byte-for-byte from their parsed fields, and verified with the keys/certificate that signed them.
 */
import { X509Certificate, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sha256 } from '../../../src/oci/digest.ts';
import { parseReference } from '../../../src/oci/reference.ts';
import { SignError } from '../../../src/sign/errors.ts';
import { decodeBase64 } from '../../../src/sign/payloads/base64.ts';
import {
  dockerReferenceOf,
  parseSimpleSigningPayload,
  simpleSigningPayload,
} from '../../../src/sign/payloads/simple-signing.ts';
import { signBytes, verifyBytes } from '../../../src/sign/raw-signature.ts';
import { VECTORS_DIR } from '../../helpers/vectors.ts';

const COSIGN = join(VECTORS_DIR, 'cosign');
const read = (...p: string[]): Buffer => readFileSync(join(COSIGN, ...p));
const text = (...p: string[]): string => read(...p).toString('utf8');
const enc = new TextEncoder();

const PAYLOAD_VECTORS = ['legacy-sig-key-only', 'legacy-sig-manifest-v3', 'legacy-sig-custom-pki-rsa'];

describe('simpleSigningPayload on real cosign payloads', () => {
  for (const dir of PAYLOAD_VECTORS) {
    it(`${dir}: parse then rebuild gives the same bytes`, () => {
      const bytes = new Uint8Array(read(dir, 'payload.json'));
      const parsed = parseSimpleSigningPayload(bytes);
      expect(parsed.annotations).toBeNull();
      expect(Buffer.from(simpleSigningPayload(parsed)).equals(Buffer.from(bytes))).toBe(true);
    });
  }

  it('legacy-sig-key-only: fields and the digest of the signed manifest', () => {
    const parsed = parseSimpleSigningPayload(new Uint8Array(read('legacy-sig-key-only', 'payload.json')));
    expect(parsed.dockerReference).toBe('192.168.64.2:5000/cosign-signed-single-sample');
    expect(parsed.manifestDigest).toBe(sha256(read('legacy-sig-key-only', 'subject-manifest.json')));
  });

  it('legacy-sig-key-only: both cosign signatures verify with cosign.pub, the foreign one does not', () => {
    const key = createPublicKey(read('legacy-sig-key-only', 'cosign.pub'));
    const payload = new Uint8Array(read('legacy-sig-key-only', 'payload.json'));
    const sig = (f: string) => decodeBase64(text('legacy-sig-key-only', f).trim(), f);
    expect(verifyBytes(key, payload, sig('signature.b64'))).toBe(true);
    expect(
      verifyBytes(key, new Uint8Array(read('legacy-sig-key-only', 'second-payload.json')), sig('second-signature.b64')),
    ).toBe(true);
    const foreign = new Uint8Array(read('legacy-sig-key-only', 'negative-otherkey-payload.json'));
    expect(verifyBytes(key, foreign, sig('negative-otherkey-signature.b64'))).toBe(false);
    // The signature is over the exact bytes: one changed byte fails.
    const altered = payload.slice();
    altered[10] = altered[10]! ^ 1;
    expect(verifyBytes(key, altered, sig('signature.b64'))).toBe(false);
  });

  it('legacy-sig-manifest-v3: the v3.0.4 signature annotation verifies over payload.json', () => {
    const manifest = JSON.parse(text('legacy-sig-manifest-v3', 'sig-manifest.json'));
    const layer = manifest.layers[0];
    const payload = new Uint8Array(read('legacy-sig-manifest-v3', 'payload.json'));
    expect(layer.digest).toBe(sha256(payload));
    const sig = decodeBase64(layer.annotations['dev.cosignproject.cosign/signature'], 'signature');
    const key = createPublicKey(read('legacy-sig-manifest-v3', 'cosign.pub'));
    expect(verifyBytes(key, payload, sig)).toBe(true);
    expect(parseSimpleSigningPayload(payload).manifestDigest).toBe(
      'sha256:f20c43161d73848408ef247f0ec7111b19fe58ffebc0cbcaa0d2c8bda4967268',
    );
  });

  it('legacy-sig-custom-pki-rsa: RSA PKCS#1 v1.5 signature with line-wrapped base64 verifies with the certificate key', () => {
    const b64 = text('legacy-sig-custom-pki-rsa', 'signature.b64');
    expect(b64).toContain('\n');
    const sig = decodeBase64(b64, 'signature');
    expect(sig.length).toBe(512); // RSA-4096
    const cert = new X509Certificate(read('legacy-sig-custom-pki-rsa', 'certificate.pem'));
    const payload = new Uint8Array(read('legacy-sig-custom-pki-rsa', 'payload.json'));
    expect(verifyBytes(cert.publicKey, payload, sig)).toBe(true);
    expect(verifyBytes(cert.publicKey, enc.encode(text('legacy-sig-custom-pki-rsa', 'payload.json') + ' '), sig)).toBe(
      false,
    );
    expect(parseSimpleSigningPayload(payload).manifestDigest).toBe(
      sha256(read('legacy-sig-custom-pki-rsa', 'subject-manifest.json')),
    );
  });
});

describe('simpleSigningPayload bytes', () => {
  const digest = `sha256:${'a'.repeat(64)}`;

  it('sorts annotations by key as Go maps do (also integer-like keys) and escapes like Go', () => {
    const bytes = simpleSigningPayload({
      dockerReference: 'index.docker.io/library/alpine',
      manifestDigest: digest,
      annotations: { z: '1', '10': 'a', '9': 'b', html: '<a&b>', ls: '\u2028\u2029', ctl: '\u0001\b\f' },
    });
    expect(new TextDecoder().decode(bytes)).toBe(
      '{"critical":{"identity":{"docker-reference":"index.docker.io/library/alpine"},"image":{"docker-manifest-digest":"' +
        digest +
        '"},"type":"cosign container image signature"},"optional":{"10":"a","9":"b","ctl":"\\u0001\\b\\f","html":"\\u003ca\\u0026b\\u003e","ls":"\\u2028\\u2029","z":"1"}}',
    );
  });

  it('writes optional null without annotations and {} for an empty map, as Go does for nil vs empty', () => {
    const s = (a?: Record<string, string>) =>
      new TextDecoder().decode(
        simpleSigningPayload({ dockerReference: 'r.io/x', manifestDigest: digest, annotations: a }),
      );
    expect(s()).toMatch(/"optional":null}$/);
    expect(s({})).toMatch(/"optional":\{\}}$/);
  });

  it('rejects a malformed digest', () => {
    expect(() => simpleSigningPayload({ dockerReference: 'r.io/x', manifestDigest: 'sha256:abc' })).toThrow(SignError);
  });

  it('round-trips arbitrary repositories and annotations (fast-check)', () => {
    const component = fc.stringMatching(/^[a-z0-9]+(?:[._-][a-z0-9]+)*$/).filter((s) => s.length <= 30);
    const repo = fc.tuple(
      fc.constantFrom('ghcr.io', 'localhost:5000', 'index.docker.io', '192.168.1.2:443'),
      fc.array(component, { minLength: 1, maxLength: 3 }),
    );
    const hex = fc.stringMatching(/^[0-9a-f]{64}$/);
    fc.assert(
      fc.property(
        repo,
        hex,
        fc.option(fc.dictionary(fc.string({ unit: 'binary' }), fc.string({ unit: 'binary' }))),
        ([reg, parts], h, ann) => {
          const input = {
            dockerReference: `${reg}/${parts.join('/')}`,
            manifestDigest: `sha256:${h}`,
            annotations: ann ?? undefined,
          };
          const bytes = simpleSigningPayload(input);
          const parsed = parseSimpleSigningPayload(bytes);
          expect(parsed.dockerReference).toBe(input.dockerReference);
          expect(parsed.manifestDigest).toBe(input.manifestDigest);
          expect(parsed.annotations).toEqual(ann ?? null);
          // Stable: rebuilding from the parsed fields gives the same bytes.
          expect(Buffer.from(simpleSigningPayload(parsed)).equals(Buffer.from(bytes))).toBe(true);
          // Same JSON value as the standard serializer would give (only escaping/order differ).
          expect(JSON.parse(new TextDecoder().decode(bytes)).optional).toEqual(ann ?? null);
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe('parseSimpleSigningPayload', () => {
  const digest = `sha256:${'b'.repeat(64)}`;
  const parse = (s: string) => parseSimpleSigningPayload(enc.encode(s));

  it('matches keys case-insensitively as Go does (the spec example writes Docker-manifest-digest)', () => {
    const p = parse(
      `{"Critical":{"Identity":{"Docker-Reference":"r.io/a"},"image":{"Docker-manifest-digest":"${digest}"},"TYPE":"cosign container image signature"},"Optional":{"k":"v"},"extra":1}`,
    );
    expect(p).toEqual({ dockerReference: 'r.io/a', manifestDigest: digest, annotations: { k: 'v' } });
  });

  it('rejects another type, a broken reference, non-JSON and wrong field types', () => {
    const base = (type: string, ref = 'r.io/a', dg = digest) =>
      `{"critical":{"identity":{"docker-reference":"${ref}"},"image":{"docker-manifest-digest":"${dg}"},"type":"${type}"},"optional":null}`;
    expect(parse(base('cosign container image signature')).dockerReference).toBe('r.io/a');
    for (const bad of [
      base('atomic container signature'),
      base('cosign container image signature', 'R.IO/UPPER CASE'),
      base('cosign container image signature', 'r.io/a', 'sha256:short'),
      '{"critical":{"identity":{"docker-reference":1}}}',
      '{"critical":{},"optional":"x"}',
      'not json',
      '[]',
    ]) {
      expect(() => parse(bad), bad).toThrow(expect.objectContaining({ code: 'PAYLOAD_INVALID' }));
    }
  });
  it('reads invalid UTF-8 inside strings as U+FFFD like Go, and rejects a byte-order mark', () => {
    const good = `{"critical":{"identity":{"docker-reference":"r.io/a"},"image":{"docker-manifest-digest":"${digest}"},"type":"cosign container image signature"},"optional":{"k":"X"}}`;
    const bytes = Buffer.from(good);
    bytes[bytes.length - 4] = 0xff; // the X
    expect(parseSimpleSigningPayload(new Uint8Array(bytes)).annotations).toEqual({ k: '\ufffd' });
    const bom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(good)]);
    expect(() => parseSimpleSigningPayload(new Uint8Array(bom))).toThrow(
      expect.objectContaining({ code: 'PAYLOAD_INVALID' }),
    );
  });
});

describe('dockerReferenceOf', () => {
  it('writes Docker Hub as index.docker.io with library/, as cosign (ggcr) does', () => {
    expect(dockerReferenceOf(parseReference('alpine:3.19'))).toBe('index.docker.io/library/alpine');
    expect(dockerReferenceOf(parseReference('docker.io/o/r@sha256:' + 'c'.repeat(64)))).toBe('index.docker.io/o/r');
    expect(dockerReferenceOf(parseReference('index.docker.io/library/alpine'))).toBe('index.docker.io/library/alpine');
    expect(dockerReferenceOf(parseReference('192.168.64.2:5000/cosign-signed-single-sample:t'))).toBe(
      '192.168.64.2:5000/cosign-signed-single-sample',
    );
  });
});

describe('sign then verify a payload with fresh keys', () => {
  it('ECDSA P-256 signature verifies and a second key rejects it', () => {
    const a = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const b = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const payload = simpleSigningPayload({ dockerReference: 'r.io/a', manifestDigest: digestOf('x') });
    const sig = signBytes(a.privateKey, payload);
    expect(verifyBytes(a.publicKey, payload, sig)).toBe(true);
    expect(verifyBytes(b.publicKey, payload, sig)).toBe(false);
  });
});

function digestOf(s: string): string {
  return sha256(s);
}
