import { type Bundle, bundleFromJSON } from '@sigstore/bundle';
import { AttachAnnotation, AttachMediaType } from '../../attach/media-types.ts';
import { COSIGN_SIGN_PREDICATE_TYPE } from '../../sign/payloads/index.ts';
import { VerifyError } from '../errors.ts';
import { envelopeClaim, tryRead } from './claim.ts';
import type { Evidence, EvidenceScheme, EvidenceSource } from './evidence.ts';
import { evidenceFromTagLayer } from './from-legacy.ts';
import { isObject } from './rekor-bundle.ts';

/**
 * A stored Sigstore bundle (cosign v3 referrer layer, `--bundle` file) as evidence. A DSSE bundle
 * is a signature when its statement has cosign's sign predicate type, else an attestation (as
 * cosign v3 writes both, cosign-formats.md §4.1). Never throws: a bundle that does not parse or
 * validate is evidence without `bundle`, with the reason in `problems`.
 */
export function evidenceFromBundle(
  json: Uint8Array | string | Record<string, unknown>,
  source: EvidenceSource,
  scheme: EvidenceScheme = 'referrers',
): Evidence {
  const problems: string[] = [];
  const evidence: Evidence = { scheme, kind: 'attestation', source, converted: false, problems };
  const bundle = tryRead(() => parseBundle(json), problems);
  if (!bundle) return evidence;
  evidence.bundle = bundle;
  const content = bundle.content;
  if (content.$case === 'dsseEnvelope') {
    const env = content.dsseEnvelope;
    evidence.payload = new Uint8Array(env.payload);
    evidence.claim = envelopeClaim(env.payloadType, evidence.payload, problems);
    if (evidence.claim?.type === 'in-toto' && evidence.claim.predicateType === COSIGN_SIGN_PREDICATE_TYPE) {
      evidence.kind = 'signature';
    }
  } else {
    // A message signature names only a digest; the signed bytes must come from elsewhere.
    evidence.kind = 'signature';
    problems.push('bundle holds a message signature: the signed artifact is not in it');
  }
  return evidence;
}

function parseBundle(json: Uint8Array | string | Record<string, unknown>): Bundle {
  let doc: unknown = json;
  if (typeof json === 'string' || json instanceof Uint8Array) {
    try {
      doc = JSON.parse(typeof json === 'string' ? json : new TextDecoder().decode(json));
    } catch (err) {
      throw new VerifyError('BUNDLE_INVALID', 'Sigstore bundle: not JSON', { cause: err });
    }
  }
  try {
    return bundleFromJSON(doc);
  } catch (err) {
    const fields = isObject(err) && Array.isArray(err['fields']) ? ` (${err['fields'].join(', ')})` : '';
    throw new VerifyError('BUNDLE_INVALID', `Sigstore bundle: ${(err as Error).message}${fields}`, { cause: err });
  }
}

/** Key material and witnesses given beside an envelope file, named as cosign's flags/annotations are. */
export interface EnvelopeFileMaterial {
  /** PEM leaf certificate (`--certificate`). */
  certificate?: string;
  /** PEM intermediates…root (`--certificate-chain`). */
  chain?: string;
  /** cosign RekorBundle JSON, as in the `dev.sigstore.cosign/bundle` annotation. */
  rekorBundle?: string;
  /** `{"SignedRFC3161Timestamp": …}` JSON. */
  rfc3161Timestamp?: string;
}

/**
 * A file holding a Sigstore bundle or a bare DSSE envelope (an attestation saved by `cosign
 * attest --output-file`, or BuildKit's). A bundle is read as stored; an envelope is read like a
 * legacy `.att` layer with `material` as its annotations.
 */
export function evidenceFromEnvelopeFile(
  bytes: Uint8Array,
  path: string,
  material: EnvelopeFileMaterial = {},
): Evidence {
  const source: EvidenceSource = { description: path, path };
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    doc = undefined;
  }
  if (isObject(doc) && typeof doc['mediaType'] === 'string' && 'verificationMaterial' in doc) {
    return evidenceFromBundle(doc, source, 'file');
  }
  const annotations: Record<string, string> = { [AttachAnnotation.Signature]: '' };
  if (material.certificate) annotations[AttachAnnotation.Certificate] = material.certificate;
  if (material.chain) annotations[AttachAnnotation.Chain] = material.chain;
  if (material.rekorBundle) annotations[AttachAnnotation.Bundle] = material.rekorBundle;
  if (material.rfc3161Timestamp) annotations[AttachAnnotation.Rfc3161Timestamp] = material.rfc3161Timestamp;
  return evidenceFromTagLayer({ mediaType: AttachMediaType.DsseEnvelope, annotations, payload: bytes }, source, 'file');
}
