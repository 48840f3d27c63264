import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyImage } from '../../src/oci/copy.ts';
import { RequestCount, type RequestEvent } from '../../src/oci/registry/request-count.ts';
import { openSource, openTarget } from '../../src/oci/source.ts';
import { keySigner } from '../../src/sign/signers/index.ts';
import { type AttachScheme, signImage } from '../../src/workflows/sign-image.ts';
import { demoImageLayout } from '../harness/images.ts';
import { startRegistry, type TestRegistry } from '../harness/registry.ts';
import { runSigil } from '../helpers/cli.ts';

const PASSWORD = 'request-count-key-pass';
let registry: TestRegistry;
let work: string;

beforeAll(async () => {
  registry = await startRegistry();
  work = await mkdtemp(join(tmpdir(), 'sigil-request-count-'));
}, 60_000);
afterAll(async () => {
  await registry?.stop();
});

async function pushImage(repo: string): Promise<string> {
  const image = `${registry.host}/${repo}:1.0`;
  await copyImage(await openSource(`oci-dir:${await demoImageLayout()}:demo`), await openTarget(image));
  return image;
}

/** One `sign` as a fresh process makes it: its own client (no learned challenge, no connections). */
async function signCounted(image: string, attach: AttachScheme): Promise<{ count: RequestCount; log: string[] }> {
  const count = new RequestCount();
  const log: string[] = [];
  const onRequest = (e: RequestEvent) => {
    count.add(e);
    log.push(`${e.method} ${e.url.pathname.replace(/\/uploads\/.+$/, '/uploads/<session>')}`);
  };
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  await signImage(image, { signer: keySigner(privateKey), attach, registry: { onRequest } });
  return { count, log };
}

describe('registry requests of one sign on distribution 2.8 (no referrers API)', () => {
  it('referrers scheme: 7 for a signature, 10 for the first one of a repository', async () => {
    const image = await pushImage('count/app');
    const first = await signCounted(image, 'referrers');
    const second = await signCounted(image, 'referrers');
    const m = (log: string[], i: number) => log[i]?.replace(/sha256[:-][0-9a-f]{64}/g, '<d>');
    // No /v2/ ping (anonymous registry), no GET /referrers probe (no OCI-Subject on the PUT), no
    // HEAD before the new bundle nor for the `{}` config (the first signature uploaded it); the
    // confirming re-read of the index is the 7th.
    expect(second.log.map((_, i) => m(second.log, i))).toEqual([
      'HEAD /v2/count/app/manifests/1.0', // resolve the tag once
      'POST /v2/count/app/blobs/uploads/', // the bundle
      'PUT /v2/count/app/blobs/uploads/<session>',
      'PUT /v2/count/app/manifests/<d>', // the referrer, by digest
      'GET /v2/count/app/manifests/<d>', // the fallback index
      'PUT /v2/count/app/manifests/<d>',
      'GET /v2/count/app/manifests/<d>', // confirming read after the settle delay
    ]);
    expect(second.count.toString()).toBe('7 (HEAD 1, POST 1, PUT 3, GET 2)');
    // The first finds the `{}` config missing (the PUT names it), uploads it (POST + PUT) and
    // puts the manifest again, and finds no index (a 404 GET).
    expect(first.log.map((_, i) => m(first.log, i))).toEqual([
      'HEAD /v2/count/app/manifests/1.0',
      'POST /v2/count/app/blobs/uploads/',
      'PUT /v2/count/app/blobs/uploads/<session>',
      'PUT /v2/count/app/manifests/<d>', // 400 MANIFEST_BLOB_UNKNOWN naming the config
      'POST /v2/count/app/blobs/uploads/',
      'PUT /v2/count/app/blobs/uploads/<session>',
      'PUT /v2/count/app/manifests/<d>',
      'GET /v2/count/app/manifests/<d>', // 404: no index yet
      'PUT /v2/count/app/manifests/<d>',
      'GET /v2/count/app/manifests/<d>',
    ]);
    expect(first.count.toString()).toBe('10 (HEAD 1, POST 2, PUT 5, GET 2)');
  });

  it('tag scheme: the .sig image costs a read, the payload HEAD, config upload, PUT and the confirming read', async () => {
    const image = await pushImage('count/tag');
    await signCounted(image, 'tag');
    const second = await signCounted(image, 'tag');
    // HEAD tag, GET .sig, HEAD payload (same payload for every signer), POST+PUT config, PUT .sig, GET confirm.
    expect(second.count.toString()).toBe('7 (HEAD 2, GET 2, POST 1, PUT 2)');
  });

  it('sigil sign --verbose prints the count', async () => {
    const image = await pushImage('count/cli');
    const env = { COSIGN_PASSWORD: PASSWORD, DOCKER_CONFIG: work };
    const gen = await runSigil(['generate-key-pair', '--output-key-prefix', join(work, 'cosign')], { env });
    expect(gen.code, gen.stderr).toBe(0);
    const sign = () =>
      runSigil(['sign', '--verbose', '--key', join(work, 'cosign.key'), '--tlog-upload=false', image], { env });
    const first = await sign();
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toContain('registry requests: 10 (HEAD 1, POST 2, PUT 5, GET 2)');
    const second = await sign();
    expect(second.code, second.stderr).toBe(0);
    expect(second.stderr).toContain('registry requests: 7 (HEAD 1, POST 1, PUT 3, GET 2)');
  }, 30_000);
});
