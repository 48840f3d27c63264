import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pushReferrer } from '../../src/attach/referrers.ts';
import { appendToTagImage } from '../../src/attach/tag-image.ts';
import { discoverTree, renderTree, treeJson, walkTree } from '../../src/attach/tree.ts';
import { copyImage } from '../../src/oci/copy.ts';
import type { Digest } from '../../src/oci/digest.ts';
import { MediaType } from '../../src/oci/media-types.ts';
import { registryFor } from '../../src/oci/registry/client.ts';
import { openSource, openTarget } from '../../src/oci/source.ts';
import { keySigner } from '../../src/sign/signers/index.ts';
import { attestImage, signImage } from '../../src/workflows/sign-image.ts';
import { demoImageLayout } from '../harness/images.ts';
import { startReferrersRegistry, type ReferrersRegistry } from '../harness/referrers-registry.ts';
import { startRegistry, type TestRegistry } from '../harness/registry.ts';

const BUNDLE = 'application/vnd.dev.sigstore.bundle.v0.3+json';
const REVIEW = 'application/vnd.example.review.v1+json';
const SIGN_PT = 'https://sigstore.dev/cosign/sign/v1';
const SPDX_PT = 'https://spdx.dev/Document';
const SLSA_PT = 'https://slsa.dev/provenance/v1';

let distribution: TestRegistry;
let withApi: ReferrersRegistry;

interface Signed {
  host: string;
  repo: string;
  image: string;
  digest: Digest;
  sigBundle: Digest;
  attBundle: Digest;
  review: Digest;
  sigTag: { digest: Digest; layer: Digest };
  attTag: { digest: Digest; layer: Digest };
}

/** Signs and attests `image` in both schemes, then attaches a review to the signature referrer. */
async function signEverything(host: string, repo: string): Promise<Signed> {
  const image = `${host}/${repo}:1.0`;
  await copyImage(await openSource(`oci-dir:${await demoImageLayout()}:demo`), await openTarget(image));
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const base = { signer: keySigner(privateKey), publicKey, witnesses: [] };
  const sig = (await signImage(image, { ...base, attach: 'referrers' })).signatures[0]!;
  const att = (
    await attestImage(image, { ...base, attach: 'referrers', predicateType: SPDX_PT, predicate: { spdxVersion: 'x' } })
  ).signatures[0]!;
  const sigT = (await signImage(image, { ...base, attach: 'tag' })).signatures[0]!;
  const attT = (
    await attestImage(image, { ...base, attach: 'tag', predicateType: SLSA_PT, predicate: { buildDefinition: {} } })
  ).signatures[0]!;
  const client = registryFor(host);
  const sigDesc = (await client.headManifest(repo, sig.manifest))!;
  const review = await pushReferrer(client, repo, {
    subject: sigDesc,
    artifactType: REVIEW,
    layers: [{ mediaType: REVIEW, bytes: new TextEncoder().encode('{"approved":true}') }],
  });
  const layerOf = async (tag: string) => {
    const m = await client.getManifest(repo, tag);
    return (JSON.parse(Buffer.from(m.bytes).toString()) as { layers: { digest: Digest }[] }).layers[0]!.digest;
  };
  return {
    host,
    repo,
    image,
    digest: sig.subject.digest,
    sigBundle: sig.manifest,
    attBundle: att.manifest,
    review: review.manifest.digest,
    sigTag: { digest: sigT.manifest, layer: await layerOf(sigT.tag!) },
    attTag: { digest: attT.manifest, layer: await layerOf(attT.tag!) },
  };
}

function expectedText(s: Signed): string {
  const name = `${s.host}/${s.repo}`;
  const hex = s.digest.slice('sha256:'.length);
  const sig = [
    `│   ${s.sigBundle < s.attBundle ? '├' : '└'}── ${s.sigBundle} (${SIGN_PT})`,
    `│   ${s.sigBundle < s.attBundle ? '│' : ' '}   └── ${REVIEW}`,
    `│   ${s.sigBundle < s.attBundle ? '│' : ' '}       └── ${s.review}`,
  ];
  const att = [`│   ${s.attBundle < s.sigBundle ? '├' : '└'}── ${s.attBundle} (${SPDX_PT})`];
  return [
    `📦 Supply Chain Security Related artifacts for an image: ${s.image}`,
    `${name}@${s.digest}`,
    `├── ${BUNDLE}`,
    ...(s.sigBundle < s.attBundle ? [...sig, ...att] : [...att, ...sig]),
    `├── 🔐 Signatures for an image tag: ${name}:sha256-${hex}.sig (1 layer)`,
    `│   └── 🍒 ${s.sigTag.layer}`,
    `└── 💾 Attestations for an image tag: ${name}:sha256-${hex}.att (1 layer)`,
    `    └── 🍒 ${s.attTag.layer}`,
    '',
  ].join('\n');
}

let legs: { name: string; via: 'api' | 'tag'; signed: Signed }[];

