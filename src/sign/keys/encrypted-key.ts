import { createPrivateKey, type KeyObject, randomBytes, scryptSync } from 'node:crypto';
import { xsalsa20poly1305 } from '@noble/ciphers/salsa.js';
import { SignError } from '../errors.ts';
import { assertSigningKey } from './key-types.ts';
import { encodePem, type PemBlock, requirePem } from './pem.ts';

/** What cosign ≥ 1.13 writes (cosign:pkg/cosign/keys.go `SigstorePrivateKeyPemType`). */
export const SIGSTORE_PRIVATE_KEY_PEM = 'ENCRYPTED SIGSTORE PRIVATE KEY';
/** What older cosign wrote; still read, and kept by cosign when it re-encrypts such a key. */
export const COSIGN_PRIVATE_KEY_PEM = 'ENCRYPTED COSIGN PRIVATE KEY';

export type EncryptedKeyPemType = typeof SIGSTORE_PRIVATE_KEY_PEM | typeof COSIGN_PRIVATE_KEY_PEM;

/**
 * The only scrypt cost parameters cosign accepts (go-securesystemslib encrypted.go
 * `CheckParams`: Legacy, Standard, OWASP; always r=8, p=1). Checking them before deriving
 * anything keeps a hostile key file from asking for gigabytes of scrypt memory.
 */
export const SCRYPT_N_VALUES = [32768, 65536, 131072] as const;
export type ScryptN = (typeof SCRYPT_N_VALUES)[number];
/** "Standard": what go-securesystemslib's Encrypt, hence cosign ≥ 2.2 generate-key-pair, uses. */
export const DEFAULT_SCRYPT_N: ScryptN = 65536;
const SCRYPT_R = 8;
const SCRYPT_P = 1;
const KEY_SIZE = 32;
const SALT_SIZE = 32;
const NONCE_SIZE = 24;
const TAG_SIZE = 16;
/** An RSA-4096 PKCS#8 key is about 2.4 KB; anything far larger is not a key file. */
const MAX_CIPHERTEXT = 64 * 1024;
const MAX_SALT = 1024;

export type Password = Uint8Array | string;

export interface EncryptOptions {
  /** scrypt N; default 65536 as cosign writes today. */
  scryptN?: ScryptN;
  /** PEM label; default `ENCRYPTED SIGSTORE PRIVATE KEY` as cosign writes today. */
  pemType?: EncryptedKeyPemType;
}

/** The parsed, checked JSON inside an encrypted key PEM, before any key derivation. */
export interface EncryptedCosignKey {
  pemType: EncryptedKeyPemType;
  scryptN: ScryptN;
  salt: Buffer;
  nonce: Buffer;
  ciphertext: Buffer;
}

/**
 * Parses an encrypted cosign key file and checks every parameter, without deriving the key;
 * callers can ask for a password only once the file is known to be usable.
 */
export function parseEncryptedCosignKey(pem: string | Uint8Array, what = 'private key'): EncryptedCosignKey {
  const block = requirePem(pem, what);
  if (block.type !== SIGSTORE_PRIVATE_KEY_PEM && block.type !== COSIGN_PRIVATE_KEY_PEM) {
    throw new SignError('KEY_INVALID', unsupportedPemMessage(block, what));
  }
  let doc: unknown;
  try {
    doc = JSON.parse(block.bytes.toString('utf8'));
  } catch (e) {
    throw new SignError('KEY_INVALID', `${what}: the ${block.type} block does not hold JSON`, { cause: e });
  }
  const bad = (detail: string) => new SignError('KEY_INVALID', `${what}: ${detail}`);
  const kdf = field(doc, 'kdf');
  const cipher = field(doc, 'cipher');
  if (field(kdf, 'name') !== 'scrypt')
    throw bad(`unknown kdf ${JSON.stringify(field(kdf, 'name'))}, expected "scrypt"`);
  if (field(cipher, 'name') !== 'nacl/secretbox')
    throw bad(`unknown cipher ${JSON.stringify(field(cipher, 'name'))}, expected "nacl/secretbox"`);
  const params = field(kdf, 'params');
  const n = field(params, 'N');
  const r = field(params, 'r');
  const p = field(params, 'p');
  if (!SCRYPT_N_VALUES.includes(n as ScryptN) || r !== SCRYPT_R || p !== SCRYPT_P) {
    throw bad(
      `unsupported scrypt parameters N=${String(n)} r=${String(r)} p=${String(p)}; cosign accepts N=32768, 65536 or 131072 with r=8, p=1`,
    );
  }
  const salt = base64Field(kdf, 'salt', what);
  const nonce = base64Field(cipher, 'nonce', what);
  const ciphertext = base64Field(doc, 'ciphertext', what);
  if (salt.length === 0 || salt.length > MAX_SALT) throw bad(`scrypt salt of ${salt.length} bytes`);
  if (nonce.length !== NONCE_SIZE) throw bad(`secretbox nonce of ${nonce.length} bytes, expected ${NONCE_SIZE}`);
  if (ciphertext.length <= TAG_SIZE || ciphertext.length > MAX_CIPHERTEXT)
    throw bad(`ciphertext of ${ciphertext.length} bytes is not an encrypted key`);
  return { pemType: block.type, scryptN: n as ScryptN, salt, nonce, ciphertext };
}

