/**
 * Load: `sigil verify --policy DIR` over 1,000 references in one call, against the real registry.
 *
 * 1,000 images with distinct digests (the demo image, each with its own config label) are signed
 * with a key into the referrers scheme. The CLI then verifies the first 100 and all 1,000 under
 * GNU time: the decision must cover every image, the requests must grow with the images (4 per
 * image, nothing fetched twice) and peak RSS must stay flat — 10x the images may not cost
 * more than a bounded amount of memory, because images stream through a bounded worker pool and
 * only their small reports are kept. Wall time and RSS go to test-results/verify-load.md.
 */
import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyImage } from '../../src/oci/copy.ts';
import { sha256 } from '../../src/oci/digest.ts';
import type { Descriptor } from '../../src/oci/manifest.ts';
import { registryFor } from '../../src/oci/registry/client.ts';
import { openSource, openTarget } from '../../src/oci/source.ts';
import { keySigner } from '../../src/sign/signers/index.ts';
import { signImage } from '../../src/workflows/sign-image.ts';
import { demoImageLayout } from '../harness/images.ts';
import { startFaultProxy } from '../harness/fault-proxy.ts';
import { writeKeyPolicy } from '../harness/key-policy.ts';
import { startRegistry, type TestRegistry } from '../harness/registry.ts';
import { SIGIL_BIN } from '../helpers/cli.ts';

const COUNT = 1000;
const SMALL = 100;
const REPO = 'load/app';
const WORKERS = 8;
// Signing waits out a settle delay per image (attach/settle.ts), so set-up runs wider than verify.
const SETUP_WORKERS = 32;

let registry: TestRegistry;
let work: string;
const refs: string[] = [];
const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
let setupSeconds = 0;

/** Runs `fn` over 0..n-1 with at most `width` in flight. */
async function inPool(n: number, width: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < n) await fn(next++);
    }),
  );
}

beforeAll(async () => {
  const started = performance.now();
  registry = await startRegistry();
  work = await mkdtemp(join(tmpdir(), 'sigil-verify-load-'));
  await copyImage(
    await openSource(`oci-dir:${await demoImageLayout()}:demo`),
    await openTarget(`${registry.host}/${REPO}:base`),
  );
  const client = registryFor(registry.host);
  const base = await client.getManifest(REPO, 'base');
  const manifest = JSON.parse(Buffer.from(base.bytes).toString('utf8')) as { config: Descriptor };
  const chunks: Buffer[] = [];
  for await (const c of await client.getBlob(REPO, manifest.config)) chunks.push(c as Buffer);
  const config = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { config?: { Labels?: Record<string, string> } };
  const signer = keySigner(privateKey);
  for (let i = 0; i < COUNT; i++) refs.push(`${registry.host}/${REPO}:img-${i}`);
  await inPool(COUNT, SETUP_WORKERS, async (i) => {
    const labelled = {
      ...config,
      config: { ...config.config, Labels: { ...config.config?.Labels, 'sigil.load': `${i}` } },
    };
    const bytes = Buffer.from(JSON.stringify(labelled));
    const desc = { mediaType: manifest.config.mediaType, digest: sha256(bytes), size: bytes.length };
    await client.pushBlob(REPO, desc, async () => Readable.from([bytes]));
    const m = Buffer.from(JSON.stringify({ ...manifest, config: desc }));
    await client.putManifest(REPO, `img-${i}`, m, base.descriptor.mediaType);
    await signImage(refs[i]!, { signer, attach: 'referrers', witnesses: [] });
  });
  setupSeconds = (performance.now() - started) / 1000;
}, 600_000);

afterAll(async () => {
  await registry?.stop();
});

function policyDir(name: string, key: typeof publicKey, host = registry.host): Promise<string> {
  const publicKeyPem = key.export({ type: 'spki', format: 'pem' }).toString();
  return writeKeyPolicy(join(work, name), { name: `load-${name}`, glob: `${host}/load/**`, publicKeyPem });
}

interface Run {
  exit: number | null;
  wallSeconds: number;
  peakRssMb: number;
  requests: string;
  report: { exitCode: number; images: { input: string; decision: string }[] };
}

