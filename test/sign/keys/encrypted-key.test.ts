import { createPublicKey, generateKeyPairSync, sign, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SignError } from '../../../src/sign/errors.ts';
import {
  COSIGN_PRIVATE_KEY_PEM,
  decodePem,
  decryptCosignKey,
  encodePem,
  encryptCosignKey,
  parseEncryptedCosignKey,
  publicKeyPem,
  SIGSTORE_PRIVATE_KEY_PEM,
} from '../../../src/sign/keys/index.ts';
import { VECTORS_DIR } from '../../helpers/vectors.ts';

const KEYFILES = join(VECTORS_DIR, 'cosign', 'keyfiles');
const EMPTYPW = join(VECTORS_DIR, 'cosign', 'keyfile-policy-controller-emptypw');
const read = (dir: string, name: string) => readFileSync(join(dir, name), 'utf8');

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    if (e instanceof SignError) return e.code;
    throw e;
  }
  return undefined;
}

// Passwords and expected .pub files as the vector READMEs give them.
const VECTORS = [
  { dir: KEYFILES, key: 'sigstore-label-hello.key', pub: 'sigstore-label-hello.pub', password: 'hello', n: 32768 },
  { dir: KEYFILES, key: 'cosign-label-hello.key', pub: 'cosign-label-hello.pub', password: 'hello', n: 32768 },
  {
    dir: KEYFILES,
    key: 'sigstore-label-emptypw-n65536.key',
    pub: 'sigstore-label-emptypw-n65536.pub',
    password: '',
    n: 65536,
  },
  { dir: EMPTYPW, key: 'cosign.key', pub: 'cosign.pub', password: '', n: 32768 },
];

