import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Descriptor } from '../../../src/oci/manifest.ts';
import { MediaType } from '../../../src/oci/media-types.ts';
import { Registry } from '../../../src/oci/registry/client.ts';
import { type Fault, type FaultProxy, startFaultProxy } from '../../harness/fault-proxy.ts';
import { startRegistry, type TestRegistry } from '../../harness/registry.ts';

function desc(bytes: Uint8Array, mediaType: string): Descriptor {
  return { mediaType, digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}`, size: bytes.length };
}

describe('a registry whose answers are damaged in transit', () => {
  let r: TestRegistry;
  let proxy: FaultProxy;
  let direct: Registry;
  let viaProxy: Registry;
  /** Decides, per proxied request, what to damage; reset by each test. */
  let corrupt: (method: string, url: string, range: string | undefined) => Fault = () => false;
  const layerBytes = randomBytes(200_000);
  const layer = desc(layerBytes, MediaType.OciLayerGzip);
  const configBytes = Buffer.from(
    JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }),
  );
  const config = desc(configBytes, MediaType.OciConfig);
  const manifestBytes = Buffer.from(
    JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciManifest, config, layers: [layer] }),
  );
  const manifest = desc(manifestBytes, MediaType.OciManifest);

  beforeAll(async () => {
    r = await startRegistry();
    direct = new Registry(r.host);
    for (const [d, b] of [
      [layer, layerBytes],
      [config, configBytes],
    ] as const) {
      await direct.pushBlob('integrity/app', d, async () => Readable.from([b]));
    }
    await direct.putManifest('integrity/app', 'v1', manifestBytes, MediaType.OciManifest);
    proxy = await startFaultProxy(r.url, {
      fault: (req) => corrupt(req.method ?? '', req.url ?? '', req.headers.range),
    });
    viaProxy = new Registry(proxy.host, { retry: { minDelayMs: 10, maxDelayMs: 50 } });
  }, 20_000);
  afterAll(async () => {
    await proxy?.stop();
    await r?.stop();
  });

  it('a flipped byte in a blob: the stream fails with DIGEST_MISMATCH naming the digest', async () => {
    corrupt = (m, url) => m === 'GET' && url.includes(`/blobs/${layer.digest}`);
    const stream = await viaProxy.getBlob('integrity/app', layer);
    const err = await buffer(stream).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'DIGEST_MISMATCH' });
    expect((err as Error).message).toContain(layer.digest);
  });

  it('a flipped byte in a manifest fetched by digest (and by tag): DIGEST_MISMATCH', async () => {
    corrupt = (m, url) => m === 'GET' && url.includes('/manifests/');
    const byDigest = await viaProxy.getManifest('integrity/app', manifest.digest).catch((e: unknown) => e);
    expect(byDigest).toMatchObject({ code: 'DIGEST_MISMATCH' });
    expect((byDigest as Error).message).toContain(manifest.digest);
    // By tag, the registry's Docker-Content-Digest no longer matches the bytes.
    await expect(viaProxy.getManifest('integrity/app', 'v1')).rejects.toMatchObject({ code: 'DIGEST_MISMATCH' });
  });

  it('a truncated blob answer is completed with a Range request, or fails as SIZE_MISMATCH at worst', async () => {
    corrupt = (m, url, range) => m === 'GET' && url.includes(`/blobs/${layer.digest}`) && !range && 'truncate';
    const got = await buffer(await viaProxy.getBlob('integrity/app', layer));
    expect(got.equals(layerBytes)).toBe(true);
  });

  it('a connection dropped mid-blob is resumed with Range: bytes=N- and the blob verifies', async () => {
    corrupt = (m, url, range) => m === 'GET' && url.includes(`/blobs/${layer.digest}`) && !range && 'drop-after:70000';
    const before = proxy.exchanges().length;
    const got = await buffer(await viaProxy.getBlob('integrity/app', layer));
    expect(got.equals(layerBytes)).toBe(true);
    const blobGets = proxy
      .exchanges()
      .slice(before)
      .filter((x) => x.url.includes('/blobs/'));
    expect(blobGets.map((x) => [x.status, x.fault])).toEqual([
      [200, 'drop-after:70000'],
      [206, undefined],
    ]);
  });

  it('a connection dropped mid-manifest (and mid tag list) is asked for again, not taken as wrong bytes', async () => {
    let dropped = 0;
    corrupt = (m, url) => {
      if (m !== 'GET' || !(url.includes('/manifests/') || url.includes('/tags/list')) || dropped >= 2) return false;
      dropped++;
      return 'drop-after:20';
    };
    const got = await viaProxy.getManifest('integrity/app', 'v1');
    expect(got.descriptor.digest).toBe(manifest.digest);
    expect(await viaProxy.tags('integrity/app')).toEqual(['v1']);
    expect(dropped).toBe(2);

    // Broken on every try: NETWORK naming the manifest, within the retry budget.
    corrupt = (m, url) => m === 'GET' && url.includes('/manifests/') && 'drop-after:20';
    const err = await viaProxy.getManifest('integrity/app', 'v1').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'NETWORK' });
    expect((err as Error).message).toContain('manifest 127.0.0.1:');
    expect((err as Error).message).toContain('broke off after 20 bytes');
  });

  it('a connection dropped on every try: gives up, bounded, with NETWORK', async () => {
    corrupt = (m, url) => m === 'GET' && url.includes(`/blobs/${layer.digest}`) && 'drop-after:1000';
    const started = Date.now();
    const err = await buffer(await viaProxy.getBlob('integrity/app', layer)).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'NETWORK' });
    expect((err as Error).message).toContain(layer.digest);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('an upload streaming a blob whose resumes were spent fails, without starting the whole read again', async () => {
    corrupt = (m, url) => m === 'GET' && url.includes(`/blobs/${layer.digest}`) && 'truncate';
    const before = proxy.exchanges().length;
    const err = await direct
      .pushBlob('integrity/copy', layer, () => viaProxy.getBlob('integrity/app', layer))
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'NETWORK' });
    expect((err as Error).message).toContain(layer.digest);
    // One read, resumed within one retry budget (5 tries), not five uploads of five tries each.
    const gets = proxy
      .exchanges()
      .slice(before)
      .filter((x) => x.url.includes('/blobs/'));
    expect(gets.length).toBe(5);
    expect(await direct.hasBlob('integrity/copy', layer.digest)).toBe(false);
  });

  it('the same reads succeed through the proxy once it stops corrupting', async () => {
    corrupt = () => false;
    expect((await buffer(await viaProxy.getBlob('integrity/app', layer))).equals(layerBytes)).toBe(true);
    expect((await viaProxy.getManifest('integrity/app', 'v1')).descriptor.digest).toBe(manifest.digest);
  });
});
