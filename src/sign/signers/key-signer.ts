import { createHash, createPublicKey, sign as cryptoSign, type KeyObject } from 'node:crypto';
import type { Signature, Signer } from '@sigstore/sign';
import { SignError } from '../errors.ts';

/**
 * The hint cosign v3 writes into `verificationMaterial.publicKey.hint` for `--key` bundles:
 * base64 (standard, padded) of SHA-256 over the DER SubjectPublicKeyInfo. Verifiers use it only
 * to pick a key, never to trust one.
 */
export function publicKeyHint(publicKey: KeyObject): string {
  const spki = publicKey.export({ format: 'der', type: 'spki' });
  return createHash('sha256').update(spki).digest('base64');
}

/**
 * Hash per key type, as cosign signs: ECDSA with the curve's matching SHA-2 (P-256 -> SHA-256,
 * P-384 -> SHA-384, P-521 -> SHA-512), RSA PKCS#1 v1.5 with SHA-256, Ed25519 pure (no prehash).
 */
function digestFor(key: KeyObject): string | null {
  switch (key.asymmetricKeyType) {
    case 'ec': {
      const curve = key.asymmetricKeyDetails?.namedCurve;
      if (curve === 'prime256v1') return 'sha256';
      if (curve === 'secp384r1') return 'sha384';
      if (curve === 'secp521r1') return 'sha512';
      throw new SignError('KEY_UNSUPPORTED', `ECDSA curve ${curve ?? 'unknown'} is not one cosign signs with`);
    }
    case 'rsa':
      return 'sha256';
    case 'ed25519':
      return null;
    default:
      throw new SignError(
        'KEY_UNSUPPORTED',
        `${key.asymmetricKeyType ?? 'unknown'} keys are not supported for signing`,
      );
  }
}

/** A @sigstore/sign Signer over a local private key: bundles carry the public key's hint, no certificate. */
export function keySigner(privateKey: KeyObject): Signer {
  if (privateKey.type !== 'private') {
    throw new SignError('INVALID_OPTIONS', `keySigner needs a private key, got a ${privateKey.type} key`);
  }
  const algorithm = digestFor(privateKey);
  const publicKey = createPublicKey(privateKey);
  const publicKeyPem = publicKey.export({ format: 'pem', type: 'spki' }).toString();
  const hint = publicKeyHint(publicKey);
  return {
    sign(data: Buffer): Promise<Signature> {
      const signature = cryptoSign(algorithm, data, privateKey);
      return Promise.resolve({ signature, key: { $case: 'publicKey', publicKey: publicKeyPem, hint } });
    },
  };
}
