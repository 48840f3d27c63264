import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attestationManifestsOf, listBuildkitAttestations } from '../../src/attach/buildkit.ts';
import { copyImage } from '../../src/oci/copy.ts';
import { type Digest, sha256 } from '../../src/oci/digest.ts';
import type { Descriptor, ImageIndex } from '../../src/oci/manifest.ts';
import { MediaType } from '../../src/oci/media-types.ts';
import { type Registry, registryFor } from '../../src/oci/registry/client.ts';
import { openSource, openTarget } from '../../src/oci/source.ts';
import { parseStatement } from '../../src/sign/payloads/in-toto.ts';
import { demoImageLayout } from '../harness/images.ts';
import { startRegistry, type TestRegistry } from '../harness/registry.ts';

let registry: TestRegistry;
const REPO = 'buildkit/app';

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

/**
 * What `docker buildx build --sbom=true --provenance=mode=max --push` leaves in the registry
 * (buildkit docs/attestations/attestation-storage.md): the image index lists the platform image
 * and an attestation manifest for it (platform unknown/unknown, vnd.docker.reference.* annotations)
 * whose layers are unsigned in-toto statements, one SPDX SBOM and one SLSA provenance.
 */
async function pushBuildkitIndex(client: Registry, image: Descriptor, tag: string) {
  const subject = [
    { name: `pkg:docker/${REPO}@1.0?platform=linux%2Famd64`, digest: { sha256: image.digest.slice(7) } },
  ];
  const spdx = json({
    _type: 'https://in-toto.io/Statement/v0.1',
    predicateType: 'https://spdx.dev/Document',
    subject,
    predicate: {
      spdxVersion: 'SPDX-2.3',
      SPDXID: 'SPDXRef-DOCUMENT',
      name: 'sbom',
      packages: [{ name: 'base-files' }],
    },
  });
  const slsa = json({
    _type: 'https://in-toto.io/Statement/v0.1',
    predicateType: 'https://slsa.dev/provenance/v0.2',
    subject,
    predicate: { builder: { id: '' }, buildType: 'https://mobyproject.org/buildkit@v1' },
  });
  const spdxLayer = await pushBlob(client, 'application/vnd.in-toto+json', spdx, {
    'in-toto.io/predicate-type': 'https://spdx.dev/Document',
  });
  const slsaLayer = await pushBlob(client, 'application/vnd.in-toto+json', slsa, {
    'in-toto.io/predicate-type': 'https://slsa.dev/provenance/v0.2',
  });
  const config = await pushBlob(
    client,
    MediaType.OciConfig,
    json({
      architecture: 'unknown',
      os: 'unknown',
      config: {},
      rootfs: { type: 'layers', diff_ids: [spdxLayer.digest, slsaLayer.digest] },
    }),
  );
  const attBytes = json({ schemaVersion: 2, mediaType: MediaType.OciManifest, config, layers: [spdxLayer, slsaLayer] });
  const attDigest = sha256(attBytes);
  await client.putManifest(REPO, attDigest, attBytes, MediaType.OciManifest);
  const index: ImageIndex = {
    schemaVersion: 2,
    mediaType: MediaType.OciIndex,
    manifests: [
      { ...image, platform: { architecture: 'amd64', os: 'linux' } },
      {
        mediaType: MediaType.OciManifest,
        digest: attDigest,
        size: attBytes.byteLength,
        annotations: {
          'vnd.docker.reference.digest': image.digest,
          'vnd.docker.reference.type': 'attestation-manifest',
        },
        platform: { architecture: 'unknown', os: 'unknown' },
      },
    ],
  };
  const indexBytes = json(index);
  await client.putManifest(REPO, tag, indexBytes, MediaType.OciIndex);
  return { index, indexDigest: sha256(indexBytes), attDigest, spdxLayer, slsaLayer };
}

let built: Awaited<ReturnType<typeof pushBuildkitIndex>>;
let image: Descriptor;

beforeAll(async () => {
  registry = await startRegistry();
  await copyImage(
    await openSource(`oci-dir:${await demoImageLayout()}:demo`),
    await openTarget(`${registry.host}/${REPO}:plain`),
  );
  const client = registryFor(registry.host);
  image = (await client.headManifest(REPO, 'plain'))!;
  built = await pushBuildkitIndex(client, image, '1.0');
}, 60_000);
afterAll(async () => {
  await registry?.stop();
});

describe('BuildKit attestation manifests', () => {
  it('picks the attestation manifests out of an index, by subject when asked', () => {
    expect(attestationManifestsOf(built.index).map((d) => d.digest)).toEqual([built.attDigest]);
    expect(attestationManifestsOf(built.index, image.digest)).toHaveLength(1);
    expect(attestationManifestsOf(built.index, `sha256:${'0'.repeat(64)}`)).toEqual([]);
  });

  it('lists the SPDX and SLSA statements with their predicate types and digest-checked bytes', async () => {
    const client = registryFor(registry.host);
    const found = await listBuildkitAttestations(client, REPO, built.indexDigest);
    expect(found.map((f) => [f.predicateType, f.subject, f.manifest.digest, f.layer.digest])).toEqual([
      ['https://spdx.dev/Document', image.digest, built.attDigest, built.spdxLayer.digest],
      ['https://slsa.dev/provenance/v0.2', image.digest, built.attDigest, built.slsaLayer.digest],
    ]);
    const spdx = parseStatement(await found[0]!.fetch());
    expect(spdx.predicate).toMatchObject({ spdxVersion: 'SPDX-2.3', packages: [{ name: 'base-files' }] });
    expect(spdx.subject[0]!.digest.sha256).toBe(image.digest.slice(7));
    expect(parseStatement(await found[1]!.fetch()).predicateType).toBe('https://slsa.dev/provenance/v0.2');
  });

  it('only those about the subject asked for; none for a plain image', async () => {
    const client = registryFor(registry.host);
    const other = `sha256:${'1'.repeat(64)}` as Digest;
    expect(await listBuildkitAttestations(client, REPO, built.indexDigest, { subject: other })).toEqual([]);
    expect(await listBuildkitAttestations(client, REPO, built.indexDigest, { subject: image.digest })).toHaveLength(2);
    expect(await listBuildkitAttestations(client, REPO, image.digest)).toEqual([]);
  });
});
