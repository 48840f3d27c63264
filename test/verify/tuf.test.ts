import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { copyImage } from '../../src/oci/copy.ts';
import { openSource, openTarget } from '../../src/oci/source.ts';
import { VerifyError } from '../../src/verify/errors.ts';
import {
  defaultTrustedRoot,
  defaultTufCacheDir,
  embeddedTrustedRoot,
  loadTrust,
  resetTrustCache,
} from '../../src/verify/trust-material.ts';
import { updateTrustedRoot } from '../../src/verify/tuf.ts';
import { serveLoopback } from '../harness/http-server.ts';
import { demoImageLayout } from '../harness/images.ts';
import { startRegistry } from '../harness/registry.ts';
import { startSigstoreStack, sigstoreFlags } from '../harness/sigstore-stack.ts';
import { startTufRepo, type TufRepo } from '../harness/tuf-repo.ts';
import { runSigil } from '../helpers/cli.ts';

/** Trusted roots that differ from the seeds (and each other) yet are valid: fewer logs. */
const SEEDS = embeddedTrustedRoot();
const ROOT_A = `${JSON.stringify({ ...SEEDS, tlogs: (SEEDS['tlogs'] as unknown[]).slice(0, 1) }, null, 2)}\n`;
const ROOT_B = JSON.stringify({ ...SEEDS, ctlogs: (SEEDS['ctlogs'] as unknown[]).slice(0, 1) });
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

