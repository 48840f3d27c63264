/**
 * The saved-evidence folder (POLICY.md §7): everything a policy decision used, written by
 * `sigil verify --policy … --save-evidence DIR` and replayed by `--evidence DIR --offline` and
 * `sigil policy test`, so a decision can be reproduced later with no registry and no network.
 *
 * Layout (every file written once, never edited in place except the small JSON indexes):
 *
 *   DIR/
 *     evidence.json                      {apiVersion: sigil.dev/v1, kind: SavedEvidence,
 *                                          references: {"<reference as given>": "sha256:…"}}
 *                                        how each reference given by tag resolved at save time
 *     blobs/sha256/<hex>                 content-addressed bytes, named by their sha256: referrer
 *                                        manifests, `.sig`/`.att` tag-image manifests, their layers
 *                                        (Sigstore bundles, simple-signing payloads, DSSE
 *                                        envelopes), and trusted_root.json snapshots
 *     images/sha256-<hex>/index.json     one per image digest verified (kind SavedImageEvidence):
 *                                        the image manifest's descriptor, and per repository where
 *                                        signatures were looked up: how referrers were found (API or
 *                                        fallback tag) and every attachment as discovery listed it —
 *                                        scheme, kind, tag, manifest descriptor, artifactType,
 *                                        annotations, and each layer's descriptor and annotations
 *                                        (the `.sig` signature, certificate, chain and Rekor bundle
 *                                        annotations live there); plus the trusted roots the
 *                                        authorities used ({source, digest}).
 *
 * Reading checks every blob against its name, so an edited folder fails as evidence
 * (EVIDENCE_MALFORMED for that candidate), never verifies as something else. A replay rebuilds
 * the discovery answer from index.json and reads layers from blobs/, so the same evidence
 * reaches the same checker as online.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Attachment, AttachmentList } from '../attach/discovery.ts';
import { type Digest, isDigest, sha256 } from '../oci/digest.ts';
import type { Descriptor } from '../oci/manifest.ts';
import { VerifyError } from './errors.ts';

export const SAVED_EVIDENCE_KIND = 'SavedEvidence';
export const SAVED_IMAGE_KIND = 'SavedImageEvidence';

export interface SavedAttachment {
  kind: Attachment['kind'];
  scheme: Attachment['scheme'];
  repository: string;
  manifest: Descriptor;
  tag?: string;
  artifactType?: string;
  bundle: boolean;
  annotations: Record<string, string>;
  layers: { descriptor: Descriptor; annotations: Record<string, string> }[];
}

export interface SavedRepositoryEvidence {
  referrersVia: AttachmentList['referrersVia'];
  attachments: SavedAttachment[];
}

export interface SavedTrustedRoot {
  /** The authority's trustedRoot path as the policy resolved it, or `embedded` (public good). */
  source: string;
  digest: Digest;
}

export interface SavedImageEvidence {
  apiVersion: 'sigil.dev/v1';
  kind: typeof SAVED_IMAGE_KIND;
  digest: Digest;
  /** The image manifest's media type and size, as the registry answered the resolve. */
  manifest?: Descriptor;
  /** Keyed by `registry/repository` where the signatures were looked up. */
  repositories: Record<string, SavedRepositoryEvidence>;
  trustedRoots: SavedTrustedRoot[];
  savedAt: string;
}

interface SavedEvidenceIndex {
  apiVersion: 'sigil.dev/v1';
  kind: typeof SAVED_EVIDENCE_KIND;
  references: Record<string, Digest>;
}

function imageDir(dir: string, digest: Digest): string {
  return join(dir, 'images', digest.replace(':', '-'));
}

function blobPath(dir: string, digest: Digest): string {
  const [alg, hex] = digest.split(':');
  return join(dir, 'blobs', alg!, hex!);
}

/** Writes a folder; indexes are kept in memory and written by `flush` (many images share one). */
export class EvidenceWriter {
  private readonly images = new Map<Digest, SavedImageEvidence>();
  private readonly references: Record<string, Digest> = {};

  constructor(readonly dir: string) {
    mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
  }

  /** Stores bytes under their sha256; returns the digest. */
  putBlob(bytes: Uint8Array): Digest {
    const digest = sha256(bytes);
    const path = blobPath(this.dir, digest);
    if (!existsSync(path)) writeFileSync(path, bytes);
    return digest;
  }

  recordReference(reference: string, digest: Digest): void {
    this.references[reference] = digest;
  }

  private image(digest: Digest): SavedImageEvidence {
    let img = this.images.get(digest);
    if (!img) {
      img = {
        apiVersion: 'sigil.dev/v1',
        kind: SAVED_IMAGE_KIND,
        digest,
        repositories: {},
        trustedRoots: [],
        savedAt: new Date().toISOString(),
      };
      this.images.set(digest, img);
    }
    return img;
  }

  recordManifest(digest: Digest, manifest: Descriptor): void {
    this.image(digest).manifest = manifest;
  }

