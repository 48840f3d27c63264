import { SigilError } from '../errors.ts';

/**
 * One error class for src/sign (keys, payloads, signers, witnesses). `code` is stable: the CLI
 * maps it to an exit code and scripts may match on it; `message` says what to do. Add a code as
 * a new line of the union; never rename one.
 */
export type SignErrorCode =
  /** A key file that is not PEM, not a key, or of a kind sigil cannot use. */
  | 'KEY_INVALID'
  /** The password does not open the encrypted private key. */
  | 'KEY_PASSWORD'
  /** A key type or curve cosign does not sign with (e.g. secp256k1). */
  | 'KEY_UNSUPPORTED'
  /** Writing a key file would overwrite one, or could not be done safely. */
  | 'KEY_WRITE'
  /** A simple-signing payload, in-toto statement or predicate that does not parse or is not what it claims. */
  | 'PAYLOAD_INVALID'
  /** A DSSE envelope that does not parse or has the wrong payload type. */
  | 'ENVELOPE_INVALID'
  /** A signature that does not verify. */
  | 'SIGNATURE_INVALID'
  /** No identity token, or one that cannot be used (expired, unverified email). */
  | 'IDENTITY_TOKEN'
  /** Fulcio, Rekor or the TSA refused or failed. */
  | 'FULCIO'
  | 'REKOR'
  | 'TSA'
  | 'INVALID_OPTIONS';

export class SignError extends SigilError<SignErrorCode> {
  override name = 'SignError';
}