let work: string;
let dirs = 0;
const repos: TufRepo[] = [];
const tempDir = () => join(work, `d${++dirs}`);

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'sigil-tuf-'));
});
afterEach(async () => {
  vi.unstubAllEnvs();
  resetTrustCache();
  await Promise.all(repos.splice(0).map((r) => r.stop()));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

/** A repository serving `trustedRoot`, its v1 root.json written to a file, and an empty cache dir. */
async function repoWith(trustedRoot: string) {
  const repo = await startTufRepo();
  repos.push(repo);
  repo.publish('trusted_root.json', trustedRoot);
  const rootFile = join(work, `root-${++dirs}.json`);
  await writeFile(rootFile, repo.root(1));
  return { repo, rootFile, cacheDir: tempDir() };
}

const stored = (cacheDir: string) => readFile(join(cacheDir, 'trusted_root.json'), 'utf8');
const update = (repo: TufRepo, cacheDir: string, root?: string) =>
  updateTrustedRoot({ mirror: repo.mirror, cacheDir, retries: 0, ...(root ? { root } : {}) });

async function refused(p: Promise<unknown>): Promise<VerifyError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(VerifyError);
  return err as VerifyError;
}

describe('updateTrustedRoot (a loopback TUF repository)', () => {
  it('stores exactly the served trusted_root.json, then the default trusted root is it, not the seeds', async () => {
    const { repo, rootFile, cacheDir } = await repoWith(ROOT_A);
    const r = await update(repo, cacheDir, rootFile);

    expect(r.path).toBe(join(cacheDir, 'trusted_root.json'));
    expect(await stored(cacheDir)).toBe(ROOT_A);
    const meta = JSON.parse(await readFile(join(cacheDir, 'trusted_root.meta.json'), 'utf8')) as Record<string, string>;
    expect(meta).toEqual({ mirror: repo.mirror, updatedAt: r.updatedAt });
    expect(Date.parse(meta.updatedAt!)).toBeGreaterThan(Date.now() - 60_000);
    // The TUF client walk, consistent-snapshot style.
    expect(repo.requests).toEqual([
      '/2.root.json',
      '/timestamp.json',
      '/1.snapshot.json',
      '/1.targets.json',
      `/targets/${sha256(ROOT_A)}.trusted_root.json`,
    ]);

    vi.stubEnv('TUF_ROOT', cacheDir);
    expect(loadTrust({}).json).toEqual(JSON.parse(ROOT_A));
    expect(defaultTrustedRoot()).not.toEqual(SEEDS);
    // Elsewhere (nothing initialized) the seeds, as before.
    vi.stubEnv('TUF_ROOT', tempDir());
    expect(loadTrust({}).json).toBe(SEEDS);
  });

  it('a stored file that is not a trusted root is passed over for the seeds', async () => {
    const dir = tempDir();
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'trusted_root.json'), '{"truncated":');
    expect(defaultTrustedRoot({ TUF_ROOT: dir })).toBe(SEEDS);
  });

  it('cache dir: $TUF_ROOT, else $XDG_CACHE_HOME/sigil/tuf, else ~/.cache/sigil/tuf', () => {
    expect(defaultTufCacheDir({ TUF_ROOT: '/t', XDG_CACHE_HOME: '/x', HOME: '/h' })).toBe('/t');
    expect(defaultTufCacheDir({ XDG_CACHE_HOME: '/x', HOME: '/h' })).toBe('/x/sigil/tuf');
    expect(defaultTufCacheDir({ HOME: '/h' })).toBe('/h/.cache/sigil/tuf');
  });

  it('follows root rotations: v2 signed by the v1 keys, from the cached root or a given v1', async () => {
    const { repo, rootFile, cacheDir } = await repoWith(ROOT_A);
    await update(repo, cacheDir, rootFile);
    // Every role gets new keys: a client that did not take v2 would refuse the new timestamp.
    repo.rotateRoot();
    repo.publish('trusted_root.json', ROOT_B);

    await update(repo, cacheDir); // from the cached TUF root (v1)
    expect(await stored(cacheDir)).toBe(ROOT_B);
    const tufRoot = join(cacheDir, encodeURIComponent(new URL(repo.mirror).host), 'root.json');
    const cachedRoot = JSON.parse(await readFile(tufRoot, 'utf8')) as { signed: { version: number } };
    expect(cachedRoot.signed.version).toBe(2);

    repo.rotateRoot();
    const fresh = tempDir();
    await update(repo, fresh, rootFile); // a new client given v1 walks 1 -> 2 -> 3
    expect(await stored(fresh)).toBe(ROOT_B);
    expect(repo.requests.filter((p) => p.endsWith('.root.json')).slice(-3)).toEqual([
      '/2.root.json',
      '/3.root.json',
      '/4.root.json',
    ]);
  });

  it('refuses a root not signed by the previous root keys; the stored root stays', async () => {
    const { repo, rootFile, cacheDir } = await repoWith(ROOT_A);
    await update(repo, cacheDir, rootFile);
    repo.rotateRoot({ signedByOld: false });
    repo.publish('trusted_root.json', ROOT_B);

    const err = await refused(update(repo, cacheDir));
    expect(err.code).toBe('TUF_UPDATE_FAILED');
    expect(err.message).toContain(repo.mirror);
    expect(err.message).toMatch(/root was signed by 0\/1 keys/);
    expect(err.message).toContain(`${join(cacheDir, 'trusted_root.json')} is unchanged`);
    expect(await stored(cacheDir)).toBe(ROOT_A);

    // Given out of band, the new root is taken as the initial one (cosign initialize --root).
    const v2 = join(work, 'root-v2.json');
    await writeFile(v2, repo.root(2));
    await update(repo, cacheDir, v2);
    expect(await stored(cacheDir)).toBe(ROOT_B);
  });

  it('refuses a target whose bytes do not match targets.json; the stored root and its meta stay', async () => {
    const { repo, rootFile, cacheDir } = await repoWith(ROOT_A);
    await update(repo, cacheDir, rootFile);
    const meta = await readFile(join(cacheDir, 'trusted_root.meta.json'), 'utf8');
    repo.publish('trusted_root.json', ROOT_B);
    // Same length, one byte changed: only the hash can tell.
    repo.tamperTarget('trusted_root.json', ROOT_B.replace('"tlogs"', '"tlogz"'));

    const err = await refused(update(repo, cacheDir));
    expect(err.code).toBe('TUF_UPDATE_FAILED');
    expect(err.message).toContain(`TUF update from ${repo.mirror}`);
    expect(err.message).toMatch(/target trusted_root\.json .* does not match the length and hash in targets\.json/);
    expect(err.message).toMatch(/Expected hash [0-9a-f]{64} but got [0-9a-f]{64}/);
    expect(await stored(cacheDir)).toBe(ROOT_A);
    expect(await readFile(join(cacheDir, 'trusted_root.meta.json'), 'utf8')).toBe(meta);
    vi.stubEnv('TUF_ROOT', cacheDir);
    expect(loadTrust({}).json).toEqual(JSON.parse(ROOT_A));
  });

  it('refuses an expired timestamp (a freeze attack or a stale mirror); the stored root stays', async () => {
    const { repo, rootFile, cacheDir } = await repoWith(ROOT_A);
    await update(repo, cacheDir, rootFile);
    repo.publish('trusted_root.json', ROOT_B, { timestampExpires: new Date(Date.now() - 3_600_000) });

    const err = await refused(update(repo, cacheDir));
    expect(err.code).toBe('TUF_UPDATE_FAILED');
    expect(err.message).toMatch(/timestamp\.json is expired .*stale/);
    expect(await stored(cacheDir)).toBe(ROOT_A);
  });

  it('usage mistakes and an unreachable mirror name what to fix', async () => {
    const { repo, cacheDir } = await repoWith(ROOT_A);
    // Only the public-good mirror has an embedded initial root.
    const noRoot = await refused(update(repo, cacheDir));
    expect(noRoot.code).toBe('TRUST_ROOT_INVALID');
    expect(noRoot.message).toMatch(/has no embedded initial root: give its root\.json/);

    const sigstoreRoot = join(work, 'sigstore-trusted-root.json');
    await writeFile(sigstoreRoot, ROOT_A);
    const mixUp = await refused(update(repo, cacheDir, sigstoreRoot));
    expect(mixUp.code).toBe('TRUST_ROOT_INVALID');
    expect(mixUp.message).toMatch(/not TUF root metadata.*Sigstore trusted_root\.json/);

    expect((await refused(updateTrustedRoot({ mirror: 'ftp://x', cacheDir }))).code).toBe('TRUST_ROOT_INVALID');

    const gone = await repoWith(ROOT_A);
    await gone.repo.stop();
    const down = await refused(update(gone.repo, gone.cacheDir, gone.rootFile));
    expect(down.code).toBe('TUF_UPDATE_FAILED');
    expect(down.message).toMatch(/cannot reach the mirror: .*ECONNREFUSED/);
    expect(down.message).toContain('nothing was stored');
  });

  it('an interrupted update stops waiting and stores nothing', async () => {
    const { rootFile, cacheDir } = await repoWith(ROOT_A);
    const hung = await serveLoopback(() => new Promise<void>(() => {}));
    try {
      const controller = new AbortController();
      setTimeout(() => controller.abort(new Error('interrupted')), 100);
      const p = updateTrustedRoot({ mirror: hung.origin, root: rootFile, cacheDir, signal: controller.signal });
      await expect(p).rejects.toThrow('interrupted');
      const slow = await refused(
        updateTrustedRoot({ mirror: hung.origin, root: rootFile, cacheDir, timeout: 200, retries: 0 }),
      );
      expect(slow.message).toMatch(/did not answer in time/);
      await expect(stored(cacheDir)).rejects.toThrow(/ENOENT/);
    } finally {
      await hung.stop();
    }
  });
});

