import { createHash, randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Fault, type FaultProxy, scheduleFaults, startFaultProxy } from './fault-proxy.ts';
import { startRegistry, type TestRegistry } from './registry.ts';

function sha256(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** A raw GET that reports what arrived even when the connection breaks. */
function rawGet(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer; broken: boolean }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      let broken = false;
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('aborted', () => (broken = true));
      res.on('error', () => (broken = true));
      res.on('close', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks),
          broken: broken || !res.complete,
        }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

describe('startFaultProxy', () => {
  let registry: TestRegistry;
  let basicRegistry: TestRegistry;
  let proxy: FaultProxy;
  let basicProxy: FaultProxy;
  let mode: Fault = false;
  const blob = randomBytes(64 * 1024);
  const digest = sha256(blob);
  const blobPath = `/v2/proxy/test/blobs/${digest}`;

  beforeAll(async () => {
    [registry, basicRegistry] = await Promise.all([startRegistry(), startRegistry({ auth: 'basic' })]);
    proxy = await startFaultProxy(registry.url, {
      // Only blob GETs are ever selected: uploads and everything else pass untouched.
      fault: (req) => (req.method === 'GET' && req.url?.startsWith(blobPath) ? mode : false),
    });
    basicProxy = await startFaultProxy(basicRegistry.url, { fault: () => 'flip' });
  });

  afterAll(async () => {
    await Promise.all([proxy?.stop(), basicProxy?.stop()]);
    await Promise.all([registry?.stop(), basicRegistry?.stop()]);
  });

  it('forwards an upload through itself, rewriting Location to point back at the proxy', async () => {
    const start = await fetch(`${proxy.url}/v2/proxy/test/blobs/uploads/`, { method: 'POST' });
    expect(start.status).toBe(202);
    const location = start.headers.get('location')!;
    expect(location.startsWith(`${proxy.url}/v2/proxy/test/blobs/uploads/`)).toBe(true);
    const put = new URL(location);
    put.searchParams.set('digest', digest);
    const done = await fetch(put, {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream' },
      body: blob,
    });
    expect(done.status).toBe(201);
    expect(done.headers.get('location')).toBe(`${proxy.url}${blobPath}`);
    expect(done.headers.get('docker-content-digest')).toBe(digest);
  });

  it('passes unselected responses through byte for byte', async () => {
    mode = false;
    const res = await rawGet(`${proxy.url}${blobPath}`);
    expect(res.status).toBe(200);
    expect(sha256(res.body)).toBe(digest);
    expect(proxy.exchanges().at(-1)).toEqual({ method: 'GET', url: blobPath, status: 200, at: expect.any(Number) });
  });

  it("'flip' changes exactly one byte and keeps Content-Length", async () => {
    mode = 'flip';
    const res = await rawGet(`${proxy.url}${blobPath}`);
    expect(res.status).toBe(200);
    expect(res.broken).toBe(false);
    expect(res.headers['content-length']).toBe(String(blob.length));
    expect(res.body.length).toBe(blob.length);
    const differing = [...res.body.keys()].filter((i) => res.body[i] !== blob[i]);
    expect(differing).toEqual([blob.length / 2]);
    expect(proxy.exchanges().at(-1)?.fault).toBe('flip');

    // The registry itself still holds the right bytes, and HEAD (no body) is left alone.
    expect(sha256((await rawGet(`${registry.url}${blobPath}`)).body)).toBe(digest);
    const head = await fetch(`${proxy.url}${blobPath}`, { method: 'HEAD' });
    expect(head.headers.get('content-length')).toBe(String(blob.length));
    expect(proxy.exchanges().at(-1)?.fault).toBeUndefined();
  });

  it("'truncate' sends a complete but short response: the first half", async () => {
    mode = 'truncate';
    const res = await rawGet(`${proxy.url}${blobPath}`);
    expect(res.broken).toBe(false);
    expect(res.headers['content-length']).toBe(String(blob.length / 2));
    expect(res.body.equals(blob.subarray(0, blob.length / 2))).toBe(true);
  });

  it("'drop-after:N' breaks the connection after N bytes and a Range request resumes", async () => {
    mode = 'drop-after:1000';
    const first = await rawGet(`${proxy.url}${blobPath}`);
    expect(first.status).toBe(200);
    expect(first.headers['content-length']).toBe(String(blob.length));
    expect(first.broken).toBe(true);
    expect(first.body.equals(blob.subarray(0, 1000))).toBe(true);
    await expect(fetch(`${proxy.url}${blobPath}`).then((r) => r.arrayBuffer())).rejects.toThrow();

    mode = false;
    const rest = await rawGet(`${proxy.url}${blobPath}`, { range: `bytes=${first.body.length}-` });
    expect(rest.status).toBe(206);
    expect(sha256(Buffer.concat([first.body, rest.body]))).toBe(digest);
  });

  it('forwards Authorization and challenge headers untouched; only bodies are corrupted', async () => {
    const anonymous = await fetch(`${basicProxy.url}/v2/`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toBe('Basic realm="sigil-test"');
    const auth = `Basic ${Buffer.from(`${basicRegistry.username}:${basicRegistry.password}`).toString('base64')}`;
    const ok = await fetch(`${basicProxy.url}/v2/`, { headers: { authorization: auth } });
    expect(ok.status).toBe(200);
    const body = Buffer.from(await ok.arrayBuffer());
    // distribution answers `{}`: the flipped middle byte makes it something else of the same length.
    expect(body.length).toBe(2);
    expect(body.toString()).not.toBe('{}');
  });

  it("'latency:MS' delays the answer and then forwards it whole", async () => {
    mode = 'latency:300';
    const started = Date.now();
    const res = await rawGet(`${proxy.url}${blobPath}`);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(sha256(res.body)).toBe(digest);
    const last = proxy.exchanges().at(-1)!;
    expect(last).toEqual({ method: 'GET', url: blobPath, status: 200, fault: 'latency:300', at: expect.any(Number) });
    // Recorded when it arrived, before the delay.
    expect(last.at - started).toBeLessThan(200);
  });

  it('counts the most requests open at once', async () => {
    const slow = await startFaultProxy(registry.url, { fault: () => 'latency:200' });
    try {
      await Promise.all([1, 2, 3].map(() => rawGet(`${slow.url}${blobPath}`)));
      expect(slow.maxInFlight()).toBe(3);
      await rawGet(`${slow.url}${blobPath}`);
      expect(slow.maxInFlight()).toBe(3);
    } finally {
      await slow.stop();
    }
  });

  it("'status:NNN' answers a distribution-style error without reaching the registry", async () => {
    for (const status of [500, 502, 503]) {
      mode = `status:${status}`;
      const res = await rawGet(`${proxy.url}${blobPath}`);
      expect(res.status).toBe(status);
      const body = JSON.parse(res.body.toString()) as { errors: { code: string; message: string }[] };
      expect(body.errors[0]?.message).toBe(`injected fault: ${status}`);
      expect(proxy.exchanges().at(-1)).toEqual({
        method: 'GET',
        url: blobPath,
        status,
        fault: `status:${status}`,
        at: expect.any(Number),
      });
    }
    // Not forwarded: a manifest PUT answered 503 never reaches the registry.
    const refusing = await startFaultProxy(registry.url, { fault: () => 'status:503' });
    try {
      const manifest = JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.index.v1+json',
        manifests: [],
      });
      const put = await fetch(`${refusing.url}/v2/proxy/unseen/manifests/v1`, {
        method: 'PUT',
        headers: { 'content-type': 'application/vnd.oci.image.index.v1+json' },
        body: manifest,
      });
      expect(put.status).toBe(503);
      expect((await fetch(`${registry.url}/v2/proxy/unseen/manifests/v1`, { method: 'HEAD' })).status).toBe(404);
    } finally {
      await refusing.stop();
    }
  });

  it("'429:S' answers TOOMANYREQUESTS with Retry-After: S", async () => {
    mode = '429:7';
    const res = await rawGet(`${proxy.url}${blobPath}`);
    expect(res.status).toBe(429);
    expect(res.headers['retry-after']).toBe('7');
    expect(res.body.toString()).toContain('TOOMANYREQUESTS');
    expect(proxy.exchanges().at(-1)?.fault).toBe('429:7');
  });

  it("'reset' destroys the connection before any answer", async () => {
    mode = 'reset';
    await expect(rawGet(`${proxy.url}${blobPath}`)).rejects.toMatchObject({ code: 'ECONNRESET' });
    expect(proxy.exchanges().at(-1)).toEqual({
      method: 'GET',
      url: blobPath,
      status: 0,
      fault: 'reset',
      at: expect.any(Number),
    });
  });

  it("'lost-answer' lets the registry act on the request, then drops the answer", async () => {
    const losing = await startFaultProxy(registry.url, {
      fault: (req) => (req.method === 'PUT' ? 'lost-answer' : false),
    });
    try {
      const data = randomBytes(1024);
      const start = await fetch(`${losing.url}/v2/proxy/lost/blobs/uploads/`, { method: 'POST' });
      expect(start.status).toBe(202);
      const put = new URL(start.headers.get('location')!);
      put.searchParams.set('digest', sha256(data));
      await expect(fetch(put, { method: 'PUT', body: data })).rejects.toThrow();
      expect(losing.exchanges().at(-1)).toMatchObject({ method: 'PUT', status: 0, fault: 'lost-answer' });
      // The upload was committed all the same.
      const head = await fetch(`${registry.url}/v2/proxy/lost/blobs/${sha256(data)}`, { method: 'HEAD' });
      expect(head.status).toBe(200);
    } finally {
      await losing.stop();
    }
  });

  it('scheduleFaults fires on the first N matches, on every k-th, or always, counting per rule', async () => {
    const rules = scheduleFaults([
      { match: (m, p) => m === 'GET' && p.includes('/blobs/'), fault: 'status:503', schedule: { first: 2 } },
      { match: (m, p) => m === 'GET' && p.includes('/tags/'), fault: '429:1', schedule: { every: 3 } },
      { match: (m) => m === 'HEAD', fault: 'reset', schedule: 'always' },
    ]);
    const req = (method: string, url: string) => ({ method, url }) as Parameters<typeof rules>[0];
    const blobs = [1, 2, 3, 4].map(() => rules(req('GET', blobPath)));
    const tags = [1, 2, 3, 4, 5, 6].map(() => rules(req('GET', '/v2/x/tags/list')));
    const heads = [1, 2].map(() => rules(req('HEAD', blobPath)));
    expect(blobs).toEqual(['status:503', 'status:503', false, false]);
    expect(tags).toEqual([false, false, '429:1', false, false, '429:1']);
    expect(heads).toEqual(['reset', 'reset']);
    expect(rules(req('PUT', blobPath))).toBe(false);

    // Through the proxy: a burst of two 503s, then the blob itself.
    const burst = await startFaultProxy(registry.url, {
      fault: scheduleFaults([
        { match: (m, p) => m === 'GET' && p === blobPath, fault: 'status:503', schedule: { first: 2 } },
      ]),
    });
    try {
      const statuses = [];
      for (let i = 0; i < 3; i++) statuses.push((await rawGet(`${burst.url}${blobPath}`)).status);
      expect(statuses).toEqual([503, 503, 200]);
      expect(burst.exchanges().map((e) => e.fault)).toEqual(['status:503', 'status:503', undefined]);
    } finally {
      await burst.stop();
    }
  });

  it('rejects an unknown fault instead of forwarding unharmed', async () => {
    const bad = await startFaultProxy(registry.url, { fault: () => 'scramble' as Fault });
    try {
      const res = await fetch(`${bad.url}/v2/`);
      expect(res.status).toBe(500);
      const body = (await res.json()) as { errors: { message: string }[] };
      expect(body.errors[0]?.message).toContain('unknown fault "scramble"');
    } finally {
      await bad.stop();
    }
  });
});
