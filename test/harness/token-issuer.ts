/**
 * A token issuer for distribution's `auth: token` mode (docs/spec/auth/token.md), on 127.0.0.1.
 *
 * - `GET /token?service=S&scope=repository:NAME:pull,push[&scope=…][&offline_token=true]` with
 *   HTTP Basic credentials: grants every requested action (the test user owns every repository).
 * - Without credentials: `anonymous: 'deny'` (the default) answers 401, so a client that forgot
 *   its credentials fails loudly; `anonymous: 'pull'` grants only `pull`, as Docker Hub does for
 *   public repositories (a push then fails at the registry with `insufficient_scope`).
 * - Wrong credentials: 401 with a distribution-shaped error body.
 * - `POST /token` (docs/spec/auth/oauth.md), form-encoded: `grant_type=password` (with
 *   `access_type=offline` it also returns a refresh token) and `grant_type=refresh_token`, the
 *   exchange docker's `identitytoken` goes through.
 *
 * Tokens are JWTs signed ES256 by a key whose self-signed certificate is the registry's
 * `rootcertbundle`. distribution 2.8 (registry/auth/token/token.go, VerifySigningKey) finds the
 * key either from an `x5c` header (the chain must verify up to the bundle) or from a `kid` that
 * is the libtrust key ID of a bundle certificate's key; both work and `keyHeader` selects one.
 */
import { execFile } from 'node:child_process';
import { createHash, createPrivateKey, type KeyObject, randomBytes, sign, X509Certificate } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { sendDistributionError } from './distribution-errors.ts';
import { serveLoopback } from './http-server.ts';
import { makeTempDir, untrackTempDir } from './processes.ts';

const execFileAsync = promisify(execFile);

export interface SigningMaterial {
  key: KeyObject;
  certificate: X509Certificate;
  /** libtrust key ID of the certificate's public key, for the `kid` header. */
  keyId: string;
}

let materialPromise: Promise<SigningMaterial> | undefined;

/**
 * The issuer's P-256 key and self-signed certificate, made once per process with `openssl`
 * (node:crypto cannot create certificates) in a temporary directory removed once they are read.
 */
export function signingMaterial(): Promise<SigningMaterial> {
  materialPromise ??= (async () => {
    const dir = await makeTempDir('sigil-token-issuer-');
    const keyPath = join(dir, 'key.pem');
    const certificatePath = join(dir, 'cert.pem');
    try {
      await execFileAsync('openssl', [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        keyPath,
        '-out',
        certificatePath,
        '-days',
        '3650',
        '-subj',
        '/CN=sigil test token issuer',
      ]);
      const key = createPrivateKey(await readFile(keyPath));
      const certificate = new X509Certificate(await readFile(certificatePath));
      return { key, certificate, keyId: libtrustKeyId(certificate.publicKey) };
    } finally {
      await rm(dir, { recursive: true, force: true });
      untrackTempDir(dir);
    }
  })();
  // A failure (openssl missing, say) is reported to every caller but not cached for the next.
  materialPromise.catch(() => {
    materialPromise = undefined;
  });
  return materialPromise;
}

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/**
 * docker/libtrust's key ID (util.go, keyIDFromCryptoKey): the first 240 bits of the SHA-256 of
 * the DER SubjectPublicKeyInfo, base32 without padding, in colon-separated groups of four.
 */
export function libtrustKeyId(publicKey: KeyObject): string {
  const hash = createHash('sha256')
    .update(publicKey.export({ type: 'spki', format: 'der' }))
    .digest()
    .subarray(0, 30);
  let bits = 0;
  let value = 0;
  let b32 = '';
  for (const byte of hash) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      b32 += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    value &= (1 << bits) - 1;
  }
  return b32.match(/.{1,4}/g)!.join(':');
}

export interface ResourceActions {
  type: string;
  name: string;
  actions: string[];
}

export interface TokenGrant {
  /** '' for anonymous. */
  subject: string;
  requested: ResourceActions[];
  granted: ResourceActions[];
}

export interface TokenIssuerOptions {
  username: string;
  password: string;
  /** The registry's `service` (the token's audience). */
  service: string;
  anonymous?: 'deny' | 'pull';
  keyHeader?: 'kid' | 'x5c';
  /** Seconds; 300 as Docker Hub. */
  expiresIn?: number;
}

export interface TokenIssuer {
  /** `http://127.0.0.1:PORT/token`, the challenge's `realm`. */
  realm: string;
  /** The token's `iss`, the registry's `issuer`. */
  issuer: string;
  service: string;
  /** PEM of the signing certificate, for the registry's `rootcertbundle` file. */
  rootCertBundlePem: string;
  /** How many tokens were handed out (access tokens, by either endpoint). */
  tokenRequests(): number;
  /** Every grant, oldest first. */
  grants(): readonly TokenGrant[];
  /** Every access and refresh token handed out, oldest first: secrets a test checks never leak. */
  issuedTokens(): readonly string[];
  stop(): Promise<void>;
}

export const TOKEN_ISSUER_NAME = 'sigil-test-token-issuer';

/** Parses `type:name:actions` scopes; a name may not hold ':' but a type may carry a class, `repository(plugin)`. */
export function parseScopes(scopes: readonly string[]): ResourceActions[] {
  const out: ResourceActions[] = [];
  for (const scope of scopes.flatMap((s) => s.split(' ')).filter(Boolean)) {
    const first = scope.indexOf(':');
    const last = scope.lastIndexOf(':');
    if (first < 0 || last === first) continue;
    const rawType = scope.slice(0, first);
    out.push({
      type: rawType.replace(/\(.*\)$/, ''),
      name: scope.slice(first + 1, last),
      actions: scope
        .slice(last + 1)
        .split(',')
        .filter(Boolean),
    });
  }
  return out;
}

