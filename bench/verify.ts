// Library imports come from dist/ (built by scripts/setup.sh): Node's type stripping cannot run
// every src/ file. Policy verification benchmark: 1,000 images with distinct digests (the demo image, each with its
// own config label, in one repository) signed with a key into the referrers scheme (no tlog),
// then `sigil verify --policy DIR <1,000 refs>` in one call: wall time, peak RSS (GNU time's %M)
// and registry requests (--verbose), once allowed and once denied (a policy naming another key).
import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { copyImage } from '../dist/oci/copy.js';
import { sha256 } from '../dist/oci/digest.js';
import { registryFor } from '../dist/oci/registry/client.js';
import { openSource, openTarget } from '../dist/oci/source.js';
import { keySigner } from '../dist/sign/signers/index.js';
import { signImage } from '../dist/workflows/sign-image.js';
import { demoImageLayout } from '../test/harness/images.ts';
import { writeKeyPolicy } from '../test/harness/key-policy.ts';
import { startRegistry } from '../test/harness/registry.ts';

const root = new URL('..', import.meta.url).pathname;
const sigilBin = join(root, 'bin', 'sigil.js');
const COUNT = Number(process.env.SIGIL_BENCH_IMAGES ?? 1000);

const registry = await startRegistry();
try {
  const work = await mkdtemp(join(tmpdir(), 'sigil-bench-verify-'));
  const repo = 'bench/app';
  await copyImage(
    await openSource(`oci-dir:${await demoImageLayout()}:demo`),
    await openTarget(`${registry.host}/${repo}:base`),
  );
  const client = registryFor(registry.host);
  const base = await client.getManifest(repo, 'base');
  const manifest = JSON.parse(Buffer.from(base.bytes).toString('utf8')) as {
    config: { digest: string; size: number; mediaType: string };
  };
  const configBlob = await client.getManifest(repo, 'base').then(async () => {
    const chunks: Buffer[] = [];
    for await (const c of await client.getBlob(repo, manifest.config as never)) chunks.push(c as Buffer);
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as { config?: { Labels?: Record<string, string> } };
  });
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
  const started = performance.now();
  const refs: string[] = [];
  // Signing waits out a settle delay per image (attach/settle.ts): set-up runs 32 at a time.
  let next = 0;
  for (let i = 0; i < COUNT; i++) refs.push(`${registry.host}/${repo}:img-${i}`);
  const one = async (i: number): Promise<void> => {
    const config = {
      ...configBlob,
      config: { ...configBlob.config, Labels: { ...configBlob.config?.Labels, 'sigil.bench': String(i) } },
    };
    const bytes = Buffer.from(JSON.stringify(config));
    const desc = { mediaType: manifest.config.mediaType, digest: sha256(bytes), size: bytes.length };
    await client.pushBlob(repo, desc, async () => Readable.from([bytes]));
    const m = Buffer.from(JSON.stringify({ ...manifest, config: desc }));
    await client.putManifest(repo, `img-${i}`, m, base.descriptor.mediaType);
    await signImage(refs[i]!, { signer: keySigner(privateKey), attach: 'referrers', witnesses: [] });
  };
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (next < COUNT) await one(next++);
    }),
  );
  console.log(
    `pushed and signed ${COUNT} images (distinct digests) in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );

  const policy = (name: string, pem: string): Promise<string> =>
    writeKeyPolicy(join(work, name), { name: `bench-${name}`, glob: `${registry.host}/bench/**`, publicKeyPem: pem });
  const pem = (k: typeof publicKey) => k.export({ type: 'spki', format: 'pem' }).toString();
  const rows: string[][] = [];
  for (const [label, dir, want] of [
    ['allowed', await policy('allow', pem(publicKey)), 0],
    ['denied', await policy('deny', pem(other)), 1],
  ] as const) {
    // Async, not spawnSync: the test registry logs through a pipe this process must keep draining.
    const r = await new Promise<{ status: number | null; stderr: string }>((resolve, reject) => {
      const args = [
        '-f',
        'SIGIL_TIME %e %M',
        process.execPath,
        sigilBin,
        'verify',
        '--verbose',
        '--policy',
        dir,
        ...refs,
      ];
      const child = spawn('/usr/bin/time', args, { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
      child.on('error', reject);
      child.on('close', (status) => resolve({ status, stderr }));
    });
    const t = /SIGIL_TIME ([\d.]+) (\d+)/.exec(r.stderr);
    const req = /^registry requests: (.+)$/m.exec(r.stderr);
    if (r.status !== want || !t)
      throw new Error(`${label}: exit ${r.status}, wanted ${want}: ${r.stderr.slice(-2000)}`);
    rows.push([
      label,
      String(COUNT),
      `${t[1]} s`,
      `${(Number(t[2]) / 1024).toFixed(0)} MB`,
      req?.[1] ?? '?',
      String(r.status),
    ]);
  }
  const head = ['run', 'images', 'wall', 'peak RSS', 'registry requests', 'exit'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  for (const row of [head, ...rows]) console.log(row.map((c, i) => c.padEnd(widths[i]!)).join('  '));
} finally {
  await registry.stop();
}
