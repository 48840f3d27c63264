import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject, X509Certificate } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { SignError } from '../errors.ts';
import { openEncryptedCosignKey, parseEncryptedCosignKey, type Password } from './encrypted-key.ts';
import { assertSigningKey } from './key-types.ts';
import { decodePem, requirePem } from './pem.ts';

/**
 * Supplies the password for a key; `confirm` is true when a new key file is being written
 * (a prompt then asks twice, as cosign does).
 */
export type PasswordProvider = (confirm: boolean) => Promise<Password>;

/** Larger files are not key files; reading them whole would only waste memory. */
const MAX_KEY_FILE = 1024 * 1024;

/** A new ECDSA P-256 key pair: what `cosign generate-key-pair` makes (it has no algorithm flag). */
export function generateKeyPair(): { privateKey: KeyObject; publicKey: KeyObject } {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' });
}

/**
 * Reads an unencrypted private key as `cosign import-key-pair` does: `RSA PRIVATE KEY`
 * (PKCS#1), `EC PRIVATE KEY` (SEC1) or `PRIVATE KEY` (PKCS#8 RSA, ECDSA or Ed25519), then
 * keeps only the kinds cosign validates (RSA 2048/3072/4096, P-256/384/521, Ed25519).
 */
export function importKeyPair(pem: string | Uint8Array, what = 'key to import'): KeyObject {
  const block = requirePem(pem, what);
  if (block.headers['Proc-Type']?.includes('ENCRYPTED')) {
    throw new SignError(
      'KEY_UNSUPPORTED',
      `${what}: OpenSSL-encrypted PEM; decrypt it first (openssl pkey -in KEY -out PLAIN.pem)`,
    );
  }
  const type =
    block.type === 'RSA PRIVATE KEY'
      ? 'pkcs1'
      : block.type === 'EC PRIVATE KEY'
        ? 'sec1'
        : block.type === 'PRIVATE KEY'
          ? 'pkcs8'
          : undefined;
  if (!type) {
    const hint =
      block.type === 'ENCRYPTED PRIVATE KEY'
        ? ' (a password-protected PKCS#8 key: decrypt it first with openssl pkey)'
        : block.type.startsWith('ENCRYPTED ') && block.type.endsWith(' PRIVATE KEY')
          ? ' (already a cosign key file: use it as it is)'
          : '';
    throw new SignError(
      'KEY_UNSUPPORTED',
      `${what}: unsupported PEM type "${block.type}", expected RSA PRIVATE KEY, EC PRIVATE KEY or PRIVATE KEY${hint}`,
    );
  }
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: block.bytes, format: 'der', type });
  } catch (e) {
    throw new SignError('KEY_INVALID', `${what}: the ${block.type} block does not parse as a ${type} key`, {
      cause: e,
    });
  }
  // node:crypto accepts PKCS#1 DER under type 'pkcs1' only for RSA, SEC1 only for EC; a
  // PKCS#8 block may hold anything (DSA, X25519, …), which assertSigningKey turns away.
  assertSigningKey(key, what);
  return key;
}

/**
 * Reads a verification key: `PUBLIC KEY` (SPKI, what cosign writes as cosign.pub) or
 * `RSA PUBLIC KEY` (PKCS#1), as sigstore cryptoutils.UnmarshalPEMToPublicKey does.
 * Certificates are refused on purpose: a certificate is trusted through its chain and
 * validity period (verify --certificate), and taking only its key would skip both.
 */
export function loadPublicKey(pem: string | Uint8Array, what = 'public key'): KeyObject {
  const block = requirePem(pem, what);
  let key: KeyObject;
  if (block.type === 'PUBLIC KEY' || block.type === 'RSA PUBLIC KEY') {
    try {
      key = createPublicKey({ key: block.bytes, format: 'der', type: block.type === 'PUBLIC KEY' ? 'spki' : 'pkcs1' });
    } catch (e) {
      throw new SignError('KEY_INVALID', `${what}: the ${block.type} block does not parse`, { cause: e });
    }
  } else if (block.type === 'CERTIFICATE') {
    let subject = '';
    try {
      const name = new X509Certificate(block.bytes).subject.replace(/\n/g, ', ');
      if (name) subject = ` (subject ${name})`;
    } catch {
      // The hint is the same whether or not the certificate parses.
    }
    throw new SignError(
      'KEY_INVALID',
      `${what}: is a certificate${subject}, not a public key; pass it as a certificate, or extract its key with "openssl x509 -pubkey -noout"`,
    );
  } else {
    throw new SignError('KEY_INVALID', `${what}: unsupported PEM type "${block.type}", expected PUBLIC KEY`);
  }
  assertSigningKey(key, what);
  return key;
}

/** The public half of `key` as cosign writes cosign.pub: SPKI DER in a `PUBLIC KEY` PEM, 64 columns. */
export function publicKeyPem(key: KeyObject): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  if (pub.type !== 'public') throw new SignError('KEY_INVALID', 'publicKeyPem needs an asymmetric key');
  return pub.export({ type: 'spki', format: 'pem' }).toString();
}

/**
 * Loads a cosign key file (a path, or the PEM itself), checking it fully before asking
 * `passwords` for the password, so a bad file never costs the user a prompt.
 */
export async function loadPrivateKey(source: string | Uint8Array, passwords: PasswordProvider): Promise<KeyObject> {
  let pem: string | Uint8Array = source;
  let what = 'private key';
  if (typeof source === 'string' && decodePem(source) === undefined) {
    what = source;
    pem = await readKeyFile(source);
  }
  const parsed = parseEncryptedCosignKey(pem, what);
  const password = await passwords(false);
  return openEncryptedCosignKey(parsed, password, what);
}

/** Reads a key file, refusing anything too large to be one. */
export async function readKeyFile(path: string): Promise<Buffer> {
  try {
    const s = await stat(path);
    if (!s.isFile()) throw new SignError('KEY_INVALID', `${path}: not a regular file`);
    if (s.size > MAX_KEY_FILE)
      throw new SignError('KEY_INVALID', `${path}: ${s.size} bytes is too large for a key file`);
    return await readFile(path);
  } catch (e) {
    if (e instanceof SignError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new SignError('KEY_INVALID', `${path}: cannot read key file (${code ?? String(e)})`, { cause: e });
  }
}
