import { createHash, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RFC3161Timestamp } from '@sigstore/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleFromJSON } from '@sigstore/bundle';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { toSignedEntity, toTrustMaterial, Verifier } from '@sigstore/verify';
import { listAttachments } from '../../src/attach/discovery.ts';
import { AttachAnnotation } from '../../src/attach/media-types.ts';
import { copyImage } from '../../src/oci/copy.ts';
import { registryFor } from '../../src/oci/registry/client.ts';
import { openSource, openTarget } from '../../src/oci/source.ts';
import { decodeBase64 } from '../../src/sign/payloads/base64.ts';
import { parseEnvelope, pae } from '../../src/sign/payloads/dsse.ts';
import { parseStatement } from '../../src/sign/payloads/in-toto.ts';
import { parseSimpleSigningPayload } from '../../src/sign/payloads/simple-signing.ts';
import { verifyBytes } from '../../src/sign/raw-signature.ts';
import { keylessSigner, keySigner, witnesses } from '../../src/sign/signers/index.ts';
import { checkEvidence } from '../../src/verify/check.ts';
import { evidenceFromAttachments } from '../../src/verify/evidence/index.ts';
import { attestImage, signImage } from '../../src/workflows/sign-image.ts';
import { demoImageLayout, multiPlatformLayout } from '../harness/images.ts';
import { startRegistry, type TestRegistry } from '../harness/registry.ts';
import { startSigstoreStack, type SigstoreStack } from '../harness/sigstore-stack.ts';

let registry: TestRegistry;
let stack: SigstoreStack;
let image: string;
let multi: string;

function p256(): { privateKey: KeyObject; publicKey: KeyObject } {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' });
}

beforeAll(async () => {
  [registry, stack] = await Promise.all([startRegistry(), startSigstoreStack()]);
  image = `${registry.host}/sign/app:1.0`;
  multi = `${registry.host}/sign/multi:1.0`;
  await copyImage(await openSource(`oci-dir:${await demoImageLayout()}:demo`), await openTarget(image));
  await copyImage(await openSource(`oci-dir:${await multiPlatformLayout()}:multi`), await openTarget(multi), {
    allPlatforms: true,
  });
}, 60_000);
afterAll(async () => {
  await Promise.all([registry?.stop(), stack?.stop()]);
});

const client = () => registryFor(registry.host);

describe('signImage: bundle referrers (cosign v3 default)', () => {
  it('signs the digest the tag resolves to, as a DSSE bundle in a referrer listed in the fallback index', async () => {
    const key = p256();
    const r = await signImage(image, { signer: keySigner(key.privateKey), annotations: { env: 'ci' } });
    const head = await client().headManifest('sign/app', '1.0');
    expect(r.digest).toBe(head!.digest);
    expect(r.signatures).toHaveLength(1);
    const s = r.signatures[0]!;
    // distribution 2.8 has no referrers API: the fallback tag index lists the referrer.
    expect(s).toMatchObject({ scheme: 'referrers', via: 'fallback-tag', tag: r.digest.replace(':', '-') });

    const { attachments } = await listAttachments(client(), 'sign/app', r.digest);
    const bundles = attachments.filter((a) => a.scheme === 'referrers' && a.kind === 'signature');
    expect(bundles.map((b) => b.manifest.digest)).toContain(s.manifest);
    const mine = bundles.find((b) => b.manifest.digest === s.manifest)!;
    const bundle = JSON.parse(Buffer.from(await mine.layers[0]!.fetch()).toString('utf8')) as Record<string, unknown>;
    const env = parseEnvelope(bundle.dsseEnvelope as Record<string, unknown>);
    expect(verifyBytes(key.publicKey, pae(env.payloadType, env.payload), env.signatures[0]!.sig)).toBe(true);
    const statement = parseStatement(env.payload);
    expect(statement.predicateType).toBe('https://sigstore.dev/cosign/sign/v1');
    expect(statement.subject[0]).toMatchObject({ digest: { sha256: r.digest.slice(7) }, annotations: { env: 'ci' } });
  });

  it('--recursive signs the index and every platform manifest', async () => {
    const r = await signImage(multi, { signer: keySigner(p256().privateKey), recursive: true });
    const index = await client().getManifest('sign/multi', '1.0');
    const children = (JSON.parse(Buffer.from(index.bytes).toString()) as { manifests: { digest: string }[] }).manifests;
    expect(r.signatures.map((s) => s.subject.digest)).toEqual([
      index.descriptor.digest,
      ...children.map((c) => c.digest),
    ]);
    for (const child of children) {
      const { attachments } = await listAttachments(client(), 'sign/multi', child.digest);
      expect(attachments.filter((a) => a.kind === 'signature')).toHaveLength(1);
    }
  });

  it('keyless: Fulcio certificate, Rekor entry and TSA timestamp, verified by @sigstore/verify against the stack root', async () => {
    const token = stack.mintIdentityToken({ email: 'ci@sigil.test', issuer: 'https://issuer.sigil.test' });
    const r = await signImage(image, {
      signer: keylessSigner({ fulcioUrl: stack.fulcioUrl, identityToken: token }),
      witnesses: witnesses({ rekorUrl: stack.rekorUrl, tlogUpload: true, tsaUrl: stack.tsaUrl }),
    });
    const s = r.signatures[0]!;
    expect(s.tlog?.logIndex).toMatch(/^\d+$/);
    const { attachments } = await listAttachments(client(), 'sign/app', r.digest);
    const mine = attachments.find((a) => a.manifest.digest === s.manifest)!;
    const json = JSON.parse(Buffer.from(await mine.layers[0]!.fetch()).toString('utf8')) as unknown;
    const verifier = new Verifier(toTrustMaterial(TrustedRoot.fromJSON(stack.trustedRoot())), {
      tlogThreshold: 1,
      ctlogThreshold: 1,
      timestampThreshold: 2,
    });
    const signer = verifier.verify(toSignedEntity(bundleFromJSON(json)), {
      subjectAlternativeName: 'ci@sigil.test',
      extensions: { issuer: 'https://issuer.sigil.test' },
    });
    expect(signer.identity?.subjectAlternativeName).toBe('ci@sigil.test');
  });
});

