import { createPublicKey, generateKeyPairSync, type KeyObject, sign, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  appendToTagImage,
  AttachAnnotation,
  AttachMediaType,
  buildSignatureImage,
  bundleReferrer,
  listAttachments,
  pushReferrer,
  readTagImage,
  signatureTag,
  type TagLayerInput,
} from '../../src/attach/index.ts';
import { goJson } from '../../src/attach/go-json.ts';
import { sha256 } from '../../src/oci/digest.ts';
import type { Descriptor } from '../../src/oci/manifest.ts';
import { MediaType } from '../../src/oci/media-types.ts';
import { Registry } from '../../src/oci/registry/client.ts';
import { referrersTag } from '../../src/oci/registry/referrers.ts';
import { startFaultProxy } from '../harness/fault-proxy.ts';
import { startReferrersRegistry } from '../harness/referrers-registry.ts';
import { startRegistry, type TestRegistry } from '../harness/registry.ts';
import { VECTORS_DIR } from '../helpers/vectors.ts';

const V = join(VECTORS_DIR, 'cosign');
const read = (...p: string[]) => new Uint8Array(readFileSync(join(V, ...p)));
const str = (...p: string[]) => readFileSync(join(V, ...p), 'utf8').trim();

const payload = read('legacy-sig-key-only', 'payload.json');
const cosignPub = createPublicKey(str('legacy-sig-key-only', 'cosign.pub'));
const bundleBytes = read('bundle-referrer-key-v3', 'bundle.sigstore.json');

function sigLayer(signatureB64: string): TagLayerInput {
  return {
    mediaType: AttachMediaType.SimpleSigning,
    bytes: payload,
    annotations: { [AttachAnnotation.Signature]: signatureB64 },
  };
}

/** cosign's dupe check, done for real: does the existing signature verify under the new signer's key? */
function signedBy(key: KeyObject) {
  return {
    isDuplicate: (existing: { annotations: Record<string, string> }, added: TagLayerInput) =>
      verify('sha256', added.bytes, key, Buffer.from(existing.annotations[AttachAnnotation.Signature] ?? '', 'base64')),
  };
}

/** A small real image to sign: an empty config and one layer, pushed by tag. */
async function pushSubject(registry: Registry, repo: string, content: string): Promise<Descriptor> {
  const blobs: [Descriptor, Uint8Array][] = [
    [{ mediaType: MediaType.OciEmpty, size: 2, digest: sha256('{}') }, new TextEncoder().encode('{}')],
    [
      { mediaType: 'text/plain', size: Buffer.byteLength(content), digest: sha256(content) },
      new TextEncoder().encode(content),
    ],
  ];
  for (const [d, b] of blobs) await registry.pushBlob(repo, d, async () => Readable.from([Buffer.from(b)]));
  const bytes = new TextEncoder().encode(
    goJson({ schemaVersion: 2, mediaType: MediaType.OciManifest, config: blobs[0]![0], layers: [blobs[1]![0]] }),
  );
  const digest = await registry.putManifest(repo, 'latest', bytes, MediaType.OciManifest);
  return { mediaType: MediaType.OciManifest, size: bytes.byteLength, digest };
}

