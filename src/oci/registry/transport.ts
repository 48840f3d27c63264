import type { IncomingHttpHeaders } from 'node:http';
import { isIP } from 'node:net';
import type { Readable } from 'node:stream';
import { Agent, type Dispatcher } from 'undici';
import type { Credential, CredentialStore } from '../credentials.ts';
import { OciError } from '../errors.ts';
import { registryApiHost } from '../reference.ts';
import { basicAuthorization, type Challenge, credentialSecrets, parseChallenges, TokenCache } from './auth.ts';
import { discard, redactUrl, responseError } from './response-error.ts';
import {
  Backoff,
  isConnectError,
  isNetworkError,
  isRetryableStatus,
  parseRetryAfter,
  type RetryPolicy,
} from './retry.ts';

export type Method = 'GET' | 'HEAD' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';

export interface RegistryRequest {
  method: Method;
  /** `/v2/…` on the registry, or an absolute URL the registry handed out (upload Location, Link). */
  url: string;
  /** Token scopes the request needs (`repository:app:pull`); empty for `/v2/`. */
  scopes: readonly string[];
  headers?: Record<string, string>;
  /** Bytes are sent again on a retry; a stream comes from a factory called once per try. */
  body?: Uint8Array | string | (() => Promise<Readable>);
  /** Statuses handed back to the caller; any other becomes an OciError. */
  ok: readonly number[];
  /**
   * May a failed try be repeated? Defaults to true for GET, HEAD, PUT and DELETE (idempotent by
   * RFC 9110 §9.2.2) and false otherwise; a refused connection is always retried, since then
   * nothing reached the server.
   */
  retry?: boolean;
  signal?: AbortSignal | undefined;
}

export interface RegistryResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Dispatcher.ResponseData['body'];
  /** Where the answer came from, after redirects. */
  url: URL;
}

export interface TransportOptions {
  credentials?: CredentialStore;
  /** `true`: plain HTTP to every registry (`--plain-http`); a list: to these hosts (`--insecure-registry`). */
  insecure?: boolean | readonly string[];
  userAgent?: string;
  retry: RetryPolicy;
  dispatcher?: Dispatcher;
  /** Called once per HTTP request sent to the registry (each try, each redirect hop). */
  onRequest?: (e: { method: Method; url: URL }) => void;
}

const MAX_REDIRECTS = 5;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

let sharedAgent: Agent | undefined;

/** Errors after which this transport already spent its retry budget; callers must not retry them again. */
const exhausted = new WeakSet<object>();

/** Marks an error whose retries were already spent (a blob resumed to exhaustion), so callers do not retry it again. */
export function markExhausted<E extends object>(e: E): E {
  exhausted.add(e);
  return e;
}

/** The Retry-After of a 429/5xx answer this transport did not retry itself (a non-idempotent request's). */
const retryAfters = new WeakMap<object, number>();

/** How long the registry asked to wait before an operation that failed with `e` is tried again. */
export function retryAfterOf(e: unknown): number | undefined {
  return typeof e === 'object' && e !== null ? retryAfters.get(e) : undefined;
}

/**
 * Would trying the whole operation again (a new upload session, say) help? True for network
 * failures and 429/5xx answers the transport has not itself retried to exhaustion.
 */
export function isTemporary(e: unknown): boolean {
  if (!(e instanceof OciError) || exhausted.has(e)) return false;
  if (e.code === 'NETWORK') return true;
  return e.status !== undefined && isRetryableStatus(e.status);
}

/**
 * One keep-alive connection pool for the whole process, so that every registry client (and
 * every copy between two repositories) reuses connections. Concurrency is the caller's choice.
 */
export function defaultDispatcher(): Dispatcher {
  // bodyTimeout is the longest silence inside a body: a stalled transfer fails (and resumes)
  // after a minute rather than undici's five.
  sharedAgent ??= new Agent({ keepAliveTimeout: 30_000, headersTimeout: 60_000, bodyTimeout: 60_000 });
  return sharedAgent;
}

export function isLoopback(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '::1') return true;
  return isIP(h) === 4 && h.startsWith('127.');
}

