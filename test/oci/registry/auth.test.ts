import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MediaType } from '../../../src/oci/media-types.ts';
import { Registry } from '../../../src/oci/registry/client.ts';
import { startRegistry, TOKEN_SERVICE, type TestRegistry } from '../../harness/registry.ts';

const json = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));
const digestOf = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

describe('token auth against distribution 2.8', () => {
  let r: TestRegistry;
  const config = json({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } });

  beforeAll(async () => {
    r = await startRegistry({ auth: 'token', anonymous: 'pull' });
    const owner = new Registry(r.host, {
      credentials: { get: async () => ({ username: r.username!, password: r.password! }) },
    });
    await owner.pushBlob('auth/app', { mediaType: 'x', digest: digestOf(config), size: config.length }, async () =>
      Readable.from([config]),
    );
    const m = json({
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      config: { mediaType: MediaType.OciConfig, digest: digestOf(config), size: config.length },
      layers: [],
    });
    await owner.putManifest('auth/app', 'v1', m, MediaType.OciManifest);
  }, 20_000);
  afterAll(async () => {
    await r?.stop();
  });

  it('exchanges an identity token (refresh token) at the realm with grant_type=refresh_token', async () => {
    const form = new URLSearchParams({
      grant_type: 'password',
      username: r.username!,
      password: r.password!,
      service: TOKEN_SERVICE,
      access_type: 'offline',
      client_id: 'test',
    });
    const res = await fetch(r.tokenRealm!, { method: 'POST', body: form });
    const { refresh_token: identityToken } = (await res.json()) as { refresh_token: string };
    expect(identityToken).toBeTruthy();
    const client = new Registry(r.host, { credentials: { get: async () => ({ identityToken }) } });
    expect((await client.getManifest('auth/app', 'v1')).descriptor.mediaType).toBe(MediaType.OciManifest);
    expect(r.tokenGrants!().at(-1)).toMatchObject({
      subject: r.username,
      granted: [{ type: 'repository', name: 'auth/app', actions: ['pull'] }],
    });
    // A wrong identity token is refused at the token endpoint.
    const bad = new Registry(r.host, { credentials: { get: async () => ({ identityToken: 'nope' }) } });
    await expect(bad.getManifest('auth/app', 'v1')).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
  });

  it('pulls anonymously where the issuer allows it, and a push without credentials is UNAUTHORIZED', async () => {
    const anon = new Registry(r.host);
    expect((await anon.getManifest('auth/app', 'v1')).bytes.length).toBeGreaterThan(0);
    expect(r.tokenGrants!().at(-1)?.subject).toBe('');
    const err = await anon
      .putManifest('auth/app', 'v2', json({ schemaVersion: 2, manifests: [] }), MediaType.OciIndex)
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'UNAUTHORIZED' });
    expect((err as Error).message).toContain(`sigil login ${r.host}`);
  });
});

describe('token lifetime and refresh (a registry stand-in on 127.0.0.1)', () => {
  let server: Server;
  let host: string;
  let issued = 0;
  /** Tokens the registry accepts; emptied to simulate a revoked or expired token. */
  const valid = new Set<string>();
  let expiresIn = 1;

  beforeAll(async () => {
    server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname === '/token') {
        const token = `t${++issued}`;
        valid.add(token);
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ token, expires_in: expiresIn }));
        return;
      }
      const auth = req.headers.authorization ?? '';
      if (!valid.has(auth.replace(/^Bearer /, ''))) {
        res
          .writeHead(401, {
            'www-authenticate': `Bearer realm="http://${host}/token",service="stand-in",scope="repository:app:pull"`,
            'content-type': 'application/json',
          })
          .end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }));
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"tags":["a"]}');
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((ok) => server.close(ok));
  });

  it('reuses a token until expires_in has (nearly) passed, then fetches a new one', async () => {
    expiresIn = 1;
    const client = new Registry(host);
    const start = issued;
    await client.tags('app');
    await client.tags('app');
    expect(issued - start).toBe(1);
    await new Promise((ok) => setTimeout(ok, 700));
    await client.tags('app');
    expect(issued - start).toBe(2);
  });

  it('on a 401 for a cached token, fetches a fresh token and retries once', async () => {
    expiresIn = 300;
    const client = new Registry(host);
    await client.tags('app');
    const start = issued;
    valid.clear();
    expect(await client.tags('app')).toEqual(['a']);
    expect(issued - start).toBe(1);
  });
});
