import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import type { Dispatcher } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { parseChallenges } from '../../../src/oci/registry/auth.ts';
import { nextLink, Registry } from '../../../src/oci/registry/client.ts';
import { redactUrl, responseError } from '../../../src/oci/registry/response-error.ts';
import { parseRetryAfter } from '../../../src/oci/registry/retry.ts';

type Handler = (req: IncomingMessage, res: ServerResponse, body: Buffer) => void;

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

/** A tiny registry on 127.0.0.1 whose every answer the test writes. */
async function serve(handler: Handler, challenge?: string): Promise<{ host: string; url: string; log: string[] }> {
  const log: string[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      log.push(`${req.method} ${req.url}`);
      if (challenge && !req.headers.authorization) {
        res.writeHead(401, { 'www-authenticate': challenge }).end();
        return;
      }
      if (req.url === '/v2/' && req.method === 'GET') {
        res.writeHead(200).end('{}');
        return;
      }
      handler(req, res, Buffer.concat(chunks));
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { host: `127.0.0.1:${port}`, url: `http://127.0.0.1:${port}`, log };
}

const MANIFEST = Buffer.from(
  JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [] }),
);
const MANIFEST_DIGEST = `sha256:${createHash('sha256').update(MANIFEST).digest('hex')}`;

function sendManifest(res: ServerResponse): void {
  res.writeHead(200, {
    'content-type': 'application/vnd.oci.image.index.v1+json',
    'docker-content-digest': MANIFEST_DIGEST,
  });
  res.end(MANIFEST);
}

function registryError(
  res: ServerResponse,
  status: number,
  code: string,
  message: string,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify({ errors: [{ code, message }] }));
}

const FAST = { retry: { minDelayMs: 10, maxDelayMs: 40, attempts: 4, totalMs: 5_000 } };

describe('retries', () => {
  it('rides out a 503 and a 429 with Retry-After: 1, and honours the Retry-After', async () => {
    const answers = [503, 429, 200];
    const at: number[] = [];
    const s = await serve((_req, res) => {
      at.push(Date.now());
      const status = answers.shift();
      if (status === 200) return sendManifest(res);
      if (status === 429) return registryError(res, 429, 'TOOMANYREQUESTS', 'slow down', { 'retry-after': '1' });
      return registryError(res, 503, 'UNAVAILABLE', 'restarting');
    });
    const got = await new Registry(s.host, FAST).getManifest('app', 'v1');
    expect(got.descriptor.digest).toBe(MANIFEST_DIGEST);
    expect(at).toHaveLength(3);
    expect(at[2]! - at[1]!).toBeGreaterThanOrEqual(950);
  });

  it('gives up on an always-503 within the bounds, saying how often it tried', async () => {
    let tries = 0;
    const s = await serve((_req, res) => {
      tries++;
      registryError(res, 503, 'UNAVAILABLE', 'down');
    });
    const started = Date.now();
    const err = await new Registry(s.host, FAST).getManifest('app', 'v1').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'REGISTRY_ERROR', status: 503 });
    expect((err as Error).message).toContain('gave up after 4 tries');
    expect(tries).toBe(4);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('stops at the total time bound even with tries left', async () => {
    let tries = 0;
    const s = await serve((_req, res) => {
      tries++;
      registryError(res, 429, 'TOOMANYREQUESTS', 'slow down', { 'retry-after': '2' });
    });
    const err = await new Registry(s.host, { retry: { attempts: 10, totalMs: 1_000 } })
      .getManifest('app', 'v1')
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'TOO_MANY_REQUESTS', status: 429 });
    expect(tries).toBe(1);
  });

  it('does not retry 501 nor a PATCH chunk, but restarts a whole upload, re-opening the content', async () => {
    const blob = Buffer.from('blob bytes for an upload that fails once');
    const digest = `sha256:${createHash('sha256').update(blob).digest('hex')}`;
    let puts = 0;
    const s = await serve((req, res, body) => {
      if (req.method === 'HEAD') return registryError(res, 404, 'BLOB_UNKNOWN', 'no');
      if (req.method === 'POST') {
        res.writeHead(202, { location: `/v2/app/blobs/uploads/u${puts}?_state=secret-state` }).end();
        return;
      }
      if (req.method === 'PUT') {
        puts++;
        expect(req.url).toBe(
          `/v2/app/blobs/uploads/u${puts - 1}?_state=secret-state&digest=${encodeURIComponent(digest)}`,
        );
        if (puts === 1) return registryError(res, 503, 'UNAVAILABLE', 'try later');
        expect(body.equals(blob)).toBe(true);
        res.writeHead(201).end();
        return;
      }
      registryError(res, 501, 'UNSUPPORTED', 'no');
    });
    let opened = 0;
    const client = new Registry(s.host, FAST);
    await client.pushBlob('app', { mediaType: 'x', digest, size: blob.length }, async () => {
      opened++;
      return Readable.from([blob]);
    });
    expect(opened).toBe(2);
    expect(puts).toBe(2);
    const before = s.log.length;
    await expect(client.deleteManifest('app', digest)).rejects.toMatchObject({
      code: 'UNSUPPORTED_MEDIA_TYPE',
      status: 501,
    });
    expect(s.log.length - before).toBe(1);
  });

  it("an upload PUT answered 429 restarts the upload only after the answer's Retry-After", async () => {
    const blob = Buffer.from('blob bytes for an upload that is rate-limited once');
    const digest = `sha256:${createHash('sha256').update(blob).digest('hex')}`;
    const at: [string, number][] = [];
    const s = await serve((req, res) => {
      at.push([req.method!, Date.now()]);
      if (req.method === 'HEAD') return registryError(res, 404, 'BLOB_UNKNOWN', 'no');
      if (req.method === 'POST') {
        res.writeHead(202, { location: `/v2/app/blobs/uploads/u${at.length}` }).end();
        return;
      }
      if (at.filter(([m]) => m === 'PUT').length === 1) {
        return registryError(res, 429, 'TOOMANYREQUESTS', 'slow down', { 'retry-after': '1' });
      }
      res.writeHead(201).end();
    });
    await new Registry(s.host, FAST).pushBlob('app', { mediaType: 'x', digest, size: blob.length }, async () =>
      Readable.from([blob]),
    );
    expect(at.map(([m]) => m)).toEqual(['HEAD', 'POST', 'PUT', 'POST', 'PUT']);
    // FAST's backoff alone would restart within 40 ms.
    expect(at[3]![1] - at[2]![1]).toBeGreaterThanOrEqual(950);
  });

  it('retries a request whose connection was reset', async () => {
    let tries = 0;
    const s = await serve((req, res) => {
      tries++;
      if (tries === 1) {
        req.socket.destroy();
        return;
      }
      sendManifest(res);
    });
    expect((await new Registry(s.host, FAST).getManifest('app', 'v1')).bytes).toEqual(new Uint8Array(MANIFEST));
    expect(tries).toBe(2);
  });
});

