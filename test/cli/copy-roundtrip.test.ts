import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoImageLayout, multiPlatformLayout } from '../harness/images.ts';
import { startRegistry, type TestRegistry } from '../harness/registry.ts';
import { runSigil } from '../helpers/cli.ts';

/** The layers' uncompressed identities, from the image config: what must survive every hop. */
async function diffIds(location: string, env: NodeJS.ProcessEnv): Promise<string[]> {
  const r = await runSigil(['config', '-o', 'json', location], { env });
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return (JSON.parse(r.stdout) as { rootfs: { diff_ids: string[] } }).rootfs.diff_ids;
}

async function digestOf(location: string, env: NodeJS.ProcessEnv, ...flags: string[]): Promise<string> {
  const r = await runSigil(['digest', ...flags, location], { env });
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return r.stdout.trim();
}

describe('sigil copy round trip through every kind of source', () => {
  let plain: TestRegistry;
  let basic: TestRegistry;
  let token: TestRegistry;
  let work: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    [plain, basic, token] = await Promise.all([
      startRegistry(),
      startRegistry({ auth: 'basic' }),
      startRegistry({ auth: 'token' }),
    ]);
    work = await mkdtemp(join(tmpdir(), 'sigil-copy-'));
    // A private docker config dir, so login writes there and nothing of the user's is read.
    env = { DOCKER_CONFIG: join(work, 'docker'), REGISTRY_AUTH_FILE: '', XDG_RUNTIME_DIR: join(work, 'run') };
  });

  afterAll(async () => {
    await Promise.all([plain?.stop(), basic?.stop(), token?.stop()]);
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('oci-dir -> registry -> docker-archive -> registry (Basic) -> registry (token) -> oci-dir keeps layers and digests', async () => {
    const layout = await demoImageLayout();
    for (const r of [basic, token]) {
      const login = await runSigil(['login', r.host, '-u', r.username!, '--password-stdin'], {
        input: `${r.password}\n`,
        env,
      });
      expect(login.stderr).toMatch(/Login Succeeded/);
      expect(login.code).toBe(0);
    }
    const config = JSON.parse(await readFile(join(env.DOCKER_CONFIG!, 'config.json'), 'utf8')) as { auths: object };
    expect(Object.keys(config.auths)).toEqual(expect.arrayContaining([basic.host, token.host]));

    const hops = [
      `oci-dir:${layout}:demo`,
      `${plain.host}/hop/one:1.0`,
      `docker-archive:${join(work, 'hop.tar')}:hop/two:1.0`,
      `${basic.host}/hop/three:1.0`,
      `${token.host}/hop/four:1.0`,
      `oci-dir:${join(work, 'final')}:final`,
    ];
    const wantDigest = await digestOf(hops[0]!, env);
    const wantDiffIds = await diffIds(hops[0]!, env);
    expect(wantDiffIds.length).toBeGreaterThan(1);
    for (let i = 1; i < hops.length; i++) {
      const r = await runSigil(['copy', hops[i - 1]!, hops[i]!], { env });
      expect(r.stderr).toMatch(/Copied/);
      expect(r.code).toBe(0);
      expect(await digestOf(hops[i]!, env)).toBe(wantDigest);
      expect(await diffIds(hops[i]!, env)).toEqual(wantDiffIds);
    }
    // Second copy into the same registry repository: every blob is already there.
    const again = await runSigil(['copy', '-o', 'json', hops[0]!, hops[1]!], { env });
    const result = JSON.parse(again.stdout) as { blobs: { copied: number; skipped: number } };
    expect(result.blobs.copied).toBe(0);
    expect(result.blobs.skipped).toBeGreaterThan(1);
  });

  it('without credentials the Basic registry answers UNAUTHORIZED with a login hint (exit 3)', async () => {
    const r = await runSigil(['digest', `${basic.host}/hop/three:1.0`], {
      env: { DOCKER_CONFIG: join(work, 'nobody'), REGISTRY_AUTH_FILE: '', XDG_RUNTIME_DIR: join(work, 'nobody') },
    });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/\[UNAUTHORIZED\].*login/);
  });

  it('a multi-platform index copies whole with --all-platforms, and one platform without', async () => {
    const layout = await multiPlatformLayout();
    const src = `oci-dir:${layout}`;
    const indexDigest = await digestOf(src, env);
    const dst = `${plain.host}/multi/app:1`;
    const r = await runSigil(['copy', '--all-platforms', src, dst], { env });
    expect(r.code).toBe(0);
    expect(await digestOf(dst, env)).toBe(indexDigest);
    for (const p of ['linux/amd64', 'linux/arm64']) {
      expect(await digestOf(dst, env, '--platform', p)).toBe(await digestOf(src, env, '--platform', p));
    }
    const single = `${plain.host}/multi/arm:1`;
    expect((await runSigil(['copy', '--platform', 'linux/arm64', src, single], { env })).code).toBe(0);
    expect(await digestOf(single, env)).toBe(await digestOf(src, env, '--platform', 'linux/arm64'));

    const missing = await runSigil(['digest', '--platform', 'linux/s390x', dst], { env });
    expect(missing.code).toBe(4);
    expect(missing.stderr).toMatch(/linux\/s390x.*available:.*linux\/amd64.*linux\/arm64/);
  });
});
