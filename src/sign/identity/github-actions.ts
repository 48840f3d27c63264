import { SignError } from '../errors.ts';
import { redact } from './jwt.ts';

export interface GitHubActionsTokenOptions {
  requestUrl: string;
  requestToken: string;
  audience?: string;
  /** Attempts, as cosign makes (pkg/providers/github): network errors and 5xx are retried. */
  attempts?: number;
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** The URL without its query: Actions puts no secret there, but sigil prints only what it must. */
function describe(url: URL): string {
  return `${url.origin}${url.pathname}`;
}

/**
 * Asks the GitHub Actions OIDC endpoint for an ID token with audience `sigstore`: GET
 * `$ACTIONS_ID_TOKEN_REQUEST_URL&audience=sigstore` with `Authorization: bearer
 * $ACTIONS_ID_TOKEN_REQUEST_TOKEN`, answer `{"value": "<jwt>"}`. The job needs `permissions:
 * id-token: write` for the runner to set those variables.
 */
export async function githubActionsToken(opts: GitHubActionsTokenOptions): Promise<string> {
  let url: URL;
  try {
    url = new URL(opts.requestUrl);
  } catch {
    throw new SignError('IDENTITY_TOKEN', 'ACTIONS_ID_TOKEN_REQUEST_URL is not a URL');
  }
  url.searchParams.set('audience', opts.audience ?? 'sigstore');
  const attempts = opts.attempts ?? 3;
  let lastProblem = '';
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const signals = [AbortSignal.timeout(opts.timeoutMs ?? 10_000)];
    if (opts.signal) signals.push(opts.signal);
    let res: Response;
    try {
      res = await fetch(url, {
        headers: { authorization: `bearer ${opts.requestToken}`, accept: 'application/json' },
        signal: AbortSignal.any(signals),
      });
    } catch (err) {
      opts.signal?.throwIfAborted();
      lastProblem = redact(err instanceof Error ? err.message : String(err), opts.requestToken);
      continue;
    }
    if (res.status >= 500) {
      await res.body?.cancel();
      lastProblem = `HTTP ${res.status}`;
      continue;
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new SignError(
        'IDENTITY_TOKEN',
        `GitHub Actions OIDC token request to ${describe(url)} answered HTTP ${res.status}; ` +
          'does the job have "permissions: id-token: write"?',
      );
    }
    let value: unknown;
    try {
      value = ((await res.json()) as { value?: unknown }).value;
    } catch {
      value = undefined;
    }
    if (typeof value !== 'string' || value === '') {
      throw new SignError(
        'IDENTITY_TOKEN',
        `GitHub Actions OIDC token response from ${describe(url)} has no "value" string`,
      );
    }
    return value;
  }
  throw new SignError(
    'IDENTITY_TOKEN',
    `GitHub Actions OIDC token request to ${describe(url)} failed after ${attempts} attempts: ${lastProblem}`,
  );
}