describe('registry error answers', () => {
  it('decodes the errors JSON into code, status, registryCodes and a message without secrets', async () => {
    const s = await serve((_req, res) => registryError(res, 404, 'MANIFEST_UNKNOWN', 'manifest unknown to us'));
    const err = await new Registry(s.host).getManifest('app', 'v1').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'MANIFEST_UNKNOWN', status: 404, registryCodes: ['MANIFEST_UNKNOWN'] });
    expect((err as Error).message).toBe(
      `GET http://${s.host}/v2/app/manifests/v1: 404 Not Found (registry said: MANIFEST_UNKNOWN: manifest unknown to us)`,
    );
  });

  it('maps DENIED, NAME_UNKNOWN, TOOMANYREQUESTS; unknown codes are REGISTRY_ERROR', async () => {
    const cases: [number, string, string][] = [
      [403, 'DENIED', 'DENIED'],
      [404, 'NAME_UNKNOWN', 'NAME_UNKNOWN'],
      [400, 'NAME_INVALID', 'NAME_INVALID'],
      [400, 'MANIFEST_INVALID', 'MANIFEST_INVALID'],
      [400, 'SOMETHING_NEW', 'REGISTRY_ERROR'],
    ];
    for (const [status, code, expected] of cases) {
      const body = Readable.from([Buffer.from(JSON.stringify({ errors: [{ code, message: 'm', detail: { x: 1 } }] }))]);
      const err = await responseError({ method: 'PUT', url: 'https://r.example/v2/a/manifests/b', status, body });
      expect(err.code).toBe(expected);
      expect(err.registryCodes).toEqual([code]);
    }
    const err = await responseError({ method: 'GET', url: 'https://r.example/x', status: 429 });
    expect(err.code).toBe('TOO_MANY_REQUESTS');
  });

  it('reads at most 64 KiB of an error body', async () => {
    let read = 0;
    const huge = new Readable({
      read() {
        read += 16384;
        this.push(read > 10 * 1024 * 1024 ? null : Buffer.alloc(16384, 0x61));
      },
    });
    const err = await responseError({ method: 'GET', url: 'https://r.example/x', status: 500, body: huge });
    expect(err.code).toBe('REGISTRY_ERROR');
    expect(read).toBeLessThan(200 * 1024);
    expect(err.message.length).toBeLessThan(1000);
  });

  it('redacts user info and secret query values from URLs', () => {
    expect(
      redactUrl('https://u:p@r.example/v2/a/blobs/uploads/x?_state=SECRET&digest=sha256%3Aab&X-Amz-Signature=SIG'),
    ).toBe('https://r.example/v2/a/blobs/uploads/x?_state=REDACTED&digest=sha256%3Aab&X-Amz-Signature=REDACTED');
  });

  it('refuses a manifest over 4 MiB without reading it all', async () => {
    const s = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' });
      const chunk = Buffer.alloc(1024 * 1024, 0x20);
      for (let i = 0; i < 5; i++) res.write(chunk);
      res.end();
    });
    await expect(new Registry(s.host).getManifest('app', 'v1')).rejects.toMatchObject({ code: 'MANIFEST_INVALID' });
  });
});

