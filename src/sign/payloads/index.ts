export { decodeBase64, encodeBase64 } from './base64.ts';
export {
  DSSE_MEDIA_TYPE,
  type Envelope,
  type EnvelopeSignature,
  type EnvelopeSigner,
  type VerifiedEnvelope,
  type VerifyEnvelopeOptions,
  dsseEnvelope,
  pae,
  parseEnvelope,
  signEnvelope,
  verifyEnvelope,
} from './dsse.ts';
export { GoStruct, goJson, goJsonBytes, goString, goStruct } from './go-json.ts';
export {
  COSIGN_CUSTOM_PREDICATE_TYPE,
  COSIGN_SIGN_PREDICATE_TYPE,
  type CosignSignStatementOptions,
  IN_TOTO_PAYLOAD_TYPE,
  PREDICATE_TYPES,
  STATEMENT_V01,
  STATEMENT_V1,
  type Statement,
  type StatementInput,
  type Subject,
  cosignSignStatement,
  customPredicate,
  imageSubject,
  inTotoStatement,
  parseStatement,
  predicateTypeFor,
  statementMatchesDigest,
} from './in-toto.ts';
export {
  SIMPLE_SIGNING_MEDIA_TYPE,
  SIMPLE_SIGNING_TYPE,
  type SimpleSigningInput,
  type SimpleSigningPayload,
  dockerReferenceOf,
  parseSimpleSigningPayload,
  simpleSigningPayload,
} from './simple-signing.ts';
