import { generateKeyPairSync, sign, verify } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SignError } from '../../../src/sign/errors.ts';
import {
  decryptCosignKey,
  encryptCosignKey,
  generateKeyPair,
  importKeyPair,
  loadPrivateKey,
  loadPublicKey,
  publicKeyPem,
  writeKeyPair,
} from '../../../src/sign/keys/index.ts';
import { VECTORS_DIR } from '../../helpers/vectors.ts';

const KEYFILES = join(VECTORS_DIR, 'cosign', 'keyfiles');

async function codeOf(f: () => unknown): Promise<string | undefined> {
  try {
    await f();
  } catch (e) {
    if (e instanceof SignError) return e.code;
    throw e;
  }
  return undefined;
}

describe('generateKeyPair', () => {
  it('makes ECDSA P-256, as cosign generate-key-pair', () => {
    const { privateKey, publicKey } = generateKeyPair();
    expect(privateKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(publicKeyPem(privateKey)).toBe(publicKeyPem(publicKey));
    expect(publicKeyPem(publicKey)).toMatch(/^-----BEGIN PUBLIC KEY-----\n(.{64}\n)+.+\n-----END PUBLIC KEY-----\n$/);
  });
});

describe('importKeyPair follows cosign import-key-pair', () => {
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const ed = generateKeyPairSync('ed25519');

  it.each([
    ['SEC1 EC PRIVATE KEY', ec.privateKey.export({ type: 'sec1', format: 'pem' }), ec.publicKey],
    ['PKCS#8 EC', ec.privateKey.export({ type: 'pkcs8', format: 'pem' }), ec.publicKey],
    ['PKCS#1 RSA PRIVATE KEY', rsa.privateKey.export({ type: 'pkcs1', format: 'pem' }), rsa.publicKey],
    ['PKCS#8 RSA', rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }), rsa.publicKey],
    ['PKCS#8 Ed25519', ed.privateKey.export({ type: 'pkcs8', format: 'pem' }), ed.publicKey],
  ])('accepts %s', (_name, pem, publicKey) => {
    const key = importKeyPair(`# a comment before the block\n${pem.toString()}`);
    expect(publicKeyPem(key)).toBe(publicKeyPem(publicKey));
    const back = decryptCosignKey(encryptCosignKey(key, 'p', { scryptN: 32768 }), 'p');
    const sig = sign(null, Buffer.from('m'), back);
    expect(verify(null, Buffer.from('m'), publicKey, sig)).toBe(true);
  });

  it.each([
    [
      'secp256k1',
      generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).privateKey.export({ type: 'pkcs8', format: 'pem' }),
    ],
    [
      'RSA-1024',
      generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs1', format: 'pem' }),
    ],
    ['X25519', generateKeyPairSync('x25519').privateKey.export({ type: 'pkcs8', format: 'pem' })],
    [
      'an encrypted PKCS#8',
      ec.privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'x' }),
    ],
    ['an already-encrypted cosign key', readFileSync(join(KEYFILES, 'sigstore-label-hello.key'), 'utf8')],
  ])('refuses %s with KEY_UNSUPPORTED', async (_name, pem) => {
    expect(await codeOf(() => importKeyPair(pem.toString()))).toBe('KEY_UNSUPPORTED');
  });

  it('refuses garbage with KEY_INVALID', async () => {
    expect(await codeOf(() => importKeyPair('nothing here'))).toBe('KEY_INVALID');
    expect(
      await codeOf(() => importKeyPair('-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n')),
    ).toBe('KEY_INVALID');
  });
});

