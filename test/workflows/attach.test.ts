import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listAttachments } from '../../src/attach/discovery.ts';
import { AttachAnnotation, AttachMediaType, cosignArtifactType } from '../../src/attach/media-types.ts';
import { copyImage } from '../../src/oci/copy.ts';
import type { Digest } from '../../src/oci/digest.ts';
import { registryFor } from '../../src/oci/registry/client.ts';
import { openSource, openTarget } from '../../src/oci/source.ts';
import { decodeBase64 } from '../../src/sign/payloads/base64.ts';
import { dsseEnvelope, pae, parseEnvelope } from '../../src/sign/payloads/dsse.ts';
import { inTotoStatement, parseStatement } from '../../src/sign/payloads/in-toto.ts';
import { parseSimpleSigningPayload, simpleSigningPayload } from '../../src/sign/payloads/simple-signing.ts';
import { signBytes, verifyBytes } from '../../src/sign/raw-signature.ts';
import { keySigner } from '../../src/sign/signers/index.ts';
import {
  attachAttestation,
  attachBundle,
  attachSbom,
  attachSignature,
  sbomMediaType,
} from '../../src/workflows/attach.ts';
import { attestBlob, signBlob } from '../../src/workflows/sign-blob.ts';
import { demoImageLayout } from '../harness/images.ts';
import { startReferrersRegistry, type ReferrersRegistry } from '../harness/referrers-registry.ts';
import { startRegistry, type TestRegistry } from '../harness/registry.ts';

let registry: TestRegistry;
let apiRegistry: ReferrersRegistry;
const layoutPromise = demoImageLayout();

beforeAll(async () => {
  [registry, apiRegistry] = await Promise.all([startRegistry(), startReferrersRegistry()]);
}, 60_000);
afterAll(async () => {
  await Promise.all([registry?.stop(), apiRegistry?.stop()]);
});

/** A fresh repository holding the demo image, so each test sees only its own attachments. */
async function pushImage(host: string, repo: string): Promise<{ image: string; digest: Digest }> {
  const image = `${host}/${repo}:1.0`;
  await copyImage(await openSource(`oci-dir:${await layoutPromise}:demo`), await openTarget(image));
  const head = await registryFor(host).headManifest(repo, '1.0');
  return { image, digest: head!.digest };
}

const SPDX = new TextEncoder().encode('{"spdxVersion":"SPDX-2.3","name":"demo","packages":[]}\n');
const SPDX2 = new TextEncoder().encode('{"spdxVersion":"SPDX-2.3","name":"demo-rebuilt","packages":[]}\n');

function statementFor(digest: Digest, predicateType = 'https://cyclonedx.org/bom'): Uint8Array {
  return inTotoStatement({
    version: 'v0.1',
    subjects: [{ name: 'demo', digest: { sha256: digest.slice(7) } }],
    predicateType,
    predicate: { bomFormat: 'CycloneDX', specVersion: '1.6', components: [] },
  });
}

describe('sbomMediaType (cosign attach sbom --type/--input-format)', () => {
  it('maps as cosign does, inferring json from the file name', () => {
    expect(sbomMediaType('spdx', undefined, 'a.spdx')).toBe('text/spdx');
    expect(sbomMediaType('spdx', undefined, 'a.spdx.json')).toBe('text/spdx+json');
    expect(sbomMediaType('cyclonedx', undefined, 'bom.xml')).toBe('application/vnd.cyclonedx+xml');
    expect(sbomMediaType('cyclonedx', 'json', 'bom')).toBe('application/vnd.cyclonedx+json');
    expect(sbomMediaType('syft', undefined, 'x')).toBe('application/vnd.syft+json');
    expect(() => sbomMediaType('spdx', 'xml')).toThrow(/expected json or text/);
    expect(() => sbomMediaType('syft', 'text')).toThrow(/expected json/);
  });
});

