import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pushReferrer } from '../../src/attach/referrers.ts';
import { appendToTagImage } from '../../src/attach/tag-image.ts';
import { sbomTag } from '../../src/attach/tags.ts';
import { copyImage } from '../../src/oci/copy.ts';
import { type Digest, sha256 } from '../../src/oci/digest.ts';
import type { Descriptor } from '../../src/oci/manifest.ts';
import { MediaType } from '../../src/oci/media-types.ts';
import { type Registry, registryFor } from '../../src/oci/registry/client.ts';
import { openSource, openTarget } from '../../src/oci/source.ts';
import { pae } from '../../src/sign/payloads/dsse.ts';
import { verifyBytes } from '../../src/sign/raw-signature.ts';
import { keySigner } from '../../src/sign/signers/index.ts';
import { attestImage, signImage } from '../../src/workflows/sign-image.ts';
import { demoImageLayout } from '../harness/images.ts';
import { startRegistry, type TestRegistry } from '../harness/registry.ts';
import { runSigil } from '../helpers/cli.ts';

const REPO = 'cli/dl';
const SBOM_BYTES = '{"spdxVersion":"SPDX-2.3","name":"attached-by-tag"}\n';
const BK_PREDICATE = { spdxVersion: 'SPDX-2.3', SPDXID: 'SPDXRef-DOCUMENT', name: 'buildkit-sbom' };

let registry: TestRegistry;
let publicKey: KeyObject;
let signed: string; // signed and attested in both schemes, with a .sbom tag
let buildkit: string; // a BuildKit index: image + attestation manifest
let referred: string; // an image with an SBOM referrer
let bare: string;
let digest: Digest;

const json = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));

async function pushBlob(client: Registry, mediaType: string, bytes: Uint8Array, annotations?: Record<string, string>) {
  const d: Descriptor = {
    mediaType,
    digest: sha256(bytes),
    size: bytes.byteLength,
    ...(annotations ? { annotations } : {}),
  };
  await client.pushBlob(REPO, d, async () => Readable.from([Buffer.from(bytes)]));
  return d;
}

/** As `docker buildx build --sbom=true --provenance=true --push` stores attestations (see test/attach/buildkit.test.ts). */
async function pushBuildkitIndex(client: Registry, image: Descriptor, tag: string): Promise<void> {
  const subject = [{ name: `pkg:docker/${REPO}@bk`, digest: { sha256: image.digest.slice(7) } }];
  const statement = (predicateType: string, predicate: unknown) =>
    json({ _type: 'https://in-toto.io/Statement/v0.1', predicateType, subject, predicate });
  const layers = [
    await pushBlob(client, 'application/vnd.in-toto+json', statement('https://spdx.dev/Document', BK_PREDICATE), {
      'in-toto.io/predicate-type': 'https://spdx.dev/Document',
    }),
    await pushBlob(
      client,
      'application/vnd.in-toto+json',
      statement('https://slsa.dev/provenance/v0.2', { buildType: 'https://mobyproject.org/buildkit@v1' }),
      { 'in-toto.io/predicate-type': 'https://slsa.dev/provenance/v0.2' },
    ),
  ];
  const config = await pushBlob(
    client,
    MediaType.OciConfig,
    json({
      architecture: 'unknown',
      os: 'unknown',
      config: {},
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) },
    }),
  );
  const att = json({ schemaVersion: 2, mediaType: MediaType.OciManifest, config, layers });
  await client.putManifest(REPO, sha256(att), att, MediaType.OciManifest);
  const index = json({
    schemaVersion: 2,
    mediaType: MediaType.OciIndex,
    manifests: [
      { ...image, platform: { architecture: 'amd64', os: 'linux' } },
      {
        mediaType: MediaType.OciManifest,
        digest: sha256(att),
        size: att.byteLength,
        annotations: {
          'vnd.docker.reference.digest': image.digest,
          'vnd.docker.reference.type': 'attestation-manifest',
        },
        platform: { architecture: 'unknown', os: 'unknown' },
      },
    ],
  });
  await client.putManifest(REPO, tag, index, MediaType.OciIndex);
}

