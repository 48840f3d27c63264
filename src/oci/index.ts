export type { ContentSource, ContentTarget, PushBlobOptions } from './content.ts';
export { type CopyOptions, type CopyProgress, type CopyResult, copyImage } from './copy.ts';
export {
  type Credential,
  type CredentialStore,
  chainCredentialStores,
  defaultCredentialStore,
  login,
  logout,
  staticCredentialStore,
} from './credentials.ts';
export { type Digest, DigestVerifier, isDigest, sha256, verifyBytes } from './digest.ts';
export { isOciError, OciError, type OciErrorCode } from './errors.ts';
export { type Image, type Layer, type ResolveOptions, readBlob, resolveImage } from './image.ts';
export {
  type Descriptor,
  type ImageConfig,
  type ImageIndex,
  type ImageManifest,
  type ManifestBlob,
  type ParsedManifest,
  type Platform,
  parseConfig,
  parseManifest,
} from './manifest.ts';
export { isImageManifestMediaType, isIndexMediaType, MANIFEST_ACCEPT, MediaType } from './media-types.ts';
export { formatPlatform, LINUX_AMD64, parsePlatform, platformMatches, selectManifest } from './platform.ts';
export { parseReference, type Reference } from './reference.ts';
export { Registry, type RegistryOptions, registryFor } from './registry/index.ts';
export {
  formatImageLocation,
  type ImageLocation,
  openSource,
  openTarget,
  parseImageLocation,
  type SourceOptions,
} from './source.ts';
