import { FilesystemError, type FilesystemErrorCode } from '../filesystem/errors.ts';
import { OciError, type OciErrorCode } from '../oci/errors.ts';
import { AttachError, type AttachErrorCode } from '../attach/errors.ts';
import { SbomError, type SbomErrorCode } from '../sbom/errors.ts';
import { SignError, type SignErrorCode } from '../sign/errors.ts';
import { VerifyError, type VerifyErrorCode } from '../verify/errors.ts';

/**
 * Exit codes, documented in the README and `sigil --help`. Scripts branch on these, so a
 * code keeps its meaning across releases.
 */
export const ExitCode = {
  Ok: 0,
  /** Anything not listed below: registry, network or I/O failure. */
  Failure: 1,
  /** Bad flags, a malformed reference or source, contradictory options. */
  Usage: 2,
  /** Authentication or authorisation failed: log in, or check the account's rights. */
  Auth: 3,
  /** The image, tag, blob or platform does not exist. */
  NotFound: 4,
  /** Content did not match its digest or size: something altered it in transit or at rest. */
  Integrity: 5,
} as const;

const BY_CODE: Partial<Record<OciErrorCode, number>> = {
  REFERENCE_INVALID: ExitCode.Usage,
  INVALID_OPTIONS: ExitCode.Usage,
  SOURCE_INVALID: ExitCode.Usage,
  NAME_INVALID: ExitCode.Usage,
  DIGEST_INVALID: ExitCode.Usage,
  INSECURE_REGISTRY: ExitCode.Usage,
  UNAUTHORIZED: ExitCode.Auth,
  DENIED: ExitCode.Auth,
  CREDENTIALS: ExitCode.Auth,
  MANIFEST_UNKNOWN: ExitCode.NotFound,
  BLOB_UNKNOWN: ExitCode.NotFound,
  NAME_UNKNOWN: ExitCode.NotFound,
  PLATFORM_NOT_FOUND: ExitCode.NotFound,
  DIGEST_MISMATCH: ExitCode.Integrity,
  SIZE_MISMATCH: ExitCode.Integrity,
};

const BY_FILESYSTEM_CODE: Partial<Record<FilesystemErrorCode, number>> = {
  LAYER_CORRUPT: ExitCode.Integrity,
  DIFFID_MISMATCH: ExitCode.Integrity,
  INVALID_OPTIONS: ExitCode.Usage,
};

const BY_SBOM_CODE: Partial<Record<SbomErrorCode, number>> = {
  FORMAT_UNKNOWN: ExitCode.Usage,
  OUTPUT_FLAG_INVALID: ExitCode.Usage,
  INVALID_OPTIONS: ExitCode.Usage,
};

const BY_SIGN_CODE: Partial<Record<SignErrorCode, number>> = {
  KEY_INVALID: ExitCode.Usage,
  KEY_UNSUPPORTED: ExitCode.Usage,
  INVALID_OPTIONS: ExitCode.Usage,
  KEY_PASSWORD: ExitCode.Auth,
  IDENTITY_TOKEN: ExitCode.Auth,
};

const BY_ATTACH_CODE: Partial<Record<AttachErrorCode, number>> = {
  INVALID_OPTIONS: ExitCode.Usage,
  NOT_FOUND: ExitCode.NotFound,
};

const BY_VERIFY_CODE: Partial<Record<VerifyErrorCode, number>> = {
  POLICY_INVALID: ExitCode.Usage,
  POLICY_UNREADABLE: ExitCode.Usage,
  POLICY_EVIDENCE_INVALID: ExitCode.Usage,
  TRUST_ROOT_INVALID: ExitCode.Usage,
};

export function exitCodeFor(e: unknown): number {
  if (e instanceof OciError) return BY_CODE[e.code] ?? ExitCode.Failure;
  if (e instanceof FilesystemError) return BY_FILESYSTEM_CODE[e.code] ?? ExitCode.Failure;
  if (e instanceof SbomError) return BY_SBOM_CODE[e.code] ?? ExitCode.Failure;
  if (e instanceof SignError) return BY_SIGN_CODE[e.code] ?? ExitCode.Failure;
  if (e instanceof AttachError) return BY_ATTACH_CODE[e.code] ?? ExitCode.Failure;
  if (e instanceof VerifyError) return BY_VERIFY_CODE[e.code] ?? ExitCode.Failure;
  if (e instanceof UsageError) return ExitCode.Usage;
  return ExitCode.Failure;
}

/** A mistake in how sigil was called, found by the CLI itself. */
export class UsageError extends Error {
  override name = 'UsageError';
}
