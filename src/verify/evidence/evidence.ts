import type { Bundle } from '@sigstore/bundle';
import type { Digest } from '../../oci/digest.ts';
import type { Subject } from '../../sign/payloads/index.ts';

/** Where a signature was stored: cosign's tag scheme, OCI referrers, a BuildKit attestation manifest, or a file. */
export type EvidenceScheme = 'tag' | 'referrers' | 'buildkit' | 'file';

/** A signature over the image (simple signing, or cosign v3's sign statement) or an attestation about it. */
export type EvidenceKind = 'signature' | 'attestation';

/** What a simple-signing payload says: cosign's `.sig` claim. */
export interface SimpleSigningClaim {
  type: 'simple-signing';
  dockerReference: string;
  manifestDigest: Digest;
  /** `optional`: `-a` annotations; null when the payload says `"optional":null`. */
  annotations: Record<string, unknown> | null;
}

/** What an in-toto statement (the DSSE payload of `.att` layers and bundles) says. */
export interface InTotoClaim {
  type: 'in-toto';
  statementType: string;
  subjects: Subject[];
  predicateType: string;
  /** Absent in cosign v3.0.0–v3.0.4 sign statements. */
  predicate?: unknown;
}

export type Claim = SimpleSigningClaim | InTotoClaim;

/** Where the evidence was found, precise enough to name it in a report. */
export interface EvidenceSource {
  /** One line for humans: `repo:sha256-….sig layer sha256:…`, `referrer repo@sha256:…`, a path. */
  description: string;
  repository?: string;
  /** Tag scheme: the `.sig`/`.att` tag. */
  tag?: string;
  /** The manifest holding it: the tag image's manifest or the referrer manifest. */
  manifest?: Digest;
  /** The blob holding the payload, envelope or bundle. */
  layer?: Digest;
  path?: string;
}

/**
 * One signed thing, whatever its storage scheme: the signature and its verification material as a
 * Sigstore bundle (legacy `.sig`/`.att` layers converted as cosign/sigstore-go read them), the
 * bytes that were signed, and what they claim. One verifier checks all of them.
 *
 * Reading never throws for one bad layer: what could not be read is listed in `problems`, and
 * `bundle` is absent when not even the signature could be read.
 */
export interface Evidence {
  scheme: EvidenceScheme;
  kind: EvidenceKind;
  /** protobuf form as @sigstore/verify's toSignedEntity takes it; absent when unreadable. */
  bundle?: Bundle;
  /**
   * For messageSignature bundles, the artifact whose sha256 is the message digest: the
   * simple-signing payload of a `.sig` layer (pass it to toSignedEntity). For DSSE bundles, the
   * envelope's payload (the statement), which the envelope already carries.
   */
  payload?: Uint8Array;
  /** The exact bytes the payload came in: the `.att` layer's envelope JSON (Rekor intoto entries hash these). */
  envelope?: Uint8Array;
  claim?: Claim;
  source: EvidenceSource;
  /** True when `bundle` was built by sigil from a legacy layer rather than read as stored. */
  converted: boolean;
  problems: string[];
}
