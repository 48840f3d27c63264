export { CEL_VARIABLES, type CompiledCondition, compileCondition } from './cel.ts';
export {
  type CandidateChecker,
  type EvaluateOptions,
  type EvidenceUnavailable,
  type ImageUnderVerification,
  type Selection,
  evaluateImage,
  evaluatePolicies,
  selectPolicies,
} from './evaluate.ts';
export { type CompiledGlob, GlobError, type NormalisedName, compileGlob, normaliseReference } from './glob.ts';
export { API_VERSION, CLAIM_KEYS, PolicyLoadError, loadPolicies, parsePolicyText, policyFiles } from './load.ts';
export type * from './model.ts';
export { compileRegExp, isUnanchored } from './regexp.ts';
export * from './report.ts';
