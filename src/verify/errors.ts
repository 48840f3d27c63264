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
  | 'SIGNATURE_INVALID'
  /** A trusted root, CA or key file that is missing or unreadable (POLICY.md TRUST_ROOT_ERROR). */
  | 'TRUST_ROOT_INVALID'
  /** A TUF update of the trusted root that failed: mirror unreachable, or metadata or target refused (signature, expiry, version, hash). */
  | 'TUF_UPDATE_FAILED'
  /** A policy file that does not load: bad YAML, unknown field, wrong type, invalid glob/regexp/CEL (file, line, path). */
  | 'POLICY_INVALID'
  /** A policy path that cannot be read at all (missing, not a file or folder, no policy files). */
  | 'POLICY_UNREADABLE'
  /** A PolicyTest evidence folder that cannot be read. */
  | 'POLICY_EVIDENCE_INVALID';

export class VerifyError extends SigilError<VerifyErrorCode> {
  override name = 'VerifyError';
}
