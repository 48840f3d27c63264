import type { Dispatcher } from 'undici';
import type { Credential } from '../credentials.ts';
import { OciError } from '../errors.ts';
import { readLimited, redactUrl, responseError } from './response-error.ts';

/** One challenge of a `WWW-Authenticate` header (RFC 9110 §11.6.1). */
export interface Challenge {
  /** Lower case: `bearer`, `basic`. */
  scheme: string;
  params: Record<string, string>;
}

/**
 * Parses a `WWW-Authenticate` value, which may hold several challenges separated by commas
 * (`Bearer realm="…",service="…", Basic realm="…"`). Parameter names are lower-cased.
 */
export function parseChallenges(header: string | string[] | undefined): Challenge[] {
  if (header === undefined) return [];
  const values = Array.isArray(header) ? header : [header];
  const out: Challenge[] = [];
  for (const value of values) {
    let i = 0;
    const s = value;
    let current: Challenge | undefined;
    const skip = (re: RegExp): void => {
      while (i < s.length && re.test(s[i] as string)) i++;
    };
    while (i < s.length) {
      skip(/[\s,]/);
      const tokenStart = i;
      while (i < s.length && /[^\s,=]/.test(s[i] as string)) i++;
      const token = s.slice(tokenStart, i);
      if (!token) break;
      skip(/\s/);
      if (s[i] === '=') {
        // `name=value` belongs to the current challenge; `token68` forms (`Basic abc==`) are not used by registries.
        i++;
        skip(/\s/);
        let val = '';
        if (s[i] === '"') {
          i++;
          while (i < s.length && s[i] !== '"') {
            if (s[i] === '\\' && i + 1 < s.length) i++;
            val += s[i];
            i++;
          }
          i++;
        } else {
          const vs = i;
          while (i < s.length && s[i] !== ',') i++;
          val = s.slice(vs, i).trim();
        }
        if (current) current.params[token.toLowerCase()] = val;
      } else {
        current = { scheme: token.toLowerCase(), params: {} };
        out.push(current);
      }
    }
  }
  return out;
}

/** `repository:<name>:<actions>` (distribution token spec, "Requesting a Token"). */
export function repositoryScope(repository: string, actions: readonly string[]): string {
  return `repository:${repository}:${actions.join(',')}`;
}

interface CachedToken {
  token: string;
  expiresAt: number;
}

export interface TokenRequest {
  challenge: Challenge;
  scopes: readonly string[];
  credential: Credential | undefined;
  /** For messages only: the registry the token is for. */
  registry: string;
  dispatcher: Dispatcher;
  userAgent: string;
  signal?: AbortSignal;
}

// distribution token spec: "If [expires_in is] omitted, a default of 60 seconds should be assumed."
const DEFAULT_TOKEN_LIFETIME_S = 60;
// Refresh this long before expiry, so that a token does not lapse between cache and registry.
const EXPIRY_MARGIN_MS = 5_000;
/** Token responses are small JSON; anything bigger is not one. */
const TOKEN_BODY_LIMIT = 1024 * 1024;

/**
 * Bearer tokens per registry and scope set. A token for `pull,push` on a repository also
 * serves a later `pull` of it, so a copy that checks blobs before pushing fetches one token.
 */
export class TokenCache {
  private readonly tokens = new Map<string, CachedToken>();
  private readonly pending = new Map<string, Promise<string>>();

  private key(challenge: Challenge, scopes: readonly string[]): string {
    return JSON.stringify([challenge.params.realm ?? '', challenge.params.service ?? '', [...scopes].sort()]);
  }

  /** A live cached token covering `scopes`, if any. */
  lookup(challenge: Challenge, scopes: readonly string[]): string | undefined {
    const now = Date.now();
    const exact = this.tokens.get(this.key(challenge, scopes));
    if (exact && exact.expiresAt > now) return exact.token;
    if (scopes.length === 1) {
      const m = /^repository:(.+):([^:]+)$/.exec(scopes[0] as string);
      if (m && m[2] === 'pull') {
        const wider = this.tokens.get(this.key(challenge, [`repository:${m[1]}:pull,push`]));
        if (wider && wider.expiresAt > now) return wider.token;
      }
    }
    return undefined;
  }

  invalidate(challenge: Challenge, scopes: readonly string[]): void {
    this.tokens.delete(this.key(challenge, scopes));
  }

  /** The cached token, or one fetched once however many requests ask at the same time. */
  async get(req: TokenRequest): Promise<string> {
    const cached = this.lookup(req.challenge, req.scopes);
    if (cached) return cached;
    const key = this.key(req.challenge, req.scopes);
    let p = this.pending.get(key);
    if (!p) {
      p = fetchToken(req)
        .then(({ token, expiresIn }) => {
          const lifetime = expiresIn * 1000;
          this.tokens.set(key, { token, expiresAt: Date.now() + lifetime - Math.min(EXPIRY_MARGIN_MS, lifetime / 2) });
          return token;
        })
        .finally(() => this.pending.delete(key));
      this.pending.set(key, p);
    }
    return p;
  }
}

