import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleFromJSON } from '@sigstore/bundle';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { toSignedEntity, toTrustMaterial, Verifier, VerificationError } from '@sigstore/verify';
import { signingBundle } from '../../../src/sign/bundle-builder.ts';
import { SignError } from '../../../src/sign/errors.ts';
import { resolveIdentityToken } from '../../../src/sign/identity/index.ts';
import {
  keylessSigner,
  keySigner,
  publicKeyHint,
  signingConfigFrom,
  witnesses,
} from '../../../src/sign/signers/index.ts';
import { startSigstoreStack, type SigstoreStack } from '../../harness/sigstore-stack.ts';

let stack: SigstoreStack;
beforeAll(async () => {
  stack = await startSigstoreStack();
});
afterAll(() => stack?.stop());

const V03 = 'application/vnd.dev.sigstore.bundle.v0.3+json';
const STATEMENT = Buffer.from(
  JSON.stringify({
    _type: 'https://in-toto.io/Statement/v1',
    subject: [{ name: 'registry.test/app', digest: { sha256: 'a'.repeat(64) } }],
    predicateType: 'https://sigstore.dev/cosign/sign/v1',
    predicate: {},
  }),
);

function trust() {
  return toTrustMaterial(TrustedRoot.fromJSON(stack.trustedRoot()));
}

describe('signingBundle keyless against the loopback stack', () => {
  it('DSSE: cert for the token identity, dsse Rekor entry with proof and promise, TSA timestamp, verifies', async () => {
    const email = 'release@sigil.test';
    const issuer = 'https://accounts.sigil.test';
    const { token } = await resolveIdentityToken({
      env: { SIGSTORE_ID_TOKEN: stack.mintIdentityToken({ email, issuer }) },
    });
    const json = await signingBundle({
      signer: keylessSigner({ fulcioUrl: stack.fulcioUrl, identityToken: token }),
      witnesses: witnesses({ rekorUrl: stack.rekorUrl, tlogUpload: true, tsaUrl: stack.tsaUrl }),
      kind: 'dsse',
      data: STATEMENT,
      payloadType: 'application/vnd.in-toto+json',
    });
    expect(json.mediaType).toBe(V03);
    const vm = json.verificationMaterial;
    expect(vm.x509CertificateChain).toBeUndefined();
    const cert = new X509Certificate(Buffer.from(vm.certificate!.rawBytes, 'base64'));
    expect(cert.subjectAltName).toContain(email);
    // Fulcio issuer extension 1.3.6.1.4.1.57264.1.8 holds the issuer as a DER UTF8String.
    expect(cert.raw.includes(Buffer.from(issuer))).toBe(true);

    expect(vm.tlogEntries).toHaveLength(1);
    const entry = vm.tlogEntries[0]!;
    expect(entry.kindVersion).toEqual({ kind: 'dsse', version: '0.0.1' });
    expect(entry.inclusionPromise?.signedEntryTimestamp).toBeTruthy();
    expect(entry.inclusionProof?.checkpoint.envelope).toContain(new URL(stack.rekorUrl).host);
    expect(vm.timestampVerificationData?.rfc3161Timestamps).toHaveLength(1);
    expect(json.dsseEnvelope?.payloadType).toBe('application/vnd.in-toto+json');
    expect(Buffer.from(json.dsseEnvelope!.payload, 'base64').equals(STATEMENT)).toBe(true);

    // Both the tlog time and the TSA token count as timestamps: require both.
    const signer = new Verifier(trust(), { tlogThreshold: 1, ctlogThreshold: 1, timestampThreshold: 2 }).verify(
      toSignedEntity(bundleFromJSON(json)),
      { subjectAlternativeName: email, extensions: { issuer } },
    );
    expect(signer.identity?.extensions?.issuer).toBe(issuer);
  });

  it('message signature comes out v0.3 with a single certificate and a hashedrekord entry', async () => {
    const subject = 'https://github.com/sigil/sigil/.github/workflows/release.yml@refs/tags/v1.0.0';
    const issuer = 'https://token.actions.githubusercontent.com';
    const data = Buffer.from('artifact bytes\n');
    const json = await signingBundle({
      signer: keylessSigner({
        fulcioUrl: stack.fulcioUrl,
        identityToken: stack.mintIdentityToken({ subject, issuer }),
      }),
      witnesses: witnesses({ rekorUrl: stack.rekorUrl, tlogUpload: true }),
      kind: 'message',
      data,
    });
    expect(json.mediaType).toBe(V03);
    expect(json.verificationMaterial.certificate?.rawBytes).toBeTruthy();
    expect(json.verificationMaterial.tlogEntries[0]?.kindVersion?.kind).toBe('hashedrekord');
    // protobuf JSON omits empty lists.
    expect(json.verificationMaterial.timestampVerificationData?.rfc3161Timestamps ?? []).toEqual([]);
    const v = new Verifier(trust());
    expect(
      v.verify(toSignedEntity(bundleFromJSON(json), data), { subjectAlternativeName: subject, extensions: { issuer } })
        .identity?.subjectAlternativeName,
    ).toBe(subject);
    expect(() =>
      v.verify(toSignedEntity(bundleFromJSON(json), Buffer.from('other')), { subjectAlternativeName: subject }),
    ).toThrow(VerificationError);
  });

  it('takes the service URLs from a --signing-config file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sigil-sc-'));
    const file = join(dir, 'signing_config.json');
    await writeFile(file, JSON.stringify(stack.signingConfig()));
    const services = await signingConfigFrom(file);
    expect(services).toMatchObject({
      fulcioUrl: stack.fulcioUrl,
      rekorUrl: stack.rekorUrl,
      tsaUrl: `${stack.tsaUrl}/api/v1/timestamp`,
    });
    const before = { ...stack.requests };
    const json = await signingBundle({
      signer: keylessSigner({
        fulcioUrl: services.fulcioUrl!,
        identityToken: stack.mintIdentityToken({ email: 'sc@sigil.test' }),
      }),
      witnesses: witnesses({ rekorUrl: services.rekorUrl, tlogUpload: true, tsaUrl: services.tsaUrl }),
      kind: 'dsse',
      data: STATEMENT,
      payloadType: 'application/vnd.in-toto+json',
    });
    expect(stack.requests.tsa - before.tsa).toBe(1);
    new Verifier(trust()).verify(toSignedEntity(bundleFromJSON(json)), { subjectAlternativeName: 'sc@sigil.test' });

    await writeFile(
      file,
      JSON.stringify({ ...stack.signingConfig(), mediaType: 'application/vnd.dev.sigstore.signingconfig.v0.1+json' }),
    );
    await expect(signingConfigFrom(file)).rejects.toMatchObject({ code: 'INVALID_OPTIONS' });
  });
});