describe('attach, tag scheme (cosign attach defaults)', () => {
  it('sbom: a .sbom image with exactly one layer; a second SBOM replaces the first', async () => {
    const { image, digest } = await pushImage(registry.host, 'att/sbom');
    const first = await attachSbom(image, { sbom: SPDX, mediaType: 'text/spdx+json' });
    expect(first.digest).toBe(digest);
    expect(first.attached[0]).toMatchObject({ kind: 'sbom', scheme: 'tag', tag: `${digest.replace(':', '-')}.sbom` });
    expect(first.attached[0]!.replaced).toBeUndefined();

    let { attachments } = await listAttachments(registryFor(registry.host), 'att/sbom', digest);
    let sboms = attachments.filter((a) => a.kind === 'sbom');
    expect(sboms).toHaveLength(1);
    expect(sboms[0]!.layers[0]!.descriptor.mediaType).toBe('text/spdx+json');
    expect(Buffer.from(await sboms[0]!.layers[0]!.fetch())).toEqual(Buffer.from(SPDX));

    const second = await attachSbom(image, { sbom: SPDX2, mediaType: 'text/spdx+json' });
    expect(second.attached[0]!.replaced).toBe(first.attached[0]!.manifest);
    ({ attachments } = await listAttachments(registryFor(registry.host), 'att/sbom', digest));
    sboms = attachments.filter((a) => a.kind === 'sbom');
    expect(sboms).toHaveLength(1);
    expect(Buffer.from(await sboms[0]!.layers[0]!.fetch())).toEqual(Buffer.from(SPDX2));

    // The same SBOM again writes the same manifest: nothing replaced.
    const again = await attachSbom(image, { sbom: SPDX2, mediaType: 'text/spdx+json' });
    expect(again.attached[0]).toMatchObject({ manifest: second.attached[0]!.manifest, written: false });
  });

  it('signature: payload + signature + certificate become a .sig layer that verifies; a repeat is not appended', async () => {
    const { image, digest } = await pushImage(registry.host, 'att/sig');
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const payload = simpleSigningPayload({ dockerReference: `${registry.host}/att/sig`, manifestDigest: digest });
    const signature = Buffer.from(signBytes(privateKey, payload)).toString('base64');
    const cert = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
    const r = await attachSignature(image, { payload, signature: `${signature}\n`, certificate: cert });
    expect(r.attached[0]).toMatchObject({ kind: 'signature', scheme: 'tag', written: true });
    const again = await attachSignature(image, { payload, signature });
    expect(again.attached[0]!.written).toBe(false);

    const { attachments } = await listAttachments(registryFor(registry.host), 'att/sig', digest);
    const sigs = attachments.filter((a) => a.kind === 'signature');
    expect(sigs).toHaveLength(1);
    const layer = sigs[0]!.layers[0]!;
    expect(layer.descriptor.mediaType).toBe(AttachMediaType.SimpleSigning);
    expect(layer.annotations).toEqual({
      [AttachAnnotation.Signature]: signature,
      [AttachAnnotation.Certificate]: cert,
      [AttachAnnotation.Chain]: '',
    });
    const bytes = await layer.fetch();
    expect(Buffer.from(bytes)).toEqual(Buffer.from(payload));
    expect(verifyBytes(publicKey, bytes, decodeBase64(signature, 'sig'))).toBe(true);
  });

  it('signature without --payload: the simple-signing payload cosign generates for the digest', async () => {
    const { image, digest } = await pushImage(registry.host, 'att/sig-gen');
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const expected = simpleSigningPayload({ dockerReference: `${registry.host}/att/sig-gen`, manifestDigest: digest });
    await attachSignature(image, { signature: Buffer.from(signBytes(privateKey, expected)).toString('base64') });
    const { attachments } = await listAttachments(registryFor(registry.host), 'att/sig-gen', digest);
    const bytes = await attachments.find((a) => a.kind === 'signature')!.layers[0]!.fetch();
    expect(parseSimpleSigningPayload(bytes).manifestDigest).toBe(digest);
    await expect(attachSignature(image, { signature: 'not base64 !!' })).rejects.toThrow(/base64/);
  });

  it('attestation: each DSSE envelope of a JSON-lines file becomes an .att layer; wrong payload types are refused', async () => {
    const { image, digest } = await pushImage(registry.host, 'att/att');
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const envelopes = ['https://cyclonedx.org/bom', 'https://slsa.dev/provenance/v1'].map((pt) => {
      const payload = statementFor(digest, pt);
      const sig = signBytes(privateKey, pae('application/vnd.in-toto+json', payload));
      return dsseEnvelope({ payloadType: 'application/vnd.in-toto+json', payload, signatures: [{ sig }] });
    });
    const file = Buffer.from(envelopes.map((e) => Buffer.from(e).toString('utf8')).join('\n'));
    const r = await attachAttestation(image, { envelopes: file });
    expect(r.attached[0]).toMatchObject({ kind: 'attestation', scheme: 'tag', tag: `${digest.replace(':', '-')}.att` });

    const { attachments } = await listAttachments(registryFor(registry.host), 'att/att', digest);
    const atts = attachments.filter((a) => a.kind === 'attestation');
    expect(atts).toHaveLength(2);
    const types: string[] = [];
    for (const a of atts) {
      expect(a.layers[0]!.descriptor.mediaType).toBe(AttachMediaType.DsseEnvelope);
      expect(a.annotations[AttachAnnotation.Signature]).toBe('');
      const env = parseEnvelope(await a.layers[0]!.fetch());
      expect(verifyBytes(publicKey, pae(env.payloadType, env.payload), env.signatures[0]!.sig)).toBe(true);
      types.push(parseStatement(env.payload).predicateType);
    }
    expect(types).toEqual(['https://cyclonedx.org/bom', 'https://slsa.dev/provenance/v1']);

    const wrong = dsseEnvelope({
      payloadType: 'text/plain',
      payload: new TextEncoder().encode('hi'),
      signatures: [{ sig: new Uint8Array([1]) }],
    });
    await expect(attachAttestation(image, { envelopes: wrong })).rejects.toThrow(/invalid payloadType text\/plain/);
    const unsigned = dsseEnvelope({
      payloadType: 'application/vnd.in-toto+json',
      payload: statementFor(digest),
      signatures: [],
    });
    await expect(attachAttestation(image, { envelopes: unsigned })).rejects.toThrow(/no signatures/);
  });

  it('a bundle given as the attestation is stored as cosign v3 does: a bundle referrer', async () => {
    const { image, digest } = await pushImage(registry.host, 'att/bundle');
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const signed = await attestBlob(new Uint8Array(), {
      signer: keySigner(privateKey),
      name: 'demo',
      predicateType: 'https://cyclonedx.org/bom',
      predicate: {},
    });
    const bytes = Buffer.from(JSON.stringify(signed.bundle));
    const r = await attachAttestation(image, { envelopes: bytes });
    expect(r.attached[0]).toMatchObject({
      bundle: true,
      scheme: 'referrers',
      predicateType: 'https://cyclonedx.org/bom',
    });
    const { attachments } = await listAttachments(registryFor(registry.host), 'att/bundle', digest);
    const b = attachments.find((a) => a.bundle)!;
    expect(b.kind).toBe('attestation');
    expect(Buffer.from(await b.layers[0]!.fetch())).toEqual(bytes);

    // In the tag scheme the same bundle becomes an .att layer carrying its envelope.
    const t = await attachBundle(image, { bundle: bytes, attach: 'tag' });
    expect(t.attached[0]).toMatchObject({ scheme: 'tag', kind: 'attestation' });
    const after = await listAttachments(registryFor(registry.host), 'att/bundle', digest);
    const att = after.attachments.find((a) => a.scheme === 'tag' && a.kind === 'attestation')!;
    expect(att.annotations[AttachAnnotation.PredicateType]).toBe('https://cyclonedx.org/bom');
    expect(Buffer.from(parseEnvelope(await att.layers[0]!.fetch()).payload).toString('base64')).toBe(
      signed.bundle.dsseEnvelope!.payload,
    );

    // A message-signature bundle (sign-blob) has no statement: cosign refuses it, so do we.
    const msg = await signBlob(new Uint8Array([1]), { signer: keySigner(privateKey) });
    await expect(attachBundle(image, { bundle: Buffer.from(JSON.stringify(msg.bundle)) })).rejects.toThrow(
      /no DSSE envelope/,
    );
  });
});