describe('loadPublicKey', () => {
  it('reads cosign.pub files and RSA PUBLIC KEY', () => {
    const pem = readFileSync(join(KEYFILES, 'sigstore-label-hello.pub'), 'utf8');
    expect(publicKeyPem(loadPublicKey(pem))).toBe(pem);
    const rsa = generateKeyPairSync('rsa', { modulusLength: 3072 });
    expect(publicKeyPem(loadPublicKey(rsa.publicKey.export({ type: 'pkcs1', format: 'pem' })))).toBe(
      publicKeyPem(rsa.publicKey),
    );
  });

  it('refuses certificates and private keys (KEY_INVALID)', async () => {
    const cert = readFileSync(join(VECTORS_DIR, 'cosign', 'fulcio-cert-github-actions', 'certificate.pem'));
    expect(() => loadPublicKey(cert)).toThrow(/is a certificate.*not a public key/);
    expect(await codeOf(() => loadPublicKey(cert))).toBe('KEY_INVALID');
    expect(await codeOf(() => loadPublicKey(readFileSync(join(KEYFILES, 'sigstore-label-hello.key'))))).toBe(
      'KEY_INVALID',
    );
  });
});

describe('loadPrivateKey', () => {
  it('reads a path or PEM, and asks for the password only for a usable file', async () => {
    const asked: boolean[] = [];
    const provider = async (confirm: boolean) => {
      asked.push(confirm);
      return 'hello';
    };
    const path = join(KEYFILES, 'sigstore-label-hello.key');
    const fromPath = await loadPrivateKey(path, provider);
    const fromPem = await loadPrivateKey(readFileSync(path, 'utf8'), provider);
    expect(publicKeyPem(fromPath)).toBe(readFileSync(join(KEYFILES, 'sigstore-label-hello.pub'), 'utf8'));
    expect(publicKeyPem(fromPem)).toBe(publicKeyPem(fromPath));
    expect(asked).toEqual([false, false]);
    const dir = mkdtempSync(join(tmpdir(), 'sigil-keys-'));
    writeFileSync(join(dir, 'bad.key'), '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n');
    expect(await codeOf(() => loadPrivateKey(join(dir, 'bad.key'), provider))).toBe('KEY_INVALID');
    expect(await codeOf(() => loadPrivateKey(join(dir, 'missing.key'), provider))).toBe('KEY_INVALID');
    expect(asked).toHaveLength(2);
    expect(await codeOf(() => loadPrivateKey(path, async () => 'wrong'))).toBe('KEY_PASSWORD');
  });
});

describe('writeKeyPair', () => {
  it('creates <prefix>.key 0600 and <prefix>.pub 0644, and refuses to overwrite unless forced', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sigil-keys-'));
    const prefix = join(dir, 'cosign');
    const pems = { privateKey: 'PRIVATE\n', publicKey: 'PUBLIC\n' };
    const files = await writeKeyPair(prefix, pems);
    expect(files).toEqual({ privateKey: `${prefix}.key`, publicKey: `${prefix}.pub` });
    expect(statSync(files.privateKey).mode & 0o777).toBe(0o600);
    expect(statSync(files.publicKey).mode & 0o077).toBe(0o044 & ~process.umask() & 0o077);
    expect(readFileSync(files.privateKey, 'utf8')).toBe('PRIVATE\n');

    let error: unknown;
    try {
      await writeKeyPair(prefix, { privateKey: 'X', publicKey: 'Y' });
    } catch (e) {
      error = e;
    }
    expect((error as SignError).code).toBe('KEY_WRITE');
    expect((error as SignError).message).toContain(`${prefix}.key`);
    expect(readFileSync(files.privateKey, 'utf8')).toBe('PRIVATE\n');

    await writeKeyPair(prefix, { privateKey: 'X', publicKey: 'Y' }, { force: true });
    expect(readFileSync(files.privateKey, 'utf8')).toBe('X');
    expect(statSync(files.privateKey).mode & 0o777).toBe(0o600);
    // No temporary files left behind.
    expect(readdirSync(dir).sort()).toEqual(['cosign.key', 'cosign.pub']);
  });

  it('an existing .pub alone also stops it, before the .key is written', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sigil-keys-'));
    writeFileSync(join(dir, 'k.pub'), 'old');
    expect(await codeOf(() => writeKeyPair(join(dir, 'k'), { privateKey: 'a', publicKey: 'b' }))).toBe('KEY_WRITE');
    expect(() => statSync(join(dir, 'k.key'))).toThrow();
  });
});
