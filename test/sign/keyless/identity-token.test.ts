import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignError } from '../../../src/sign/errors.ts';
import { resolveIdentityToken } from '../../../src/sign/identity/index.ts';
import { serveLoopback, type LoopbackServer } from '../../harness/http-server.ts';
import { startSigstoreStack, type SigstoreStack } from '../../harness/sigstore-stack.ts';

let stack: SigstoreStack;
let actions: LoopbackServer;
const seen: { url: string; authorization: string | undefined }[] = [];
let actionsStatus = 200;
const REQUEST_TOKEN = 'actions-runtime-secret-4711';
let actionsToken = '';

beforeAll(async () => {
  stack = await startSigstoreStack();
  actionsToken = stack.mintIdentityToken({
    issuer: 'https://token.actions.githubusercontent.com',
    subject: 'repo:sigil/sigil:ref:refs/heads/main',
  });
  // Emulates the runner's OIDC endpoint: bearer auth with the request token, `{ value }` back.
  actions = await serveLoopback((req, res) => {
    seen.push({ url: req.url ?? '', authorization: req.headers.authorization });
    if (actionsStatus !== 200) {
      res.writeHead(actionsStatus).end();
      return;
    }
    if (req.headers.authorization !== `bearer ${REQUEST_TOKEN}`) {
      res.writeHead(401).end();
      return;
    }
    const audience = new URL(req.url ?? '/', 'http://x').searchParams.get('audience');
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ count: 1, value: audience === 'sigstore' ? actionsToken : 'wrong-audience' }));
  });
});
afterAll(async () => {
  await actions?.stop();
  await stack?.stop();
});

async function identityError(p: Promise<unknown>): Promise<SignError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SignError);
  return err as SignError;
}

describe('resolveIdentityToken', () => {
  it('takes --identity-token as a value, and before SIGSTORE_ID_TOKEN', async () => {
    const flag = stack.mintIdentityToken({ email: 'flag@sigil.test' });
    const envToken = stack.mintIdentityToken({ email: 'env@sigil.test' });
    const got = await resolveIdentityToken({ identityToken: flag, env: { SIGSTORE_ID_TOKEN: envToken } });
    expect(got.source).toBe('flag');
    expect(got.token).toBe(flag);
    expect(got.claims.email).toBe('flag@sigil.test');
  });

  it('reads --identity-token from a file when it names one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sigil-token-'));
    const token = stack.mintIdentityToken({ subject: 'https://ci.sigil.test/job/1' });
    await writeFile(join(dir, 'oidc-token'), `${token}\n`);
    const got = await resolveIdentityToken({ identityToken: join(dir, 'oidc-token'), env: {} });
    expect(got).toMatchObject({ source: 'file', token });
    expect(got.claims.sub).toBe('https://ci.sigil.test/job/1');
  });

  it('uses SIGSTORE_ID_TOKEN before GitHub Actions', async () => {
    const envToken = stack.mintIdentityToken({ email: 'env@sigil.test' });
    const before = seen.length;
    const got = await resolveIdentityToken({
      env: {
        SIGSTORE_ID_TOKEN: envToken,
        ACTIONS_ID_TOKEN_REQUEST_URL: `${actions.origin}/token?api-version=2.0`,
        ACTIONS_ID_TOKEN_REQUEST_TOKEN: REQUEST_TOKEN,
      },
    });
    expect(got.source).toBe('SIGSTORE_ID_TOKEN');
    expect(seen.length).toBe(before);
  });

  it('asks the GitHub Actions endpoint with audience sigstore and bearer auth', async () => {
    const got = await resolveIdentityToken({
      env: {
        ACTIONS_ID_TOKEN_REQUEST_URL: `${actions.origin}/token?api-version=2.0`,
        ACTIONS_ID_TOKEN_REQUEST_TOKEN: REQUEST_TOKEN,
      },
    });
    expect(got.source).toBe('github-actions');
    expect(got.token).toBe(actionsToken);
    expect(got.claims.iss).toBe('https://token.actions.githubusercontent.com');
    const last = seen.at(-1)!;
    expect(last.authorization).toBe(`bearer ${REQUEST_TOKEN}`);
    expect(new URL(last.url, 'http://x').searchParams.get('api-version')).toBe('2.0');
    expect(new URL(last.url, 'http://x').searchParams.get('audience')).toBe('sigstore');
  });

  it('reports a refused Actions request without the request token, and retries 5xx', async () => {
    const env = {
      ACTIONS_ID_TOKEN_REQUEST_URL: `${actions.origin}/token?api-version=2.0`,
      ACTIONS_ID_TOKEN_REQUEST_TOKEN: REQUEST_TOKEN,
    };
    try {
      actionsStatus = 403;
      const denied = await identityError(resolveIdentityToken({ env }));
      expect(denied.code).toBe('IDENTITY_TOKEN');
      expect(denied.message).toMatch(/403.*id-token: write/);
      expect(denied.message).not.toContain(REQUEST_TOKEN);
      actionsStatus = 503;
      const before = seen.length;
      const down = await identityError(resolveIdentityToken({ env }));
      expect(down.message).toMatch(/after 3 attempts/);
      expect(seen.length - before).toBe(3);
    } finally {
      actionsStatus = 200;
    }
  });

  it('says what to set when there is no token anywhere', async () => {
    const err = await identityError(resolveIdentityToken({ env: {} }));
    expect(err.code).toBe('IDENTITY_TOKEN');
    expect(err.message).toMatch(/--identity-token/);
    expect(err.message).toMatch(/SIGSTORE_ID_TOKEN/);
    expect(err.message).toMatch(/ACTIONS_ID_TOKEN_REQUEST_URL/);
  });

  it('refuses expired, unverified-email and non-JWT tokens without printing them', async () => {
    const expired = stack.mintIdentityToken({ email: 'old@sigil.test', expiresIn: -30 });
    const e1 = await identityError(resolveIdentityToken({ identityToken: expired, env: {} }));
    expect(e1.code).toBe('IDENTITY_TOKEN');
    expect(e1.message).toMatch(/expired at/);

    const unverified = stack.mintIdentityToken({ email: 'who@sigil.test', claims: { email_verified: false } });
    const e2 = await identityError(resolveIdentityToken({ env: { SIGSTORE_ID_TOKEN: unverified } }));
    expect(e2.message).toMatch(/email_verified/);

    const e3 = await identityError(resolveIdentityToken({ identityToken: 'not-a-jwt-secret-value', env: {} }));
    expect(e3.message).toMatch(/not a JWT/);

    for (const [err, token] of [
      [e1, expired],
      [e2, unverified],
      [e3, 'not-a-jwt-secret-value'],
    ] as const) {
      expect(err.message).not.toContain(token);
      expect(err.message).not.toContain(token.split('.')[1] ?? token);
      expect(String(err.stack)).not.toContain(token);
    }
  });
});
