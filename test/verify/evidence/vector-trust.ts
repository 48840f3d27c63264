import { createHash, createPublicKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { toTrustMaterial, type TrustMaterial } from '@sigstore/verify';
import { VECTORS_DIR } from '../../helpers/vectors.ts';

export const COSIGN = join(VECTORS_DIR, 'cosign');

export function vec(dir: string, file: string): Uint8Array {
  return new Uint8Array(readFileSync(join(COSIGN, dir, file)));
}
export function vecText(dir: string, file: string): string {
  return readFileSync(join(COSIGN, dir, file), 'utf8');
}
export function vecJson<T = Record<string, string>>(dir: string, file: string): T {
  return JSON.parse(vecText(dir, file)) as T;
}

const EMPTY_ROOT = {
  mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
  tlogs: [],
  certificateAuthorities: [],
  ctlogs: [],
  timestampAuthorities: [],
};

function spkiDer(pem: string): Buffer {
  return createPublicKey(pem).export({ type: 'spki', format: 'der' });
}

/** A trusted root with one Rekor v1 log: the given key, logId = sha256(SPKI DER), as public good. */
export function rootWithRekor(rekorPem: string): Record<string, unknown> {
  const der = spkiDer(rekorPem);
  return {
    ...EMPTY_ROOT,
    tlogs: [
      {
        baseUrl: 'https://rekor.sigstore.dev',
        hashAlgorithm: 'SHA2_256',
        publicKey: {
          rawBytes: der.toString('base64'),
          keyDetails: 'PKIX_ECDSA_P256_SHA_256',
          validFor: { start: '2021-01-12T11:53:27Z' },
        },
        logId: { keyId: createHash('sha256').update(der).digest('base64') },
      },
    ],
  };
}

/** A root with certificate authorities built from PEM chains (each: intermediates…root). */
export function rootWithCAs(chains: string[][]): Record<string, unknown> {
  return {
    ...EMPTY_ROOT,
    certificateAuthorities: chains.map((pems) => ({
      subject: { organization: 'test', commonName: 'test' },
      uri: 'https://ca.test',
      certChain: { certificates: pems.map((p) => ({ rawBytes: new X509Certificate(p).raw.toString('base64') })) },
      validFor: { start: '2000-01-01T00:00:00Z' },
    })),
  };
}

/**
 * Trust material as `cosign verify --key` has it: the given key for any hint (legacy layers carry
 * no hint), plus whatever logs/CAs the root lists.
 */
export function trustWithKey(keyPem: string, root: Record<string, unknown> = EMPTY_ROOT): TrustMaterial {
  const publicKey = createPublicKey(keyPem);
  return toTrustMaterial(TrustedRoot.fromJSON(root), () => ({ publicKey, validFor: () => true }));
}

export function trustFromRoot(root: Record<string, unknown>): TrustMaterial {
  return toTrustMaterial(TrustedRoot.fromJSON(root));
}
