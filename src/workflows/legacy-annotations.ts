/**
 * The tag scheme keeps what a Sigstore bundle holds as layer annotations (cosign-formats §1.3,
 * §7.2): the signature, the certificate as PEM, the Rekor entry as cosign's `RekorBundle` JSON and
 * the RFC 3161 timestamp. Signing always builds a bundle first, so one signing path serves both
 * schemes and this file is the only place that knows the legacy spelling.
 */
import type { SerializedBundle } from '@sigstore/bundle';
import { AttachAnnotation } from '../attach/media-types.ts';

function pemCertificate(base64Der: string): string {
  const lines = base64Der.match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`;
}

/**
 * cosign's `RekorBundle` (cosign:pkg/cosign/bundle/rekor.go): field order and spelling exactly
 * as Go marshals the struct, logID in hex, the global log index.
 */
function rekorBundle(entry: SerializedBundle['verificationMaterial']['tlogEntries'][number]): string | undefined {
  const set = entry.inclusionPromise?.signedEntryTimestamp;
  if (set === undefined) return undefined;
  const logID = Buffer.from(entry.logId.keyId, 'base64').toString('hex');
  return (
    `{"SignedEntryTimestamp":${JSON.stringify(set)},"Payload":{"body":${JSON.stringify(entry.canonicalizedBody)},` +
    `"integratedTime":${Number(entry.integratedTime)},"logIndex":${Number(entry.logIndex)},"logID":${JSON.stringify(logID)}}}`
  );
}

/**
 * The annotations of a `.sig` layer (signature = the message signature) or an `.att` layer
 * (signature annotation empty: the signature is inside the envelope).
 */
export function legacyAnnotations(
  bundle: SerializedBundle,
  extra: Record<string, string> = {},
  /**
   * An `.att` layer's timestamp: cosign stamps the envelope bytes there (the signature annotation
   * is empty), where the bundle's timestamp is over the DSSE signature. Base64 DER.
   */
  rfc3161Timestamp?: string,
): Record<string, string> {
  const out: Record<string, string> = { ...extra };
  out[AttachAnnotation.Signature] = bundle.messageSignature?.signature ?? '';
  const cert = bundle.verificationMaterial.certificate?.rawBytes;
  if (cert !== undefined) {
    out[AttachAnnotation.Certificate] = pemCertificate(cert);
    // The bundle keeps the leaf only (v0.3); verifiers take intermediates from the trusted root.
    out[AttachAnnotation.Chain] = '';
  }
  const entry = bundle.verificationMaterial.tlogEntries?.[0];
  const rekor = entry === undefined ? undefined : rekorBundle(entry);
  if (rekor !== undefined) out[AttachAnnotation.Bundle] = rekor;
  const ts =
    rfc3161Timestamp ?? bundle.verificationMaterial.timestampVerificationData?.rfc3161Timestamps?.[0]?.signedTimestamp;
  if (ts !== undefined) out[AttachAnnotation.Rfc3161Timestamp] = JSON.stringify({ SignedRFC3161Timestamp: ts });
  return out;
}