beforeAll(async () => {
  [distribution, withApi] = await Promise.all([startRegistry(), startReferrersRegistry()]);
  legs = [
    {
      name: 'distribution 2.8 (fallback tag index)',
      via: 'tag',
      signed: await signEverything(distribution.host, 'tree/app'),
    },
    { name: 'referrers API', via: 'api', signed: await signEverything(withApi.host, 'tree/app') },
  ];
}, 60_000);
afterAll(async () => {
  await Promise.all([distribution?.stop(), withApi?.stop()]);
});

describe('discoverTree', () => {
  for (const i of [0, 1]) {
    it(`draws referrers of referrers and the legacy tags (leg ${i === 0 ? 'fallback' : 'API'})`, async () => {
      const { signed: s, via } = legs[i]!;
      const client = registryFor(s.host);
      const subject = (await client.headManifest(s.repo, s.digest))!;
      const tree = await discoverTree(client, s.repo, subject);
      expect(tree.referrersVia).toBe(via);
      expect(tree.truncated).toBe(false);
      expect(renderTree(tree, { repositoryName: `${s.host}/${s.repo}`, reference: s.image })).toBe(expectedText(s));

      const json = treeJson(tree, `${s.host}/${s.repo}`);
      expect(json).toMatchObject({ reference: `${s.host}/${s.repo}@${s.digest}`, digest: s.digest, referrersVia: via });
      const sigNode = json.referrers.find((r) => r.digest === s.sigBundle)!;
      expect(sigNode).toMatchObject({ kind: 'signature', bundle: true, predicateType: SIGN_PT, artifactType: BUNDLE });
      expect(sigNode.referrers).toEqual([
        expect.objectContaining({ digest: s.review, artifactType: REVIEW, kind: 'other', referrers: [], tags: [] }),
      ]);
      expect(json.referrers.find((r) => r.digest === s.attBundle)).toMatchObject({
        kind: 'attestation',
        predicateType: SPDX_PT,
        referrers: [],
      });
      expect(json.tags.map((t) => [t.kind, t.reference, t.digest, t.layers.map((l) => l.digest)])).toEqual([
        ['signature', `${s.host}/${s.repo}:${s.digest.replace(':', '-')}.sig`, s.sigTag.digest, [s.sigTag.layer]],
        ['attestation', `${s.host}/${s.repo}:${s.digest.replace(':', '-')}.att`, s.attTag.digest, [s.attTag.layer]],
      ]);
      expect(json.tags[1]!.layers[0]!.annotations).toMatchObject({ predicateType: SLSA_PT });
      expect([...walkTree(tree)].map((n) => n.depth).sort()).toEqual([1, 1, 1, 1, 2]);
    });
  }

  it('stops at maxDepth and says so', async () => {
    const s = legs[0]!.signed;
    const client = registryFor(s.host);
    const tree = await discoverTree(client, s.repo, (await client.headManifest(s.repo, s.digest))!, { maxDepth: 1 });
    expect(tree.truncated).toBe(true);
    expect(tree.referrers.flatMap((r) => r.referrers)).toEqual([]);
    expect(renderTree(tree, { repositoryName: 'x', reference: 'x' })).toContain('more attachments not shown');
  });

  it('stops at maxNodes', async () => {
    const s = legs[1]!.signed;
    const client = registryFor(s.host);
    const tree = await discoverTree(client, s.repo, (await client.headManifest(s.repo, s.digest))!, { maxNodes: 2 });
    expect(tree.truncated).toBe(true);
    expect([...walkTree(tree)]).toHaveLength(2);
  });

  it('expands a digest once: a cycle of .sig tags ends', async () => {
    const client = registryFor(distribution.host);
    const repo = 'tree/cycle';
    await copyImage(
      await openSource(`oci-dir:${await demoImageLayout()}:demo`),
      await openTarget(`${distribution.host}/${repo}:1`),
    );
    const p = (await client.headManifest(repo, '1'))!;
    const layer = (text: string) => [
      {
        mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json',
        bytes: new TextEncoder().encode(text),
        annotations: { 'dev.cosignproject.cosign/signature': 'c2ln' },
      },
    ];
    const s1 = await appendToTagImage(client, repo, `${p.digest.replace(':', '-')}.sig`, layer('one'));
    const s2 = await appendToTagImage(client, repo, `${s1.digest.replace(':', '-')}.sig`, layer('two'));
    // S1's bytes also under S2's .sig tag: S1 → S2 → S1.
    const s1Bytes = await client.getManifest(repo, s1.digest);
    await client.putManifest(repo, `${s2.digest.replace(':', '-')}.sig`, s1Bytes.bytes, MediaType.OciManifest);
    const tree = await discoverTree(client, repo, p);
    const nodes = [...walkTree(tree)];
    expect(nodes.map((n) => ['manifest' in n.node ? n.node.manifest.digest : '', n.depth])).toEqual([
      [s1.digest, 1],
      [s2.digest, 2],
      [s1.digest, 3],
    ]);
    expect(tree.truncated).toBe(false);
  });

  it('rejects a zero depth', async () => {
    const s = legs[0]!.signed;
    const client = registryFor(s.host);
    await expect(
      discoverTree(client, s.repo, (await client.headManifest(s.repo, s.digest))!, { maxDepth: 0 }),
    ).rejects.toMatchObject({ code: 'INVALID_OPTIONS' });
  });
});
