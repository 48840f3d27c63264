import { SigilError } from '../errors.ts';

/**
 * One error class for everything under src/oci. `code` is stable: the CLI maps it to an
 * exit code and scripts may match on it; `message` says what failed, where, and what to do.
 */
export type OciErrorCode =
  | 'DIGEST_MISMATCH'
  | 'SIZE_MISMATCH'
  | 'DIGEST_INVALID'
  | 'REFERENCE_INVALID'
  | 'NAME_INVALID'
  | 'NAME_UNKNOWN'
  | 'MANIFEST_UNKNOWN'
  | 'MANIFEST_INVALID'
  | 'BLOB_UNKNOWN'
  | 'UNAUTHORIZED'
  | 'DENIED'
  | 'TOO_MANY_REQUESTS'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'UNSUPPORTED'
  | 'PLATFORM_NOT_FOUND'
  | 'SOURCE_INVALID'
  | 'LAYOUT_INVALID'
  | 'ARCHIVE_INVALID'
  | 'CREDENTIALS'
  | 'INSECURE_REGISTRY'
  | 'NETWORK'
  | 'REGISTRY_ERROR'
  | 'INVALID_OPTIONS';

export class OciError extends SigilError<OciErrorCode> {
  override name = 'OciError';
  /** HTTP status when the error came from a registry response. */
  readonly status?: number;
  /** Errors from the registry's JSON body (`errors[].code`), kept for callers that branch on them. */
  readonly registryCodes?: readonly string[];
  /** Their `errors[].detail` values, in the same order (a missing blob's digest, say). */
  readonly registryDetails?: readonly unknown[];

  constructor(
    code: OciErrorCode,
    message: string,
    options?: ErrorOptions & {
      status?: number;
      registryCodes?: readonly string[];
      registryDetails?: readonly unknown[];
    },
  ) {
    super(code, message, options);
    this.status = options?.status;
    this.registryCodes = options?.registryCodes;
    this.registryDetails = options?.registryDetails;
  }
}

export function isOciError(e: unknown, code?: OciErrorCode): e is OciError {
  return e instanceof OciError && (code === undefined || e.code === code);
}