describe('plain HTTP', () => {
  /** A dispatcher that records attempts and never connects. */
  function recorder(): { dispatcher: Dispatcher; calls: string[] } {
    const calls: string[] = [];
    const dispatcher = {
      request(opts: { origin: string; path: string }) {
        calls.push(`${opts.origin}${opts.path}`);
        return Promise.reject(new Error('no network in this test'));
      },
    } as unknown as Dispatcher;
    return { dispatcher, calls };
  }

  it('is refused for a non-local host unless insecure, before any connection', async () => {
    const { dispatcher, calls } = recorder();
    expect(() => new Registry('http://registry.example:5000', { dispatcher })).toThrow(
      expect.objectContaining({ code: 'INSECURE_REGISTRY' }),
    );
    expect(calls).toEqual([]);
    expect(new Registry('registry.example:5000', { dispatcher }).url).toBe('https://registry.example:5000');
    expect(new Registry('registry.example:5000', { dispatcher, insecure: ['registry.example:5000'] }).url).toBe(
      'http://registry.example:5000',
    );
    expect(new Registry('http://registry.example:5000', { dispatcher, insecure: true }).url).toBe(
      'http://registry.example:5000',
    );
    expect(new Registry('localhost:5000', { dispatcher }).url).toBe('http://localhost:5000');
    expect(new Registry('[::1]:5000', { dispatcher }).url).toBe('http://[::1]:5000');
    expect(new Registry('docker.io', { dispatcher }).url).toBe('https://registry-1.docker.io');
    expect(calls).toEqual([]);
  });

  it('an HTTPS registry may not send us to plain HTTP elsewhere', () => {
    // The rule every request URL (redirect, upload Location, token realm) passes before dialling.
    const client = new Registry('registry.example', { dispatcher: recorder().dispatcher });
    const t = (client as unknown as { transport: { assertAllowed(u: URL): void } }).transport;
    expect(() => t.assertAllowed(new URL('http://storage.example/blob'))).toThrow(
      expect.objectContaining({ code: 'INSECURE_REGISTRY' }),
    );
    expect(() => t.assertAllowed(new URL('https://storage.example/blob'))).not.toThrow();
    expect(() => t.assertAllowed(new URL('http://127.0.0.1:9/blob'))).not.toThrow();
  });
});

describe('parsing, and redirects', () => {
  it('WWW-Authenticate challenges, several per header, quoted commas', () => {
    expect(
      parseChallenges(
        'Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push", Basic realm="x"',
      ),
    ).toEqual([
      {
        scheme: 'bearer',
        params: { realm: 'https://auth.example/token', service: 'registry.example', scope: 'repository:a/b:pull,push' },
      },
      { scheme: 'basic', params: { realm: 'x' } },
    ]);
    expect(parseChallenges(['Basic realm="a \\"b\\""'])).toEqual([{ scheme: 'basic', params: { realm: 'a "b"' } }]);
  });

  it('Retry-After as seconds and as an HTTP date', () => {
    expect(parseRetryAfter('3')).toBe(3000);
    const now = Date.parse('Wed, 21 Oct 2015 07:28:00 GMT');
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:28:05 GMT', now)).toBe(5000);
    expect(parseRetryAfter('soon')).toBeUndefined();
  });

  it('Link rel="next"', () => {
    expect(nextLink('</v2/a/tags/list?n=2&last=b>; rel="next"')).toBe('/v2/a/tags/list?n=2&last=b');
    expect(nextLink('<https://x/y>; rel="prev", <https://x/z>; rel="next"')).toBe('https://x/z');
    expect(nextLink(undefined)).toBeUndefined();
  });

  it('a blob redirect to loopback storage drops the Authorization header', async () => {
    const blob = Buffer.from('redirected blob');
    const digest = `sha256:${createHash('sha256').update(blob).digest('hex')}`;
    const seen: (string | undefined)[] = [];
    const storage = await serve((req, res) => {
      seen.push(req.headers.authorization);
      res.writeHead(200, { 'content-length': String(blob.length) }).end(blob);
    });
    const s = await serve((req, res) => {
      seen.push(req.headers.authorization);
      // localhost vs 127.0.0.1: another origin, as S3 would be.
      res.writeHead(307, { location: `http://localhost:${storage.host.split(':')[1]}/data?sig=1` }).end();
    }, 'Basic realm="test"');
    const client = new Registry(s.host, { credentials: { get: async () => ({ username: 'u', password: 'p' }) } });
    expect(await buffer(await client.getBlob('app', { mediaType: 'x', digest, size: blob.length }))).toEqual(blob);
    expect(seen).toEqual([`Basic ${Buffer.from('u:p').toString('base64')}`, undefined]);
  });
});
