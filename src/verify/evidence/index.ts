export type {
  Claim,
  Evidence,
  EvidenceKind,
  EvidenceScheme,
  EvidenceSource,
  InTotoClaim,
  SimpleSigningClaim,
} from './evidence.ts';
export { evidenceFromAttachments } from './from-attachments.ts';
export { type EnvelopeFileMaterial, evidenceFromBundle, evidenceFromEnvelopeFile } from './from-bundle.ts';
export { LEGACY_BUNDLE_MEDIA_TYPE, type LegacyLayer, evidenceFromTagLayer, pemCertificates } from './from-legacy.ts';
export { type LegacyTlogEntry, type SerializedTlogEntry, tlogEntryFromRekorBundle } from './rekor-bundle.ts';
export { checkLegacyTlogBody } from './tlog-body.ts';
