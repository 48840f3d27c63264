/**
 * Credentials go only to the registry they belong to (issue 7). Every server here is a
 * distinct origin on 127.0.0.1 (its own port) and records the headers it was sent:
 * - a front before a real registry answers blob GETs with a 307 to a storage host, as registries
 *   backed by S3 or a CDN do, and can hand out upload Locations on an upload host: neither host
 *   may see the registry's Authorization (Basic or Bearer) or a cookie, and the pull or push
 *   still works, since storage authenticates by its signed URL;
 * - a copy between two registries sends each one only its own credentials;
 * - docker config entries match the registry host and port exactly, as docker
 *   (cli/config/configfile GetAuthConfig, keyed by ConvertToHostname of the key) and
 *   go-containerregistry (authn.DefaultKeychain, keyed by RegistryStr, host:port) do: an entry for
 *   `127.0.0.1` or `127.0.0.1:OTHER` is not sent to `127.0.0.1:PORT`; `http://127.0.0.1:PORT/v2/`
 *   is.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { type IncomingHttpHeaders, type IncomingMessage, request, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyImage } from '../../src/oci/copy.ts';
import { staticCredentialStore } from '../../src/oci/credentials.ts';
import { openSource, openTarget } from '../../src/oci/source.ts';
import { type LoopbackServer, serveLoopback } from '../harness/http-server.ts';
import { demoImageLayout } from '../harness/images.ts';
import { startRegistry, type TestRegistry } from '../harness/registry.ts';
import { runSigil } from '../helpers/cli.ts';

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
}

interface Recorder extends LoopbackServer {
  seen: Seen[];
}

const COOKIE = `session=${randomBytes(16).toString('hex')}`;

function record(seen: Seen[], req: IncomingMessage): void {
  seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
}

/** Sends `req` (its body streamed) to `target`, keeping its headers but for `extra`; returns the answer. */
function forward(req: IncomingMessage, target: URL, extra: Record<string, string> = {}): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const headers = { ...req.headers, ...extra };
    const up = request(target, { method: req.method, headers, agent: false }, resolve);
    up.on('error', reject);
    req.pipe(up);
  });
}

function relay(res: ServerResponse, answer: IncomingMessage, location?: string): void {
  const headers = { ...answer.headers, 'set-cookie': `${COOKIE}; Path=/` };
  if (location !== undefined) headers.location = location;
  res.writeHead(answer.statusCode ?? 502, headers);
  answer.pipe(res);
}

interface FrontOptions {
  /** Blob GET/HEAD answer a 307 to this storage origin. */
  blobsTo?: string;
  /** Upload Locations are rewritten to this origin (which relays them to the registry). */
  uploadsTo?: string;
}

/**
 * A reverse proxy before `backend` that records what it was sent. The Host header passes
 * unchanged, so the registry's absolute Locations name the front, as behind a real proxy.
 */
async function startFront(backend: TestRegistry, options: FrontOptions = {}): Promise<Recorder> {
  const seen: Seen[] = [];
  const server = await serveLoopback(async (req, res) => {
    record(seen, req);
    const url = new URL(req.url ?? '/', 'http://front');
    const blob = /^\/v2\/.+\/blobs\/(sha256:[0-9a-f]{64})$/.exec(url.pathname);
    if (blob && options.blobsTo && (req.method === 'GET' || req.method === 'HEAD')) {
      res.writeHead(307, {
        location: `${options.blobsTo}/blobs/${blob[1]}?X-Signature=${randomBytes(8).toString('hex')}`,
        'set-cookie': `${COOKIE}; Path=/`,
      });
      res.end();
      return;
    }
    const answer = await forward(req, new URL(`${backend.url}${req.url ?? '/'}`));
    const location = answer.headers.location;
    if (options.uploadsTo && location && /\/blobs\/uploads\//.test(location) && answer.statusCode === 202) {
      const absolute = new URL(location, `http://${req.headers.host}`);
      relay(res, answer, `${options.uploadsTo}/upload?to=${encodeURIComponent(absolute.pathname + absolute.search)}`);
      return;
    }
    relay(res, answer);
  });
  return { ...server, seen };
}

/** Blob storage: serves a layout's blobs to anyone holding a URL (it checks no header). */
async function startStorage(layout: string): Promise<Recorder> {
  const seen: Seen[] = [];
  const server = await serveLoopback(async (req, res) => {
    record(seen, req);
    const m = /^\/blobs\/sha256:([0-9a-f]{64})$/.exec(new URL(req.url ?? '/', 'http://s').pathname);
    const path = m ? join(layout, 'blobs', 'sha256', m[1]!) : '';
    const size = m
      ? await stat(path).then(
          (s) => s.size,
          () => -1,
        )
      : -1;
    if (size < 0) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(size) });
    if (req.method === 'HEAD') res.end();
    else createReadStream(path).pipe(res);
  });
  return { ...server, seen };
}