/** One `sigil verify` process under GNU time (peak RSS is its %M, in KiB). */
function verify(dir: string, images: string[], workers = WORKERS): Promise<Run> {
  const args = ['-f', 'SIGIL_TIME %e %M', process.execPath, SIGIL_BIN];
  args.push('verify', '--verbose', '-o', 'json', '--max-workers', String(workers), '--policy', dir, ...images);
  return new Promise((resolve, reject) => {
    // Async, not spawnSync: the registry logs through a pipe this process must keep draining.
    const child = spawn('/usr/bin/time', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (exit) => {
      const t = /SIGIL_TIME ([\d.]+) (\d+)/.exec(stderr);
      const requests = /^registry requests: (.+)$/m.exec(stderr)?.[1] ?? '';
      if (!t) return reject(new Error(`no timing from /usr/bin/time: ${stderr.slice(-2000)}`));
      try {
        resolve({
          exit,
          wallSeconds: Number(t[1]),
          peakRssMb: Number(t[2]) / 1024,
          requests,
          report: JSON.parse(stdout),
        });
      } catch {
        reject(new Error(`verify printed no JSON report (exit ${exit}): ${stderr.slice(-2000)}`));
      }
    });
  });
}

describe(`verify --policy over ${COUNT} references in one call`, () => {
  const rows: string[] = [];

  afterAll(async () => {
    if (rows.length === 0) return;
    const table = [
      `Setup (push + key-sign ${COUNT} images, ${SETUP_WORKERS} at a time): ${setupSeconds.toFixed(1)} s`,
      '',
      '| run | images | wall | peak RSS | registry requests | exit |',
      '|---|---|---|---|---|---|',
      ...rows,
    ].join('\n');
    console.log(table);
    await mkdir('test-results', { recursive: true });
    await writeFile(join('test-results', 'verify-load.md'), `${table}\n`);
  });

  it('allows all of them with 4 requests each, and memory does not grow with the count', async () => {
    const dir = await policyDir('allow', publicKey);
    const small = await verify(dir, refs.slice(0, SMALL));
    const large = await verify(dir, refs);
    for (const [label, r, n] of [
      ['allowed', small, SMALL],
      ['allowed', large, COUNT],
    ] as const) {
      rows.push(
        `| ${label} | ${n} | ${r.wallSeconds.toFixed(2)} s | ${r.peakRssMb.toFixed(0)} MB | ${r.requests} | ${r.exit} |`,
      );
      expect(r.exit).toBe(0);
      expect(r.report.images).toHaveLength(n);
      expect(r.report.images.every((i) => i.decision === 'allow')).toBe(true);
      // HEAD the tag, GET the fallback index, the referrer manifest and its bundle.
      expect(r.requests).toMatch(new RegExp(`^${4 * n} \\(HEAD ${n}, GET ${3 * n}\\)`));
    }
    // Flat: 900 more images add their small reports (~1.3 MB of JSON). Without bin/sigil.js
    // asking V8 to save memory this grew by ~85 MB (garbage collected late, not a leak).
    expect(large.peakRssMb - small.peakRssMb).toBeLessThan(40);
  }, 300_000);

  it('keeps at most --max-workers requests open at once', async () => {
    // 10 ms of latency per request, so requests of different images overlap if they can.
    const proxy = await startFaultProxy(registry.url, { fault: () => 'latency:10' });
    try {
      const images = refs.slice(0, SMALL).map((r) => r.replace(registry.host, proxy.host));
      const r = await verify(await policyDir('proxied', publicKey, proxy.host), images, 4);
      expect(r.exit).toBe(0);
      expect(proxy.exchanges()).toHaveLength(4 * SMALL);
      // Each image's requests are sequential; the pool runs 4 images at a time.
      expect(proxy.maxInFlight()).toBe(4);
    } finally {
      await proxy.stop();
    }
  }, 120_000);

  it('denies all of them under a policy naming another key, exit 1', async () => {
    const r = await verify(await policyDir('deny', other), refs);
    rows.push(
      `| denied | ${COUNT} | ${r.wallSeconds.toFixed(2)} s | ${r.peakRssMb.toFixed(0)} MB | ${r.requests} | ${r.exit} |`,
    );
    expect(r.exit).toBe(1);
    expect(r.report.images).toHaveLength(COUNT);
    expect(r.report.images.every((i) => i.decision === 'deny')).toBe(true);
  }, 300_000);
});