describe('tag scheme on distribution 2.8', () => {
  let reg: TestRegistry;
  let registry: Registry;
  beforeAll(async () => {
    reg = await startRegistry();
    registry = new Registry(reg.host);
  });
  afterAll(async () => {
    await reg?.stop();
  });

  it('has no referrers API, so the fallback tag path is the one exercised here', async () => {
    const subject = await pushSubject(registry, 'probe/app', 'probe');
    expect((await registry.referrers('probe/app', subject.digest)).via).toBe('tag');
  });

  it('writes a .sig as cosign does, lists it, appends a second signer, and dedupes the same signer', async () => {
    const repo = 'sig/app';
    const subject = await pushSubject(registry, repo, 'signed');
    const tag = signatureTag(subject.digest);
    const first = await appendToTagImage(
      registry,
      repo,
      tag,
      [sigLayer(str('legacy-sig-key-only', 'signature.b64'))],
      signedBy(cosignPub),
    );
    expect(first.written).toBe(true);
    const stored = await registry.getManifest(repo, tag);
    expect(Buffer.from(stored.bytes).toString()).toBe(
      Buffer.from(
        buildSignatureImage([sigLayer(str('legacy-sig-key-only', 'signature.b64'))]).manifestBytes,
      ).toString(),
    );

    // Same key, another (valid) signature over the same payload: cosign keeps one layer.
    const again = await appendToTagImage(
      registry,
      repo,
      tag,
      [sigLayer(str('legacy-sig-key-only', 'second-signature.b64'))],
      signedBy(cosignPub),
    );
    expect(again).toMatchObject({ written: false, appended: [], digest: first.digest });
    expect(again.skipped).toHaveLength(1);

    // A second signer (fresh P-256 key) over the same payload digest: a second layer.
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const sig2 = () => sign('sha256', payload, privateKey).toString('base64');
    const second = await appendToTagImage(registry, repo, tag, [sigLayer(sig2())], signedBy(publicKey));
    expect(second.written).toBe(true);
    expect(second.layers).toHaveLength(2);
    expect(second.layers[0]!.digest).toBe(second.layers[1]!.digest);
    // That signer again (ECDSA: new signature bytes): still two.
    const third = await appendToTagImage(registry, repo, tag, [sigLayer(sig2())], signedBy(publicKey));
    expect(third.written).toBe(false);
    expect((await readTagImage(registry, repo, tag))!.layers).toHaveLength(2);

    const { attachments } = await listAttachments(registry, repo, subject.digest);
    expect(attachments).toHaveLength(2);
    for (const a of attachments) {
      expect(a).toMatchObject({ kind: 'signature', scheme: 'tag', tag, bundle: false });
      const bytes = await a.layers[0]!.fetch();
      expect(Buffer.from(bytes).equals(Buffer.from(payload))).toBe(true);
      expect(
        verify(
          'sha256',
          bytes,
          a === attachments[0] ? cosignPub : publicKey,
          Buffer.from(a.annotations[AttachAnnotation.Signature]!, 'base64'),
        ),
      ).toBe(true);
    }
  });

  it('reads a .sig image pushed with the vector bytes (cosign v3.0.4), and a Docker-typed .att', async () => {
    const repo = 'sig/vector';
    const subject = 'sha256:f20c43161d73848408ef247f0ec7111b19fe58ffebc0cbcaa0d2c8bda4967268';
    const blob = async (d: Descriptor, b: Uint8Array) =>
      registry.pushBlob(repo, d, async () => Readable.from([Buffer.from(b)]));
    const manifest = read('legacy-sig-manifest-v3', 'sig-manifest.json');
    const config = read('legacy-sig-manifest-v3', 'config.json');
    const p = read('legacy-sig-manifest-v3', 'payload.json');
    await blob({ mediaType: MediaType.OciConfig, size: config.byteLength, digest: sha256(config) }, config);
    await blob({ mediaType: AttachMediaType.SimpleSigning, size: p.byteLength, digest: sha256(p) }, p);
    await registry.putManifest(repo, signatureTag(subject), manifest, MediaType.OciManifest);

    const att = buildSignatureImage(
      [
        {
          mediaType: AttachMediaType.DsseEnvelope,
          bytes: new TextEncoder().encode('{"payloadType":"x"}'),
          annotations: { [AttachAnnotation.Signature]: '', predicateType: 'https://slsa.dev/provenance/v1' },
        },
      ],
      { dockerMediaTypes: true },
    );
    await blob(att.config, att.configBytes);
    await blob(att.layers[0]!, new TextEncoder().encode('{"payloadType":"x"}'));
    await registry.putManifest(repo, `sha256-${subject.slice(7)}.att`, att.manifestBytes, att.manifestMediaType);

    const { attachments } = await listAttachments(registry, repo, subject);
    expect(attachments.map((a) => [a.kind, a.scheme])).toEqual([
      ['signature', 'tag'],
      ['attestation', 'tag'],
    ]);
    expect(attachments[0]!.manifest.digest).toBe(sha256(manifest));
    expect(attachments[1]!.annotations.predicateType).toBe('https://slsa.dev/provenance/v1');
    const vectorPub = createPublicKey(str('legacy-sig-manifest-v3', 'cosign.pub'));
    const bytes = await attachments[0]!.layers[0]!.fetch();
    expect(
      verify(
        'sha256',
        bytes,
        vectorPub,
        Buffer.from(attachments[0]!.annotations[AttachAnnotation.Signature]!, 'base64'),
      ),
    ).toBe(true);
  });

  it('a failed blob upload leaves the tag as it was', async () => {
    const repo = 'sig/fail';
    const subject = await pushSubject(registry, repo, 'fail');
    const tag = signatureTag(subject.digest);
    const before = await appendToTagImage(registry, repo, tag, [sigLayer(str('legacy-sig-key-only', 'signature.b64'))]);
    let failing = true;
    // A throwing selector makes the proxy answer 500 without forwarding: the upload never lands.
    const proxy = await startFaultProxy(reg.url, {
      fault: (req) => {
        if (failing && req.method === 'PUT' && req.url?.includes('/blobs/uploads/'))
          throw new Error('injected upload failure');
        return false;
      },
    });
    try {
      const viaProxy = new Registry(proxy.host, { retry: { attempts: 1 } });
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      await expect(
        appendToTagImage(viaProxy, repo, tag, [sigLayer(sign('sha256', payload, privateKey).toString('base64'))]),
      ).rejects.toMatchObject({ status: 500 });
      // The upload was attempted and refused; no manifest PUT followed it.
      // (the refused PUT is recorded with the 500 the proxy answered in place of the registry)
      expect(proxy.exchanges().some((e) => e.method === 'POST' && e.url.includes('/blobs/uploads/'))).toBe(true);
      expect(proxy.exchanges().some((e) => e.method === 'PUT' && e.url.includes('/manifests/'))).toBe(false);
      const after = await registry.headManifest(repo, tag);
      expect(after?.digest).toBe(before.digest);
      expect((await readTagImage(registry, repo, tag))!.layers).toHaveLength(1);
      failing = false;
    } finally {
      await proxy.stop();
    }
  });
});