/**
 * An upload host: relays PATCH/PUT to the registry with its own (server-side) credentials, as
 * storage behind a signed URL would, and points the next Location back at itself.
 */
async function startUploadHost(backend: TestRegistry, frontHost: () => string): Promise<Recorder> {
  const seen: Seen[] = [];
  let origin = '';
  const server = await serveLoopback(async (req, res) => {
    record(seen, req);
    const params = new URL(req.url ?? '/', 'http://u').searchParams;
    const target = new URL(`${backend.url}${params.get('to') ?? '/'}`);
    // What the client added to the Location (`digest=` on the closing PUT) goes along.
    for (const [k, v] of params) if (k !== 'to') target.searchParams.append(k, v);
    const serverSide = `Basic ${Buffer.from(`${backend.username}:${backend.password}`).toString('base64')}`;
    const answer = await forward(req, target, { host: frontHost(), authorization: serverSide });
    const location = answer.headers.location;
    if (location && /\/blobs\/uploads\//.test(location)) {
      const absolute = new URL(location, `http://${frontHost()}`);
      relay(res, answer, `${origin}/upload?to=${encodeURIComponent(absolute.pathname + absolute.search)}`);
      return;
    }
    relay(res, answer);
  });
  origin = server.origin;
  return { ...server, seen };
}

/** A server that wants Basic credentials and never accepts any: it only records who sent what. */
async function startChallenger(): Promise<Recorder> {
  const seen: Seen[] = [];
  const server = await serveLoopback((req, res) => {
    record(seen, req);
    res.writeHead(401, { 'www-authenticate': 'Basic realm="challenger"', 'content-type': 'application/json' });
    res.end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
  });
  return { ...server, seen };
}

const authorizations = (r: Recorder) => r.seen.map((s) => s.headers.authorization).filter((a) => a !== undefined);
const cookies = (r: Recorder) => r.seen.map((s) => s.headers.cookie).filter((c) => c !== undefined);
const basicOf = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

let work: string;
let layout: string;
let basicA: TestRegistry;
let tokenB: TestRegistry;
const servers: LoopbackServer[] = [];

async function dockerConfig(name: string, auths: Record<string, { user: string; password: string }>): Promise<string> {
  const dir = join(work, name);
  await mkdir(dir, { recursive: true });
  const entries = Object.fromEntries(
    Object.entries(auths).map(([k, v]) => [k, { auth: Buffer.from(`${v.user}:${v.password}`).toString('base64') }]),
  );
  await writeFile(join(dir, 'config.json'), JSON.stringify({ auths: entries }));
  return dir;
}

function cliEnv(config: string): NodeJS.ProcessEnv {
  return { DOCKER_CONFIG: config, HOME: work, REGISTRY_AUTH_FILE: '', DOCKER_AUTH_CONFIG: '', XDG_RUNTIME_DIR: work };
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'sigil-credential-scope-'));
  [basicA, tokenB, layout] = await Promise.all([
    startRegistry({ auth: 'basic', username: 'alice', password: `alice-${randomBytes(8).toString('hex')}` }),
    startRegistry({ auth: 'token', username: 'bob', password: `bob-${randomBytes(8).toString('hex')}` }),
    demoImageLayout(),
  ]);
  await copyImage(
    await openSource(`oci-dir:${layout}:demo`),
    await openTarget(`${basicA.host}/scope/app:1`, {
      credentials: staticCredentialStore({ [basicA.host]: { username: 'alice', password: basicA.password! } }),
    }),
  );
  await copyImage(
    await openSource(`oci-dir:${layout}:demo`),
    await openTarget(`${tokenB.host}/scope/app:1`, {
      credentials: staticCredentialStore({ [tokenB.host]: { username: 'bob', password: tokenB.password! } }),
    }),
  );
}, 120_000);

afterAll(async () => {
  await Promise.all([basicA?.stop(), tokenB?.stop(), ...servers.map((s) => s.stop())]);
  if (work) await rm(work, { recursive: true, force: true });
});

async function track<T extends LoopbackServer>(p: Promise<T>): Promise<T> {
  const s = await p;
  servers.push(s);
  return s;
}

