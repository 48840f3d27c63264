import { FulcioSigner, InternalError, type Signature, type Signer } from '@sigstore/sign';
import { SignError } from '../errors.ts';
import { redact } from '../identity/jwt.ts';

export interface KeylessSignerOptions {
  /** Fulcio base URL (the client appends /api/v2/signingCert). */
  fulcioUrl: string;
  /** The OIDC identity token (see resolveIdentityToken). */
  identityToken: string;
  /** Retries of 5xx/429/network failures (sigstore-js default 2). */
  retry?: number;
  /** Per-request timeout in ms. */
  timeout?: number;
}

/**
 * Keyless signing: an ephemeral P-256 key certified by Fulcio for the token's identity
 * (@sigstore/sign FulcioSigner does the key, the proof of possession and the request). Failures
 * become SignError FULCIO naming the URL, or IDENTITY_TOKEN when the token itself is refused
 * client-side; the token is scrubbed from any message that comes back.
 */
export function keylessSigner(opts: KeylessSignerOptions): Signer {
  const fulcioUrl = opts.fulcioUrl.replace(/\/+$/, '');
  const inner = new FulcioSigner({
    fulcioBaseURL: fulcioUrl,
    identityProvider: { getToken: () => Promise.resolve(opts.identityToken) },
    ...(opts.retry !== undefined ? { retry: opts.retry } : {}),
    ...(opts.timeout !== undefined ? { timeout: opts.timeout } : {}),
  });
  return {
    async sign(data: Buffer): Promise<Signature> {
      try {
        return await inner.sign(data);
      } catch (err) {
        throw keylessError(err, fulcioUrl, opts.identityToken);
      }
    },
  };
}

function keylessError(err: unknown, fulcioUrl: string, token: string): SignError {
  const detail = redact(describeCause(err), token);
  // The cause may hold the token (sigstore-js keeps request details); keep only a scrubbed copy.
  const cause = new Error(detail);
  if (err instanceof InternalError && err.code.startsWith('IDENTITY_TOKEN')) {
    return new SignError('IDENTITY_TOKEN', `the identity token was refused before contacting Fulcio: ${detail}`, {
      cause,
    });
  }
  return new SignError('FULCIO', `requesting a signing certificate from Fulcio at ${fulcioUrl}: ${detail}`, {
    cause,
  });
}

/** InternalError's message is generic ("error creating signing certificate"); the cause says why. */
export function describeCause(err: unknown): string {
  const parts: string[] = [];
  let e: unknown = err;
  for (let depth = 0; e !== undefined && e !== null && depth < 4; depth++) {
    if (e instanceof Error) {
      if (e.message && !parts.includes(e.message)) parts.push(e.message);
      e = (e as { cause?: unknown }).cause;
    } else {
      parts.push(String(e));
      break;
    }
  }
  return parts.join(': ') || 'unknown error';
}
