import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pushReferrer } from '../../src/attach/referrers.ts';
import { copyImage } from '../../src/oci/copy.ts';
import type { Digest } from '../../src/oci/digest.ts';
import { registryFor } from '../../src/oci/registry/client.ts';
import { openSource, openTarget } from '../../src/oci/source.ts';
import { keySigner } from '../../src/sign/signers/index.ts';
import { attestImage, signImage } from '../../src/workflows/sign-image.ts';
import { demoImageLayout } from '../harness/images.ts';
import { startReferrersRegistry, type ReferrersRegistry } from '../harness/referrers-registry.ts';
import { startRegistry, type TestRegistry } from '../harness/registry.ts';
import { runSigil } from '../helpers/cli.ts';

const BUNDLE = 'application/vnd.dev.sigstore.bundle.v0.3+json';
const REVIEW = 'application/vnd.example.review.v1+json';

let distribution: TestRegistry;
let withApi: ReferrersRegistry;

interface Setup {
  image: string;
  name: string;
  digest: Digest;
  sig: Digest;
  att: Digest;
  review: Digest;
  sigTagLayer: Digest;
}

async function setUp(host: string): Promise<Setup> {
  const repo = 'cli/tree';
  const image = `${host}/${repo}:1.0`;
  await copyImage(await openSource(`oci-dir:${await demoImageLayout()}:demo`), await openTarget(image));
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const base = { signer: keySigner(privateKey), witnesses: [] };
  const sig = (await signImage(image, { ...base, attach: 'referrers' })).signatures[0]!;
  const att = (
    await attestImage(image, {
      ...base,
      attach: 'referrers',
      predicateType: 'https://slsa.dev/provenance/v1',
      predicate: { buildDefinition: {} },
    })
  ).signatures[0]!;
  const sigT = (await signImage(image, { ...base, attach: 'tag' })).signatures[0]!;
  const client = registryFor(host);
  const review = await pushReferrer(client, repo, {
    subject: (await client.headManifest(repo, att.manifest))!,
    artifactType: REVIEW,
    layers: [{ mediaType: REVIEW, bytes: new TextEncoder().encode('{"ok":1}') }],
  });
  const sigManifest = await client.getManifest(repo, sigT.tag!);
  const layers = (JSON.parse(Buffer.from(sigManifest.bytes).toString()) as { layers: { digest: Digest }[] }).layers;
  return {
    image,
    name: `${host}/${repo}`,
    digest: sig.subject.digest,
    sig: sig.manifest,
    att: att.manifest,
    review: review.manifest.digest,
    sigTagLayer: layers[0]!.digest,
  };
}

let legs: Setup[];

beforeAll(async () => {
  [distribution, withApi] = await Promise.all([startRegistry(), startReferrersRegistry()]);
  legs = [await setUp(distribution.host), await setUp(withApi.host)];
}, 60_000);
afterAll(async () => {
  await Promise.all([distribution?.stop(), withApi?.stop()]);
});

describe('sigil tree', () => {
  for (const [i, leg] of ['fallback tag index', 'referrers API'].entries()) {
    it(`draws the full tree (${leg})`, async () => {
      const s = legs[i]!;
      const r = await runSigil(['tree', s.image]);
      expect(r.code, r.stderr).toBe(0);
      const attFirst = s.att < s.sig;
      const att = [
        `│   ${attFirst ? '├' : '└'}── ${s.att} (https://slsa.dev/provenance/v1)`,
        `│   ${attFirst ? '│' : ' '}   └── ${REVIEW}`,
        `│   ${attFirst ? '│' : ' '}       └── ${s.review}`,
      ];
      const sig = [`│   ${attFirst ? '└' : '├'}── ${s.sig} (https://sigstore.dev/cosign/sign/v1)`];
      expect(r.stdout).toBe(
        [
          `📦 Supply Chain Security Related artifacts for an image: ${s.image}`,
          `${s.name}@${s.digest}`,
          `├── ${BUNDLE}`,
          ...(attFirst ? [...att, ...sig] : [...sig, ...att]),
          `└── 🔐 Signatures for an image tag: ${s.name}:${s.digest.replace(':', '-')}.sig (1 layer)`,
          `    └── 🍒 ${s.sigTagLayer}`,
          '',
        ].join('\n'),
      );
    });
  }

  it('-o json nests referrers of referrers and lists the tags', async () => {
    const s = legs[1]!;
    const r = await runSigil(['tree', '-o', 'json', s.image]);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as {
      reference: string;
      referrersVia: string;
      truncated: boolean;
      referrers: { digest: string; kind: string; referrers: { digest: string; artifactType: string }[] }[];
      tags: { kind: string; tag: string; layers: { digest: string }[] }[];
    };
    expect(out).toMatchObject({ reference: `${s.name}@${s.digest}`, referrersVia: 'api', truncated: false });
    expect(out.referrers.map((x) => [x.digest, x.kind]).sort()).toEqual(
      [
        [s.sig, 'signature'],
        [s.att, 'attestation'],
      ].sort(),
    );
    expect(out.referrers.find((x) => x.digest === s.att)!.referrers).toEqual([
      expect.objectContaining({ digest: s.review, artifactType: REVIEW }),
    ]);
    expect(out.tags).toEqual([
      expect.objectContaining({
        kind: 'signature',
        tag: `${s.digest.replace(':', '-')}.sig`,
        layers: [expect.objectContaining({ digest: s.sigTagLayer })],
      }),
    ]);
  });

  it('--depth 1 leaves out the review and says the walk stopped', async () => {
    const s = legs[0]!;
    const r = await runSigil(['tree', '--depth', '1', s.image]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toContain(s.review);
    expect(r.stdout).toContain('more attachments not shown');
  });

  it('an unsigned image: the root alone and a note; a missing one: exit 4', async () => {
    const image = `${distribution.host}/cli/bare:1`;
    await copyImage(await openSource(`oci-dir:${await demoImageLayout()}:demo`), await openTarget(image));
    const r = await runSigil(['tree', image]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('No referrers and no .sig/.att/.sbom tags found');
    const missing = await runSigil(['tree', `${distribution.host}/cli/bare:nope`]);
    expect(missing.code).toBe(4);
  });
});

describe('sigil triangulate', () => {
  it('prints the .sig/.att/.sbom tags and the digest reference of the resolved tag', async () => {
    const s = legs[0]!;
    const hex = s.digest.slice('sha256:'.length);
    const want = {
      signature: `${s.name}:sha256-${hex}.sig`,
      attestation: `${s.name}:sha256-${hex}.att`,
      sbom: `${s.name}:sha256-${hex}.sbom`,
      digest: `${s.name}@${s.digest}`,
    };
    const plain = await runSigil(['triangulate', s.image]);
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stdout).toBe(`${want.signature}\n`);
    for (const [type, line] of Object.entries(want)) {
      const r = await runSigil(['triangulate', '--type', type, s.image]);
      expect(r.stdout, type).toBe(`${line}\n`);
    }
    const j = await runSigil(['triangulate', '-o', 'json', '--type', 'attestation', s.image]);
    expect(JSON.parse(j.stdout)).toEqual({ type: 'attestation', reference: want.attestation, digest: s.digest });
    const bad = await runSigil(['triangulate', '--type', 'nope', s.image]);
    expect(bad.code).toBe(2);
  });
});