/** The registry's /v2/ origin: HTTPS unless the host is loopback or the caller marked it insecure. */
export function registryOrigin(host: string, insecure: TransportOptions['insecure']): URL {
  const explicit = /^(https?):\/\//i.exec(host)?.[1]?.toLowerCase();
  const bare = host.replace(/^https?:\/\//i, '').replace(/\/+$/, '');
  const apiHost = registryApiHost(bare);
  const url = new URL(`http://${apiHost}`);
  const plainAllowed = isLoopback(url.hostname) || isInsecureHost(bare, insecure) || isInsecureHost(apiHost, insecure);
  if (explicit === 'http' && !plainAllowed) {
    throw new OciError(
      'INSECURE_REGISTRY',
      `refusing plain HTTP to ${bare}: only loopback hosts and registries named by --insecure-registry (or --plain-http) may be reached without TLS`,
    );
  }
  url.protocol = explicit === 'https' || (explicit === undefined && !plainAllowed) ? 'https:' : 'http:';
  return url;
}

function isInsecureHost(host: string, insecure: TransportOptions['insecure']): boolean {
  if (insecure === true) return true;
  if (!insecure) return false;
  const h = host.toLowerCase();
  return insecure.some((x) => x.toLowerCase() === h || x.toLowerCase().replace(/^https?:\/\//, '') === h);
}

/**
 * Requests to one registry: picks the scheme, authenticates (anonymous, Basic, Bearer from
 * the `/v2/` challenge), retries with backoff, follows redirects without leaking the
 * registry's Authorization to other hosts, and turns error answers into OciErrors.
 */
export class Transport {
  /** The registry as it appears in references (`docker.io`), for credentials and messages. */
  readonly registry: string;
  readonly origin: URL;
  private readonly options: TransportOptions;
  private readonly dispatcher: Dispatcher;
  private readonly userAgent: string;
  private readonly tokens = new TokenCache();
  /** undefined until probed; null when /v2/ answered 200 without credentials. */
  private challenge: Challenge | null | undefined;
  private probing: Promise<Challenge | null> | undefined;
  private credentialPromise: Promise<Credential | undefined> | undefined;

  constructor(registry: string, options: TransportOptions) {
    this.registry = registry.replace(/^https?:\/\//i, '').replace(/\/+$/, '');
    this.options = options;
    this.origin = registryOrigin(registry, options.insecure);
    this.dispatcher = options.dispatcher ?? defaultDispatcher();
    this.userAgent = options.userAgent ?? 'sigil';
  }

  get retryPolicy(): RetryPolicy {
    return this.options.retry;
  }

  /** A plain-HTTP URL is allowed only to loopback, insecure hosts, or when the registry itself is plain HTTP (no downgrade). */
  assertAllowed(url: URL): void {
    if (url.protocol === 'https:') return;
    if (url.protocol !== 'http:') {
      throw new OciError(
        'REGISTRY_ERROR',
        `${this.registry}: refusing to follow ${redactUrl(url)}: not an HTTP(S) URL`,
      );
    }
    if (
      isLoopback(url.hostname) ||
      isInsecureHost(url.host, this.options.insecure) ||
      this.origin.protocol === 'http:'
    ) {
      return;
    }
    throw new OciError(
      'INSECURE_REGISTRY',
      `${this.registry}: refusing plain HTTP to ${url.host} (from an HTTPS registry); name it with --insecure-registry if that is intended`,
    );
  }

  resolve(url: string): URL {
    return new URL(url, this.origin);
  }

  private credential(): Promise<Credential | undefined> {
    this.credentialPromise ??= this.options.credentials
      ? this.options.credentials.get(this.registry).catch((e: unknown) => {
          this.credentialPromise = undefined;
          throw e;
        })
      : Promise.resolve(undefined);
    return this.credentialPromise;
  }

  /** GET /v2/ without credentials to learn how the registry wants to be authenticated (distribution spec, "Determining support"). */
  private async probe(signal?: AbortSignal): Promise<Challenge | null> {
    if (this.challenge !== undefined) return this.challenge;
    this.probing ??= (async () => {
      const url = this.resolve('/v2/');
      const res = await this.dispatch(url, 'GET', {}, undefined, signal, true);
      discard(res.body);
      if (res.statusCode === 401) {
        this.challenge = pickChallenge(parseChallenges(res.headers['www-authenticate']));
      } else {
        // 200 is anonymous access; a registry answering /v2/ oddly (404 behind some proxies)
        // still gets its requests, whose own 401s teach us the challenge.
        this.challenge = null;
      }
      return this.challenge;
    })().finally(() => {
      this.probing = undefined;
    });
    return this.probing;
  }

  private async authorization(scopes: readonly string[], signal?: AbortSignal): Promise<string | undefined> {
    // Without credentials, the /v2/ probe is skipped: the request goes out anonymously, as it
    // would after a probe answering 200, and a 401 to it carries the challenge (learned in
    // `send`), so a registry open to anonymous use costs no extra round trip. With credentials
    // the probe stays: a registry may answer 404 rather than 401 to an anonymous request for a
    // private repository, and the credentials must be sent before that answer.
    if (this.challenge === undefined && !(await this.credential().catch(() => undefined))) return undefined;
    const challenge = await this.probe(signal);
    if (!challenge) return undefined;
    const credential = await this.credential();
    if (challenge.scheme === 'basic') {
      return credential && (credential.username !== undefined || credential.password !== undefined)
        ? basicAuthorization(credential)
        : undefined;
    }
    if (challenge.scheme === 'bearer') {
      if (credential?.registryToken) return `Bearer ${credential.registryToken}`;
      // Credentials go to the realm: it gets the same no-downgrade rule as the registry.
      const realm = challenge.params.realm;
      if (realm && URL.canParse(realm)) this.assertAllowed(new URL(realm));
      const token = await this.tokens.get({
        challenge,
        scopes,
        credential,
        registry: this.registry,
        dispatcher: this.dispatcher,
        userAgent: this.userAgent,
        ...(signal ? { signal } : {}),
      });
      return `Bearer ${token}`;
    }
    return undefined;
  }

  private async dispatch(
    url: URL,
    method: Method,
    headers: Record<string, string>,
    body: Uint8Array | string | Readable | undefined,
    signal: AbortSignal | undefined,
    retryAll: boolean,
  ): Promise<Dispatcher.ResponseData> {
    this.assertAllowed(url);
    const backoff = new Backoff(this.options.retry);
    for (;;) {
      this.options.onRequest?.({ method, url });
      try {
        return await this.dispatcher.request({
          origin: url.origin,
          path: `${url.pathname}${url.search}`,
          method,
          headers: { 'user-agent': this.userAgent, ...headers },
          body: body ?? null,
          signal: signal ?? null,
        });
      } catch (e) {
        if (signal?.aborted) throw signal.reason ?? e;
        if (e instanceof OciError) throw e;
        // A body stream's own error (a digest mismatch while uploading) is the real cause.
        if ((body as Readable | undefined)?.errored) throw (body as Readable).errored;
        if (retryAll && body === undefined && isNetworkError(e) && (await backoff.wait(undefined, signal))) continue;
        throw networkError(method, url, e);
      }
    }
  }

  /**
   * {@link send}, then the whole body (at most `limit` bytes, else MANIFEST_INVALID); a body
   * that breaks off is asked for again within the retry policy, as a failed request would be.
   */
  async sendBounded(
    req: RegistryRequest,
    limit: number,
    what: string,
  ): Promise<{ res: RegistryResponse; bytes: Uint8Array }> {
    const backoff = new Backoff(this.options.retry);
    for (;;) {
      const res = await this.send(req);
      try {
        return { res, bytes: await readBounded(res, limit, what) };
      } catch (e) {
        if (!(e instanceof OciError && e.code === 'NETWORK')) throw e;
        if (!(await backoff.wait(undefined, req.signal))) throw markExhausted(e);
      }
    }
  }

  /** Sends a request, with auth, retries and redirects; returns only answers whose status is in `req.ok`. */
  async send(req: RegistryRequest): Promise<RegistryResponse> {
    const retryable = req.retry ?? ['GET', 'HEAD', 'PUT', 'DELETE'].includes(req.method);
    const follow = req.method === 'GET' || req.method === 'HEAD';
    const backoff = new Backoff(this.options.retry);
    let authRetried = false;
    for (;;) {
      let url = this.resolve(req.url);
      const auth = await this.authorization(req.scopes, req.signal);
      let body: Uint8Array | string | Readable | undefined;
      if (typeof req.body === 'function') body = await req.body();
      else body = req.body;
      let res: Dispatcher.ResponseData;
      // An absolute URL the registry handed out (an upload Location on storage) may name
      // another host: the registry's credentials go to the registry's origin only, as
      // go-containerregistry's transports match the request host before adding them.
      let sentAuth = url.origin === this.origin.origin ? auth : undefined;
      try {
        res = await this.dispatchOnce(url, req, sentAuth, body);
        for (let hops = 0; follow && REDIRECT_STATUSES.has(res.statusCode); hops++) {
          const location = header(res.headers, 'location');
          discard(res.body);
          if (!location || hops >= MAX_REDIRECTS) {
            throw new OciError(
              'REGISTRY_ERROR',
              `${req.method} ${redactUrl(url)}: ${location ? `more than ${MAX_REDIRECTS} redirects` : `${res.statusCode} without a Location`}`,
              { status: res.statusCode },
            );
          }
          const next = new URL(location, url);
          // Storage behind a redirect (S3, a CDN) authenticates by the signed URL; the
          // registry's token must not travel to it.
          if (next.origin !== this.origin.origin) sentAuth = undefined;
          url = next;
          res = await this.dispatchOnce(url, req, sentAuth, undefined);
        }
      } catch (e) {
        if (typeof req.body === 'function') (body as Readable | undefined)?.destroy();
        if (e instanceof OciError && e.code === 'NETWORK') {
          const again = isConnectError(e.cause) || retryable;
          if (again) {
            if (await backoff.wait(undefined, req.signal)) continue;
            exhausted.add(e);
          }
        }
        throw e;
      }
      const status = res.statusCode;
      if (req.ok.includes(status)) return { status, headers: res.headers, body: res.body, url };

      if (status === 401 && !authRetried && sentAuth === auth) {
        // A token may have expired or lacked a scope; the answer's challenge says what to ask for.
        authRetried = true;
        const fresh = pickChallenge(parseChallenges(res.headers['www-authenticate']));
        if (fresh) this.challenge = fresh;
        if (this.challenge) this.tokens.invalidate(this.challenge, req.scopes);
        discard(res.body);
        continue;
      }
      if (retryable && isRetryableStatus(status)) {
        const after = parseRetryAfter(header(res.headers, 'retry-after'));
        discard(res.body);
        if (await backoff.wait(after, req.signal)) continue;
        const err = await responseError({
          method: req.method,
          url,
          status,
          hint: `gave up after ${backoff.attempts} tries`,
        });
        exhausted.add(err);
        throw err;
      }
      const after = isRetryableStatus(status) ? parseRetryAfter(header(res.headers, 'retry-after')) : undefined;
      const err = await this.failure(req.method, url, status, res, auth);
      if (after !== undefined) retryAfters.set(err, after);
      throw err;
    }
  }

  private dispatchOnce(
    url: URL,
    req: RegistryRequest,
    auth: string | undefined,
    body: Uint8Array | string | Readable | undefined,
  ): Promise<Dispatcher.ResponseData> {
    const headers: Record<string, string> = { ...req.headers };
    if (auth) headers.authorization = auth;
    return this.dispatch(url, req.method, headers, body, req.signal, false);
  }

  private async failure(
    method: Method,
    url: URL,
    status: number,
    res: Dispatcher.ResponseData,
    auth: string | undefined,
  ): Promise<OciError> {
    const authenticated = auth !== undefined;
    const credential = await this.credential().catch(() => undefined);
    let hint: string | undefined;
    if (status === 401) {
      hint = credential
        ? `the credentials for ${this.registry} were rejected; run "sigil login ${this.registry}" again`
        : `run "sigil login ${this.registry}" or set DOCKER_CONFIG`;
    } else if (status === 403) {
      hint = `the credentials${authenticated ? '' : ' (none)'} do not allow this on ${this.registry}`;
    }
    const err = await responseError({
      method,
      url,
      status,
      body: res.body,
      secrets: credentialSecrets(auth, credential),
      ...(hint ? { hint } : {}),
    });
    if (status === 401 && err.code !== 'UNAUTHORIZED') {
      return new OciError('UNAUTHORIZED', err.message, { status, registryCodes: err.registryCodes ?? [] });
    }
    if (status === 403 && err.code !== 'DENIED') {
      return new OciError('DENIED', err.message, { status, registryCodes: err.registryCodes ?? [] });
    }
    return err;
  }
}

/** Bearer is preferred when a registry offers both, as docker does. */
function pickChallenge(challenges: Challenge[]): Challenge | null {
  return challenges.find((c) => c.scheme === 'bearer') ?? challenges.find((c) => c.scheme === 'basic') ?? null;
}

export function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function networkError(method: string, url: URL, e: unknown): OciError {
  const code = (e as { code?: string }).code;
  return new OciError(
    'NETWORK',
    `${method} ${redactUrl(url)}: ${(e as Error).message || 'request failed'}${code ? ` (${code})` : ''}`,
    { cause: e },
  );
}

/** Reads a whole body that must not exceed `limit` bytes (manifests, tag lists). */
export async function readBounded(res: RegistryResponse, limit: number, what: string): Promise<Uint8Array> {
  const declared = Number(header(res.headers, 'content-length'));
  if (Number.isFinite(declared) && declared > limit) {
    discard(res.body);
    throw new OciError('MANIFEST_INVALID', `${what}: ${declared} bytes is over the ${limit}-byte limit`);
  }
  // Unlike an error body, a body read for its content must not end quietly short when the
  // connection breaks: that is a NETWORK error (retried by sendBounded), not wrong bytes.
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      chunks.push(chunk);
      total += chunk.length;
      if (total > limit) break;
    }
  } catch (e) {
    const code = (e as { code?: string }).code;
    throw new OciError(
      'NETWORK',
      `${what}: the answer broke off after ${total} bytes: ${(e as Error).message}${code ? ` (${code})` : ''}`,
      { cause: e },
    );
  } finally {
    discard(res.body);
  }
  const raw = Buffer.concat(chunks);
  if (raw.byteLength > limit) {
    throw new OciError('MANIFEST_INVALID', `${what}: more than the ${limit}-byte limit`);
  }
  return new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength);
}
