/**
 * README.md's Quickstart, run verbatim: the ```sh blocks between `<!-- quickstart -->` and
 * `<!-- /quickstart -->` are read out of the README and run with `bash -euo pipefail`, as a
 * reader pastes them. The install block runs in a fresh copy of this checkout with npm
 * offline (`npm ci` from npm's cache, then `npm install -g .` into a temporary prefix), so
 * nothing reaches the internet; the other blocks then run in one shell with that prefix's
 * `sigil` on PATH, against a real local registry holding a small image the test pushed as
 * `$REGISTRY/app:1.0`. Then the checks the Quickstart promises are shown to bite: a policy
 * naming another key denies, and the same steps without the attest line end in a deny.
 */
import { execFileSync } from 'node:child_process';
import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, untrackTempDir } from '../harness/processes.ts';
import { startRegistry, type TestRegistry } from '../harness/registry.ts';
import { APP_PACKAGES, pushAppImage } from './app-image.ts';
import { copyCheckout, fencedBlocks, offlineNpmEnv, runBash, scriptEnv } from './shell.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const README = await readFile(join(ROOT, 'README.md'), 'utf8');
const blocks = fencedBlocks(README, 'quickstart');

let registry: TestRegistry;
let tmp: string;
let prefix: string;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  registry = await startRegistry();
  tmp = await makeTempDir('sigil-quickstart-');
  prefix = join(tmp, 'prefix');
  await pushAppImage(`${registry.host}/app:1.0`);
  env = scriptEnv({
    // npm's global bin of the temporary prefix first, where `npm install -g .` puts sigil.
    ...offlineNpmEnv(prefix),
    REGISTRY: registry.host,
    COSIGN_PASSWORD: 'quickstart passphrase',
  });
});

afterAll(async () => {
  await registry?.stop();
  // A copy of the checkout with its node_modules: 360 MB, not left for a later run to sweep.
  if (tmp) {
    await rm(tmp, { recursive: true, force: true });
    untrackTempDir(tmp);
  }
});

describe('README quickstart', () => {
  it('has the install, SBOM, key, sign/attest, verify and policy blocks', () => {
    expect(blocks).toHaveLength(5);
    const text = blocks.join('\n');
    for (const step of [
      'npm install -g .',
      'sigil sbom',
      'sigil generate-key-pair',
      'sigil sign',
      'sigil attest',
      'sigil verify --key',
      'sigil verify --policy',
    ]) {
      expect(text).toContain(step);
    }
  });

  it('installs offline from a copy of this checkout, then runs every block verbatim and the policy allows', async () => {
    const clone = join(tmp, 'clone');
    await copyCheckout(clone);
    const install = await runBash(blocks[0]!, { cwd: clone, env, timeoutMs: 420_000 });
    expect(install.code, install.stderr).toBe(0);
    expect(install.stdout).toMatch(/^\d+\.\d+\.\d+/m);
    // The sigil on PATH is the one npm installed into the prefix, not this checkout's.
    const which = execFileSync('bash', ['-c', 'command -v sigil'], { env, encoding: 'utf8' }).trim();
    expect(which).toBe(join(prefix, 'bin', 'sigil'));

    const work = join(tmp, 'work');
    await mkdir(work);
    const run = await runBash(blocks.slice(1).join('\n'), { cwd: work, env });
    expect(run.code, run.stderr).toBe(0);
    for (const name of APP_PACKAGES) expect(run.stdout).toContain(name);
    const cdx = JSON.parse(await readFile(join(work, 'app.cdx.json'), 'utf8')) as { components: { name: string }[] };
    expect(cdx.components.map((c) => c.name)).toEqual(expect.arrayContaining(APP_PACKAGES));
    // The final command's report: the image allowed, the key and the SBOM attestation found.
    expect(run.stdout).toMatch(/\): ALLOW$/m);
    expect(run.stdout).toMatch(/^ {4}authority release-key \(key\): pass$/m);
    expect(run.stdout).toMatch(/^ {4}attestation sbom \(https:\/\/cyclonedx\.org\/bom\): pass$/m);

    // The policy bites: a policy naming another key denies the same image (exit 1).
    await mkdir(join(tmp, 'other'));
    const other = await runBash('sigil generate-key-pair', { cwd: join(tmp, 'other'), env });
    expect(other.code, other.stderr).toBe(0);
    await cp(join(tmp, 'other', 'cosign.pub'), join(work, 'policies', 'keys', 'release.pub'));
    const denied = await runBash(
      'sigil verify --policy policies/ "$REGISTRY/app@$(sigil digest "$REGISTRY/app:1.0")"',
      {
        cwd: work,
        env,
      },
    );
    expect(denied.code, denied.stdout + denied.stderr).toBe(1);
    expect(denied.stdout).toMatch(/\): DENY$/m);
    expect(denied.stdout).toMatch(/^ {4}authority release-key \(key\): (?!pass)/m);
  }, 540_000);

  it('ends in a deny when the attest step is left out', async () => {
    // A new image under the same tag: nothing of the first run is attached to it.
    await pushAppImage(`${registry.host}/app:1.0`, 'v2');
    const work = join(tmp, 'no-attest');
    await mkdir(work);
    const steps = blocks
      .slice(1)
      .join('\n')
      .split('\n')
      .filter((line) => !line.startsWith('sigil attest '))
      // verify-attestation would stop the script before the policy is asked.
      .join('\n')
      .replace(/sigil verify-attestation [^\n]*\\\n[^\n]*\n/, '');
    expect(steps).not.toContain('sigil attest');
    await writeFile(join(work, 'steps.sh'), steps);
    const run = await runBash(steps, { cwd: work, env });
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr).toMatch(/\+ sigil verify --policy policies\//);
    expect(run.stdout).toMatch(/\): DENY$/m);
    expect(run.stdout).toMatch(/^ {4}authority release-key \(key\): pass$/m);
    expect(run.stdout).toMatch(/^ {4}attestation sbom \(https:\/\/cyclonedx\.org\/bom\): (?!pass)/m);
  }, 120_000);
});
