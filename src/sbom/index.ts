/** SBOM generation and encoders: one package model, many encodings. */
export { encodeCycloneDx } from './cyclonedx.ts';
export {
  type EncodeOptions,
  type SbomDocument,
  type SbomEncoder,
  SbomError,
  type SbomErrorCode,
  type SbomFileEntry,
  type SbomFormat,
  type SbomSource,
} from './document.ts';
export { encoderFor } from './encoders.ts';
export { loadEncoder, type OutputTarget, parseOutputFlag, resolveFormat, SBOM_FORMATS } from './formats.ts';
export {
  DEFAULT_CATALOGERS,
  defaultCacheDir,
  type GenerateSbomOptions,
  type GenerateSbomResult,
  generateSbom,
} from './generate.ts';
export { encodeSigilJson } from './sigil-json.ts';
export { encodeSpdx } from './spdx.ts';
