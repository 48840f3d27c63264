/**
 * Loopback stand-ins that behave as badly as a real server sometimes does with a client's
 * secrets: they write back what the client sent. A client that prints a server's error body
 * as is (a registry's JSON error, a proxy's text page) would then print its own credentials.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendDistributionError } from '../harness/distribution-errors.ts';
import { type LoopbackServer, serveLoopback } from '../harness/http-server.ts';

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export interface EchoRegistry extends LoopbackServer {
  /** Bearer tokens it handed out (bearer mode), for the secrets a test looks for. */
  issuedTokens(): readonly string[];
  /** How many requests carried an Authorization header: proves the credentials were sent at all. */
  authorizedRequests(): number;
}

/**
 * A registry whose every authenticated answer is an error quoting the request's headers,
 * Authorization first, in the message and as a JSON dump in `detail`, as a debugging proxy or a
 * careless backend does. `/v2/` challenges without credentials. Repository names pick the answer:
 * - `e500/...`: 500 with `Retry-After: 0` (retried at once, then reported);
 * - `e401/...`: 401 with the challenge, as for rejected credentials.
 * In `bearer` mode the challenge points at its own `/token`, which answers a token for any
 * Basic credentials or refresh token, except for scopes on `t401/...`: 401 quoting the Basic
 * header and the POSTed form.
 */
export async function startEchoRegistry(mode: 'basic' | 'bearer'): Promise<EchoRegistry> {
  const tokens: string[] = [];
  let authorized = 0;
  let origin = '';
  const challenge = (): string =>
    mode === 'basic' ? 'Basic realm="echo"' : `Bearer realm="${origin}/token",service="echo"`;
  const echo = (req: IncomingMessage, form = ''): { message: string; detail: unknown } => ({
    message: `request failed; it carried Authorization: ${req.headers.authorization ?? '(none)'}${form ? ` and the form ${form}` : ''}`,
    detail: { method: req.method, url: req.url, headers: req.headers },
  });
  const server = await serveLoopback(async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://echo');
    if (req.headers.authorization) authorized++;
    if (mode === 'bearer' && url.pathname === '/token') {
      // An OAuth2 POST (docker's identitytoken) carries its refresh token in the form.
      const form = req.method === 'POST' ? await readBody(req) : '';
      const scopes = [...url.searchParams.getAll('scope'), new URLSearchParams(form).get('scope') ?? ''].join(' ');
      if ((!req.headers.authorization && !form) || scopes.includes(':t401/')) {
        const { message, detail } = echo(req, form);
        sendDistributionError(res, 401, 'UNAUTHORIZED', message, detail, { 'WWW-Authenticate': 'Basic realm="echo"' });
        return;
      }
      const token = `echo-${randomBytes(24).toString('base64url')}`;
      tokens.push(token);
      const body = JSON.stringify({ token, expires_in: 300 });
      res.writeHead(200, { 'content-type': 'application/json' }).end(body);
      return;
    }
    if (!req.headers.authorization) {
      sendDistributionError(res, 401, 'UNAUTHORIZED', 'authentication required', undefined, {
        'WWW-Authenticate': challenge(),
      });
      return;
    }
    if (url.pathname === '/v2/') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      return;
    }
    const { message, detail } = echo(req);
    if (url.pathname.startsWith('/v2/e401/')) {
      sendDistributionError(res, 401, 'UNAUTHORIZED', message, detail, { 'WWW-Authenticate': challenge() });
      return;
    }
    sendDistributionError(res, 500, 'UNKNOWN', message, detail, { 'Retry-After': '0' });
  });
  origin = server.origin;
  return { ...server, issuedTokens: () => tokens, authorizedRequests: () => authorized };
}

/**
 * Fulcio refusing the identity token (401), quoting the token it got in its answer as a
 * verbose OIDC library error might.
 */
export function startRefusingFulcio(): Promise<LoopbackServer> {
  return serveLoopback(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    let token = '';
    try {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
        credentials?: { oidcIdentityToken?: string };
      };
      token = body.credentials?.oidcIdentityToken ?? '';
    } catch {
      // Not JSON: nothing to quote.
    }
    const text = JSON.stringify({ code: 401, message: `There was an error processing the identity token ${token}` });
    res.writeHead(401, { 'content-type': 'application/json' }).end(text);
  });
}

export interface ActionsTokenEndpoint extends LoopbackServer {
  /** `ACTIONS_ID_TOKEN_REQUEST_URL` for an endpoint that answers with `mint()`. */
  url: string;
  /** An URL of the same endpoint that refuses (403) and quotes the request's Authorization. */
  refusingUrl: string;
}

/** GitHub Actions' OIDC endpoint: `{"value": <jwt>}` for `Authorization: bearer <request token>`. */
export async function startActionsTokenEndpoint(
  requestToken: string,
  mint: () => string,
): Promise<ActionsTokenEndpoint> {
  const server = await serveLoopback((req, res) => {
    const url = new URL(req.url ?? '/', 'http://actions');
    const auth = req.headers.authorization ?? '';
    if (url.pathname === '/refuse' || auth.toLowerCase() !== `bearer ${requestToken}`.toLowerCase()) {
      res.writeHead(403, { 'content-type': 'text/plain' }).end(`forbidden for Authorization: ${auth}`);
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ value: mint() }));
  });
  return {
    ...server,
    url: `${server.origin}/token?api-version=2.0`,
    refusingUrl: `${server.origin}/refuse?api-version=2.0`,
  };
}
