import { access, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyImage } from '../../src/oci/copy.ts';
import { resolveImage } from '../../src/oci/image.ts';
import { Registry } from '../../src/oci/registry/client.ts';
import { openSource, openTarget } from '../../src/oci/source.ts';
import { startFaultProxy } from '../harness/fault-proxy.ts';
import { demoImageLayout } from '../harness/images.ts';
import { startRegistry, type TestRegistry } from '../harness/registry.ts';

describe('copy from a registry whose responses are corrupted in transit', () => {
  let registry: TestRegistry;
  let proxy: { url: string; host: string; stop(): Promise<void> };
  let work: string;
  let layerDigest: string;
  let corruptNext = false;

  beforeAll(async () => {
    registry = await startRegistry();
    work = await mkdtemp(join(tmpdir(), 'sigil-integrity-'));
    const src = await openSource(`oci-dir:${await demoImageLayout()}:demo`);
    await copyImage(src, await openTarget(`${registry.host}/integrity/app:1`));
    const image = await resolveImage(src);
    // The last layer: fetched while other blobs are still in flight, so corruption hits mid-copy.
    layerDigest = image.layers.at(-1)!.digest;
    await src.close();
    proxy = await startFaultProxy(registry.url, {
      fault: (req) => (corruptNext && req.url?.includes(`/blobs/${layerDigest}`) ? 'flip' : false),
    });
  });

  afterAll(async () => {
    await proxy?.stop();
    await registry?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('to an OCI layout: DIGEST_MISMATCH naming the layer, and no layout left behind', async () => {
    corruptNext = true;
    const out = join(work, 'layout');
    const src = await openSource(`${proxy.host}/integrity/app:1`);
    await expect(copyImage(src, await openTarget(`oci-dir:${out}:app`))).rejects.toMatchObject({
      code: 'DIGEST_MISMATCH',
      message: expect.stringContaining(layerDigest),
    });
    await expect(access(out)).rejects.toThrow();
  });

  it('to a registry: DIGEST_MISMATCH and no tag at the destination', async () => {
    corruptNext = true;
    const src = await openSource(`${proxy.host}/integrity/app:1`);
    await expect(copyImage(src, await openTarget(`${registry.host}/integrity/copy:1`))).rejects.toMatchObject({
      code: 'DIGEST_MISMATCH',
    });
    expect(await new Registry(registry.host).headManifest('integrity/copy', '1')).toBeUndefined();
  });

  it('the same copy succeeds once the proxy stops corrupting', async () => {
    corruptNext = false;
    const src = await openSource(`${proxy.host}/integrity/app:1`);
    const result = await copyImage(src, await openTarget(`oci-dir:${join(work, 'ok')}:app`));
    expect(result.blobs.copied).toBeGreaterThan(1);
  });
});
