/**
 * The files and helper entries sigil writes are the ones containers/image (skopeo) reads, and the
 * other way round, checked against a real registry (CNCF distribution with htpasswd) on 127.0.0.1.
 */
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { defaultCredentialStore, login, logout } from '../../src/oci/credentials.ts';
import { type HelperFixture, makeHelperFixture } from './credential-helper-fixture.ts';

const has = (program: string) => {
  try {
    execFileSync('sh', ['-c', `command -v ${program}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};
const available = has('skopeo') && has('docker-registry') && has('htpasswd');

const USER = 'alice';
const PASSWORD = 'pa:ss word'; // a colon and a space: both must survive base64 and helpers

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

function skopeo(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile('skopeo', args, { env, timeout: 15_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
    child.stdin?.end(); // never answer a prompt
  });
}

describe.skipIf(!available)('interop with skopeo (containers/image) and a registry using htpasswd', () => {
  let dir: string;
  let registry: ChildProcess;
  let host: string;
  let helpers: HelperFixture;
  let home: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sigil-cred-interop-'));
    helpers = await makeHelperFixture();
    const htpasswd = execFileSync('htpasswd', ['-Bbn', USER, PASSWORD], { encoding: 'utf8' });
    await writeFile(join(dir, 'htpasswd'), htpasswd);
    const port = await freePort();
    host = `127.0.0.1:${port}`;
    await writeFile(
      join(dir, 'registry.yml'),
      [
        'version: 0.1',
        'log: { level: error }',
        `storage: { filesystem: { rootdirectory: ${join(dir, 'data')} } }`,
        `http: { addr: "${host}" }`,
        `auth: { htpasswd: { realm: sigil-test, path: ${join(dir, 'htpasswd')} } }`,
      ].join('\n'),
    );
    registry = spawn('docker-registry', ['serve', join(dir, 'registry.yml')], { stdio: 'ignore' });
    for (let i = 0; ; i++) {
      const status = await fetch(`http://${host}/v2/`).then(
        (r) => r.status,
        () => 0,
      );
      if (status === 401) break;
      if (i > 100) throw new Error(`registry on ${host} did not start`);
      await new Promise((r) => setTimeout(r, 50));
    }
  });

  afterAll(async () => {
    registry?.kill();
    await helpers?.cleanup();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  beforeEach(async () => {
    home = await mkdtemp(join(dir, 'home-'));
    await writeFile(helpers.storePath, '{}');
  });

  const env = (extra: NodeJS.ProcessEnv = {}) =>
    helpers.env({ HOME: home, XDG_RUNTIME_DIR: join(home, 'run'), ...extra });
  const configPath = () => join(home, '.docker', 'config.json');

  it('skopeo accepts the credentials sigil login wrote, and the registry does too', async () => {
    await login(host, { username: USER, password: PASSWORD }, { env: env(), homedir: home });
    const r = await skopeo(['login', '--tls-verify=false', '--authfile', configPath(), host], env());
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain(`Existing credentials are valid. Already logged in to ${host}`);
  });

  it('skopeo rejects a wrong password sigil wrote (so the check above is real)', async () => {
    await login(host, { username: USER, password: 'wrong' }, { env: env(), homedir: home });
    const r = await skopeo(['login', '--tls-verify=false', '--authfile', configPath(), host], env());
    expect(r.code).not.toBe(0);
  });

  it('sigil reads the auth.json skopeo login wrote, and the registry accepts what it read', async () => {
    const authFile = join(home, 'auth.json');
    const r = await skopeo(
      ['login', '--tls-verify=false', '--authfile', authFile, '-u', USER, '-p', PASSWORD, host],
      env(),
    );
    expect(r.stdout).toContain('Login Succeeded');
    const credential = await defaultCredentialStore({ env: env({ REGISTRY_AUTH_FILE: authFile }), homedir: home }).get(
      host,
    );
    expect(credential).toEqual({ username: USER, password: PASSWORD });
    const basic = Buffer.from(`${credential?.username}:${credential?.password}`).toString('base64');
    expect((await fetch(`http://${host}/v2/`, { headers: { authorization: `Basic ${basic}` } })).status).toBe(200);
  });

  it('a credential helper entry sigil stored is found by skopeo, and one skopeo stored by sigil', async () => {
    const authFile = join(home, 'helpers.json');
    await writeFile(authFile, JSON.stringify({ credHelpers: { [host]: 'sigiltest' } }));
    expect(
      await login(host, { username: USER, password: PASSWORD }, { env: env(), homedir: home, configPath: authFile }),
    ).toBe('docker-credential-sigiltest');
    const valid = await skopeo(['login', '--tls-verify=false', '--authfile', authFile, host], env());
    expect(valid.stdout).toContain('Existing credentials are valid');

    expect(await logout(host, { env: env(), homedir: home, configPath: authFile })).toBe(true);
    expect(await helpers.entries()).toEqual({});
    const stored = await skopeo(
      ['login', '--tls-verify=false', '--authfile', authFile, '-u', USER, '-p', PASSWORD, host],
      env(),
    );
    expect(stored.stdout).toContain('Login Succeeded');
    expect(await helpers.entries()).toEqual({ [host]: { Username: USER, Secret: PASSWORD } });
    expect(await defaultCredentialStore({ env: env(), homedir: home, authFile }).get(host)).toEqual({
      username: USER,
      password: PASSWORD,
    });
  });

  it("skopeo finds sigil's Docker Hub entry (https://index.docker.io/v1/) as docker.io", async () => {
    await login('docker.io', { username: 'hubuser', password: 'pw' }, { env: env(), homedir: home });
    const r = await skopeo(['login', '--get-login', '--authfile', configPath(), 'docker.io'], env());
    expect(r.stdout.trim()).toBe('hubuser');
    expect(Object.keys(JSON.parse(await readFile(configPath(), 'utf8')).auths)).toEqual([
      'https://index.docker.io/v1/',
    ]);
  });
});
