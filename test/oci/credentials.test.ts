import { chmod, lstat, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  chainCredentialStores,
  defaultCredentialStore,
  login,
  logout,
  staticCredentialStore,
} from '../../src/oci/credentials.ts';
import { OciError } from '../../src/oci/errors.ts';
import { type HelperFixture, makeHelperFixture } from './credential-helper-fixture.ts';

const b64 = (s: string) => Buffer.from(s).toString('base64');

let helpers: HelperFixture;
let home: string;

beforeAll(async () => {
  helpers = await makeHelperFixture();
});
afterAll(async () => {
  await helpers.cleanup();
});
beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), 'sigil-cred-home-'));
  await writeFile(helpers.storePath, '{}');
  await writeFile(helpers.logPath, '');
});
afterEach(async () => {
  await rm(home, { recursive: true, force: true });
});

async function writeJson(path: string, value: unknown): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, typeof value === 'string' ? value : JSON.stringify(value, null, 2));
}

const dockerConfig = () => join(home, '.docker', 'config.json');
/** A store that sees only this test's home: no XDG_RUNTIME_DIR from the machine, helpers on PATH. */
const store = (extra: NodeJS.ProcessEnv = {}, authFile?: string) =>
  defaultCredentialStore({
    env: helpers.env({ HOME: home, XDG_RUNTIME_DIR: join(home, 'run'), ...extra }),
    homedir: home,
    ...(authFile ? { authFile } : {}),
  });
const loginOptions = (extra: NodeJS.ProcessEnv = {}) => ({ env: helpers.env({ HOME: home, ...extra }), homedir: home });

async function rejection(p: Promise<unknown>): Promise<OciError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(OciError);
    return e as OciError;
  }
  throw new Error('expected a rejection');
}

describe('auths keys in ~/.docker/config.json', () => {
  it.each([
    ['https://index.docker.io/v1/', 'docker.io'],
    ['index.docker.io', 'docker.io'],
    ['docker.io', 'docker.io'],
    ['registry-1.docker.io', 'docker.io'],
    ['https://registry-1.docker.io/v2/', 'docker.io'],
    ['https://index.docker.io/v1/', 'index.docker.io'],
    ['docker.io', 'registry-1.docker.io'],
    ['http://127.0.0.1:5000', '127.0.0.1:5000'],
    ['https://127.0.0.1:5000/v2/', '127.0.0.1:5000'],
    ['HTTPS://Registry.Example.com/v1/', 'registry.example.com'],
    ['registry.example.com', 'registry.example.com'],
    ['registry.example.com/v2/', 'registry.example.com'],
    ['[::1]:5000', '[::1]:5000'],
  ])('key %s answers for %s', async (key, registry) => {
    await writeJson(dockerConfig(), { auths: { [key]: { auth: b64('alice:s3cret') } } });
    expect(await store().get(registry)).toEqual({ username: 'alice', password: 's3cret' });
  });

  it('does not answer for a different host or port', async () => {
    await writeJson(dockerConfig(), { auths: { 'http://127.0.0.1:5000': { auth: b64('alice:x') } } });
    expect(await store().get('127.0.0.1:5001')).toBeUndefined();
    expect(await store().get('127.0.0.1')).toBeUndefined();
    expect(await store().get('ghcr.io')).toBeUndefined();
  });

  it("ignores podman's per-repository keys: they do not cover the whole registry", async () => {
    await writeJson(dockerConfig(), { auths: { 'quay.io/team/app': { auth: b64('robot:x') } } });
    expect(await store().get('quay.io')).toBeUndefined();
  });

  it('prefers the exact key docker writes over a legacy URL form of the same host', async () => {
    await writeJson(dockerConfig(), {
      auths: {
        'http://index.docker.io/v1/stale': { auth: b64('old:old') },
        'https://index.docker.io/v1/': { auth: b64('new:new') },
      },
    });
    expect(await store().get('docker.io')).toEqual({ username: 'new', password: 'new' });
  });

  it('splits auth at the first colon (passwords and tokens contain colons) and trims NUL padding', async () => {
    await writeJson(dockerConfig(), {
      auths: {
        'a.example': { auth: b64('bob:pa:ss:word') },
        'b.example': { auth: b64('carol:pw\0\0') },
      },
    });
    expect(await store().get('a.example')).toEqual({ username: 'bob', password: 'pa:ss:word' });
    expect(await store().get('b.example')).toEqual({ username: 'carol', password: 'pw' });
  });

  it('reads username/password fields, identitytoken and registrytoken', async () => {
    await writeJson(dockerConfig(), {
      auths: {
        'plain.example': { username: 'dave', password: 'pw' },
        // What docker login writes when the registry hands back an identity token.
        'idtoken.example': { auth: b64('erin:'), identitytoken: 'refresh-token' },
        'regtoken.example': { registrytoken: 'bearer-token' },
      },
    });
    expect(await store().get('plain.example')).toEqual({ username: 'dave', password: 'pw' });
    expect(await store().get('idtoken.example')).toEqual({ username: 'erin', identityToken: 'refresh-token' });
    expect(await store().get('regtoken.example')).toEqual({ registryToken: 'bearer-token' });
  });

  it("treats docker's empty marker entry as no credential", async () => {
    await writeJson(dockerConfig(), { auths: { 'https://index.docker.io/v1/': {} } });
    expect(await store().get('docker.io')).toBeUndefined();
  });

  it('skips missing files and a home without any config', async () => {
    expect(await store().get('docker.io')).toBeUndefined();
  });

  it('rejects a registry argument that names a repository', async () => {
    await expect(store().get('quay.io/team/app')).rejects.toMatchObject({ code: 'INVALID_OPTIONS' });
  });
});

