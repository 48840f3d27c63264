import { generateKeyPairSync } from 'node:crypto';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyImage } from '../../src/oci/copy.ts';
import { RequestCount, type RequestEvent } from '../../src/oci/registry/request-count.ts';
import { openSource, openTarget } from '../../src/oci/source.ts';
import { keySigner } from '../../src/sign/signers/index.ts';
import { type AttachScheme, signImage } from '../../src/workflows/sign-image.ts';
import type { Authority } from '../../src/verify/authority.ts';
import { verifyImage } from '../../src/verify/verify-image.ts';
import { readPublicKey } from '../../src/verify/trust-material.ts';
import { demoImageLayout } from '../harness/images.ts';
import { startRegistry, type TestRegistry } from '../harness/registry.ts';
import { runSigil } from '../helpers/cli.ts';

let registry: TestRegistry;
let work: string;
let pubPath: string;
const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });

beforeAll(async () => {
  registry = await startRegistry();
  work = await mkdtemp(join(tmpdir(), 'sigil-verify-count-'));
  pubPath = join(work, 'cosign.pub');
  await writeFile(pubPath, publicKey.export({ type: 'spki', format: 'pem' }));
}, 60_000);
afterAll(async () => {
  await registry?.stop();
});

async function signedImage(repo: string, attach: AttachScheme): Promise<string> {
  const image = `${registry.host}/${repo}:1.0`;
  await copyImage(await openSource(`oci-dir:${await demoImageLayout()}:demo`), await openTarget(image));
  await signImage(image, { signer: keySigner(privateKey), attach, witnesses: [] });
  return image;
}

/** One verify as a fresh process makes it: its own client, nothing learned about the registry. */
async function verifyCounted(image: string) {
  const count = new RequestCount();
  const log: string[] = [];
  const onRequest = (e: RequestEvent) => {
    count.add(e);
    log.push(`${e.method} ${e.url.pathname.replace(/sha256[:-][0-9a-f]{64}/g, '<d>')}`);
  };
  const authority: Authority = { kind: 'key', name: 'k', publicKey: readPublicKey(pubPath), tlog: 'ignore' };
  const r = await verifyImage(image, { authority, registry: { onRequest }, offline: true, kind: 'signature' });
  return { r, count, log };
}

describe('registry requests of one verify on distribution 2.8 (no referrers API)', () => {
  it('one bundle signature (referrers scheme, fallback tag index): 4 requests', async () => {
    const image = await signedImage('vcount/bundle', 'referrers');
    const { r, count, log } = await verifyCounted(image);
    expect(r.verified.map((c) => c.evidence.scheme)).toEqual(['referrers']);
    expect(log).toEqual([
      'HEAD /v2/vcount/bundle/manifests/1.0', // resolve the tag
      'GET /v2/vcount/bundle/manifests/<d>', // the sha256-<hex> fallback index
      'GET /v2/vcount/bundle/manifests/<d>', // the referrer manifest
      'GET /v2/vcount/bundle/blobs/<d>', // the bundle
    ]);
    expect(count.toString()).toBe('4 (HEAD 1, GET 3)');
  });

  it('one legacy .sig signature: 6 requests (no fallback index, no referrers API, then .sig)', async () => {
    const image = await signedImage('vcount/legacy', 'tag');
    const { r, count, log } = await verifyCounted(image);
    expect(r.verified.map((c) => c.evidence.scheme)).toEqual(['tag']);
    expect(log).toEqual([
      'HEAD /v2/vcount/legacy/manifests/1.0',
      'GET /v2/vcount/legacy/manifests/<d>', // fallback index: 404
      'GET /v2/vcount/legacy/referrers/<d>', // no API: 404
      'GET /v2/vcount/legacy/manifests/<d>', // Registry.referrers' own fallback read: 404
      'GET /v2/vcount/legacy/manifests/<d>.sig', // the .sig image; never .att or .sbom
      'GET /v2/vcount/legacy/blobs/<d>', // its payload
    ]);
    expect(count.toString()).toBe('6 (HEAD 1, GET 5)');
  });

  it('sigil verify --verbose prints the count; verify --policy --verbose too', async () => {
    const image = await signedImage('vcount/cli', 'referrers');
    const r = await runSigil(['verify', '--verbose', '--key', pubPath, '--insecure-ignore-tlog', image]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('registry requests: 4 (HEAD 1, GET 3)');

    const dir = join(work, 'policies');
    await mkdir(dir, { recursive: true });
    await writeFile(
      join(dir, 'p.yaml'),
      [
        'apiVersion: sigil.dev/v1',
        'kind: Policy',
        'metadata:',
        '  name: count',
        'spec:',
        '  images:',
        `    - glob: "${registry.host}/vcount/**"`,
        '  authorities:',
        '    - name: k',
        '      key:',
        `        path: ${pubPath}`,
        '      tlog: ignore',
        '',
      ].join('\n'),
    );
    const p = await runSigil(['verify', '--verbose', '--policy', dir, image]);
    expect(p.code, p.stdout + p.stderr).toBe(0);
    // One bundle signature satisfies the policy: `.sig` is never read, nor `.att`/`.sbom`.
    expect(p.stderr).toContain('registry requests: 4 (HEAD 1, GET 3)');
    // A policy the referrer does not satisfy also looks at `.sig` (a 404 here) before it denies.
    const other = join(work, 'other.pub');
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    await writeFile(other, publicKey.export({ type: 'spki', format: 'pem' }));
    const strict = join(work, 'policies-strict');
    await mkdir(strict, { recursive: true });
    await writeFile(join(strict, 'p.yaml'), (await readFile(join(dir, 'p.yaml'), 'utf8')).replace(pubPath, other));
    const d = await runSigil(['verify', '--verbose', '--policy', strict, image]);
    expect(d.code, d.stdout + d.stderr).toBe(1);
    expect(d.stderr).toContain('registry requests: 5 (HEAD 1, GET 4)');
  }, 30_000);
});
