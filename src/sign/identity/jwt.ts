import { SignError } from '../errors.ts';

/** The claims sigil looks at; the rest of the token is passed to Fulcio untouched. */
export interface IdentityClaims {
  iss: string;
  sub?: string;
  email?: string;
  email_verified?: boolean;
  aud?: string | string[];
  /** Seconds since the epoch. */
  exp?: number;
  [claim: string]: unknown;
}

/**
 * Decodes the token's payload and checks what Fulcio would otherwise refuse with a less helpful
 * message: a JWT shape, an issuer, not expired, and a verified email for email identities
 * (Fulcio and sigstore-js reject `email` without `email_verified: true`). The signature is not
 * checked: only Fulcio, which knows the issuer's keys, can do that.
 *
 * `source` names where the token came from; the token itself never appears in a message, since
 * error output ends up in CI logs.
 */
export function checkIdentityToken(token: string, source: string, now = new Date()): IdentityClaims {
  const parts = token.split('.');
  if (parts.length !== 3 || parts.some((p, i) => i < 2 && !/^[A-Za-z0-9_-]+$/.test(p))) {
    throw new SignError(
      'IDENTITY_TOKEN',
      `the identity token from ${source} is not a JWT (expected three base64url parts separated by dots)`,
    );
  }
  let claims: unknown;
  try {
    claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8'));
  } catch {
    throw new SignError('IDENTITY_TOKEN', `the identity token from ${source} has a payload that is not JSON`);
  }
  if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) {
    throw new SignError('IDENTITY_TOKEN', `the identity token from ${source} has a payload that is not a JSON object`);
  }
  const c = claims as Record<string, unknown>;
  if (typeof c.iss !== 'string' || c.iss === '') {
    throw new SignError('IDENTITY_TOKEN', `the identity token from ${source} has no issuer (iss claim)`);
  }
  if (c.exp !== undefined) {
    if (typeof c.exp !== 'number') {
      throw new SignError('IDENTITY_TOKEN', `the identity token from ${source} has a non-numeric exp claim`);
    }
    if (c.exp * 1000 <= now.getTime()) {
      throw new SignError(
        'IDENTITY_TOKEN',
        `the identity token from ${source} (issuer ${c.iss}) expired at ${new Date(c.exp * 1000).toISOString()}; ` +
          'get a fresh token (CI tokens typically live 5-10 minutes)',
      );
    }
  }
  if (c.email !== undefined) {
    if (typeof c.email !== 'string') {
      throw new SignError('IDENTITY_TOKEN', `the identity token from ${source} has a non-string email claim`);
    }
    if (c.email_verified !== true) {
      throw new SignError(
        'IDENTITY_TOKEN',
        `the identity token from ${source} (issuer ${c.iss}) carries email ${c.email} without email_verified: true; ` +
          'Fulcio only certifies verified emails',
      );
    }
  } else if (typeof c.sub !== 'string' || c.sub === '') {
    throw new SignError('IDENTITY_TOKEN', `the identity token from ${source} has neither an email nor a sub claim`);
  }
  return c as IdentityClaims;
}

/** Replaces every occurrence of a secret in a message (for errors from code sigil does not own). */
export function redact(message: string, secret: string | undefined): string {
  if (!secret) return message;
  return message.split(secret).join('[identity token]');
}
