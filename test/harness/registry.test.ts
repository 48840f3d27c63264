import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sweepStaleTempDirs } from './processes.ts';
import { startRegistry, TOKEN_SERVICE, type TestRegistry } from './registry.ts';
import { writeTinyOciLayout } from './tiny-oci-layout.ts';

const execFileAsync = promisify(execFile);

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

function sha256(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

function basic(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}

async function getToken(registry: TestRegistry, scope: string, authorization?: string): Promise<Response> {
  const url = `${registry.tokenRealm}?service=${TOKEN_SERVICE}&scope=${encodeURIComponent(scope)}`;
  return fetch(url, authorization ? { headers: { authorization } } : {});
}

/** Monolithic upload (POST, then PUT with ?digest=); returns the PUT's status. */
async function pushBlob(registry: TestRegistry, repo: string, data: Buffer, authorization?: string): Promise<number> {
  const headers: Record<string, string> = authorization ? { authorization } : {};
  const start = await fetch(`${registry.url}/v2/${repo}/blobs/uploads/`, { method: 'POST', headers });
  await start.arrayBuffer();
  if (start.status !== 202) return start.status;
  const location = new URL(start.headers.get('location')!, registry.url);
  location.searchParams.set('digest', sha256(data));
  const put = await fetch(location, {
    method: 'PUT',
    headers: { ...headers, 'content-type': 'application/octet-stream' },
    body: data,
  });
  await put.arrayBuffer();
  return put.status;
}

/** Pushes a one-layer image, returning the manifest PUT's response. */
async function pushImage(registry: TestRegistry, repo: string, tag: string, authorization?: string) {
  const layer = Buffer.from(`layer of ${repo}:${tag}`);
  const config = Buffer.from(
    JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }),
  );
  expect(await pushBlob(registry, repo, layer, authorization)).toBe(201);
  expect(await pushBlob(registry, repo, config, authorization)).toBe(201);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256(layer), size: layer.length }],
    }),
  );
  const res = await fetch(`${registry.url}/v2/${repo}/manifests/${tag}`, {
    method: 'PUT',
    headers: { 'content-type': OCI_MANIFEST, ...(authorization ? { authorization } : {}) },
    body: manifest,
  });
  return { status: res.status, digest: res.headers.get('docker-content-digest'), expected: sha256(manifest) };
}