describe('signImage: cosign .sig tags', () => {
  it('appends one simple-signing layer per signer; the same signer again is a duplicate', async () => {
    const a = p256();
    const b = p256();
    const first = await signImage(image, {
      signer: keySigner(a.privateKey),
      publicKey: a.publicKey,
      attach: 'tag',
    });
    const tag = first.signatures[0]!.tag!;
    expect(tag).toBe(`${first.digest.replace(':', '-')}.sig`);
    expect(first.signatures[0]!.written).toBe(true);
    const again = await signImage(image, { signer: keySigner(a.privateKey), publicKey: a.publicKey, attach: 'tag' });
    expect(again.signatures[0]!.written).toBe(false);
    await signImage(image, { signer: keySigner(b.privateKey), publicKey: b.publicKey, attach: 'tag' });

    const { attachments } = await listAttachments(client(), 'sign/app', first.digest);
    // One attachment per `.sig` layer.
    const layers = attachments.filter((x) => x.scheme === 'tag' && x.kind === 'signature').map((x) => x.layers[0]!);
    expect(layers).toHaveLength(2);
    // Eight signers of one image write the same payload: same layer digest, different signatures.
    expect(new Set(layers.map((l) => l.descriptor.digest)).size).toBe(1);
    const payload = await layers[0]!.fetch();
    expect(parseSimpleSigningPayload(payload)).toMatchObject({
      dockerReference: `${registry.host}/sign/app`,
      manifestDigest: first.digest,
    });
    const verdicts = layers.map((l) => {
      const signature = decodeBase64(l.annotations[AttachAnnotation.Signature]!, 'signature');
      return [verifyBytes(a.publicKey, payload, signature), verifyBytes(b.publicKey, payload, signature)];
    });
    expect(verdicts).toEqual([
      [true, false],
      [false, true],
    ]);
  });

  it('keyless .sig layers carry the certificate and cosign’s Rekor bundle annotation', async () => {
    const token = stack.mintIdentityToken({ email: 'legacy@sigil.test' });
    const r = await signImage(image, {
      signer: keylessSigner({ fulcioUrl: stack.fulcioUrl, identityToken: token }),
      witnesses: witnesses({ rekorUrl: stack.rekorUrl, tlogUpload: true }),
      attach: 'tag',
    });
    const { attachments } = await listAttachments(client(), 'sign/app', r.digest);
    const layer = attachments.filter((x) => x.scheme === 'tag' && x.kind === 'signature').at(-1)!.layers[0]!;
    expect(layer.annotations[AttachAnnotation.Certificate]).toMatch(/^-----BEGIN CERTIFICATE-----\n/);
    const rekor = JSON.parse(layer.annotations[AttachAnnotation.Bundle]!) as {
      SignedEntryTimestamp: string;
      Payload: { body: string; integratedTime: number; logIndex: number; logID: string };
    };
    expect(Object.keys(rekor)).toEqual(['SignedEntryTimestamp', 'Payload']);
    expect(Object.keys(rekor.Payload)).toEqual(['body', 'integratedTime', 'logIndex', 'logID']);
    expect(rekor.Payload.logIndex).toBe(Number(r.signatures[0]!.tlog!.logIndex));
    const body = JSON.parse(Buffer.from(rekor.Payload.body, 'base64').toString()) as {
      kind: string;
      spec: { signature: { content: string } };
    };
    expect(body.kind).toBe('hashedrekord');
    expect(body.spec.signature.content).toBe(layer.annotations[AttachAnnotation.Signature]);
  });
});

