import { SigilError } from '../errors.ts';

/**
 * One error class for everything under src/filesystem (layer reading, squashing, the layer cache).
 * `code` is stable for the CLI and scripts; `message` names the layer digest or file involved.
 */
export type FilesystemErrorCode =
  /** The layer's bytes are not a readable (gzip / zstd /) tar stream: corrupt, truncated, unknown format. */
  | 'LAYER_CORRUPT'
  /** The uncompressed layer does not hash to the diffID the image config claims. */
  | 'DIFFID_MISMATCH'
  /** More uncompressed bytes than the per-layer cap: a decompression bomb or a cap set too low. */
  | 'LAYER_TOO_LARGE'
  | 'INVALID_OPTIONS';

export class FilesystemError extends SigilError<FilesystemErrorCode> {
  override name = 'FilesystemError';
}

export function isFilesystemError(e: unknown, code?: FilesystemErrorCode): e is FilesystemError {
  return e instanceof FilesystemError && (code === undefined || e.code === code);
}