describe('malformed files', () => {
  it('names the file and the line/column, and never quotes the content', async () => {
    await writeJson(dockerConfig(), '{\n  "auths": { "ghcr.io": { "auth": "c2VjcmV0LXRva2Vu" } ,, }\n}');
    const e = await rejection(store().get('ghcr.io'));
    expect(e.code).toBe('CREDENTIALS');
    expect(e.message).toBe('~/.docker/config.json: invalid JSON at line 2 column 57; fix or remove it');
    expect(e.message).not.toContain('c2VjcmV0');
    expect(String((e.cause as Error).message)).not.toContain('c2VjcmV0');
  });

  it('reports a truncated file at its end', async () => {
    await writeJson(dockerConfig(), '{"auths": {');
    const e = await rejection(store().get('ghcr.io'));
    expect(e.message).toContain('invalid JSON at line 1 column 12');
  });

  it('rejects an auth field that is not base64 "user:password", naming only the key', async () => {
    await writeJson(dockerConfig(), { auths: { 'ghcr.io': { auth: b64('no-colon-secret') } } });
    const e = await rejection(store().get('ghcr.io'));
    expect(e.code).toBe('CREDENTIALS');
    expect(e.message).toContain('~/.docker/config.json: auths["ghcr.io"].auth');
    expect(e.message).not.toContain('no-colon-secret');
    expect(e.message).not.toContain(b64('no-colon-secret'));
  });

  it('rejects auths that is not an object', async () => {
    await writeJson(dockerConfig(), { auths: ['ghcr.io'] });
    await expect(store().get('ghcr.io')).rejects.toMatchObject({ code: 'CREDENTIALS' });
  });
});