describe('signingBundle with a local key', () => {
  it('--tlog-upload=false: publicKey hint, no tlog entries, no service contacted; verifies with the key', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const before = { ...stack.requests };
    const json = await signingBundle({
      signer: keySigner(privateKey),
      witnesses: witnesses({ tlogUpload: false }),
      kind: 'dsse',
      data: STATEMENT,
      payloadType: 'application/vnd.in-toto+json',
    });
    expect(stack.requests).toEqual(before);
    expect(json.mediaType).toBe(V03);
    const hint = publicKeyHint(publicKey);
    expect(hint).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    expect(json.verificationMaterial.publicKey?.hint).toBe(hint);
    expect(json.verificationMaterial.tlogEntries ?? []).toEqual([]);

    const keys = {
      [hint]: { rawBytes: publicKey.export({ format: 'der', type: 'spki' }), keyDetails: 'PKIX_ECDSA_P256_SHA_256' },
    };
    const tm = toTrustMaterial(TrustedRoot.fromJSON(stack.trustedRoot()), keys as never);
    const entity = toSignedEntity(bundleFromJSON(json));
    new Verifier(tm, { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 }).verify(entity);
    // Default thresholds demand a tlog entry: this bundle has none.
    expect(() => new Verifier(tm).verify(entity)).toThrow(/tlog|timestamp/i);

    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
    const wrong = toTrustMaterial(TrustedRoot.fromJSON(stack.trustedRoot()), {
      [hint]: { rawBytes: other.export({ format: 'der', type: 'spki' }), keyDetails: 'PKIX_ECDSA_P256_SHA_256' },
    } as never);
    expect(() =>
      new Verifier(wrong, { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 }).verify(entity),
    ).toThrow(VerificationError);
  });

  it('key-signed with Rekor: hashedrekord entry over the public key', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const data = Buffer.from('blob');
    const json = await signingBundle({
      signer: keySigner(privateKey),
      witnesses: witnesses({ rekorUrl: stack.rekorUrl }),
      kind: 'message',
      data,
    });
    const body = JSON.parse(
      Buffer.from(json.verificationMaterial.tlogEntries[0]!.canonicalizedBody, 'base64').toString(),
    ) as { kind: string; spec: { signature: { publicKey: { content: string } } } };
    expect(body.kind).toBe('hashedrekord');
    expect(Buffer.from(body.spec.signature.publicKey.content, 'base64').toString()).toBe(
      publicKey.export({ format: 'pem', type: 'spki' }).toString(),
    );
    const hint = publicKeyHint(publicKey);
    const tm = toTrustMaterial(TrustedRoot.fromJSON(stack.trustedRoot()), {
      [hint]: { rawBytes: publicKey.export({ format: 'der', type: 'spki' }), keyDetails: 'PKIX_ECDSA_P256_SHA_256' },
    } as never);
    new Verifier(tm, { tlogThreshold: 1, ctlogThreshold: 0, timestampThreshold: 1 }).verify(
      toSignedEntity(bundleFromJSON(json), data),
    );
  });
});

