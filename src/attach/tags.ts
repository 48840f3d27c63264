import { assertDigest, type Digest, digestAlgorithm, digestHex } from '../oci/digest.ts';
import { AttachError } from './errors.ts';

/** The three attachment tags of cosign's legacy scheme (cosign:pkg/oci/remote/remote.go). */
export type TagKind = 'signature' | 'attestation' | 'sbom';

export const TAG_SUFFIX: Readonly<Record<TagKind, string>> = { signature: 'sig', attestation: 'att', sbom: 'sbom' };

/** `sha256-<hex>.<suffix>`: the tag cosign derives from a subject digest (`cosign triangulate`). */
export function attachmentTag(kind: TagKind, subject: Digest): string {
  assertDigest(subject, 'subject digest');
  return `${digestAlgorithm(subject)}-${digestHex(subject)}.${TAG_SUFFIX[kind]}`;
}

export function signatureTag(subject: Digest): string {
  return attachmentTag('signature', subject);
}

export function attestationTag(subject: Digest): string {
  return attachmentTag('attestation', subject);
}

export function sbomTag(subject: Digest): string {
  return attachmentTag('sbom', subject);
}

export interface TagLocation {
  /** Repository (without registry) that holds the tag. */
  repository: string;
  tag: string;
}

/**
 * Where an attachment of `subject` lives: its own repository, or `repositoryOverride` when
 * given (cosign's `COSIGN_REPOSITORY`). The override is a repository path on the same
 * registry; a `COSIGN_REPOSITORY` naming another registry is split by the caller, which needs a
 * client for that host anyway.
 */
export function attachmentLocation(
  kind: TagKind,
  subjectRepository: string,
  subject: Digest,
  repositoryOverride?: string,
): TagLocation {
  const repository = repositoryOverride ?? subjectRepository;
  if (repository === '' || repository.includes(':') || repository.includes('@')) {
    throw new AttachError(
      'INVALID_OPTIONS',
      `attachment repository "${repository}" must be a repository path without tag or digest`,
    );
  }
  return { repository, tag: attachmentTag(kind, subject) };
}

/** The kind a tag names, if it is one of cosign's attachment tags. */
export function tagKind(tag: string): TagKind | undefined {
  const m = /^(?:sha256-[a-f0-9]{64}|sha512-[a-f0-9]{128})\.(sig|att|sbom)$/.exec(tag);
  if (!m) return undefined;
  return m[1] === 'sig' ? 'signature' : m[1] === 'att' ? 'attestation' : 'sbom';
}
