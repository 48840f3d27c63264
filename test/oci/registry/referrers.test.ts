import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Descriptor } from '../../../src/oci/manifest.ts';
import { MediaType } from '../../../src/oci/media-types.ts';
import { Registry } from '../../../src/oci/registry/client.ts';
import { referrersTag } from '../../../src/oci/registry/referrers.ts';
import { startReferrersRegistry } from '../../harness/referrers-registry.ts';
import { startRegistry } from '../../harness/registry.ts';

function desc(bytes: Uint8Array, mediaType: string, extra: Partial<Descriptor> = {}): Descriptor {
  return {
    mediaType,
    digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}`,
    size: bytes.length,
    ...extra,
  };
}

const json = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));

const SBOM = 'application/vnd.example.sbom+json';
const SIG = 'application/vnd.example.signature';

describe.each([
  { name: 'referrers stand-in (API)', via: 'api', start: () => startReferrersRegistry() },
  { name: 'distribution 2.8 (fallback tag index)', via: 'tag', start: () => startRegistry() },
] as const)('referrers against $name', ({ via, start }) => {
  let stop: () => Promise<void>;
  let client: Registry;
  let subject: Descriptor;
  const referrers: Descriptor[] = [];

  beforeAll(async () => {
    const r = await start();
    stop = r.stop;
    client = new Registry(r.host);
    const empty = json({});
    const emptyDesc = desc(empty, MediaType.OciEmpty);
    const layer = Buffer.from('subject layer');
    const config = json({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } });
    for (const b of [empty, layer, config]) {
      await client.pushBlob('ref/app', desc(b, 'x'), async () => Readable.from([b]));
    }
    const subjectBytes = json({
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      config: desc(config, MediaType.OciConfig),
      layers: [desc(layer, MediaType.OciLayer)],
    });
    await client.putManifest('ref/app', 'v1', subjectBytes, MediaType.OciManifest);
    subject = desc(subjectBytes, MediaType.OciManifest);

    for (const [artifactType, note] of [
      [SBOM, 'sbom'],
      [SIG, 'sig'],
      [SBOM, 'sbom-2'],
    ] as const) {
      const bytes = json({
        schemaVersion: 2,
        mediaType: MediaType.OciManifest,
        artifactType,
        config: emptyDesc,
        layers: [emptyDesc],
        subject,
        annotations: { note },
      });
      const digest = await client.putManifest('ref/app', desc(bytes, '').digest, bytes, MediaType.OciManifest);
      referrers.push({
        mediaType: MediaType.OciManifest,
        digest,
        size: bytes.length,
        artifactType,
        annotations: { note },
      });
    }
    if (via === 'tag') {
      // What a pusher maintains on a registry without the API (image spec v1.1, "Referrers Tag Schema").
      const index = json({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: referrers });
      await client.putManifest('ref/app', referrersTag(subject.digest), index, MediaType.OciIndex);
    }
  }, 20_000);
  afterAll(async () => {
    await stop?.();
  });

  const digests = (ds: Descriptor[]) => ds.map((d) => d.digest).sort();

  it('lists every referrer of the subject', async () => {
    const got = await client.referrers('ref/app', subject.digest);
    expect(got.via).toBe(via);
    expect(digests(got.descriptors)).toEqual(digests(referrers));
    for (const d of got.descriptors) expect(d.artifactType).toMatch(/^application\/vnd\.example\./);
  });

  it('filters by artifactType', async () => {
    const got = await client.referrers('ref/app', subject.digest, { artifactType: SBOM });
    expect(got.via).toBe(via);
    expect(digests(got.descriptors)).toEqual(digests(referrers.filter((d) => d.artifactType === SBOM)));
    expect(
      (await client.referrers('ref/app', subject.digest, { artifactType: 'application/none' })).descriptors,
    ).toEqual([]);
  });

  it('a subject without referrers has an empty list', async () => {
    const other = `sha256:${'0'.repeat(64)}`;
    expect(await client.referrers('ref/app', other)).toEqual({ descriptors: [], via });
  });
});

describe('tag pagination', () => {
  it('follows Link rel="next" with the page size asked for', async () => {
    const r = await startReferrersRegistry();
    try {
      const client = new Registry(r.host);
      const config = json({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } });
      await client.pushBlob('pages/app', desc(config, 'x'), async () => Readable.from([config]));
      const tags = ['t1', 't2', 't3', 't4', 't5'];
      for (const t of tags) {
        const m = json({
          schemaVersion: 2,
          mediaType: MediaType.OciManifest,
          config: desc(config, MediaType.OciConfig),
          layers: [],
          annotations: { t },
        });
        await client.putManifest('pages/app', t, m, MediaType.OciManifest);
      }
      const before = r.requests().length;
      expect(await client.tags('pages/app', { pageSize: 2 })).toEqual(tags);
      const pages = r
        .requests()
        .slice(before)
        .filter((q) => q.includes('/tags/list'));
      expect(pages).toHaveLength(3);
      expect(pages[0]).toContain('n=2');
    } finally {
      await r.stop();
    }
  });
});

describe('a referrers API that ignores artifactType', () => {
  it('is filtered client-side when OCI-Filters-Applied is absent', async () => {
    const { createServer } = await import('node:http');
    const a = { mediaType: MediaType.OciManifest, digest: `sha256:${'a'.repeat(64)}`, size: 10, artifactType: SBOM };
    const b = { mediaType: MediaType.OciManifest, digest: `sha256:${'b'.repeat(64)}`, size: 10, artifactType: SIG };
    const seen: string[] = [];
    const server = createServer((req, res) => {
      seen.push(req.url ?? '');
      if (req.url === '/v2/') return void res.writeHead(200).end();
      res.writeHead(200, { 'content-type': MediaType.OciIndex });
      res.end(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [a, b] }));
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    try {
      const { port } = server.address() as import('node:net').AddressInfo;
      const client = new Registry(`127.0.0.1:${port}`);
      const got = await client.referrers('app', `sha256:${'c'.repeat(64)}`, { artifactType: SIG });
      expect(got).toEqual({ descriptors: [b], via: 'api' });
      expect(seen.at(-1)).toBe(`/v2/app/referrers/sha256:${'c'.repeat(64)}?artifactType=${encodeURIComponent(SIG)}`);
    } finally {
      server.closeAllConnections();
      await new Promise((ok) => server.close(ok));
    }
  });
});