describe('keyless failures', () => {
  it('an expired token is IDENTITY_TOKEN and never shown', async () => {
    const expired = stack.mintIdentityToken({ email: 'late@sigil.test', expiresIn: -5 });
    const err = await resolveIdentityToken({ identityToken: expired, env: {} }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SignError);
    expect((err as SignError).code).toBe('IDENTITY_TOKEN');
    expect((err as SignError).message).not.toContain(expired);
  });

  it('an unverified email is refused client-side as IDENTITY_TOKEN even when passed straight to the signer', async () => {
    const token = stack.mintIdentityToken({ email: 'x@sigil.test', claims: { email_verified: false } });
    const before = stack.requests.fulcio;
    const err = (await signingBundle({
      signer: keylessSigner({ fulcioUrl: stack.fulcioUrl, identityToken: token }),
      witnesses: [],
      kind: 'message',
      data: Buffer.from('x'),
    }).catch((e: unknown) => e)) as SignError;
    expect(err).toBeInstanceOf(SignError);
    expect(err.code).toBe('IDENTITY_TOKEN');
    expect(stack.requests.fulcio).toBe(before);
    expect(`${err.message}${String(err.stack)}${String((err.cause as Error).message)}`).not.toContain(token);
  });

  it('Rekor refusing is REKOR naming the URL', async () => {
    const token = stack.mintIdentityToken({ email: 'r@sigil.test' });
    const badRekor = `${stack.fulcioUrl}/no-rekor-here`;
    const err = (await signingBundle({
      signer: keylessSigner({ fulcioUrl: stack.fulcioUrl, identityToken: token }),
      witnesses: witnesses({ rekorUrl: badRekor, retry: 0 }),
      kind: 'message',
      data: Buffer.from('x'),
    }).catch((e: unknown) => e)) as SignError;
    expect(err.code).toBe('REKOR');
    expect(err.message).toContain(badRekor);
  });

  it('Fulcio down is FULCIO naming the URL, without the token', async () => {
    const own = await startSigstoreStack();
    const token = own.mintIdentityToken({ email: 'down@sigil.test' });
    await own.stopFulcio();
    try {
      const err = (await signingBundle({
        signer: keylessSigner({ fulcioUrl: own.fulcioUrl, identityToken: token, retry: 0, timeout: 2000 }),
        witnesses: witnesses({ rekorUrl: own.rekorUrl }),
        kind: 'dsse',
        data: STATEMENT,
        payloadType: 'application/vnd.in-toto+json',
      }).catch((e: unknown) => e)) as SignError;
      expect(err).toBeInstanceOf(SignError);
      expect(err.code).toBe('FULCIO');
      expect(err.message).toContain(own.fulcioUrl);
      expect(own.requests.rekor).toBe(0);
      const everything = `${err.message}\n${String(err.stack)}\n${String((err.cause as Error | undefined)?.message)}`;
      expect(everything).not.toContain(token);
      expect(everything).not.toContain(token.split('.')[1]!);
    } finally {
      await own.stop();
    }
  });
});