const legs = [
  { name: 'distribution 2.8 (fallback tag index)', via: 'fallback-tag', host: () => registry.host },
  { name: 'stand-in with the referrers API', via: 'api', host: () => apiRegistry.host },
] as const;

describe.each(legs)('attach, referrers scheme: $name', ({ via, host }) => {
  it('sbom, signature and attestation each become a referrer that discovery finds with its kind and bytes', async () => {
    const { image, digest } = await pushImage(host(), 'ref/app');
    const client = registryFor(host());
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });

    const sbom = await attachSbom(image, { sbom: SPDX, mediaType: 'text/spdx+json', attach: 'referrers' });
    expect(sbom.attached[0]).toMatchObject({ kind: 'sbom', scheme: 'referrers', via });
    const payload = simpleSigningPayload({ dockerReference: `${host()}/ref/app`, manifestDigest: digest });
    const signature = Buffer.from(signBytes(privateKey, payload)).toString('base64');
    const sig = await attachSignature(image, { payload, signature, attach: 'referrers' });
    const statement = statementFor(digest);
    const envelope = dsseEnvelope({
      payloadType: 'application/vnd.in-toto+json',
      payload: statement,
      signatures: [{ sig: signBytes(privateKey, pae('application/vnd.in-toto+json', statement)) }],
    });
    const att = await attachAttestation(image, { envelopes: envelope, attach: 'referrers' });

    const { attachments, referrersVia } = await listAttachments(client, 'ref/app', digest);
    expect(referrersVia).toBe(via === 'api' ? 'api' : 'tag');
    const byManifest = new Map(attachments.map((a) => [a.manifest.digest, a]));
    const s = byManifest.get(sbom.attached[0]!.manifest)!;
    expect(s).toMatchObject({ kind: 'sbom', scheme: 'referrers', artifactType: cosignArtifactType('sbom') });
    expect(Buffer.from(await s.layers[0]!.fetch())).toEqual(Buffer.from(SPDX));

    const g = byManifest.get(sig.attached[0]!.manifest)!;
    expect(g).toMatchObject({ kind: 'signature', artifactType: cosignArtifactType('sig') });
    expect(g.layers[0]!.annotations[AttachAnnotation.Signature]).toBe(signature);
    expect(verifyBytes(publicKey, await g.layers[0]!.fetch(), decodeBase64(signature, 'sig'))).toBe(true);

    const a = byManifest.get(att.attached[0]!.manifest)!;
    expect(a).toMatchObject({ kind: 'attestation', artifactType: 'application/vnd.in-toto+json', bundle: false });
    expect(parseStatement(parseEnvelope(await a.layers[0]!.fetch()).payload).subject[0]!.digest.sha256).toBe(
      digest.slice(7),
    );
    // Nothing went to the legacy tags.
    expect(attachments.filter((x) => x.scheme === 'tag')).toEqual([]);
  });
});
