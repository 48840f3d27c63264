import { createHash, createPublicKey, generateKeyPairSync, verify as cryptoVerify } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleFromJSON } from '@sigstore/bundle';
import { PublicKeyDetails, TrustedRoot } from '@sigstore/protobuf-specs';
import { toSignedEntity, toTrustMaterial, Verifier } from '@sigstore/verify';
import { parseStatement } from '../../src/sign/payloads/in-toto.ts';
import { keylessSigner, keySigner, publicKeyHint, witnesses } from '../../src/sign/signers/index.ts';
import { attestBlob, signBlob } from '../../src/workflows/sign-blob.ts';
import { startSigstoreStack, type SigstoreStack } from '../harness/sigstore-stack.ts';

let stack: SigstoreStack;
beforeAll(async () => {
  stack = await startSigstoreStack();
}, 30_000);
afterAll(async () => {
  await stack?.stop();
});

const blob = new TextEncoder().encode('release artefact: sigil-1.0.0.tar.gz contents\n');
const tampered = new TextEncoder().encode('release artefact: sigil-1.0.0.tar.gz contentz\n');

function keyVerifier(publicKey: ReturnType<typeof createPublicKey>) {
  const root = TrustedRoot.fromJSON(stack.trustedRoot());
  const material = toTrustMaterial(root, {
    [publicKeyHint(publicKey)]: {
      rawBytes: publicKey.export({ format: 'der', type: 'spki' }),
      keyDetails: PublicKeyDetails.PKIX_ECDSA_P256_SHA_256,
    },
  });
  return new Verifier(material, { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 });
}

describe('signBlob', () => {
  it('key: a v0.3 message-signature bundle that verifies over the blob and fails over a changed one', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const r = await signBlob(blob, { signer: keySigner(privateKey) });
    expect(r.bundle.mediaType).toBe('application/vnd.dev.sigstore.bundle.v0.3+json');
    expect(r.bundle.messageSignature?.messageDigest).toEqual({
      algorithm: 'SHA2_256',
      digest: createHash('sha256').update(blob).digest('base64'),
    });
    expect(r.bundle.verificationMaterial.publicKey?.hint).toBe(publicKeyHint(publicKey));
    expect(r.certificate).toBeUndefined();
    expect(r.sha256).toBe(createHash('sha256').update(blob).digest('hex'));
    // The base64 signature is an ECDSA signature over the blob (what --output-signature writes).
    expect(cryptoVerify('sha256', blob, publicKey, Buffer.from(r.signature, 'base64'))).toBe(true);

    const verifier = keyVerifier(publicKey);
    const parsed = bundleFromJSON(JSON.parse(JSON.stringify(r.bundle)));
    expect(() => verifier.verify(toSignedEntity(parsed, Buffer.from(blob)))).not.toThrow();
    expect(() => verifier.verify(toSignedEntity(parsed, Buffer.from(tampered)))).toThrow();
  });

  it('keyless: certificate, Rekor entry and TSA timestamp, verified against the stack root', async () => {
    const token = stack.mintIdentityToken({ email: 'blob@sigil.test', issuer: 'https://issuer.sigil.test' });
    const r = await signBlob(blob, {
      signer: keylessSigner({ fulcioUrl: stack.fulcioUrl, identityToken: token }),
      witnesses: witnesses({ rekorUrl: stack.rekorUrl, tlogUpload: true, tsaUrl: stack.tsaUrl }),
    });
    expect(r.certificate).toMatch(/^-----BEGIN CERTIFICATE-----\n[\s\S]+\n-----END CERTIFICATE-----\n$/);
    expect(r.tlog?.logIndex).toMatch(/^\d+$/);
    const cert = createPublicKey(r.certificate!);
    expect(cryptoVerify('sha256', blob, cert, Buffer.from(r.signature, 'base64'))).toBe(true);

    const verifier = new Verifier(toTrustMaterial(TrustedRoot.fromJSON(stack.trustedRoot())), {
      tlogThreshold: 1,
      ctlogThreshold: 1,
      timestampThreshold: 2,
    });
    const parsed = bundleFromJSON(r.bundle);
    const policy = { subjectAlternativeName: 'blob@sigil.test', extensions: { issuer: 'https://issuer.sigil.test' } };
    expect(verifier.verify(toSignedEntity(parsed, Buffer.from(blob)), policy).identity?.subjectAlternativeName).toBe(
      'blob@sigil.test',
    );
    expect(() => verifier.verify(toSignedEntity(parsed, Buffer.from(tampered)), policy)).toThrow();
  });
});

describe('attestBlob', () => {
  it('a DSSE bundle whose in-toto statement names the file and its sha256', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const r = await attestBlob(blob, {
      signer: keySigner(privateKey),
      name: '/tmp/build/out/sigil-1.0.0.tar.gz',
      predicateType: 'https://slsa.dev/provenance/v1',
      predicate: { buildDefinition: { buildType: 'https://sigil.test/build' } },
    });
    expect(r.bundle.dsseEnvelope?.payloadType).toBe('application/vnd.in-toto+json');
    const statement = parseStatement(Buffer.from(r.bundle.dsseEnvelope!.payload, 'base64'));
    expect(statement).toMatchObject({
      _type: 'https://in-toto.io/Statement/v0.1',
      predicateType: 'https://slsa.dev/provenance/v1',
      subject: [{ name: 'sigil-1.0.0.tar.gz', digest: { sha256: createHash('sha256').update(blob).digest('hex') } }],
      predicate: { buildDefinition: { buildType: 'https://sigil.test/build' } },
    });
    expect(Buffer.from(r.statement).toString('base64')).toBe(r.bundle.dsseEnvelope!.payload);
    // The DSSE signature verifies under the key (no artifact needed: the statement carries the digest).
    expect(() => keyVerifier(publicKey).verify(toSignedEntity(bundleFromJSON(r.bundle)))).not.toThrow();
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
    expect(() => keyVerifier(other).verify(toSignedEntity(bundleFromJSON(r.bundle)))).toThrow();
  });
});
