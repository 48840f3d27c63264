import { SigilError } from '../errors.ts';

export type SbomErrorCode = 'FORMAT_UNKNOWN' | 'OUTPUT_FLAG_INVALID' | 'DOCUMENT_INVALID' | 'INVALID_OPTIONS';

/** One error class for src/sbom; `code` is stable for the CLI's exit codes. */
export class SbomError extends SigilError<SbomErrorCode> {
  override name = 'SbomError';
}