describe('startRegistry', () => {
  let plain: TestRegistry;
  let basicReg: TestRegistry;
  let token: TestRegistry;
  let tokenX5c: TestRegistry;
  let tokenAnonymousPull: TestRegistry;

  beforeAll(async () => {
    [plain, basicReg, token, tokenX5c, tokenAnonymousPull] = await Promise.all([
      startRegistry(),
      startRegistry({ auth: 'basic' }),
      startRegistry({ auth: 'token' }),
      startRegistry({ auth: 'token', keyHeader: 'x5c', username: 'alice', password: 'wonderland' }),
      startRegistry({ auth: 'token', anonymous: 'pull' }),
    ]);
  });

  afterAll(async () => {
    await Promise.all([plain, basicReg, token, tokenX5c, tokenAnonymousPull].map((r) => r?.stop()));
  });

  it('gives each instance its own 127.0.0.1 port', () => {
    const hosts = [plain, basicReg, token, tokenX5c, tokenAnonymousPull].map((r) => r.host);
    expect(new Set(hosts).size).toBe(hosts.length);
    for (const r of [plain, basicReg, token]) {
      expect(r.host).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(r.url).toBe(`http://${r.host}`);
    }
    expect(plain.username).toBeUndefined();
    expect(basicReg.username).toBe('sigil');
  });

  it('none: /v2/ answers 200 and anyone can push and pull', async () => {
    const res = await fetch(`${plain.url}/v2/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('docker-distribution-api-version')).toBe('registry/2.0');
    const pushed = await pushImage(plain, 'harness/plain', 'v1');
    expect(pushed.status).toBe(201);
    expect(pushed.digest).toBe(pushed.expected);
    const got = await fetch(`${plain.url}/v2/harness/plain/manifests/v1`, { headers: { accept: OCI_MANIFEST } });
    expect(got.status).toBe(200);
    expect(sha256(Buffer.from(await got.arrayBuffer()))).toBe(pushed.expected);
    // Deletion is enabled in the config.
    const del = await fetch(`${plain.url}/v2/harness/plain/manifests/${pushed.digest}`, { method: 'DELETE' });
    expect(del.status).toBe(202);
  });

  it('basic: challenges with Basic realm and accepts the bcrypt htpasswd user only', async () => {
    const anonymous = await fetch(`${basicReg.url}/v2/`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toBe('Basic realm="sigil-test"');
    const body = (await anonymous.json()) as { errors: { code: string }[] };
    expect(body.errors[0]?.code).toBe('UNAUTHORIZED');

    const wrong = await fetch(`${basicReg.url}/v2/`, { headers: { authorization: basic('sigil', 'wrong') } });
    expect(wrong.status).toBe(401);
    const right = basic(basicReg.username!, basicReg.password!);
    expect((await fetch(`${basicReg.url}/v2/`, { headers: { authorization: right } })).status).toBe(200);
    expect((await pushImage(basicReg, 'harness/basic', 'v1', right)).status).toBe(201);
  });

  it('token: challenges with Bearer realm and service', async () => {
    const res = await fetch(`${token.url}/v2/`);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe(`Bearer realm="${token.tokenRealm}",service="${TOKEN_SERVICE}"`);
    expect(token.tokenRealm).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/token$/);
  });

  it('token: an issued token (kid header) lets a push of a blob and manifest through', async () => {
    const before = token.tokenRequests!();
    const issued = await getToken(token, 'repository:harness/token:pull,push', basic(token.username!, token.password!));
    expect(issued.status).toBe(200);
    const body = (await issued.json()) as { token: string; access_token: string; expires_in: number };
    expect(body.access_token).toBe(body.token);
    expect(body.expires_in).toBe(300);
    expect(token.tokenRequests!()).toBe(before + 1);
    const header = JSON.parse(Buffer.from(body.token.split('.')[0]!, 'base64url').toString()) as Record<
      string,
      unknown
    >;
    expect(header['kid']).toMatch(/^([A-Z2-7]{4}:){11}[A-Z2-7]{4}$/);

    const pushed = await pushImage(token, 'harness/token', 'v1', `Bearer ${body.token}`);
    expect(pushed.status).toBe(201);
    expect(pushed.digest).toBe(pushed.expected);
    expect(token.tokenGrants!().at(-1)).toMatchObject({
      subject: 'sigil',
      granted: [{ type: 'repository', name: 'harness/token', actions: ['pull', 'push'] }],
    });
  });

  it('token: the registry enforces the granted scope and rejects forged tokens', async () => {
    const issued = (await (
      await getToken(token, 'repository:harness/one:pull,push', basic(token.username!, token.password!))
    ).json()) as { token: string };
    const other = await fetch(`${token.url}/v2/harness/two/blobs/uploads/`, {
      method: 'POST',
      headers: { authorization: `Bearer ${issued.token}` },
    });
    expect(other.status).toBe(401);
    expect(other.headers.get('www-authenticate')).toContain('error="insufficient_scope"');

    const [h, c, s] = issued.token.split('.');
    const claims = JSON.parse(Buffer.from(c!, 'base64url').toString()) as { access: { name: string }[] };
    claims.access[0]!.name = 'harness/two';
    const forged = `${h}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${s}`;
    const res = await fetch(`${token.url}/v2/harness/two/blobs/uploads/`, {
      method: 'POST',
      headers: { authorization: `Bearer ${forged}` },
    });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toContain('error="invalid_token"');
  });

  it('token: the issuer refuses wrong and (by default) missing credentials', async () => {
    const before = token.tokenRequests!();
    const wrong = await getToken(token, 'repository:harness/token:pull', basic('sigil', 'nope'));
    expect(wrong.status).toBe(401);
    expect(((await wrong.json()) as { errors: { code: string }[] }).errors[0]?.code).toBe('UNAUTHORIZED');
    expect((await getToken(token, 'repository:harness/token:pull')).status).toBe(401);
    expect(token.tokenRequests!()).toBe(before);
  });

  it('token: a token naming its key by x5c chain works too', async () => {
    const issued = (await (
      await getToken(tokenX5c, 'repository:harness/x5c:pull,push', basic('alice', 'wonderland'))
    ).json()) as { token: string };
    const header = JSON.parse(Buffer.from(issued.token.split('.')[0]!, 'base64url').toString()) as Record<
      string,
      unknown
    >;
    expect(header['x5c']).toHaveLength(1);
    expect(header['kid']).toBeUndefined();
    expect((await pushImage(tokenX5c, 'harness/x5c', 'v1', `Bearer ${issued.token}`)).status).toBe(201);
  });

  it("token: with anonymous: 'pull', anonymous tokens pull but cannot push", async () => {
    const auth = basic(tokenAnonymousPull.username!, tokenAnonymousPull.password!);
    const owner = (await (await getToken(tokenAnonymousPull, 'repository:harness/public:pull,push', auth)).json()) as {
      token: string;
    };
    expect((await pushImage(tokenAnonymousPull, 'harness/public', 'v1', `Bearer ${owner.token}`)).status).toBe(201);

    const anon = (await (await getToken(tokenAnonymousPull, 'repository:harness/public:pull,push')).json()) as {
      token: string;
    };
    expect(tokenAnonymousPull.tokenGrants!().at(-1)).toMatchObject({
      subject: '',
      granted: [{ name: 'harness/public', actions: ['pull'] }],
    });
    const pull = await fetch(`${tokenAnonymousPull.url}/v2/harness/public/manifests/v1`, {
      headers: { authorization: `Bearer ${anon.token}`, accept: OCI_MANIFEST },
    });
    expect(pull.status).toBe(200);
    const push = await fetch(`${tokenAnonymousPull.url}/v2/harness/public/blobs/uploads/`, {
      method: 'POST',
      headers: { authorization: `Bearer ${anon.token}` },
    });
    expect(push.status).toBe(401);
  });

  it('token: POST /token exchanges a password for a refresh token and the refresh token for access', async () => {
    const form = (fields: Record<string, string>) =>
      fetch(token.tokenRealm!, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ service: TOKEN_SERVICE, client_id: 'sigil-test', ...fields }),
      });
    const login = await form({
      grant_type: 'password',
      username: token.username!,
      password: token.password!,
      access_type: 'offline',
      scope: 'repository:harness/refresh:pull,push',
    });
    expect(login.status).toBe(200);
    const { refresh_token } = (await login.json()) as { refresh_token: string };
    expect(refresh_token).toBeTruthy();

    const refreshed = await form({
      grant_type: 'refresh_token',
      refresh_token,
      scope: 'repository:harness/refresh:pull,push',
    });
    expect(refreshed.status).toBe(200);
    const { access_token } = (await refreshed.json()) as { access_token: string };
    expect((await pushImage(token, 'harness/refresh', 'v1', `Bearer ${access_token}`)).status).toBe(201);
    expect((await form({ grant_type: 'refresh_token', refresh_token: 'bogus' })).status).toBe(401);
  });

  // An independent client (containers/image) proves the auth flows are the real ones, not
  // merely what this file's fetch calls expect.
  it.each(['basic', 'token'] as const)(
    'skopeo copies in and out of the %s-mode registry with its credentials',
    async (mode) => {
      const registry = mode === 'basic' ? basicReg : token;
      const dir = await mkdtemp(join(tmpdir(), 'sigil-harness-skopeo-'));
      try {
        const layout = await writeTinyOciLayout(join(dir, 'layout'));
        const creds = `${registry.username}:${registry.password}`;
        const ref = `docker://${registry.host}/harness/skopeo-${mode}:v1`;
        await execFileAsync('skopeo', [
          '--insecure-policy',
          'copy',
          // Else skopeo gzips the uncompressed layer, and the manifest changes.
          '--preserve-digests',
          '--dest-tls-verify=false',
          '--dest-creds',
          creds,
          `oci:${layout.dir}:latest`,
          ref,
        ]);
        const { stdout } = await execFileAsync('skopeo', [
          'inspect',
          '--raw',
          '--tls-verify=false',
          '--creds',
          creds,
          ref,
        ]);
        // skopeo ends its output with a newline the manifest does not have.
        expect(sha256(Buffer.from(stdout.replace(/\n$/, '')))).toBe(layout.manifestDigest);
        await expect(
          execFileAsync('skopeo', ['inspect', '--raw', '--tls-verify=false', '--no-creds', ref]),
        ).rejects.toThrow(/unauthorized|authentication required|401/i);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  );

  it('stop() shuts the registry down', async () => {
    const r = await startRegistry();
    expect((await fetch(`${r.url}/v2/`)).status).toBe(200);
    await r.stop();
    await expect(fetch(`${r.url}/v2/`)).rejects.toThrow();
  });

  it('a registry dies with the process that started it, even on SIGKILL', async () => {
    const registryModule = fileURLToPath(new URL('./registry.ts', import.meta.url));
    const script = `const { startRegistry } = await import(${JSON.stringify(registryModule)});
      const r = await startRegistry(); console.log(r.url); setInterval(() => {}, 1000);`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        if (out.includes('\n')) resolve(out.trim());
      });
      child.once('exit', (code) => reject(new Error(`helper exited with ${code} before starting a registry`)));
    });
    expect((await fetch(`${url}/v2/`)).status).toBe(200);
    child.kill('SIGKILL');
    let alive = true;
    for (let i = 0; i < 50 && alive; i++) {
      await new Promise((r) => setTimeout(r, 100));
      alive = await fetch(`${url}/v2/`).then(
        () => true,
        () => false,
      );
    }
    expect(alive).toBe(false);

    // Its directory outlived it (no exit handler runs on SIGKILL) until the next sweep, which
    // any registry start runs: another test file's start in a parallel worker may get there first.
    const port = new URL(url).port;
    const leftover = readdirSync(tmpdir())
      .filter((n) => n.startsWith('sigil-registry-'))
      .map((n) => join(tmpdir(), n))
      .filter(
        (d) => existsSync(join(d, 'config.yml')) && readFileSync(join(d, 'config.yml'), 'utf8').includes(`:${port}\n`),
      );
    expect(leftover.length).toBeLessThanOrEqual(1);
    sweepStaleTempDirs('sigil-registry-');
    for (const d of leftover) expect(existsSync(d)).toBe(false);
  });
});