function base64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

export function signToken(
  material: SigningMaterial,
  claims: Record<string, unknown>,
  keyHeader: 'kid' | 'x5c' = 'kid',
): string {
  const header =
    keyHeader === 'kid'
      ? { typ: 'JWT', alg: 'ES256', kid: material.keyId }
      : { typ: 'JWT', alg: 'ES256', x5c: [material.certificate.raw.toString('base64')] };
  const signingInput = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`;
  // JWS ES256 signatures are r||s (RFC 7518 §3.4), which libtrust checks by length, not DER.
  const signature = sign('sha256', Buffer.from(signingInput), { key: material.key, dsaEncoding: 'ieee-p1363' });
  return `${signingInput}.${base64url(signature)}`;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export async function startTokenIssuer(options: TokenIssuerOptions): Promise<TokenIssuer> {
  const material = await signingMaterial();
  const expiresIn = options.expiresIn ?? 300;
  const anonymous = options.anonymous ?? 'deny';
  const refreshTokens = new Map<string, string>();
  const grants: TokenGrant[] = [];
  const issued: string[] = [];

  const unauthorized = (res: ServerResponse, message: string): void =>
    sendDistributionError(res, 401, 'UNAUTHORIZED', message, undefined, {
      'WWW-Authenticate': `Basic realm="${TOKEN_ISSUER_NAME}"`,
    });

  const grant = (res: ServerResponse, subject: string, scopes: string[], refreshToken: string | undefined): void => {
    const requested = parseScopes(scopes);
    const granted = requested
      .map((r) => ({ ...r, actions: subject ? r.actions : r.actions.filter((a) => a === 'pull') }))
      .filter((r) => r.actions.length > 0 && (subject !== '' || r.type === 'repository'));
    grants.push({ subject, requested, granted });
    const now = Math.floor(Date.now() / 1000);
    const token = signToken(
      material,
      {
        iss: TOKEN_ISSUER_NAME,
        sub: subject,
        aud: options.service,
        exp: now + expiresIn,
        nbf: now - 1,
        iat: now,
        jti: randomBytes(16).toString('hex'),
        access: granted,
      },
      options.keyHeader,
    );
    issued.push(token);
    const body = JSON.stringify({
      token,
      access_token: token,
      expires_in: expiresIn,
      issued_at: new Date(now * 1000).toISOString(),
      ...(refreshToken ? { refresh_token: refreshToken } : {}),
    });
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(body)) });
    res.end(body);
  };

  const newRefreshToken = (subject: string): string => {
    const t = randomBytes(24).toString('base64url');
    refreshTokens.set(t, subject);
    issued.push(t);
    return t;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://issuer');
    if (url.pathname !== '/token') {
      sendDistributionError(res, 404, 'NOT_FOUND', `no such endpoint ${url.pathname}`);
      return;
    }
    const service = req.method === 'POST' ? undefined : url.searchParams.get('service');
    if (req.method === 'GET') {
      if (service !== options.service) {
        sendDistributionError(
          res,
          400,
          'INVALID_REQUEST',
          `unknown service "${service}", expected "${options.service}"`,
        );
        return;
      }
      const auth = req.headers.authorization;
      let subject = '';
      if (auth) {
        const m = /^Basic\s+(\S+)$/i.exec(auth);
        const decoded = m ? Buffer.from(m[1]!, 'base64').toString('utf8') : '';
        const colon = decoded.indexOf(':');
        if (
          colon < 0 ||
          decoded.slice(0, colon) !== options.username ||
          decoded.slice(colon + 1) !== options.password
        ) {
          unauthorized(res, 'invalid username or password');
          return;
        }
        subject = options.username;
      } else if (anonymous === 'deny') {
        unauthorized(res, 'authentication required');
        return;
      }
      const offline = url.searchParams.get('offline_token') === 'true' && subject !== '';
      grant(res, subject, url.searchParams.getAll('scope'), offline ? newRefreshToken(subject) : undefined);
      return;
    }
    if (req.method === 'POST') {
      const form = new URLSearchParams(await readBody(req));
      if (form.get('service') !== options.service) {
        sendDistributionError(res, 400, 'INVALID_REQUEST', `unknown service "${form.get('service')}"`);
        return;
      }
      const scopes = form.getAll('scope');
      switch (form.get('grant_type')) {
        case 'password': {
          if (form.get('username') !== options.username || form.get('password') !== options.password) {
            unauthorized(res, 'invalid username or password');
            return;
          }
          const offline = form.get('access_type') === 'offline';
          grant(res, options.username, scopes, offline ? newRefreshToken(options.username) : undefined);
          return;
        }
        case 'refresh_token': {
          const subject = refreshTokens.get(form.get('refresh_token') ?? '');
          if (!subject) {
            unauthorized(res, 'invalid refresh token');
            return;
          }
          grant(res, subject, scopes, undefined);
          return;
        }
        default:
          sendDistributionError(res, 400, 'UNSUPPORTED_GRANT_TYPE', `grant_type "${form.get('grant_type')}"`);
          return;
      }
    }
    sendDistributionError(res, 405, 'UNSUPPORTED', `${req.method} /token`);
  };

  const server = await serveLoopback(handle);
  return {
    realm: `${server.origin}/token`,
    issuer: TOKEN_ISSUER_NAME,
    service: options.service,
    rootCertBundlePem: material.certificate.toString(),
    tokenRequests: () => grants.length,
    grants: () => grants,
    issuedTokens: () => issued,
    stop: server.stop,
  };
}
