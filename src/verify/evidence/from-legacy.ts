import { createHash } from 'node:crypto';
import { BUNDLE_V01_MEDIA_TYPE, type Bundle, bundleFromJSON } from '@sigstore/bundle';
import { AttachAnnotation, AttachMediaType } from '../../attach/media-types.ts';
import type { Digest } from '../../oci/digest.ts';
import { decodeBase64, encodeBase64, parseEnvelope } from '../../sign/payloads/index.ts';
import { envelopeClaim, simpleSigningClaim, tryRead } from './claim.ts';
import type { Evidence, EvidenceKind, EvidenceScheme, EvidenceSource } from './evidence.ts';
import { isObject, keyHintFromRekorBody, type SerializedTlogEntry, tlogEntryFromRekorBundle } from './rekor-bundle.ts';

/** One `.sig`/`.att` layer: its descriptor's media type and annotations, and its (digest-checked) blob. */
export interface LegacyLayer {
  mediaType: string;
  annotations: Record<string, string>;
  payload: Uint8Array;
  digest?: Digest;
}

/**
 * Legacy layers become v0.1 bundles: v0.1 is the one bundle version whose tlog entries may carry
 * only an inclusion promise (the SET), which is all a `dev.sigstore.cosign/bundle` annotation
 * has; v0.2+ require an inclusion proof and v0.3 forbids the certificate chain the chain
 * annotation carries (@sigstore/bundle validate.ts). sigstore-go reads cosign's legacy layers
 * into the same shape (cosign:pkg/cosign/verify.go, new-bundle-from-legacy path).
 */
export const LEGACY_BUNDLE_MEDIA_TYPE = BUNDLE_V01_MEDIA_TYPE;

const PEM_CERT = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+?)-----END CERTIFICATE-----/g;

/**
 * Read one legacy layer as cosign's verifier does (cosign-formats.md §1.3, §2.1, §6.2): a
 * simple-signing payload signed directly (messageSignature over sha256(payload)) or a DSSE
 * envelope (`.att`, signature inside the envelope, the annotation is `""`); key material from
 * the certificate/chain annotations, else a public-key hint; the Rekor bundle and RFC 3161
 * annotations as witnesses. Never throws: whatever cannot be read is a problem line.
 */
export function evidenceFromTagLayer(
  layer: LegacyLayer,
  source: EvidenceSource = { description: 'legacy signature layer' },
  scheme: EvidenceScheme = 'tag',
): Evidence {
  const problems: string[] = [];
  const a = layer.annotations;
  const kind: EvidenceKind | undefined =
    layer.mediaType === AttachMediaType.SimpleSigning
      ? 'signature'
      : layer.mediaType === AttachMediaType.DsseEnvelope
        ? 'attestation'
        : undefined;
  const evidence: Evidence = {
    scheme,
    kind: kind ?? (a[AttachAnnotation.PredicateType] !== undefined ? 'attestation' : 'signature'),
    source,
    converted: true,
    problems,
  };
  if (kind === undefined) {
    problems.push(`layer media type "${layer.mediaType}" is neither a simple-signing payload nor a DSSE envelope`);
    return evidence;
  }

  let content: Record<string, unknown> | undefined;
  if (kind === 'signature') {
    evidence.payload = layer.payload;
    evidence.claim = tryRead(() => simpleSigningClaim(layer.payload), problems);
    const sig = a[AttachAnnotation.Signature];
    if (sig === undefined || sig === '') {
      problems.push(`no ${AttachAnnotation.Signature} annotation`);
    } else {
      const raw = tryRead(() => decodeBase64(sig, 'signature annotation'), problems);
      if (raw) {
        content = {
          messageSignature: {
            messageDigest: {
              algorithm: 'SHA2_256',
              digest: createHash('sha256').update(layer.payload).digest('base64'),
            },
            signature: encodeBase64(raw),
          },
        };
      }
    }
  } else {
    evidence.envelope = layer.payload;
    const env = tryRead(() => parseEnvelope(layer.payload), problems);
    if (env) {
      evidence.payload = env.payload;
      evidence.claim = envelopeClaim(env.payloadType, env.payload, problems);
      if (env.signatures.length !== 1) {
        problems.push(`DSSE envelope has ${env.signatures.length} signatures; cosign writes exactly one`);
      } else {
        const s = env.signatures[0]!;
        content = {
          dsseEnvelope: {
            payload: encodeBase64(env.payload),
            payloadType: env.payloadType,
            signatures: [{ sig: encodeBase64(s.sig), keyid: s.keyid ?? '' }],
          },
        };
      }
    }
  }

  const tlogEntries: SerializedTlogEntry[] = [];
  let hint = '';
  const rekor = a[AttachAnnotation.Bundle];
  if (rekor !== undefined && rekor !== '') {
    const t = tryRead(() => tlogEntryFromRekorBundle(rekor), problems);
    if (t) {
      tlogEntries.push(t.entry);
      hint = keyHintFromRekorBody(t.body) ?? '';
    }
  }
  const timestamps = rfc3161Timestamps(a[AttachAnnotation.Rfc3161Timestamp], problems);
  const material = keyMaterial(a[AttachAnnotation.Certificate], a[AttachAnnotation.Chain], hint, problems);
  if (content === undefined || material === undefined) return evidence;

  const json = {
    mediaType: LEGACY_BUNDLE_MEDIA_TYPE,
    verificationMaterial: {
      ...material,
      tlogEntries,
      ...(timestamps.length > 0 ? { timestampVerificationData: { rfc3161Timestamps: timestamps } } : {}),
    },
    ...content,
  };
  const bundle = tryRead((): Bundle => bundleFromJSON(json), problems);
  if (bundle) evidence.bundle = bundle;
  return evidence;
}

/**
 * certificate annotation → `certificate` (leaf), or `x509CertificateChain` [leaf, …chain] when the
 * chain annotation has certificates; no certificate → a public key, named by the hint from the
 * Rekor body when there is one (the verifier's key decides, as with `cosign verify --key`).
 */
function keyMaterial(
  cert: string | undefined,
  chain: string | undefined,
  hint: string,
  problems: string[],
): Record<string, unknown> | undefined {
  if (cert === undefined || cert === '') return { publicKey: { hint } };
  const leaf = pemCertificates(cert);
  if (leaf.length === 0) {
    problems.push(`${AttachAnnotation.Certificate} holds no PEM certificate`);
    return undefined;
  }
  const rest = chain ? pemCertificates(chain) : [];
  if (rest.length === 0) return { certificate: { rawBytes: leaf[0] } };
  return { x509CertificateChain: { certificates: [leaf[0], ...rest].map((rawBytes) => ({ rawBytes })) } };
}

/** Base64 DER of each PEM certificate, in order. */
export function pemCertificates(pem: string): string[] {
  return [...pem.matchAll(PEM_CERT)].map((m) => m[1]!.replace(/\s+/g, ''));
}

/** `{"SignedRFC3161Timestamp":"<b64 DER>"}` (cosign:pkg/cosign/bundle/tsa.go) → bundle timestamps. */
function rfc3161Timestamps(annotation: string | undefined, problems: string[]): { signedTimestamp: string }[] {
  if (annotation === undefined || annotation === '') return [];
  return (
    tryRead(() => {
      const doc: unknown = JSON.parse(annotation);
      const ts = isObject(doc) ? doc['SignedRFC3161Timestamp'] : undefined;
      if (typeof ts !== 'string' || ts === '')
        throw new Error(`${AttachAnnotation.Rfc3161Timestamp}: no SignedRFC3161Timestamp`);
      return [{ signedTimestamp: ts }];
    }, problems) ?? []
  );
}
