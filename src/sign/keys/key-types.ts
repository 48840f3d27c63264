import type { KeyObject } from 'node:crypto';
import { SignError } from '../errors.ts';

/** The key kinds cosign signs and verifies with (cosign:pkg/cosign/keys.go `SupportedKeyDetails`, plus Ed25519). */
export type SigningKeyKind =
  'ecdsa-p256' | 'ecdsa-p384' | 'ecdsa-p521' | 'rsa-2048' | 'rsa-3072' | 'rsa-4096' | 'ed25519';

// OpenSSL's names for the NIST curves, as node:crypto reports them.
const CURVES: Record<string, SigningKeyKind> = {
  prime256v1: 'ecdsa-p256',
  secp384r1: 'ecdsa-p384',
  secp521r1: 'ecdsa-p521',
};
// sigstore cryptoutils.ValidatePubKey: RSA moduli of exactly these sizes, nothing else.
const RSA_SIZES: Record<number, SigningKeyKind> = { 2048: 'rsa-2048', 3072: 'rsa-3072', 4096: 'rsa-4096' };

/** Which cosign-supported kind `key` (private or public) is; KEY_UNSUPPORTED for any other. */
export function signingKeyKind(key: KeyObject, what = 'key'): SigningKeyKind {
  const type = key.asymmetricKeyType;
  const details = key.asymmetricKeyDetails ?? {};
  if (type === 'ec') {
    const kind = CURVES[details.namedCurve ?? ''];
    if (kind) return kind;
    throw new SignError(
      'KEY_UNSUPPORTED',
      `${what}: ECDSA curve ${details.namedCurve ?? 'unknown'} is not supported; cosign uses NIST P-256, P-384 or P-521`,
    );
  }
  if (type === 'rsa') {
    const kind = RSA_SIZES[details.modulusLength ?? 0];
    if (kind) return kind;
    throw new SignError(
      'KEY_UNSUPPORTED',
      `${what}: RSA key of ${details.modulusLength ?? '?'} bits is not supported; the modulus must be 2048, 3072 or 4096 bits`,
    );
  }
  if (type === 'ed25519') return 'ed25519';
  throw new SignError(
    'KEY_UNSUPPORTED',
    `${what}: ${type ?? 'symmetric'} keys are not supported; use ECDSA (P-256/384/521), RSA (2048/3072/4096) or Ed25519`,
  );
}

export function assertSigningKey(key: KeyObject, what = 'key'): void {
  signingKeyKind(key, what);
}
