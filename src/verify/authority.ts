/**
 * The contract between evidence checking (check.ts: is this one signature valid for this one
 * authority?) and everything that decides from the answers (the `verify` flags, the policy
 * engine). Reason codes are the stable candidate-level codes of shared/POLICY.md §5.
 */
import type { KeyObject } from 'node:crypto';
import type { Digest } from '../oci/digest.ts';
import type { IdentityCheck } from './identity.ts';

/** An identity a keyless certificate must carry; both halves are required, regexps are RE2 full-match. */
export interface IdentityMatcher {
  issuer?: string;
  issuerRegExp?: string;
  subject?: string;
  subjectRegExp?: string;
  /**
   * Fulcio extensions by sigstore-go name (`sourceRepositoryRef`, `runnerEnvironment`, …, plus the
   * legacy `githubWorkflowTrigger|Sha|Name|Repository|Ref` of OIDs 1.2–1.6): exact value, RE2
   * full match, or any of a list.
   */
  claims?: Record<string, string | { regexp: string } | { oneOf: string[] }>;
}

export type TlogRequirement = 'required' | 'optional' | 'ignore';

export type Authority =
  | {
      kind: 'key';
      name: string;
      publicKey: KeyObject;
      tlog: TlogRequirement;
      /** trusted_root.json whose Rekor logs and TSAs witness the key; undefined: the embedded public-good root. */
      trustedRoot?: string;
      /** Every pair must equal the signed payload's annotations (cosign -a). */
      annotations?: Record<string, string>;
    }
  | {
      kind: 'keyless';
      name: string;
      identities: IdentityMatcher[];
      /** Path of a Sigstore trusted_root.json; undefined: the embedded public-good root. */
      trustedRoot?: string;
      /** Extra PEM CA roots/intermediates for certificates outside Sigstore (cosign --ca-roots). */
      caRoots?: string;
      caIntermediates?: string;
      sct: 'required' | 'ignore';
      tlog: TlogRequirement;
      annotations?: Record<string, string>;
    };

/** Stable candidate-level reason codes (POLICY.md §5). */
export type CandidateReason =
  | 'SIGNATURE_INVALID'
  | 'PAYLOAD_DIGEST_MISMATCH'
  | 'KEY_MISMATCH'
  | 'CERT_CHAIN_INVALID'
  | 'CERT_TIME_UNVERIFIED'
  | 'CERT_EXPIRED_AT_SIGNING'
  | 'SCT_INVALID'
  | 'TLOG_ENTRY_MISSING'
  | 'TLOG_ENTRY_INVALID'
  | 'TIMESTAMP_INVALID'
  | 'IDENTITY_ISSUER_MISMATCH'
  | 'IDENTITY_SUBJECT_MISMATCH'
  | 'IDENTITY_CLAIM_MISMATCH'
  | 'IDENTITY_CLAIM_MISSING'
  | 'ANNOTATION_MISMATCH'
  | 'EVIDENCE_MALFORMED'
  | 'TRUST_ROOT_ERROR';

/** What signed a candidate that passed. */
export type SignerInfo =
  | { kind: 'key'; /** hex sha256 of the SPKI DER */ fingerprint: string }
  | {
      kind: 'certificate';
      issuer: string;
      subjectAlternativeNames: string[];
      /** Fulcio extensions by sigstore-go name. */
      extensions: Record<string, string>;
      certificatePem: string;
    };

export type CheckResult =
  | {
      ok: true;
      authority: string;
      signer: SignerInfo;
      /** The verified signing time (tlog integrated time or RFC 3161), when there is one. */
      signedAt?: Date;
      /** Which checks passed, in order, for the explanation ("signature", "tlog", "identity.subject", …). */
      checks: string[];
    }
  | {
      ok: false;
      authority: string;
      code: CandidateReason;
      message: string;
      /** The check that failed, e.g. `identity.subject`. */
      check: string;
      expected?: string;
      actual?: string;
      checks: string[];
      /** When identity checks failed: all of them in order, passed or not (the whole difference). */
      identity?: IdentityCheck[];
    };

export interface CheckContext {
  /** The digest being verified: a payload naming another digest is PAYLOAD_DIGEST_MISMATCH. */
  digest: Digest;
  /** Verification time when no signed time exists (tests, `policy test --now`); default now. */
  now?: Date;
  offline?: boolean;
}