describe('redirects to another host', () => {
  for (const leg of ['basic', 'bearer'] as const) {
    it(`${leg}: blob GETs redirected to storage carry no Authorization and no cookie; the pull succeeds`, async () => {
      const backend = leg === 'basic' ? basicA : tokenB;
      const user = leg === 'basic' ? 'alice' : 'bob';
      const storage = await track(startStorage(layout));
      const front = await track(startFront(backend, { blobsTo: storage.origin }));
      const config = await dockerConfig(`pull-${leg}`, { [front.host]: { user, password: backend.password! } });
      const out = join(work, `pulled-${leg}`);
      const r = await runSigil(['copy', `${front.host}/scope/app:1`, `oci-dir:${out}:app`], { env: cliEnv(config) });
      expect(r.code, r.stderr).toBe(0);

      // The registry itself did get the credentials, in the form of this leg.
      const sentToFront = authorizations(front);
      expect(sentToFront.length).toBeGreaterThan(0);
      const scheme = leg === 'basic' ? /^Basic / : /^Bearer /;
      expect(sentToFront.every((a) => scheme.test(a!))).toBe(true);
      // Every blob went through storage, which got no credentials and no cookie.
      const blobGets = storage.seen.filter((s) => s.method === 'GET');
      expect(blobGets.length).toBeGreaterThanOrEqual(4);
      expect(authorizations(storage)).toEqual([]);
      expect(cookies(storage)).toEqual([]);
      expect(cookies(front)).toEqual([]);
    });
  }

  it('upload Locations on another host get no Authorization; the push succeeds', async () => {
    let frontHost = '';
    const uploads = await track(startUploadHost(basicA, () => frontHost));
    const front = await track(startFront(basicA, { uploadsTo: uploads.origin }));
    frontHost = front.host;
    const config = await dockerConfig('push', { [front.host]: { user: 'alice', password: basicA.password! } });
    const r = await runSigil(['copy', `oci-dir:${layout}:demo`, `${front.host}/scope/pushed:1`], {
      env: cliEnv(config),
    });
    expect(r.code, r.stderr).toBe(0);
    expect(uploads.seen.filter((s) => s.method === 'PUT').length).toBeGreaterThan(0);
    expect(authorizations(front).length).toBeGreaterThan(0);
    expect(authorizations(uploads)).toEqual([]);
    expect(cookies(uploads)).toEqual([]);
    // What went up is the image: the registry answers its digest.
    const digest = await runSigil(['digest', `${front.host}/scope/pushed:1`], { env: cliEnv(config) });
    const source = await runSigil(['digest', `oci-dir:${layout}:demo`]);
    expect(digest.stdout.trim()).toBe(source.stdout.trim());
  });
});

describe('two registries, two sets of credentials', () => {
  it('copy from A (basic, alice) to B (token, bob): each sees only its own credentials', async () => {
    const frontA = await track(startFront(basicA));
    const frontB = await track(startFront(tokenB));
    const config = await dockerConfig('a-to-b', {
      [frontA.host]: { user: 'alice', password: basicA.password! },
      [frontB.host]: { user: 'bob', password: tokenB.password! },
    });
    const grantsBefore = tokenB.tokenGrants!().length;
    const r = await runSigil(['copy', `${frontA.host}/scope/app:1`, `${frontB.host}/scope/from-a:1`], {
      env: cliEnv(config),
    });
    expect(r.code, r.stderr).toBe(0);

    const alice = basicOf('alice', basicA.password!);
    const sentToA = authorizations(frontA);
    expect(sentToA.length).toBeGreaterThan(0);
    expect(new Set(sentToA)).toEqual(new Set([alice]));

    const sentToB = authorizations(frontB);
    expect(sentToB.length).toBeGreaterThan(0);
    const issuedByB = new Set(tokenB.issuedTokens!());
    for (const a of sentToB) {
      expect(a).toMatch(/^Bearer /);
      expect(issuedByB.has(a!.slice('Bearer '.length))).toBe(true);
    }
    // B's token issuer was asked only by bob (alice's password would have been refused there).
    const grants = tokenB.tokenGrants!().slice(grantsBefore);
    expect(grants.length).toBeGreaterThan(0);
    expect(new Set(grants.map((g) => g.subject))).toEqual(new Set(['bob']));
    expect(sentToB.some((a) => a === alice)).toBe(false);
  });
});

describe('docker config entries match host and port exactly', () => {
  it('an entry for the host without the port, or another port, is not sent; the URL form of the same host:port is', async () => {
    const challenger = await track(startChallenger());
    const other = await track(startChallenger());
    const secret = `never-${randomBytes(8).toString('hex')}`;
    const config = await dockerConfig('ports', {
      '127.0.0.1': { user: 'bare-host', password: secret },
      [other.host]: { user: 'other-port', password: secret },
      [`http://${other.host}/v2/`]: { user: 'other-port-url', password: secret },
    });
    const r = await runSigil(['digest', `${challenger.host}/scope/app:1`], { env: cliEnv(config) });
    expect(r.code).toBe(3);
    expect(challenger.seen.length).toBeGreaterThan(0);
    expect(authorizations(challenger)).toEqual([]);
    expect(other.seen).toEqual([]);

    // The control: the same server named by a URL key, as old docker configs write it.
    const matching = await dockerConfig('ports-url', {
      [`http://${challenger.host}/v2/`]: { user: 'url-key', password: secret },
    });
    const again = await runSigil(['digest', `${challenger.host}/scope/app:1`], { env: cliEnv(matching) });
    expect(again.code).toBe(3);
    expect(authorizations(challenger)).toContain(basicOf('url-key', secret));
    expect(r.stderr + again.stderr).not.toContain(secret);
  });
});