  recordAttachments(digest: Digest, repository: string, list: AttachmentList): void {
    this.image(digest).repositories[repository] = {
      referrersVia: list.referrersVia,
      attachments: list.attachments.map((a) => ({
        kind: a.kind,
        scheme: a.scheme,
        repository: a.repository,
        manifest: a.manifest,
        ...(a.tag !== undefined ? { tag: a.tag } : {}),
        ...(a.artifactType !== undefined ? { artifactType: a.artifactType } : {}),
        bundle: a.bundle,
        annotations: a.annotations,
        layers: a.layers.map((l) => ({ descriptor: l.descriptor, annotations: l.annotations })),
      })),
    };
  }

  recordTrustedRoot(digest: Digest, source: string, json: unknown): void {
    const blob = this.putBlob(Buffer.from(JSON.stringify(json)));
    const img = this.image(digest);
    if (!img.trustedRoots.some((t) => t.source === source && t.digest === blob)) {
      img.trustedRoots.push({ source, digest: blob });
    }
  }

  flush(): void {
    for (const [digest, img] of this.images) {
      const dir = imageDir(this.dir, digest);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'index.json'), `${JSON.stringify(img, null, 2)}\n`);
    }
    const idx: SavedEvidenceIndex = { apiVersion: 'sigil.dev/v1', kind: SAVED_EVIDENCE_KIND, references: {} };
    const path = join(this.dir, 'evidence.json');
    if (existsSync(path)) Object.assign(idx.references, readEvidenceIndex(this.dir).references);
    Object.assign(idx.references, this.references);
    writeFileSync(path, `${JSON.stringify(idx, null, 2)}\n`);
  }
}

function readEvidenceIndex(dir: string): SavedEvidenceIndex {
  const path = join(dir, 'evidence.json');
  if (!existsSync(path)) return { apiVersion: 'sigil.dev/v1', kind: SAVED_EVIDENCE_KIND, references: {} };
  const doc = readJson(path) as Partial<SavedEvidenceIndex>;
  if (doc.kind !== SAVED_EVIDENCE_KIND || typeof doc.references !== 'object' || doc.references === null) {
    throw new VerifyError('POLICY_EVIDENCE_INVALID', `${path}: not a sigil SavedEvidence index`);
  }
  return doc as SavedEvidenceIndex;
}

function readJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new VerifyError('POLICY_EVIDENCE_INVALID', `${path}: ${(err as Error).message}`, { cause: err });
  }
}

/** A saved folder opened for replay. */
export class EvidenceReader {
  private readonly index: SavedEvidenceIndex;

  constructor(readonly dir: string) {
    if (!existsSync(dir)) throw new VerifyError('POLICY_EVIDENCE_INVALID', `evidence folder ${dir} does not exist`);
    this.index = readEvidenceIndex(dir);
  }

  /** The digest a reference resolved to when saved (a digest reference names its own). */
  resolve(reference: string, pinned?: Digest): Digest | undefined {
    return this.index.references[reference] ?? pinned;
  }

  image(digest: Digest): SavedImageEvidence | undefined {
    const path = join(imageDir(this.dir, digest), 'index.json');
    if (!existsSync(path)) return undefined;
    const doc = readJson(path) as Partial<SavedImageEvidence>;
    if (doc.kind !== SAVED_IMAGE_KIND || doc.digest !== digest || typeof doc.repositories !== 'object') {
      throw new VerifyError('POLICY_EVIDENCE_INVALID', `${path}: not the saved evidence of ${digest}`);
    }
    return doc as SavedImageEvidence;
  }

  /** Bytes of a stored blob, checked against their name. */
  blob(digest: Digest): Uint8Array {
    if (!isDigest(digest)) throw new VerifyError('POLICY_EVIDENCE_INVALID', `"${digest}" is not a digest`);
    const path = blobPath(this.dir, digest);
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(readFileSync(path));
    } catch (err) {
      throw new VerifyError('POLICY_EVIDENCE_INVALID', `${path}: ${(err as Error).message}`, { cause: err });
    }
    const actual = sha256(bytes);
    if (actual !== digest) {
      throw new VerifyError('POLICY_EVIDENCE_INVALID', `${path}: content is ${actual}, not ${digest} (edited?)`);
    }
    return bytes;
  }

  /** The discovery answer as saved, with layers read from blobs/: what listAttachments returned online. */
  attachments(digest: Digest, repository: string): AttachmentList | undefined {
    const saved = this.image(digest)?.repositories[repository];
    if (!saved) return undefined;
    return {
      referrersVia: saved.referrersVia,
      attachments: saved.attachments.map((a) => ({
        ...a,
        layers: a.layers.map((l) => ({
          descriptor: l.descriptor,
          annotations: l.annotations,
          fetch: () => Promise.resolve(this.blob(l.descriptor.digest)),
        })),
      })),
    };
  }
}