/**
 * Decrypts a cosign/sigstore encrypted private key (scrypt → NaCl secretbox → PKCS#8 DER).
 * A wrong password is KEY_PASSWORD; a file cosign would refuse is KEY_INVALID or KEY_UNSUPPORTED.
 */
export function decryptCosignKey(pem: string | Uint8Array, password: Password, what = 'private key'): KeyObject {
  return openEncryptedCosignKey(parseEncryptedCosignKey(pem, what), password, what);
}

export function openEncryptedCosignKey(
  parsed: EncryptedCosignKey,
  password: Password,
  what = 'private key',
): KeyObject {
  const key = deriveKey(password, parsed.salt, parsed.scryptN);
  let pkcs8: Uint8Array;
  try {
    pkcs8 = xsalsa20poly1305(key, parsed.nonce).decrypt(parsed.ciphertext);
  } catch (e) {
    // The only way secretbox.open fails on well-formed input is a wrong key, hence password.
    throw new SignError('KEY_PASSWORD', `${what}: the password does not decrypt it (wrong password?)`, { cause: e });
  } finally {
    key.fill(0);
  }
  try {
    const privateKey = createPrivateKey({ key: Buffer.from(pkcs8), format: 'der', type: 'pkcs8' });
    assertSigningKey(privateKey, what);
    return privateKey;
  } catch (e) {
    if (e instanceof SignError) throw e;
    // cosign calls x509.ParsePKCS8PrivateKey here and rejects SEC1 or PKCS#1 plaintexts.
    throw new SignError(
      'KEY_INVALID',
      `${what}: decrypts, but does not hold a PKCS#8 private key as cosign requires (re-import the key with "sigil import-key-pair")`,
      { cause: e },
    );
  } finally {
    pkcs8.fill(0);
  }
}

/** Encrypts a private key as cosign does, returning the PEM text of a `.key` file. */
export function encryptCosignKey(privateKey: KeyObject, password: Password, options: EncryptOptions = {}): string {
  if (privateKey.type !== 'private') throw new SignError('KEY_INVALID', 'encryptCosignKey needs a private key');
  assertSigningKey(privateKey, 'private key');
  const scryptN = options.scryptN ?? DEFAULT_SCRYPT_N;
  if (!SCRYPT_N_VALUES.includes(scryptN))
    throw new SignError('KEY_INVALID', `scrypt N=${scryptN} is not one cosign reads`);
  const salt = randomBytes(SALT_SIZE);
  const nonce = randomBytes(NONCE_SIZE);
  const pkcs8 = privateKey.export({ format: 'der', type: 'pkcs8' });
  const key = deriveKey(password, salt, scryptN);
  let ciphertext: Uint8Array;
  try {
    ciphertext = xsalsa20poly1305(key, nonce).encrypt(pkcs8);
  } finally {
    key.fill(0);
    pkcs8.fill(0);
  }
  // Field order and base64 as Go's json.Marshal writes go-securesystemslib's `data` struct.
  const json = JSON.stringify({
    kdf: { name: 'scrypt', params: { N: scryptN, r: SCRYPT_R, p: SCRYPT_P }, salt: salt.toString('base64') },
    cipher: { name: 'nacl/secretbox', nonce: nonce.toString('base64') },
    ciphertext: Buffer.from(ciphertext).toString('base64'),
  });
  return encodePem(options.pemType ?? SIGSTORE_PRIVATE_KEY_PEM, Buffer.from(json, 'utf8'));
}

function deriveKey(password: Password, salt: Uint8Array, n: ScryptN): Buffer {
  const pw = typeof password === 'string' ? Buffer.from(password, 'utf8') : password;
  // Node's default maxmem (32 MiB) is below what scrypt needs for N=32768, r=8 (128·N·r).
  return scryptSync(pw, salt, KEY_SIZE, { N: n, r: SCRYPT_R, p: SCRYPT_P, maxmem: 256 * n * SCRYPT_R });
}

function field(obj: unknown, name: string): unknown {
  return typeof obj === 'object' && obj !== null && !Array.isArray(obj)
    ? (obj as Record<string, unknown>)[name]
    : undefined;
}

function base64Field(obj: unknown, name: string, what: string): Buffer {
  const v = field(obj, name);
  if (typeof v !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(v) || v.length % 4 !== 0) {
    throw new SignError('KEY_INVALID', `${what}: "${name}" is not standard base64`);
  }
  return Buffer.from(v, 'base64');
}

function unsupportedPemMessage(block: PemBlock, what: string): string {
  const hint =
    block.type === 'PRIVATE KEY' || block.type === 'EC PRIVATE KEY' || block.type === 'RSA PRIVATE KEY'
      ? '; an unencrypted key must first be imported with "sigil import-key-pair"'
      : '';
  return `${what}: unsupported PEM type "${block.type}", expected ${SIGSTORE_PRIVATE_KEY_PEM} or ${COSIGN_PRIVATE_KEY_PEM}${hint}`;
}
