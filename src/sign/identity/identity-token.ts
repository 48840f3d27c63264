import { readFile, stat } from 'node:fs/promises';
import { SignError } from '../errors.ts';
import { githubActionsToken } from './github-actions.ts';
import { checkIdentityToken, type IdentityClaims } from './jwt.ts';

export type IdentityTokenSource = 'flag' | 'file' | 'SIGSTORE_ID_TOKEN' | 'github-actions';

export interface IdentityToken {
  /** The raw JWT. Pass it on; never print it. */
  token: string;
  source: IdentityTokenSource;
  claims: IdentityClaims;
}

export interface ResolveIdentityTokenOptions {
  /** `--identity-token`: the token itself, or a path to a file holding it (as cosign accepts). */
  identityToken?: string;
  env?: Record<string, string | undefined>;
  now?: Date;
  signal?: AbortSignal;
}

/** A flag value that names an existing regular file is read; anything else is the token itself. */
async function fromFlag(value: string): Promise<{ token: string; source: IdentityTokenSource; where: string }> {
  const info = await stat(value).catch(() => undefined);
  if (info?.isFile()) {
    const token = (await readFile(value, 'utf8')).trim();
    return { token, source: 'file', where: `--identity-token file ${value}` };
  }
  return { token: value.trim(), source: 'flag', where: '--identity-token' };
}

/**
 * Finds the OIDC identity token for keyless signing, in cosign's order: `--identity-token`
 * (value or file), `SIGSTORE_ID_TOKEN`, then GitHub Actions' token endpoint when the runner
 * exposes it. sigil has no interactive browser flow, so with none of these it stops and says
 * what to set. The token is checked (JWT, not expired, verified email) before Fulcio sees it.
 */
export async function resolveIdentityToken(opts: ResolveIdentityTokenOptions = {}): Promise<IdentityToken> {
  const env = opts.env ?? process.env;
  let found: { token: string; source: IdentityTokenSource; where: string } | undefined;
  if (opts.identityToken !== undefined && opts.identityToken.trim() !== '') {
    found = await fromFlag(opts.identityToken);
  } else if (env.SIGSTORE_ID_TOKEN?.trim()) {
    found = { token: env.SIGSTORE_ID_TOKEN.trim(), source: 'SIGSTORE_ID_TOKEN', where: 'SIGSTORE_ID_TOKEN' };
  } else if (env.ACTIONS_ID_TOKEN_REQUEST_URL && env.ACTIONS_ID_TOKEN_REQUEST_TOKEN) {
    const token = await githubActionsToken({
      requestUrl: env.ACTIONS_ID_TOKEN_REQUEST_URL,
      requestToken: env.ACTIONS_ID_TOKEN_REQUEST_TOKEN,
      signal: opts.signal,
    });
    found = { token: token.trim(), source: 'github-actions', where: 'the GitHub Actions OIDC endpoint' };
  }
  if (!found) {
    throw new SignError(
      'IDENTITY_TOKEN',
      'keyless signing needs an OIDC identity token: pass --identity-token (a token or a file holding one), ' +
        'set SIGSTORE_ID_TOKEN, or run in GitHub Actions with "permissions: id-token: write" ' +
        '(ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN); or sign with --key',
    );
  }
  if (found.token === '') throw new SignError('IDENTITY_TOKEN', `the identity token from ${found.where} is empty`);
  const claims = checkIdentityToken(found.token, found.where, opts.now);
  return { token: found.token, source: found.source, claims };
}