describe('file lookup order', () => {
  const podman = () => join(home, 'podman-auth.json');

  it('REGISTRY_AUTH_FILE comes before docker config.json', async () => {
    await writeJson(dockerConfig(), { auths: { 'ghcr.io': { auth: b64('docker:d') } } });
    await writeJson(podman(), { auths: { 'ghcr.io': { auth: b64('podman:p') } } });
    expect(await store({ REGISTRY_AUTH_FILE: podman() }).get('ghcr.io')).toEqual({
      username: 'podman',
      password: 'p',
    });
    expect(await store().get('ghcr.io')).toEqual({ username: 'docker', password: 'd' });
  });

  it('falls through to docker config.json for registries the podman file does not have', async () => {
    await writeJson(dockerConfig(), { auths: { 'quay.io': { auth: b64('docker:d') } } });
    await writeJson(podman(), { auths: { 'ghcr.io': { auth: b64('podman:p') } } });
    expect(await store({ REGISTRY_AUTH_FILE: podman() }).get('quay.io')).toEqual({
      username: 'docker',
      password: 'd',
    });
  });

  it('an explicit authFile is the only file read', async () => {
    await writeJson(dockerConfig(), { auths: { 'quay.io': { auth: b64('docker:d') } } });
    await writeJson(podman(), { auths: { 'ghcr.io': { auth: b64('podman:p') } } });
    const only = store({}, podman());
    expect(await only.get('ghcr.io')).toEqual({ username: 'podman', password: 'p' });
    expect(await only.get('quay.io')).toBeUndefined();
  });

  it('reads podman files under XDG_RUNTIME_DIR and XDG_CONFIG_HOME before docker config.json', async () => {
    await writeJson(dockerConfig(), {
      auths: { 'ghcr.io': { auth: b64('docker:d') }, 'quay.io': { auth: b64('docker:d') } },
    });
    await writeJson(join(home, 'run', 'containers', 'auth.json'), { auths: { 'ghcr.io': { auth: b64('runtime:r') } } });
    await writeJson(join(home, '.config', 'containers', 'auth.json'), {
      auths: { 'quay.io': { auth: b64('config:c') } },
    });
    expect(await store().get('ghcr.io')).toEqual({ username: 'runtime', password: 'r' });
    expect(await store().get('quay.io')).toEqual({ username: 'config', password: 'c' });
  });

  it('DOCKER_CONFIG names the directory holding config.json', async () => {
    const dir = join(home, 'elsewhere');
    await writeJson(join(dir, 'config.json'), { auths: { 'ghcr.io': { auth: b64('moved:m') } } });
    await writeJson(dockerConfig(), { auths: { 'ghcr.io': { auth: b64('home:h') } } });
    expect(await store({ DOCKER_CONFIG: dir }).get('ghcr.io')).toEqual({ username: 'moved', password: 'm' });
  });

  it('DOCKER_AUTH_CONFIG comes first, and ~/.dockercfg (legacy) last', async () => {
    await writeJson(join(home, '.dockercfg'), {
      'https://index.docker.io/v1/': { auth: b64('legacy:l'), email: 'x@example.com' },
      'quay.io': { auth: b64('legacy:l') },
    });
    await writeJson(dockerConfig(), { auths: { 'quay.io': { auth: b64('docker:d') } } });
    const env = { DOCKER_AUTH_CONFIG: JSON.stringify({ auths: { 'quay.io': { auth: b64('env:e') } } }) };
    expect(await store(env).get('quay.io')).toEqual({ username: 'env', password: 'e' });
    expect(await store().get('quay.io')).toEqual({ username: 'docker', password: 'd' });
    expect(await store().get('docker.io')).toEqual({ username: 'legacy', password: 'l' });
  });
});