beforeAll(async () => {
  registry = await startRegistry();
  const client = registryFor(registry.host);
  const layout = await demoImageLayout();
  signed = `${registry.host}/${REPO}:signed`;
  buildkit = `${registry.host}/${REPO}:bk`;
  referred = `${registry.host}/other/app:1`;
  bare = `${registry.host}/bare/app:1`;
  for (const ref of [signed, referred, bare])
    await copyImage(await openSource(`oci-dir:${layout}:demo`), await openTarget(ref));
  const keys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  publicKey = keys.publicKey;
  const base = { signer: keySigner(keys.privateKey), publicKey, witnesses: [] };
  digest = (await signImage(signed, { ...base, attach: 'referrers' })).digest;
  await signImage(signed, { ...base, attach: 'tag' });
  await attestImage(signed, {
    ...base,
    attach: 'referrers',
    predicateType: 'https://spdx.dev/Document',
    predicate: { spdxVersion: 'SPDX-2.3' },
  });
  await attestImage(signed, {
    ...base,
    attach: 'tag',
    predicateType: 'https://slsa.dev/provenance/v1',
    predicate: { buildDefinition: {} },
  });
  await appendToTagImage(client, REPO, sbomTag(digest), [
    { mediaType: 'text/spdx+json', bytes: new TextEncoder().encode(SBOM_BYTES) },
  ]);
  // The BuildKit index lists the same platform image the other tags name.
  await pushBuildkitIndex(client, (await client.headManifest(REPO, 'signed'))!, 'bk');
  const other = (await client.headManifest('other/app', '1'))!;
  await pushReferrer(client, 'other/app', {
    subject: other,
    artifactType: 'application/spdx+json',
    layers: [{ mediaType: 'application/spdx+json', bytes: new TextEncoder().encode('{"name":"by-referrer"}') }],
  });
}, 60_000);
afterAll(async () => {
  await registry?.stop();
});

const lines = (stdout: string) =>
  stdout
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
const statementOf = (line: Record<string, unknown>) =>
  JSON.parse(Buffer.from(line.payload as string, 'base64').toString('utf8')) as {
    predicateType: string;
    predicate?: unknown;
  };

describe('sigil download signature', () => {
  it("prints the .sig layers as cosign's SignedPayload and the signature bundle, one JSON a line", async () => {
    const r = await runSigil(['download', 'signature', signed]);
    expect(r.code, r.stderr).toBe(0);
    const out = lines(r.stdout);
    expect(out).toHaveLength(2);
    const bundle = out.find((o) => 'dsseEnvelope' in o)!;
    expect(bundle.mediaType).toBe('application/vnd.dev.sigstore.bundle.v0.3+json');
    const legacy = out.find((o) => 'Base64Signature' in o)!;
    expect(Object.keys(legacy)).toEqual(['Base64Signature', 'Payload', 'Cert', 'Chain', 'Bundle', 'RFC3161Timestamp']);
    expect(legacy).toMatchObject({ Cert: null, Chain: null, Bundle: null, RFC3161Timestamp: null });
    const payload = Buffer.from(legacy.Payload as string, 'base64');
    expect(JSON.parse(payload.toString())).toMatchObject({ critical: { image: { 'docker-manifest-digest': digest } } });
    expect(verifyBytes(publicKey, payload, Buffer.from(legacy.Base64Signature as string, 'base64'))).toBe(true);

    const j = await runSigil(['download', 'signature', '-o', 'json', signed]);
    expect(JSON.parse(j.stdout)).toEqual(out);
  });

  it('exit 4 naming what was looked for when the image is unsigned', async () => {
    const r = await runSigil(['download', 'signature', bare]);
    expect(r.code).toBe(4);
    expect(r.stderr).toContain('no signatures for');
    expect(r.stderr).toContain('looked for .sig tag layers and signature bundle referrers');
    expect(r.stdout).toBe('');
  });
});

