import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleFromJSON, bundleToJSON } from '@sigstore/bundle';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import {
  DSSEBundleBuilder,
  FulcioSigner,
  MessageSignatureBundleBuilder,
  RekorWitness,
  TSAWitness,
} from '@sigstore/sign';
import { PolicyError, toSignedEntity, toTrustMaterial, Verifier } from '@sigstore/verify';
import { startSigstoreStack, type SigstoreStack } from './sigstore-stack.ts';

let stack: SigstoreStack;
beforeAll(async () => {
  stack = await startSigstoreStack();
});
afterAll(() => stack?.stop());

function verifier() {
  return new Verifier(toTrustMaterial(TrustedRoot.fromJSON(stack.trustedRoot())));
}

describe('loopback sigstore stack', () => {
  it('signs a message through Fulcio, Rekor and the TSA over HTTP, and @sigstore/verify accepts it', async () => {
    const token = stack.mintIdentityToken({ email: 'signer@sigil.test' });
    const signer = new FulcioSigner({
      fulcioBaseURL: stack.fulcioUrl,
      identityProvider: { getToken: () => Promise.resolve(token) },
    });
    const witnesses = [
      new RekorWitness({ rekorBaseURL: stack.rekorUrl }),
      new TSAWitness({ tsaBaseURL: stack.tsaUrl }),
    ];
    const data = Buffer.from('hello sigil');
    const before = { ...stack.requests };
    const bundle = await new MessageSignatureBundleBuilder({ signer, witnesses }).create({ data });
    expect(stack.requests.fulcio - before.fulcio).toBe(1);
    expect(stack.requests.rekor - before.rekor).toBe(1);
    expect(stack.requests.tsa - before.tsa).toBe(1);
    const json = bundleToJSON(bundle);
    expect(json.verificationMaterial.tlogEntries[0]?.kindVersion?.kind).toBe('hashedrekord');
    expect(json.verificationMaterial.timestampVerificationData?.rfc3161Timestamps).toHaveLength(1);

    const policy = { subjectAlternativeName: 'signer@sigil.test', extensions: { issuer: stack.defaultIssuer } };
    const entity = toSignedEntity(bundleFromJSON(json), data);
    expect(verifier().verify(entity, policy).identity?.subjectAlternativeName).toBe('signer@sigil.test');
    expect(() => verifier().verify(entity, { ...policy, subjectAlternativeName: 'other@sigil.test' })).toThrow(
      PolicyError,
    );
    expect(() => verifier().verify(toSignedEntity(bundleFromJSON(json), Buffer.from('tampered')), policy)).toThrow(
      /signature/i,
    );
  });

  it('signs a DSSE envelope with a dsse Rekor entry (stored canonically) and a URI identity', async () => {
    const subject = 'https://github.com/sigil/sigil/.github/workflows/release.yml@refs/heads/main';
    const token = stack.mintIdentityToken({ subject, issuer: 'https://token.actions.githubusercontent.com' });
    const signer = new FulcioSigner({
      fulcioBaseURL: stack.fulcioUrl,
      identityProvider: { getToken: () => Promise.resolve(token) },
    });
    const witnesses = [new RekorWitness({ rekorBaseURL: stack.rekorUrl, entryType: 'dsse' })];
    const bundle = await new DSSEBundleBuilder({ signer, witnesses }).create({
      data: Buffer.from('{"_type":"https://in-toto.io/Statement/v1"}'),
      type: 'application/vnd.in-toto+json',
    });
    const json = bundleToJSON(bundle);
    expect(json.mediaType).toBe('application/vnd.dev.sigstore.bundle.v0.3+json');
    const entry = json.verificationMaterial.tlogEntries[0];
    expect(entry?.kindVersion).toEqual({ kind: 'dsse', version: '0.0.1' });
    const body = JSON.parse(Buffer.from(entry!.canonicalizedBody, 'base64').toString()) as {
      spec: Record<string, unknown>;
    };
    expect(Object.keys(body.spec).sort()).toEqual(['envelopeHash', 'payloadHash', 'signatures']);
    const signed = verifier().verify(toSignedEntity(bundleFromJSON(json)), {
      subjectAlternativeName: subject,
      extensions: { issuer: 'https://token.actions.githubusercontent.com' },
    });
    expect(signed.identity?.subjectAlternativeName).toBe(subject);
  });

  it('publishes a signing config pointing at the loopback services', () => {
    const config = stack.signingConfig() as { caUrls: { url: string }[]; tsaUrls: { url: string }[] };
    expect(config.caUrls[0]?.url).toBe(stack.fulcioUrl);
    expect(config.tsaUrls[0]?.url).toBe(`${stack.tsaUrl}/api/v1/timestamp`);
    const root = stack.trustedRoot() as { tlogs: { baseUrl: string }[] };
    expect(root.tlogs[0]?.baseUrl).toBe(stack.rekorUrl);
  });
});
