/**
 * Errors inside the rpm readers. The cataloger never lets one escape: each becomes a warning that
 * names the database file and the record, and the other records are still read.
 */
export type RpmDbErrorCode =
  /** A header blob whose index or data store does not hold together (truncated, hostile, not a header). */
  | 'HEADER_CORRUPT'
  /** The database file's own structure (pages, slots, sqlite schema) is broken or truncated. */
  | 'DB_CORRUPT'
  /** A database format or variant this reader does not handle (encrypted BDB, unknown magic). */
  | 'DB_UNSUPPORTED';

export class RpmDbError extends Error {
  override name = 'RpmDbError';
  readonly code: RpmDbErrorCode;

  constructor(code: RpmDbErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

export function isRpmDbError(e: unknown, code?: RpmDbErrorCode): e is RpmDbError {
  return e instanceof RpmDbError && (code === undefined || e.code === code);
}
