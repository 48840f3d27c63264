/**
 * The base of every error sigil raises on purpose: each area (oci, filesystem, sbom, sign,
 * attach, …) has one subclass with its own union of stable codes. The CLI prints `[CODE]` for any
 * of them and maps codes to exit codes; a plain Error is a bug or a failure from below.
 */
export abstract class SigilError<Code extends string = string> extends Error {
  readonly code: Code;
  constructor(code: Code, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

export function isSigilError(e: unknown): e is SigilError {
  return e instanceof SigilError;
}