const LEGS = [
  { name: 'distribution 2.8 (no referrers API)', api: false, start: async () => startRegistry() },
  { name: 'stand-in with the referrers API', api: true, start: async () => startReferrersRegistry() },
  {
    name: 'stand-in without the referrers API',
    api: false,
    start: async () => startReferrersRegistry({ referrersApi: false }),
  },
] as const;

describe.each(LEGS)('referrers scheme: $name', ({ api, start }) => {
  let server: { host: string; stop(): Promise<void> };
  let registry: Registry;
  beforeAll(async () => {
    server = await start();
    registry = new Registry(server.host);
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('pushes bundle referrers, keeps the fallback index whole and idempotent, and discovers them', async () => {
    const repo = 'ref/app';
    const subject = await pushSubject(registry, repo, 'subject');
    const sig = bundleReferrer({
      subject,
      bundle: bundleBytes,
      predicateType: 'https://sigstore.dev/cosign/sign/v1',
      created: new Date('2026-08-12T20:53:28Z'),
    });
    // As cosign v3.0.x wrote it: an index entry whose artifactType is the empty config's.
    const first = await pushReferrer(registry, repo, sig, { fallbackEntry: 'ggcr-v0.20' });
    expect(first.via).toBe(api ? 'api' : 'tag');
    const fallback = referrersTag(subject.digest);
    if (api) {
      expect(await registry.headManifest(repo, fallback)).toBeUndefined();
    } else {
      expect(first.index?.changed).toBe(true);
      const again = await pushReferrer(registry, repo, sig, { fallbackEntry: 'ggcr-v0.20' });
      expect(again.index).toEqual({ digest: first.index!.digest, changed: false });
    }

    const att = bundleReferrer({
      subject,
      bundle: new TextEncoder().encode('{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"}'),
      predicateType: 'https://slsa.dev/provenance/v1',
      created: new Date('2026-08-13T00:00:00Z'),
    });
    const second = await pushReferrer(registry, repo, att);
    if (!api) {
      const index = JSON.parse(Buffer.from((await registry.getManifest(repo, fallback)).bytes).toString()) as {
        manifests: Descriptor[];
      };
      const digests = [first.manifest.digest, second.manifest.digest].sort();
      expect(index.manifests.map((m) => m.digest)).toEqual(digests);
      const old = index.manifests.find((m) => m.digest === first.manifest.digest)!;
      expect(old.artifactType).toBe(MediaType.OciEmpty);
      const added = index.manifests.find((m) => m.digest === second.manifest.digest)!;
      expect(added.artifactType).toBe(AttachMediaType.SigstoreBundleV03);
      expect(added.annotations?.['dev.sigstore.bundle.predicateType']).toBe('https://slsa.dev/provenance/v1');
    }

    const list = await listAttachments(registry, repo, subject.digest);
    expect(list.referrersVia).toBe(api ? 'api' : 'tag');
    const byDigest = new Map(list.attachments.map((a) => [a.manifest.digest, a]));
    expect(list.attachments).toHaveLength(2);
    expect(byDigest.get(first.manifest.digest)).toMatchObject({
      kind: 'signature',
      scheme: 'referrers',
      bundle: true,
      artifactType: AttachMediaType.SigstoreBundleV03,
    });
    expect(byDigest.get(second.manifest.digest)).toMatchObject({ kind: 'attestation', bundle: true });
    const fetched = await byDigest.get(first.manifest.digest)!.layers[0]!.fetch();
    expect(Buffer.from(fetched).equals(Buffer.from(bundleBytes))).toBe(true);
  });

  it.skipIf(api)('adds to an existing fallback index without losing its entries', async () => {
    const repo = 'ref/keep';
    const subject = await pushSubject(registry, repo, 'keep');
    // Another tool's referrer (oras-style, with annotations) already in the index.
    const other = await pushReferrer(registry, repo, {
      subject,
      artifactType: 'application/vnd.example.sbom',
      layers: [{ mediaType: 'application/spdx+json', bytes: new TextEncoder().encode('{"spdxVersion":"SPDX-2.3"}') }],
      annotations: { 'org.example': 'x' },
    });
    const withOther = (await registry.getManifest(repo, referrersTag(subject.digest))).bytes;
    const sig = await pushReferrer(
      registry,
      repo,
      bundleReferrer({
        subject,
        bundle: bundleBytes,
        predicateType: 'https://sigstore.dev/cosign/sign/v1',
        created: new Date(0),
      }),
    );
    const index = JSON.parse(
      Buffer.from((await registry.getManifest(repo, referrersTag(subject.digest))).bytes).toString(),
    ) as {
      manifests: Descriptor[];
    };
    expect(index.manifests).toHaveLength(2);
    const kept = (JSON.parse(Buffer.from(withOther).toString()) as { manifests: Descriptor[] }).manifests[0]!;
    expect(index.manifests.find((m) => m.digest === other.manifest.digest)).toEqual(kept);
    expect(sig.via).toBe('tag');
    const kinds = (await listAttachments(registry, repo, subject.digest)).attachments.map((a) => a.kind).sort();
    expect(kinds).toEqual(['sbom', 'signature']);
  });
});
