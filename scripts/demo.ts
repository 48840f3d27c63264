// The main job on an embedded default that needs nothing from outside: a local registry
// (distribution 2.8), a small image built from real Debian packages, and sigil run on it as a
// user would run it: copy between every kind of source, an SBOM in SPDX and CycloneDX, then the
// CI signing steps: a key pair, a signature, an SBOM attestation, a keyless signature through a
// loopback Sigstore (Fulcio/Rekor/TSA stand-ins, as a private Sigstore would be reached), and the tree.
import { spawn } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRegistry } from '../test/harness/registry.ts';
import { demoImageLayout } from '../test/harness/images.ts';
import { startSigstoreStack } from '../test/harness/sigstore-stack.ts';

const root = new URL('..', import.meta.url).pathname;
const sigilBin = join(root, 'bin', 'sigil.js');

/** The demo key's password: in CI it would come from a secret. */
const DEMO_PASSWORD = 'demo-password';

/** Runs sigil as a user would; async, so the in-process registry and Sigstore keep answering. */
async function sigil(...args: string[]): Promise<string> {
  return (await sigilRun(0, ...args)).trim();
}

/** Runs sigil expecting exit `expected` (the deny step expects 1). */
async function sigilRun(expected: number, ...args: string[]): Promise<string> {
  process.stdout.write(`\n$ sigil ${args.map((a) => (a.length > 120 ? `${a.slice(0, 20)}…` : a)).join(' ')}\n`);
  const child = spawn(process.execPath, [sigilBin, ...args], {
    env: { ...process.env, SIGIL_PASSWORD: DEMO_PASSWORD },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
    process.stdout.write(d);
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => process.stdout.write(d));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (code !== expected) throw new Error(`sigil ${args[0]} exited with ${code}, expected ${expected}`);
  return stdout;
}

const work = await mkdtemp(join(tmpdir(), 'sigil-demo-'));
process.stdout.write('Building the demo image from real Debian packages (cached after the first run)...\n');
const layout = await demoImageLayout();
const [registry, sigstore] = await Promise.all([startRegistry(), startSigstoreStack()]);
try {
  const image = `${registry.host}/demo/app:1.0`;
  await sigil('copy', `oci-dir:${layout}:demo`, image);
  const digest = await sigil('digest', image);
  await sigil('tags', `${registry.host}/demo/app`);
  await sigil('manifest', image);
  await sigil('config', '-o', 'json', image);
  const archive = join(work, 'app.tar');
  await sigil('copy', image, `docker-archive:${archive}:demo/app:1.0`);
  await sigil('copy', `docker-archive:${archive}`, `oci-dir:${join(work, 'layout')}:app`);
  const back = await sigil('digest', `oci-dir:${join(work, 'layout')}:app`);
  process.stdout.write(
    back === digest
      ? `\nRound trip registry -> docker-archive -> OCI layout kept the manifest digest ${digest}\n`
      : `\nDigest changed on the round trip: ${digest} -> ${back}\n`,
  );
  if (back !== digest) process.exitCode = 1;

  const spdx = join(work, 'demo.spdx.json');
  const cdx = join(work, 'demo.cdx.json');
  await sigil(
    'sbom',
    '--cache-dir',
    join(work, 'cache'),
    '-o',
    `spdx-json=${spdx}`,
    '-o',
    `cyclonedx-json=${cdx}`,
    image,
  );
  await sigil('sbom', '--cache-dir', join(work, 'cache'), '-o', 'table', image);
  for (const f of [spdx, cdx]) {
    const doc = JSON.parse(await readFile(f, 'utf8')) as { packages?: unknown[]; components?: unknown[] };
    process.stdout.write(
      `${f}: ${(doc.packages ?? doc.components ?? []).length} ${doc.packages ? 'SPDX packages' : 'CycloneDX components'}\n`,
    );
  }

  // CI signing: a key pair (password from SIGIL_PASSWORD), a signature and an SBOM attestation in
  // one step, then keyless with a token from the loopback issuer, and what is attached now.
  const key = join(work, 'cosign');
  await sigil('generate-key-pair', '--output-key-prefix', key);
  await sigil('sign', '--key', `${key}.key`, '--tlog-upload=false', '-a', 'pipeline=demo', image);
  await sigil('sign', '--key', `${key}.key`, '--tlog-upload=false', '--attach', 'tag', image);
  await sigil(
    'sbom',
    '--cache-dir',
    join(work, 'cache'),
    '-o',
    `json=${join(work, 'sbom.json')}`,
    '--attest',
    '--key',
    `${key}.key`,
    '--tlog-upload=false',
    image,
  );
  await sigil(
    'sign',
    '--identity-token',
    sigstore.mintIdentityToken({ email: 'release@demo.sigil' }),
    '--fulcio-url',
    sigstore.fulcioUrl,
    '--rekor-url',
    sigstore.rekorUrl,
    '--timestamp-server-url',
    sigstore.tsaUrl,
    image,
  );
  await sigil('tree', image);

  // Verify before deploy: the shipped policy (policies/demo/release.yaml) with the demo Sigstore's
  // trusted root beside it. The image signed by release@demo.sigil is allowed; another image,
  // signed keyless by someone else, is denied with the reason.
  const policyDir = join(work, 'policy');
  await mkdir(policyDir);
  await copyFile(join(root, 'policies', 'demo', 'release.yaml'), join(policyDir, 'release.yaml'));
  await writeFile(join(policyDir, 'trusted_root.json'), JSON.stringify(sigstore.trustedRoot()));
  await sigil('policy', 'lint', policyDir);
  await sigil('verify', '--policy', policyDir, image);
  const other = `${registry.host}/demo/other:1.0`;
  await sigil('copy', `oci-dir:${layout}:demo`, other);
  await sigil(
    'sign',
    '--identity-token',
    sigstore.mintIdentityToken({ email: 'intruder@demo.sigil' }),
    '--fulcio-url',
    sigstore.fulcioUrl,
    '--rekor-url',
    sigstore.rekorUrl,
    other,
  );
  await sigilRun(1, 'verify', '--policy', policyDir, other);
  process.stdout.write('\n(exit 1: denied, as the policy requires)\n');
} finally {
  await Promise.all([registry.stop(), sigstore.stop()]);
  await rm(work, { recursive: true, force: true });
}