describe('sigil initialize (the built CLI)', () => {
  it('--mirror --root stores the trusted root in $TUF_ROOT; a refused update is exit 1, a bad --root exit 2', async () => {
    const { repo, rootFile, cacheDir } = await repoWith(ROOT_A);
    const env = { TUF_ROOT: cacheDir };
    const ok = await runSigil(['initialize', '--mirror', repo.mirror, '--root', rootFile], { env });
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain(`Trusted root from ${repo.mirror} stored in ${join(cacheDir, 'trusted_root.json')}`);
    expect(ok.stdout).toMatch(/transparency logs: 1, certificate authorities: 2/);
    expect(await stored(cacheDir)).toBe(ROOT_A);

    repo.publish('trusted_root.json', ROOT_B);
    const json = await runSigil(['initialize', '-o', 'json', '--mirror', repo.mirror], { env });
    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({
      path: join(cacheDir, 'trusted_root.json'),
      mirror: repo.mirror,
      tlogs: 2,
      certificateAuthorities: 2,
      ctlogs: 1,
      timestampAuthorities: 1,
    });

    repo.publish('trusted_root.json', ROOT_A);
    repo.tamperTarget('trusted_root.json', ROOT_A.replace('"tlogs"', '"tlogz"'));
    const tampered = await runSigil(['initialize', '--mirror', repo.mirror], { env });
    expect(tampered.code).toBe(1);
    expect(tampered.stderr).toMatch(/^sigil: error \[TUF_UPDATE_FAILED\]: TUF update from .* does not match/);
    expect(await stored(cacheDir)).toBe(ROOT_B);

    const bad = await runSigil(['initialize', '--mirror', repo.mirror, '--root', join(work, 'missing.json')], { env });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('[TRUST_ROOT_INVALID]');
  }, 20_000);

  it('verify without --trusted-root uses the initialized root: a loopback Sigstore keyless signature verifies', async () => {
    const [registry, stack] = await Promise.all([startRegistry(), startSigstoreStack()]);
    try {
      const image = `${registry.host}/tuf/app:1.0`;
      await copyImage(await openSource(`oci-dir:${await demoImageLayout()}:demo`), await openTarget(image));
      const email = 'builder@sigil.test';
      const sign = await runSigil([
        'sign',
        '--identity-token',
        stack.mintIdentityToken({ email }),
        ...sigstoreFlags(stack),
        image,
      ]);
      expect(sign.code, sign.stderr).toBe(0);

      const { repo, rootFile, cacheDir } = await repoWith(JSON.stringify(stack.trustedRoot()));
      const init = await runSigil(['initialize', '--mirror', repo.mirror, '--root', rootFile], {
        env: { TUF_ROOT: cacheDir },
      });
      expect(init.code, init.stderr).toBe(0);

      const verify = [
        'verify',
        '--certificate-identity',
        email,
        '--certificate-oidc-issuer',
        stack.defaultIssuer,
        image,
      ];
      const withTuf = await runSigil(verify, { env: { TUF_ROOT: cacheDir } });
      expect(withTuf.code, withTuf.stderr).toBe(0);
      // Nothing initialized: the seeds (public-good) do not know this Sigstore.
      const withSeeds = await runSigil(verify, { env: { TUF_ROOT: undefined, XDG_CACHE_HOME: tempDir() } });
      expect(withSeeds.code).toBe(1);
      expect(withSeeds.stderr).toMatch(/\[(TLOG_ENTRY_INVALID|CERT_CHAIN_INVALID)\]/);
    } finally {
      await Promise.all([registry.stop(), stack.stop()]);
    }
  }, 30_000);
});