/** An Authorization value, its token or base64 part, and the credential's secrets: what redactSecrets hides. */
export function credentialSecrets(authorization: string | undefined, credential: Credential | undefined): string[] {
  const out = [credential?.password, credential?.identityToken, credential?.registryToken];
  if (authorization) out.push(authorization, authorization.slice(authorization.indexOf(' ') + 1));
  return out.filter((s): s is string => s !== undefined && s !== '');
}

export function basicAuthorization(credential: Credential): string {
  return `Basic ${Buffer.from(`${credential.username ?? ''}:${credential.password ?? ''}`).toString('base64')}`;
}

/**
 * Gets a token from the challenge's realm (distribution docs/spec/auth/token.md and oauth.md):
 * - an identity token (docker's `identitytoken`) is exchanged by POSTing an OAuth2 form with
 *   `grant_type=refresh_token`, as docker does;
 * - otherwise GET with the scopes as query parameters, with Basic credentials when we have them
 *   and anonymously when not.
 */
async function fetchToken(req: TokenRequest): Promise<{ token: string; expiresIn: number }> {
  const realm = req.challenge.params.realm;
  if (!realm) {
    throw new OciError(
      'UNAUTHORIZED',
      `${req.registry}: the registry's Bearer challenge names no realm to get a token from`,
    );
  }
  let url: URL;
  try {
    url = new URL(realm);
  } catch (e) {
    throw new OciError('UNAUTHORIZED', `${req.registry}: the Bearer challenge's realm is not a URL`, { cause: e });
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new OciError(
      'UNAUTHORIZED',
      `${req.registry}: the Bearer challenge's realm ${redactUrl(url)} is not HTTP(S)`,
    );
  }
  const service = req.challenge.params.service;
  const headers: Record<string, string> = { 'user-agent': req.userAgent, accept: 'application/json' };
  let method: 'GET' | 'POST' = 'GET';
  let body: string | undefined;
  const cred = req.credential;
  if (cred?.identityToken) {
    method = 'POST';
    const form = new URLSearchParams({
      grant_type: 'refresh_token',
      refresh_token: cred.identityToken,
      client_id: 'sigil',
    });
    if (service) form.set('service', service);
    if (req.scopes.length) form.set('scope', req.scopes.join(' '));
    body = form.toString();
    headers['content-type'] = 'application/x-www-form-urlencoded';
  } else {
    if (service) url.searchParams.set('service', service);
    for (const s of req.scopes) url.searchParams.append('scope', s);
    if (cred?.username !== undefined || cred?.password !== undefined) headers.authorization = basicAuthorization(cred);
  }
  let res: Dispatcher.ResponseData;
  try {
    res = await req.dispatcher.request({
      origin: url.origin,
      path: `${url.pathname}${url.search}`,
      method,
      headers,
      body,
      signal: req.signal,
    });
  } catch (e) {
    throw new OciError(
      'NETWORK',
      `${method} ${redactUrl(url)}: getting a token for ${req.registry} failed: ${(e as Error).message}`,
      {
        cause: e,
      },
    );
  }
  if (res.statusCode !== 200) {
    const hint =
      res.statusCode === 401 || res.statusCode === 403
        ? cred
          ? `the credentials for ${req.registry} were rejected; run "sigil login ${req.registry}" again`
          : `run "sigil login ${req.registry}" or set DOCKER_CONFIG`
        : undefined;
    const err = await responseError({
      method,
      url,
      status: res.statusCode,
      body: res.body,
      context: `getting a token for ${req.registry}`,
      secrets: credentialSecrets(headers.authorization, cred),
      ...(hint ? { hint } : {}),
    });
    if (res.statusCode === 401 || res.statusCode === 403) {
      throw new OciError('UNAUTHORIZED', err.message, {
        status: res.statusCode,
        registryCodes: err.registryCodes ?? [],
      });
    }
    throw err;
  }
  const raw = await readLimited(res.body, TOKEN_BODY_LIMIT);
  let doc: { token?: unknown; access_token?: unknown; expires_in?: unknown };
  try {
    doc = JSON.parse(raw.toString('utf8')) as typeof doc;
  } catch (e) {
    throw new OciError('UNAUTHORIZED', `${method} ${redactUrl(url)}: the token response is not JSON`, { cause: e });
  }
  // The token spec names it `token`; OAuth2 servers answer `access_token`. Either will do.
  const token = typeof doc.token === 'string' && doc.token ? doc.token : doc.access_token;
  if (typeof token !== 'string' || !token) {
    throw new OciError('UNAUTHORIZED', `${method} ${redactUrl(url)}: the token response holds no token`);
  }
  const expiresIn =
    typeof doc.expires_in === 'number' && doc.expires_in > 0 ? doc.expires_in : DEFAULT_TOKEN_LIFETIME_S;
  return { token, expiresIn };
}