describe('sigil download attestation', () => {
  it('prints the DSSE envelopes of the .att layer and the bundle referrer; signatures verify', async () => {
    const r = await runSigil(['download', 'attestation', signed]);
    expect(r.code, r.stderr).toBe(0);
    const out = lines(r.stdout);
    expect(out.map((o) => Object.keys(o))).toEqual([
      ['payloadType', 'payload', 'signatures'],
      ['payloadType', 'payload', 'signatures'],
    ]);
    expect(out.map((o) => statementOf(o).predicateType).sort()).toEqual([
      'https://slsa.dev/provenance/v1',
      'https://spdx.dev/Document',
    ]);
    for (const o of out) {
      const sig = (o.signatures as { sig: string }[])[0]!.sig;
      const ok = verifyBytes(
        publicKey,
        pae(o.payloadType as string, Buffer.from(o.payload as string, 'base64')),
        Buffer.from(sig, 'base64'),
      );
      expect(ok).toBe(true);
    }
  });

  it('--predicate-type filters (shorthands as cosign), and exit 4 when nothing matches', async () => {
    const slsa = await runSigil(['download', 'attestation', '--predicate-type', 'slsaprovenance1', signed]);
    expect(slsa.code, slsa.stderr).toBe(0);
    expect(lines(slsa.stdout).map((o) => statementOf(o).predicateType)).toEqual(['https://slsa.dev/provenance/v1']);
    const none = await runSigil(['download', 'attestation', '--predicate-type', 'vuln', signed]);
    expect(none.code).toBe(4);
    expect(none.stderr).toContain(
      "no attestations with predicate type 'https://cosign.sigstore.dev/attestation/vuln/v1'",
    );
  });

  it("reads BuildKit's attestation manifest in the index: SPDX and SLSA statements, unsigned", async () => {
    const r = await runSigil(['download', 'attestation', buildkit]);
    expect(r.code, r.stderr).toBe(0);
    const out = lines(r.stdout);
    expect(out.map((o) => [o.payloadType, o.signatures, statementOf(o).predicateType])).toEqual([
      ['application/vnd.in-toto+json', [], 'https://spdx.dev/Document'],
      ['application/vnd.in-toto+json', [], 'https://slsa.dev/provenance/v0.2'],
    ]);
    // --platform picks the image: its legacy and bundle attestations join BuildKit's.
    const amd = await runSigil(['download', 'attestation', '--platform', 'linux/amd64', buildkit]);
    expect(amd.code, amd.stderr).toBe(0);
    expect(lines(amd.stdout)).toHaveLength(4);
    const prov = await runSigil(['download', 'attestation', '--predicate-type', 'slsaprovenance', buildkit]);
    expect(lines(prov.stdout).map((o) => statementOf(o).predicateType)).toEqual(['https://slsa.dev/provenance/v0.2']);
    const arm = await runSigil(['download', 'attestation', '--platform', 'linux/arm64', buildkit]);
    expect(arm.code).toBe(4);
  });
});

describe('sigil download sbom', () => {
  it('prints the .sbom layer as stored', async () => {
    const r = await runSigil(['download', 'sbom', signed]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(SBOM_BYTES);
    expect(r.stderr).toContain('Found SBOM of media type: text/spdx+json');
  });

  it('an SBOM referrer', async () => {
    const r = await runSigil(['download', 'sbom', referred]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('{"name":"by-referrer"}');
  });

  it("BuildKit's SPDX attestation: the predicate; -o json wraps it", async () => {
    const r = await runSigil(['download', 'sbom', buildkit]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(BK_PREDICATE);
    const j = await runSigil(['download', 'sbom', '-o', 'json', buildkit]);
    expect(JSON.parse(j.stdout)).toMatchObject({ mediaType: 'application/spdx+json', sbom: BK_PREDICATE });
  });

  it('exit 4 when there is none; usage errors for flags of other kinds', async () => {
    const r = await runSigil(['download', 'sbom', bare]);
    expect(r.code).toBe(4);
    expect(r.stderr).toContain('looked for a .sbom tag, SBOM referrers and BuildKit SPDX attestations');
    const bad = await runSigil(['download', 'sbom', '--predicate-type', 'spdx', bare]);
    expect(bad.code).toBe(2);
  });
});
