/**
 * Media types, annotation keys and tag suffixes of cosign's two storage schemes
 * (cosign:pkg/types/media.go, cosign:pkg/oci/static/signature.go, cosign:pkg/oci/remote/remote.go;
 * shared/reference/cosign-formats.md §1–4).
 */
export const AttachMediaType = {
  /** `.sig` layer: a simple-signing payload. */
  SimpleSigning: 'application/vnd.dev.cosign.simplesigning.v1+json',
  /** `.att` layer: a DSSE envelope around an in-toto statement. */
  DsseEnvelope: 'application/vnd.dsse.envelope.v1+json',
  /** Referrer layer (and artifactType) of cosign v3's default format. */
  SigstoreBundleV03: 'application/vnd.dev.sigstore.bundle.v0.3+json',
  InToto: 'application/vnd.in-toto+json',
} as const;

/** Every Sigstore bundle version (`…bundle+json;version=0.2`, `…bundle.v0.3+json`) starts with this. */
export const SIGSTORE_BUNDLE_PREFIX = 'application/vnd.dev.sigstore.bundle';

export function isSigstoreBundleMediaType(mt: string | undefined): boolean {
  return mt !== undefined && mt.startsWith(SIGSTORE_BUNDLE_PREFIX);
}

/** `--registry-referrers-mode=oci-1-1` artifact types: `application/vnd.dev.cosign.artifact.<name>.v1+json`. */
export function cosignArtifactType(name: 'sig' | 'att' | 'sbom'): string {
  return `application/vnd.dev.cosign.artifact.${name}.v1+json`;
}

export const SBOM_MEDIA_TYPES: readonly string[] = [
  'text/spdx',
  'text/spdx+json',
  'application/spdx+json',
  'application/vnd.cyclonedx+xml',
  'application/vnd.cyclonedx+json',
  'application/vnd.syft+json',
];

export const AttachAnnotation = {
  /** Base64 signature; `""` on `.att` layers. The only key with the `dev.cosignproject` prefix. */
  Signature: 'dev.cosignproject.cosign/signature',
  Certificate: 'dev.sigstore.cosign/certificate',
  Chain: 'dev.sigstore.cosign/chain',
  Bundle: 'dev.sigstore.cosign/bundle',
  Rfc3161Timestamp: 'dev.sigstore.cosign/rfc3161timestamp',
  PredicateType: 'predicateType',
  BundleContent: 'dev.sigstore.bundle.content',
  BundlePredicateType: 'dev.sigstore.bundle.predicateType',
  Created: 'org.opencontainers.image.created',
} as const;

/** The predicate type of cosign v3's `sign` statement: a bundle with it is a signature, not an attestation. */
export const COSIGN_SIGN_PREDICATE_TYPE = 'https://sigstore.dev/cosign/sign/v1';
