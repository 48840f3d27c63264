export { AttachError, type AttachErrorCode } from './errors.ts';
export {
  type Attachment,
  type AttachedLayer,
  type AttachmentKind,
  type AttachmentList,
  type ListAttachmentsOptions,
  listAttachments,
} from './discovery.ts';
export {
  AttachAnnotation,
  AttachMediaType,
  COSIGN_SIGN_PREDICATE_TYPE,
  cosignArtifactType,
  isSigstoreBundleMediaType,
  SIGSTORE_BUNDLE_PREFIX,
} from './media-types.ts';
export {
  addToReferrersIndex,
  type BundleReferrerInput,
  buildReferrerManifest,
  bundleReferrer,
  EMPTY_CONFIG_BYTES,
  type FallbackEntryStyle,
  type PushReferrerOptions,
  type PushReferrerResult,
  pushReferrer,
  type ReferrerInput,
  type ReferrerManifest,
  referrersIndexEntry,
} from './referrers.ts';
export {
  buildSignatureImage,
  MAX_ATTACHMENT_SIZE,
  MAX_SIGNATURE_LAYERS,
  parseSignatureImage,
  type SignatureImage,
  type SignatureImageOptions,
  signatureImageFromDescriptors,
  type TagLayerInput,
} from './signature-image.ts';
export {
  type AppendOptions,
  type AppendResult,
  appendToTagImage,
  type ExistingLayer,
  readTagImage,
  type TagImage,
} from './tag-image.ts';
export {
  attachmentLocation,
  attachmentTag,
  attestationTag,
  sbomTag,
  signatureTag,
  TAG_SUFFIX,
  type TagKind,
  type TagLocation,
  tagKind,
} from './tags.ts';
export {
  type AttachmentTree,
  type DiscoverTreeOptions,
  discoverTree,
  type ReferrerNode,
  type RenderTreeOptions,
  renderTree,
  type TagNode,
  type TreeJsonNode,
  type TreeJsonTag,
  treeJson,
  walkTree,
} from './tree.ts';
export {
  attestationManifestsOf,
  BUILDKIT_ATTESTATION_MANIFEST,
  BuildkitAnnotation,
  type BuildkitAttestation,
  BuildkitPredicateType,
  listBuildkitAttestations,
} from './buildkit.ts';