describe('credential helpers (docker-credential-sigiltest on PATH)', () => {
  it('credHelpers sends the host on stdin and reads {Username, Secret}', async () => {
    await helpers.seed({ 'ghcr.io': { Username: 'octo', Secret: 'ghp_x:y' } });
    await writeJson(dockerConfig(), { credHelpers: { 'ghcr.io': 'sigiltest' } });
    expect(await store().get('ghcr.io')).toEqual({ username: 'octo', password: 'ghp_x:y' });
    expect(await helpers.calls()).toEqual(['get ghcr.io']);
  });

  it('Username <token> means the secret is an identity token', async () => {
    await helpers.seed({ 'acr.example': { Username: '<token>', Secret: 'refresh' } });
    await writeJson(dockerConfig(), { credHelpers: { 'acr.example': 'sigiltest' } });
    expect(await store().get('acr.example')).toEqual({ identityToken: 'refresh' });
  });

  it('asks for Docker Hub under the key docker stores, then the one podman uses', async () => {
    await helpers.seed({ 'docker.io': { Username: 'hubuser', Secret: 'pw' } });
    await writeJson(dockerConfig(), { credsStore: 'sigiltest' });
    expect(await store().get('index.docker.io')).toEqual({ username: 'hubuser', password: 'pw' });
    expect(await helpers.calls()).toEqual(['get https://index.docker.io/v1/', 'get docker.io']);
  });

  it('"credentials not found" is no credential, and the next file is tried', async () => {
    await writeJson(join(home, 'podman.json'), { credHelpers: { 'ghcr.io': 'sigiltest' } });
    await writeJson(dockerConfig(), { auths: { 'ghcr.io': { auth: b64('file:f') } } });
    expect(await store({ REGISTRY_AUTH_FILE: join(home, 'podman.json') }).get('ghcr.io')).toEqual({
      username: 'file',
      password: 'f',
    });
    expect(await helpers.calls()).toEqual(['get ghcr.io']);
  });

  it('credHelpers for one registry wins over credsStore and auths', async () => {
    await helpers.seed({ 'ghcr.io': { Username: 'helper', Secret: 'h' } });
    await writeJson(dockerConfig(), {
      credsStore: 'sigilbroken',
      credHelpers: { 'ghcr.io': 'sigiltest' },
      auths: { 'ghcr.io': { auth: b64('file:f') } },
    });
    expect(await store().get('ghcr.io')).toEqual({ username: 'helper', password: 'h' });
  });

  it('credsStore serves every registry; its miss falls back to the auths entry', async () => {
    await helpers.seed({ 'quay.io': { Username: 'store', Secret: 's' } });
    await writeJson(dockerConfig(), {
      credsStore: 'sigiltest',
      auths: { 'quay.io': {}, 'ghcr.io': { auth: b64('file:f') } },
    });
    expect(await store().get('quay.io')).toEqual({ username: 'store', password: 's' });
    expect(await store().get('ghcr.io')).toEqual({ username: 'file', password: 'f' });
    expect(await store().get('gcr.io')).toBeUndefined();
  });

  it('a failing helper is a CREDENTIALS error naming the helper and where it was configured', async () => {
    await writeJson(dockerConfig(), { credHelpers: { 'ghcr.io': 'sigilbroken' } });
    const e = await rejection(store().get('ghcr.io'));
    expect(e.code).toBe('CREDENTIALS');
    expect(e.message).toContain('docker-credential-sigilbroken get ghcr.io');
    expect(e.message).toContain('credHelpers in ~/.docker/config.json');
    expect(e.message).toContain('exit 3');
  });

  it('a helper missing from PATH says so', async () => {
    await writeJson(dockerConfig(), { credsStore: 'sigil-not-installed' });
    const e = await rejection(store().get('ghcr.io'));
    expect(e.code).toBe('CREDENTIALS');
    expect(e.message).toBe(
      'credential helper docker-credential-sigil-not-installed (credsStore in ~/.docker/config.json) not found on PATH; install it or remove it from the configuration',
    );
  });

  it('refuses a helper name that is a path', async () => {
    await writeJson(dockerConfig(), { credsStore: '../../bin/sh' });
    await expect(store().get('ghcr.io')).rejects.toMatchObject({ code: 'CREDENTIALS' });
  });
});

