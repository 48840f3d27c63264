// The main job on an embedded default that needs nothing from outside: a local registry
// (distribution 2.8), a small image built from real Debian packages, and sigil run on it as a
// user would run it: copy between every kind of source, then an SBOM in SPDX and CycloneDX.
// Sign and verify steps join as their issues land.
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRegistry } from '../test/harness/registry.ts';
import { demoImageLayout } from '../test/harness/images.ts';

const root = new URL('..', import.meta.url).pathname;
const sigilBin = join(root, 'bin', 'sigil.js');

function sigil(...args: string[]): string {
  process.stdout.write(`\n$ sigil ${args.join(' ')}\n`);
  const r = spawnSync(process.execPath, [sigilBin, ...args], { encoding: 'utf8' });
  process.stdout.write(r.stdout);
  process.stdout.write(r.stderr);
  if (r.status !== 0) throw new Error(`sigil ${args[0]} exited with ${r.status}`);
  return r.stdout.trim();
}

const work = await mkdtemp(join(tmpdir(), 'sigil-demo-'));
process.stdout.write('Building the demo image from real Debian packages (cached after the first run)...\n');
const layout = await demoImageLayout();
const registry = await startRegistry();
try {
  const image = `${registry.host}/demo/app:1.0`;
  sigil('copy', `oci-dir:${layout}:demo`, image);
  const digest = sigil('digest', image);
  sigil('tags', `${registry.host}/demo/app`);
  sigil('manifest', image);
  sigil('config', '-o', 'json', image);
  const archive = join(work, 'app.tar');
  sigil('copy', image, `docker-archive:${archive}:demo/app:1.0`);
  sigil('copy', `docker-archive:${archive}`, `oci-dir:${join(work, 'layout')}:app`);
  const back = sigil('digest', `oci-dir:${join(work, 'layout')}:app`);
  process.stdout.write(
    back === digest
      ? `\nRound trip registry -> docker-archive -> OCI layout kept the manifest digest ${digest}\n`
      : `\nDigest changed on the round trip: ${digest} -> ${back}\n`,
  );
  if (back !== digest) process.exitCode = 1;

  const spdx = join(work, 'demo.spdx.json');
  const cdx = join(work, 'demo.cdx.json');
  sigil('sbom', '--cache-dir', join(work, 'cache'), '-o', `spdx-json=${spdx}`, '-o', `cyclonedx-json=${cdx}`, image);
  sigil('sbom', '--cache-dir', join(work, 'cache'), '-o', 'table', image);
  for (const f of [spdx, cdx]) {
    const doc = JSON.parse(await readFile(f, 'utf8')) as { packages?: unknown[]; components?: unknown[] };
    process.stdout.write(
      `${f}: ${(doc.packages ?? doc.components ?? []).length} ${doc.packages ? 'SPDX packages' : 'CycloneDX components'}\n`,
    );
  }
} finally {
  await registry.stop();
  await rm(work, { recursive: true, force: true });
}