describe('decryptCosignKey on real cosign key files', () => {
  it.each(VECTORS)('$key opens with its password and matches $pub', ({ dir, key, pub, password, n }) => {
    const pem = read(dir, key);
    expect(parseEncryptedCosignKey(pem).scryptN).toBe(n);
    const privateKey = decryptCosignKey(pem, password);
    expect(privateKey.asymmetricKeyType).toBe('ec');
    expect(privateKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    // Byte equality: the upstream policy-controller cosign.pub pins cosign's PEM encoding.
    expect(publicKeyPem(privateKey)).toBe(read(dir, pub));
    const message = Buffer.from('sigil signs this');
    const signature = sign('sha256', message, privateKey);
    expect(verify('sha256', message, createPublicKey(read(dir, pub)), signature)).toBe(true);
    expect(verify('sha256', Buffer.from('something else'), createPublicKey(read(dir, pub)), signature)).toBe(false);
  });

  it.each(VECTORS)('$key refuses a wrong password with KEY_PASSWORD', ({ dir, key, password }) => {
    expect(codeOf(() => decryptCosignKey(read(dir, key), `${password}x`))).toBe('KEY_PASSWORD');
  });

  it('takes the password as bytes too', () => {
    const k = decryptCosignKey(read(KEYFILES, 'sigstore-label-hello.key'), new TextEncoder().encode('hello'));
    expect(publicKeyPem(k)).toBe(read(KEYFILES, 'sigstore-label-hello.pub'));
  });

  it('the SEC1-inside negative vector decrypts but is refused as cosign refuses it (KEY_INVALID)', () => {
    const pem = read(KEYFILES, 'negative-cosign-label-sec1-hello.key');
    let error: unknown;
    try {
      decryptCosignKey(pem, 'hello');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(SignError);
    expect((error as SignError).code).toBe('KEY_INVALID');
    expect((error as SignError).message).toMatch(/PKCS#8/);
    // With the wrong password it never gets that far.
    expect(codeOf(() => decryptCosignKey(pem, 'nope'))).toBe('KEY_PASSWORD');
  });
});

/** Re-wraps a real key file's JSON after `edit`, to test the parameter checks. */
interface KeyDoc {
  kdf: { name: unknown; params: Record<string, unknown>; salt: unknown };
  cipher: { name: unknown; nonce: unknown };
  ciphertext?: unknown;
}

function tampered(edit: (doc: KeyDoc) => void, type = SIGSTORE_PRIVATE_KEY_PEM): string {
  const block = decodePem(read(KEYFILES, 'sigstore-label-hello.key'));
  const doc = JSON.parse(block!.bytes.toString('utf8')) as KeyDoc;
  edit(doc);
  return encodePem(type, Buffer.from(JSON.stringify(doc)));
}

describe('parameter checks happen before any scrypt work', () => {
  it.each([
    ['N too large (memory DoS)', (d: KeyDoc) => (d.kdf.params.N = 2 ** 30)],
    ['N not a power cosign uses', (d: KeyDoc) => (d.kdf.params.N = 16384)],
    ['r changed', (d: KeyDoc) => (d.kdf.params.r = 1024)],
    ['p changed', (d: KeyDoc) => (d.kdf.params.p = 64)],
    ['N as a string', (d: KeyDoc) => (d.kdf.params.N = '32768')],
    ['kdf not scrypt', (d: KeyDoc) => (d.kdf.name = 'pbkdf2')],
    ['cipher not secretbox', (d: KeyDoc) => (d.cipher.name = 'aes-gcm')],
    ['short nonce', (d: KeyDoc) => (d.cipher.nonce = Buffer.alloc(12).toString('base64'))],
    ['no ciphertext', (d: KeyDoc) => delete d.ciphertext],
    ['ciphertext not base64', (d: KeyDoc) => (d.ciphertext = 'not base64!')],
  ])('%s -> KEY_INVALID quickly', (_name, edit) => {
    const started = performance.now();
    expect(codeOf(() => decryptCosignKey(tampered(edit), 'hello'))).toBe('KEY_INVALID');
    // A real derivation at N=2^15 takes tens of milliseconds; N=2^30 would take minutes.
    expect(performance.now() - started).toBeLessThan(250);
  });

  it('rejects other PEM labels, non-JSON bodies and non-PEM input', () => {
    const body = decodePem(read(KEYFILES, 'sigstore-label-hello.key'))!.bytes;
    expect(codeOf(() => decryptCosignKey(encodePem('PRIVATE KEY', body), 'hello'))).toBe('KEY_INVALID');
    expect(codeOf(() => decryptCosignKey(encodePem(SIGSTORE_PRIVATE_KEY_PEM, Buffer.from('{nope')), ''))).toBe(
      'KEY_INVALID',
    );
    expect(codeOf(() => decryptCosignKey('just text', ''))).toBe('KEY_INVALID');
  });

  it('accepts the OWASP N=131072 set cosign also reads', () => {
    expect(parseEncryptedCosignKey(tampered((d) => (d.kdf.params.N = 131072))).scryptN).toBe(131072);
  });
});

describe('encryptCosignKey', () => {
  it('writes what cosign writes today: SIGSTORE label, scrypt N=65536 r=8 p=1, 32-byte salt, 24-byte nonce', () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pem = encryptCosignKey(privateKey, 'pw');
    expect(pem).toMatch(/^-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n/);
    expect(pem.split('\n').every((l) => l.length <= 64)).toBe(true);
    const doc = JSON.parse(decodePem(pem)!.bytes.toString('utf8'));
    expect(Object.keys(doc)).toEqual(['kdf', 'cipher', 'ciphertext']);
    expect(doc.kdf.name).toBe('scrypt');
    expect(doc.kdf.params).toEqual({ N: 65536, r: 8, p: 1 });
    expect(Buffer.from(doc.kdf.salt, 'base64')).toHaveLength(32);
    expect(doc.cipher.name).toBe('nacl/secretbox');
    expect(Buffer.from(doc.cipher.nonce, 'base64')).toHaveLength(24);
    // PKCS#8 P-256 = 138 bytes, plus the 16-byte Poly1305 tag.
    expect(Buffer.from(doc.ciphertext, 'base64')).toHaveLength(138 + 16);
    const back = decryptCosignKey(pem, 'pw');
    expect(publicKeyPem(back)).toBe(publicKeyPem(privateKey));
    expect(codeOf(() => decryptCosignKey(pem, 'pW'))).toBe('KEY_PASSWORD');
  });

  it.each([
    ['ec', { namedCurve: 'P-384' }],
    ['ec', { namedCurve: 'P-521' }],
    ['rsa', { modulusLength: 2048 }],
    ['ed25519', {}],
  ] as const)('round trips %s %j with the COSIGN label and an empty password', (type, opts) => {
    const { privateKey } = generateKeyPairSync(type as 'ec', opts as { namedCurve: string });
    const pem = encryptCosignKey(privateKey, '', { scryptN: 32768, pemType: COSIGN_PRIVATE_KEY_PEM });
    expect(decodePem(pem)!.type).toBe(COSIGN_PRIVATE_KEY_PEM);
    const back = decryptCosignKey(pem, '');
    expect(back.export({ format: 'der', type: 'pkcs8' })).toEqual(privateKey.export({ format: 'der', type: 'pkcs8' }));
  });

  it('each encryption uses a fresh salt and nonce', () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const a = parseEncryptedCosignKey(encryptCosignKey(privateKey, 'x', { scryptN: 32768 }));
    const b = parseEncryptedCosignKey(encryptCosignKey(privateKey, 'x', { scryptN: 32768 }));
    expect(a.salt.equals(b.salt)).toBe(false);
    expect(a.nonce.equals(b.nonce)).toBe(false);
  });

  it('refuses keys cosign cannot sign with (KEY_UNSUPPORTED)', () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'secp256k1' });
    expect(codeOf(() => encryptCosignKey(privateKey, 'x', { scryptN: 32768 }))).toBe('KEY_UNSUPPORTED');
  });
});
