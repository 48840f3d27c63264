import { SigilError } from '../errors.ts';

/**
 * One error class for src/attach (tag scheme, referrers, discovery). `code` is stable for the
 * CLI's exit codes; add a code as a new line of the union, never rename one.
 */
export type AttachErrorCode =
  /** A `.sig`/`.att` manifest, bundle referrer or fallback index that does not have the shape it must. */
  | 'ATTACHMENT_INVALID'
  /** More than cosign's 1000 layers in one signature image, or a blob over the size cap. */
  | 'ATTACHMENT_TOO_LARGE'
  /** Nothing attached where the caller required something. */
  | 'NOT_FOUND'
  | 'INVALID_OPTIONS';

export class AttachError extends SigilError<AttachErrorCode> {
  override name = 'AttachError';
}
