/** src/sign/raw-signature.ts: cosign's algorithm per key type, checked against node:crypto directly and RFC 8032. */
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeBase64, encodeBase64 } from '../../../src/sign/payloads/base64.ts';
import { goJson, goString, goStruct } from '../../../src/sign/payloads/go-json.ts';
import {
  assertSignature,
  ed25519SignWith,
  ed25519VerifyWith,
  signBytes,
  signatureHash,
  verifyBytes,
} from '../../../src/sign/raw-signature.ts';

const data = new TextEncoder().encode('{"critical":{}}');

describe('signBytes / verifyBytes', () => {
  for (const [curve, hash] of [
    ['P-256', 'sha256'],
    ['P-384', 'sha384'],
    ['P-521', 'sha512'],
  ] as const) {
    it(`ECDSA ${curve} signs DER over ${hash}`, () => {
      const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: curve });
      expect(signatureHash(publicKey)).toBe(hash);
      const sig = signBytes(privateKey, data);
      expect(sig[0]).toBe(0x30); // ASN.1 SEQUENCE, not IEEE P1363
      expect(verify(hash, data, { key: publicKey, dsaEncoding: 'der' }, sig)).toBe(true);
      expect(verify('sha256', data, publicKey, sig)).toBe(hash === 'sha256');
      expect(verifyBytes(publicKey, data, sig)).toBe(true);
      expect(verifyBytes(privateKey, data, sig)).toBe(true);
      expect(verifyBytes(publicKey, data.subarray(1), sig)).toBe(false);
    });
  }

  it('RSA signs PKCS#1 v1.5 SHA-256 and does not accept PSS', () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const sig = signBytes(privateKey, data);
    expect(verify('sha256', data, publicKey, sig)).toBe(true);
    expect(verifyBytes(publicKey, data, sig)).toBe(true);
    const pss = sign('sha256', data, { key: privateKey, padding: 6 /* RSA_PKCS1_PSS_PADDING */ });
    expect(verifyBytes(publicKey, data, new Uint8Array(pss))).toBe(false);
  });

  it('Ed25519 defaults to Ed25519ph (RFC 8032 §7.3 "abc" vector) and does pure Ed25519 on request', () => {
    const seed = Buffer.from('833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42', 'hex');
    const key = createPrivateKey({
      key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]),
      format: 'der',
      type: 'pkcs8',
    });
    const pub = createPublicKey(key);
    expect(Buffer.from(pub.export({ format: 'jwk' }).x!, 'base64url').toString('hex')).toBe(
      'ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf',
    );
    const abc = new TextEncoder().encode('abc');
    const sig = signBytes(key, abc);
    expect(Buffer.from(sig).toString('hex')).toBe(
      '98a70222f0b8121aa9d30f813d683f809e462b469c7ff87639499bb94e6dae41' +
        '31f85042463c2a355a2003d062adf5aaa10b8c61e636062aaad11c2a26083406',
    );
    expect(verifyBytes(pub, abc, sig)).toBe(true);
    expect(verifyBytes(pub, new TextEncoder().encode('abd'), sig)).toBe(false);
    // Ed25519ph is not pure Ed25519: node's verifier rejects it, and ours in pure mode too.
    expect(verify(null, abc, pub, sig)).toBe(false);
    expect(verifyBytes(pub, abc, sig, { ed25519: 'pure' })).toBe(false);
    const pure = signBytes(key, abc, { ed25519: 'pure' });
    expect(verify(null, abc, pub, pure)).toBe(true);
    expect(verifyBytes(pub, abc, pure, { ed25519: 'pure' })).toBe(true);
  });

  it('the curve arithmetic equals OpenSSL pure Ed25519 on random keys and messages (fast-check)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ maxLength: 200 }), (seed, msg) => {
        const key = createPrivateKey({
          key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]),
          format: 'der',
          type: 'pkcs8',
        });
        const mine = ed25519SignWith(seed, msg, new Uint8Array());
        expect(Buffer.from(mine).equals(sign(null, msg, key))).toBe(true);
        const x = new Uint8Array(Buffer.from(createPublicKey(key).export({ format: 'jwk' }).x!, 'base64url'));
        expect(ed25519VerifyWith(x, msg, mine, new Uint8Array())).toBe(true);
        const bad = mine.slice();
        bad[40] = bad[40]! ^ 4;
        expect(ed25519VerifyWith(x, msg, bad, new Uint8Array())).toBe(false);
      }),
      { numRuns: 15 },
    );
  });

  it('rejects keys cosign does not sign with, and garbage signatures are just invalid', () => {
    const k1 = generateKeyPairSync('ec', { namedCurve: 'secp256k1' });
    expect(() => signBytes(k1.privateKey, data)).toThrow(expect.objectContaining({ code: 'KEY_UNSUPPORTED' }));
    expect(() => signBytes(generateKeyPairSync('ed448').privateKey, data)).toThrow(
      expect.objectContaining({ code: 'KEY_UNSUPPORTED' }),
    );
    const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    expect(() => signBytes(p256.publicKey, data)).toThrow(expect.objectContaining({ code: 'KEY_INVALID' }));
    expect(verifyBytes(p256.publicKey, data, new Uint8Array([0x30, 0x02, 0x01]))).toBe(false);
    expect(() => assertSignature(p256.publicKey, data, new Uint8Array(70), 'layer 0')).toThrow(
      expect.objectContaining({ code: 'SIGNATURE_INVALID', message: expect.stringContaining('layer 0') }),
    );
  });
});

describe('decodeBase64', () => {
  it('skips CR/LF like Go and is strict about everything else', () => {
    expect(decodeBase64('AAEC\r\nAwQF\n', 's')).toEqual(new Uint8Array([0, 1, 2, 3, 4, 5]));
    expect(decodeBase64('AAE=', 's')).toEqual(new Uint8Array([0, 1]));
    for (const bad of ['AAE', 'AA E=', 'A===', 'AAE*', '-_8=', 'AA=A']) {
      expect(() => decodeBase64(bad, 's'), bad).toThrow(expect.objectContaining({ code: 'PAYLOAD_INVALID' }));
    }
    expect(decodeBase64('-_8', 's', 'ENVELOPE_INVALID', { urlSafe: true })).toEqual(new Uint8Array([0xfb, 0xff]));
    expect(encodeBase64(new Uint8Array([0xfb, 0xff]))).toBe('+/8=');
  });
});

describe('goJson', () => {
  it('escapes as Go does and stays valid JSON for any string (fast-check)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        const out = goString(s);
        expect(JSON.parse(out)).toBe(s);
        expect([...out].some((c) => '<>&\u2028\u2029'.includes(c) || c.charCodeAt(0) < 0x20)).toBe(false);
      }),
    );
    expect(goString('\ud800x')).toBe('"\\ufffdx"');
    expect(goString('\u007f\u00e9')).toBe('"\u007f\u00e9"');
  });

  it('sorts map keys by UTF-8 bytes and keeps struct order', () => {
    expect(goJson({ '\u{1F600}': 1, '\uffff': 2, b: 3, B: 4 })).toBe('{"B":4,"b":3,"\uffff":2,"\u{1F600}":1}');
    expect(
      goJson(
        goStruct([
          ['z', 1],
          ['a', undefined],
          ['m', null],
        ]),
      ),
    ).toBe('{"z":1,"m":null}');
    expect(() => goJson(Number.NaN)).toThrow(TypeError);
    expect(goJson([1e-7, 123456789012, -0.5])).toBe('[1e-7,123456789012,-0.5]');
  });
});