describe('attestImage', () => {
  const predicate = { builder: { id: 'https://ci.sigil.test' }, buildType: 'test' };

  it('referrers: a DSSE bundle whose statement names the image digest and the predicate type', async () => {
    const key = p256();
    const r = await attestImage(image, {
      signer: keySigner(key.privateKey),
      predicateType: 'https://slsa.dev/provenance/v0.2',
      predicate,
    });
    const { attachments } = await listAttachments(client(), 'sign/app', r.digest);
    const att = attachments.find((a) => a.manifest.digest === r.signatures[0]!.manifest)!;
    expect(att.kind).toBe('attestation');
    expect(att.annotations[AttachAnnotation.BundlePredicateType]).toBe('https://slsa.dev/provenance/v0.2');
    const bundle = JSON.parse(Buffer.from(await att.layers[0]!.fetch()).toString()) as Record<string, unknown>;
    const st = parseStatement(parseEnvelope(bundle.dsseEnvelope as Record<string, unknown>).payload);
    expect(st).toMatchObject({
      _type: 'https://in-toto.io/Statement/v0.1',
      predicateType: 'https://slsa.dev/provenance/v0.2',
      subject: [{ name: `${registry.host}/sign/app`, digest: { sha256: r.digest.slice(7) } }],
      predicate,
    });
  });

  it('tag: a DSSE envelope layer in .att with an empty signature annotation and the predicateType annotation', async () => {
    const key = p256();
    const r = await attestImage(image, {
      signer: keySigner(key.privateKey),
      predicateType: 'https://cyclonedx.org/bom',
      predicate: { bomFormat: 'CycloneDX' },
      attach: 'tag',
    });
    expect(r.signatures[0]!.tag).toBe(`${r.digest.replace(':', '-')}.att`);
    const { attachments } = await listAttachments(client(), 'sign/app', r.digest);
    const layer = attachments.filter((x) => x.scheme === 'tag' && x.kind === 'attestation').at(-1)!.layers[0]!;
    expect(layer.descriptor.mediaType).toBe('application/vnd.dsse.envelope.v1+json');
    expect(layer.annotations).toMatchObject({
      [AttachAnnotation.Signature]: '',
      [AttachAnnotation.PredicateType]: 'https://cyclonedx.org/bom',
    });
    const env = parseEnvelope(await layer.fetch());
    expect(verifyBytes(key.publicKey, pae(env.payloadType, env.payload), env.signatures[0]!.sig)).toBe(true);
    expect(env.signatures[0]!.keyid).toBe('');
  });

  it('tag with a TSA: the .att timestamp is over the envelope bytes, as cosign stamps and checks it', async () => {
    const token = stack.mintIdentityToken({ email: 'att@sigil.test', issuer: 'https://issuer.sigil.test' });
    const r = await attestImage(image, {
      signer: keylessSigner({ fulcioUrl: stack.fulcioUrl, identityToken: token }),
      witnesses: witnesses({ rekorUrl: stack.rekorUrl, tlogUpload: true, tsaUrl: stack.tsaUrl }),
      predicateType: 'https://slsa.dev/provenance/v1',
      predicate,
      attach: 'tag',
    });
    const list = await listAttachments(client(), 'sign/app', r.digest);
    const mine = list.attachments.filter((x) => x.scheme === 'tag' && x.kind === 'attestation').at(-1)!;
    const envelope = Buffer.from(await mine.layers[0]!.fetch());
    const annotation = JSON.parse(mine.layers[0]!.annotations[AttachAnnotation.Rfc3161Timestamp]!) as {
      SignedRFC3161Timestamp: string;
    };
    const stamp = RFC3161Timestamp.parse(Buffer.from(annotation.SignedRFC3161Timestamp, 'base64'));
    expect(stamp.tstInfo.messageImprintHashedMessage).toEqual(createHash('sha256').update(envelope).digest());
    // And sigil's own verify accepts it (timestamp check passed), as it accepts cosign's.
    const root = join(await mkdtemp(join(tmpdir(), 'sigil-att-tsa-')), 'trusted_root.json');
    await writeFile(root, JSON.stringify(stack.trustedRoot()));
    const evidence = (await evidenceFromAttachments({ ...list, attachments: [mine] })).filter(
      (e) => e.source.layer === mine.layers[0]!.descriptor.digest,
    );
    expect(evidence).toHaveLength(1);
    const verdict = await checkEvidence(
      evidence[0]!,
      {
        kind: 'keyless',
        name: 'ci',
        identities: [{ issuer: 'https://issuer.sigil.test', subject: 'att@sigil.test' }],
        trustedRoot: root,
        sct: 'required',
        tlog: 'required',
      },
      { digest: r.digest },
    );
    expect(verdict.ok, JSON.stringify(verdict)).toBe(true);
    expect(verdict.checks).toContain('timestamp');
  });
});

describe('signImage: bad input', () => {
  it('a tag that does not exist is MANIFEST_UNKNOWN, and nothing is written', async () => {
    await expect(
      signImage(`${registry.host}/sign/app:nope`, { signer: keySigner(p256().privateKey) }),
    ).rejects.toMatchObject({ code: 'MANIFEST_UNKNOWN' });
    expect(await client().tags('sign/app')).not.toContain('nope');
  });
});