describe('login and logout with config.json', () => {
  it('writes base64 auth under the host, file 0600 in a 0700 directory, and reads it back', async () => {
    const written = await login('127.0.0.1:5000', { username: 'alice', password: 'pa:ss' }, loginOptions());
    expect(written).toBe(dockerConfig());
    const file = JSON.parse(await readFile(dockerConfig(), 'utf8'));
    expect(file).toEqual({ auths: { '127.0.0.1:5000': { auth: b64('alice:pa:ss') } } });
    expect((await stat(dockerConfig())).mode & 0o777).toBe(0o600);
    expect((await stat(dirname(dockerConfig()))).mode & 0o777).toBe(0o700);
    expect(await store().get('127.0.0.1:5000')).toEqual({ username: 'alice', password: 'pa:ss' });
    // The temp file was renamed, not left behind.
    expect(await readdir(dirname(dockerConfig()))).toEqual(['config.json']);
  });

  it('uses https://index.docker.io/v1/ for Docker Hub, as docker login does', async () => {
    await login('docker.io', { username: 'hub', password: 'pw' }, loginOptions());
    const file = JSON.parse(await readFile(dockerConfig(), 'utf8'));
    expect(Object.keys(file.auths)).toEqual(['https://index.docker.io/v1/']);
    expect(await store().get('registry-1.docker.io')).toEqual({ username: 'hub', password: 'pw' });
  });

  it('keeps every other field of the file and tightens a loose mode to 0600', async () => {
    const original = {
      auths: { 'quay.io': { auth: b64('q:q'), email: 'q@example.com' } },
      HttpHeaders: { 'X-Meta': 'kept' },
      psFormat: 'table {{.ID}}',
      proxies: { default: { httpProxy: 'http://proxy:3128' } },
      currentContext: 'desktop-linux',
      features: { hooks: 'true' },
    };
    await writeJson(dockerConfig(), original);
    await chmod(dockerConfig(), 0o644);
    await login('ghcr.io', { username: 'g', password: 'g' }, loginOptions());
    const file = JSON.parse(await readFile(dockerConfig(), 'utf8'));
    expect(file).toEqual({ ...original, auths: { ...original.auths, 'ghcr.io': { auth: b64('g:g') } } });
    expect((await stat(dockerConfig())).mode & 0o777).toBe(0o600);
  });

  it('honours DOCKER_CONFIG and an explicit configPath', async () => {
    const dir = join(home, 'dc');
    await login('ghcr.io', { username: 'g', password: 'g' }, loginOptions({ DOCKER_CONFIG: dir }));
    expect(JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')).auths['ghcr.io']).toBeDefined();
    const explicit = join(home, 'x', 'y', 'cfg.json');
    expect(await login('ghcr.io', { username: 'g', password: 'g' }, { ...loginOptions(), configPath: explicit })).toBe(
      explicit,
    );
    expect((await stat(join(home, 'x'))).mode & 0o777).toBe(0o700);
  });

  it('writes through a symlinked config.json to its target', async () => {
    const target = join(home, 'dotfiles', 'docker.json');
    await writeJson(target, { auths: {} });
    await mkdir(join(home, '.docker'), { recursive: true });
    await symlink(target, dockerConfig());
    await login('ghcr.io', { username: 'g', password: 'g' }, loginOptions());
    expect((await lstat(dockerConfig())).isSymbolicLink()).toBe(true);
    expect(JSON.parse(await readFile(target, 'utf8')).auths['ghcr.io']).toEqual({ auth: b64('g:g') });
  });

  it('refuses to overwrite a malformed config.json', async () => {
    await writeJson(dockerConfig(), '{"auths": {');
    const e = await rejection(login('ghcr.io', { username: 'g', password: 'g' }, loginOptions()));
    expect(e.message).toMatch(/^~\/\.docker\/config\.json: invalid JSON at line 1 column 12; fix or remove it$/);
    expect(await readFile(dockerConfig(), 'utf8')).toBe('{"auths": {');
  });

  it('rejects empty credentials and a username with a colon', async () => {
    await expect(login('ghcr.io', { username: '', password: 'x' }, loginOptions())).rejects.toMatchObject({
      code: 'INVALID_OPTIONS',
    });
    await expect(login('ghcr.io', { username: 'a:b', password: 'x' }, loginOptions())).rejects.toMatchObject({
      code: 'INVALID_OPTIONS',
    });
  });

  it('logout removes every key naming the registry, keeps the rest, and reports whether it removed', async () => {
    await writeJson(dockerConfig(), {
      auths: {
        '127.0.0.1:5000': { auth: b64('a:a') },
        'http://127.0.0.1:5000': { auth: b64('old:old') },
        'quay.io': { auth: b64('q:q') },
      },
      psFormat: 'x',
    });
    expect(await logout('127.0.0.1:5000', loginOptions())).toBe(true);
    expect(JSON.parse(await readFile(dockerConfig(), 'utf8'))).toEqual({
      auths: { 'quay.io': { auth: b64('q:q') } },
      psFormat: 'x',
    });
    expect(await store().get('127.0.0.1:5000')).toBeUndefined();
    expect(await logout('127.0.0.1:5000', loginOptions())).toBe(false);
    expect(await logout('ghcr.io', { ...loginOptions(), configPath: join(home, 'absent.json') })).toBe(false);
  });
});

describe('login and logout with a credential helper', () => {
  it('credsStore: stores {ServerURL, Username, Secret} in the helper and leaves an empty marker', async () => {
    await writeJson(dockerConfig(), { credsStore: 'sigiltest', auths: { 'docker.io': {} } });
    const written = await login('docker.io', { username: 'hub', password: 'tok:en' }, loginOptions());
    expect(written).toBe('docker-credential-sigiltest');
    expect(await helpers.entries()).toEqual({ 'https://index.docker.io/v1/': { Username: 'hub', Secret: 'tok:en' } });
    const file = JSON.parse(await readFile(dockerConfig(), 'utf8'));
    expect(file.auths['https://index.docker.io/v1/']).toEqual({});
    expect(JSON.stringify(file)).not.toContain('tok:en');
    expect(await store().get('docker.io')).toEqual({ username: 'hub', password: 'tok:en' });

    expect(await logout('docker.io', loginOptions())).toBe(true);
    expect(await helpers.entries()).toEqual({});
    expect(JSON.parse(await readFile(dockerConfig(), 'utf8')).auths).toEqual({});
    expect(await store().get('docker.io')).toBeUndefined();
    expect(await logout('docker.io', loginOptions())).toBe(false);
  });

  it('credHelpers: the registry-specific helper receives the secret, the file never does', async () => {
    await writeJson(dockerConfig(), {
      credHelpers: { '127.0.0.1:5000': 'sigiltest' },
      auths: { '127.0.0.1:5000': { auth: b64('old:plaintext') } },
    });
    await login('127.0.0.1:5000', { username: 'u', password: 'p' }, loginOptions());
    expect(await helpers.entries()).toEqual({ '127.0.0.1:5000': { Username: 'u', Secret: 'p' } });
    // The plaintext secret from before is gone, replaced by docker's marker.
    expect(JSON.parse(await readFile(dockerConfig(), 'utf8')).auths).toEqual({ '127.0.0.1:5000': {} });
    expect(await helpers.calls()).toEqual(['store 127.0.0.1:5000']);
  });

  it('a failing store names the helper and redacts the secret it echoed', async () => {
    await writeJson(dockerConfig(), { credsStore: 'sigilbroken' });
    const e = await rejection(login('ghcr.io', { username: 'u', password: 'hunter2-secret' }, loginOptions()));
    expect(e.code).toBe('CREDENTIALS');
    expect(e.message).toContain('docker-credential-sigilbroken store ghcr.io');
    expect(e.message).toContain('<redacted>');
    expect(e.message).not.toContain('hunter2-secret');
    // Nothing was written on failure.
    expect(JSON.parse(await readFile(dockerConfig(), 'utf8'))).toEqual({ credsStore: 'sigilbroken' });
  });
});

describe('static and chained stores', () => {
  it('static keys accept every docker form of a registry', async () => {
    const s = staticCredentialStore({
      'https://index.docker.io/v1/': { username: 'hub', password: 'h' },
      'localhost:5000': { registryToken: 't' },
    });
    expect(await s.get('docker.io')).toEqual({ username: 'hub', password: 'h' });
    expect(await s.get('localhost:5000')).toEqual({ registryToken: 't' });
    expect(await s.get('localhost:5001')).toBeUndefined();
    expect(() => staticCredentialStore({ 'quay.io/ns/repo': {} })).toThrow(OciError);
  });

  it('chain: the first store with credentials answers; errors are not swallowed', async () => {
    await writeJson(dockerConfig(), {
      auths: { 'ghcr.io': { auth: b64('file:f') }, 'quay.io': { auth: b64('file:q') } },
    });
    const chained = chainCredentialStores(
      staticCredentialStore({ 'ghcr.io': { username: 'flag', password: 'p' } }),
      store(),
    );
    expect(await chained.get('ghcr.io')).toEqual({ username: 'flag', password: 'p' });
    expect(await chained.get('quay.io')).toEqual({ username: 'file', password: 'q' });
    expect(await chained.get('gcr.io')).toBeUndefined();
    const failing = { get: () => Promise.reject(new OciError('CREDENTIALS', 'boom')) };
    await expect(chainCredentialStores(failing, store()).get('ghcr.io')).rejects.toThrow('boom');
  });
});
