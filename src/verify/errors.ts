import { SigilError } from '../errors.ts';

/**
 * One error class for src/verify (evidence, trust material, verification, policy). `code` is
 * stable: the CLI maps it to an exit code and scripts may match on it. Add a code as a new line
 * of the union; never rename one.
 */
export type VerifyErrorCode =
  /** A signature layer, bundle or envelope that cannot be read into evidence at all. */
  | 'EVIDENCE_INVALID'
  /** A Sigstore bundle that does not parse or fails @sigstore/bundle's validation. */
  | 'BUNDLE_INVALID'
  /** A transparency-log entry whose body does not describe the signature it is attached to. */
  | 'TLOG_BODY_MISMATCH'
  /** A certificate that does not chain to the given roots or is outside its validity. */
  | 'CERTIFICATE_INVALID'
  /** A signature that does not verify. */
  | 'SIGNATURE_INVALID';

export class VerifyError extends SigilError<VerifyErrorCode> {
  override name = 'VerifyError';
}
