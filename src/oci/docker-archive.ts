import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { ArchiveTarget } from './archive-target.ts';
import type { ContentSource, ContentTarget } from './content.ts';
import { type Digest, isDigest, sha256 } from './digest.ts';
import { OciError } from './errors.ts';
import { parseReference } from './reference.ts';
import { type FileSet, openArchiveFiles } from './file-set.ts';
import {
  blobName,
  IMAGE_NAME_ANNOTATION,
  LayoutSource,
  openVerified,
  REF_NAME_ANNOTATION,
  readLayoutIndex,
} from './layout.ts';
import {
  type Descriptor,
  type ImageIndex,
  type ImageManifest,
  type ManifestBlob,
  parseConfig,
  parseManifest,
} from './manifest.ts';
import { MediaType } from './media-types.ts';

/** One entry of `docker save`'s manifest.json (moby image/tarexport). */
interface DockerSaveEntry {
  Config: string;
  RepoTags?: string[] | null;
  Layers: string[];
}

/** Configs are kilobytes; more is a broken archive. */
const CONFIG_LIMIT = 8 * 1024 * 1024;
const MANIFEST_JSON_LIMIT = 64 * 1024 * 1024;

function describe(path: string, name: string | undefined): string {
  return `docker-archive ${path}${name === undefined ? '' : `:${name}`}`;
}

/**
 * Docker's normalised form of an image name, `docker.io/library/alpine:latest` for `alpine`:
 * what containerd (and docker >= 25) put in io.containerd.image.name, and what makes
 * `alpine`, `alpine:latest` and `docker.io/library/alpine:latest` name the same image.
 */
export function normaliseImageName(name: string): string {
  if (name.includes('@')) {
    throw new OciError('REFERENCE_INVALID', `"${name}": a docker archive names images by tag, not by digest`);
  }
  const ref = parseReference(name, { defaultTag: 'latest' });
  return `${ref.name}:${ref.tag ?? 'latest'}`;
}

function sameImageName(a: string, b: string): boolean {
  if (a === b) return true;
  try {
    return normaliseImageName(a) === normaliseImageName(b);
  } catch {
    return false;
  }
}

/**
 * docker >= 25 writes an OCI layout beside manifest.json; when its index.json names the image,
 * serve that (manifests and compressed blobs exactly as they were, digests preserved).
 */
function selectIndexEntry(index: ImageIndex, name: string | undefined): Descriptor | undefined {
  const entries = index.manifests;
  if (name === undefined) return entries.length === 1 ? entries[0] : undefined;
  if (name.startsWith('@') && !isDigest(name.slice(1))) return undefined; // @N: a manifest.json position
  const digest = name.startsWith('@') ? name.slice(1) : name;
  if (isDigest(digest)) return entries.find((d) => d.digest === digest);
  const matches = entries.filter((d) => {
    const full = d.annotations?.[IMAGE_NAME_ANNOTATION];
    // Without the containerd name, ref.name is the whole name (an oci-archive renamed .tar).
    return full !== undefined ? sameImageName(full, name) : d.annotations?.[REF_NAME_ANNOTATION] === name;
  });
  return matches.at(-1);
}

/** Pick a manifest.json entry: by RepoTags, `@N` (skopeo's position syntax), or image ID; else the only one. */
function selectSaveEntry(entries: DockerSaveEntry[], name: string | undefined, description: string): DockerSaveEntry {
  const tags = () =>
    entries.map((e, i) => (e.RepoTags?.length ? e.RepoTags.join(' ') : `@${i} (untagged)`)).join(', ') || 'nothing';
  if (name === undefined) {
    if (entries.length === 1) return entries[0]!;
    throw new OciError(
      'SOURCE_INVALID',
      entries.length === 0
        ? `${description}: the archive holds no images`
        : `${description}: the archive holds ${entries.length} images; name one as PATH:TAG: ${tags()}`,
    );
  }
  const position = /^@(\d+)$/.exec(name);
  if (position) {
    const e = entries[Number(position[1])];
    if (!e) throw new OciError('MANIFEST_UNKNOWN', `${description}: no image ${name}; the archive holds ${tags()}`);
    return e;
  }
  const id = name.startsWith('@') ? name.slice(1) : name;
  const found = isDigest(id)
    ? entries.find((e) => e.Config.includes(id.slice(id.indexOf(':') + 1)))
    : entries.find((e) => e.RepoTags?.some((t) => sameImageName(t, name)));
  if (!found) throw new OciError('MANIFEST_UNKNOWN', `${description}: no image "${name}"; the archive holds ${tags()}`);
  return found;
}

async function readSaveManifest(files: FileSet, description: string): Promise<DockerSaveEntry[] | undefined> {
  if ((await files.size('manifest.json')) === undefined) return undefined;
  const bytes = await files.read('manifest.json', MANIFEST_JSON_LIMIT);
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch (e) {
    throw new OciError('ARCHIVE_INVALID', `${description}: manifest.json is not valid JSON`, { cause: e });
  }
  const ok =
    Array.isArray(doc) &&
    doc.every(
      (e: Partial<DockerSaveEntry>) =>
        typeof e === 'object' &&
        e !== null &&
        typeof e.Config === 'string' &&
        Array.isArray(e.Layers) &&
        e.Layers.every((l) => typeof l === 'string'),
    );
  if (!ok) throw new OciError('ARCHIVE_INVALID', `${description}: manifest.json is not a list of {Config, Layers}`);
  return doc as DockerSaveEntry[];
}

/**
 * An image from the legacy `docker save` layout (config `<id>.json`, layers `<id>/layer.tar`),
 * given an OCI manifest made up for it. Its layers are the uncompressed tars, so each layer's
 * digest is its diffID; the manifest takes the digest from the config and the read checks it,
 * which avoids hashing every layer up front while still failing (DIGEST_MISMATCH naming the
 * layer) on any layer whose bytes are not what the config says. A layer file that is gzip or
 * zstd compressed (docker load accepts those) has a digest of its own, computed here.
 */
class SavedImageSource implements ContentSource {
  private constructor(
    readonly description: string,
    private readonly files: FileSet,
    private readonly manifest: ManifestBlob,
    /** digest -> member holding it */
    private readonly paths: Map<Digest, string>,
  ) {}

  static async open(files: FileSet, entry: DockerSaveEntry, description: string): Promise<SavedImageSource> {
    const paths = new Map<Digest, string>();
    const configBytes = await files.read(entry.Config, CONFIG_LIMIT).catch((e: unknown) => {
      throw new OciError('ARCHIVE_INVALID', `${description}: config ${entry.Config}: ${(e as Error).message}`, {
        cause: e,
      });
    });
    const config = parseConfig(configBytes, `${description}: config ${entry.Config}`);
    const configDigest = sha256(configBytes);
    paths.set(configDigest, entry.Config);
    if (config.rootfs.diff_ids.length !== entry.Layers.length) {
      throw new OciError(
        'ARCHIVE_INVALID',
        `${description}: manifest.json lists ${entry.Layers.length} layers but config ${entry.Config} has ${config.rootfs.diff_ids.length} diff_ids`,
      );
    }
    const layers: Descriptor[] = [];
    for (const [i, path] of entry.Layers.entries()) {
      const size = await files.size(path);
      if (size === undefined) {
        throw new OciError('BLOB_UNKNOWN', `${description}: layer ${i} not found at ${files.where(path)}`);
      }
      const magic = await files.head(path, 4);
      const compression =
        magic[0] === 0x1f && magic[1] === 0x8b
          ? MediaType.OciLayerGzip
          : magic.length === 4 && magic.readUInt32LE(0) === 0xfd2fb528
            ? MediaType.OciLayerZstd
            : undefined;
      const named = /^blobs\/(sha256)\/([a-f0-9]{64})$/.exec(path);
      let digest: Digest;
      if (named)
        digest = `${named[1]}:${named[2]}`; // content-addressed already; checked when read
      else if (compression) digest = await hashFile(files, path);
      else digest = config.rootfs.diff_ids[i]!;
      layers.push({ mediaType: compression ?? MediaType.OciLayer, digest, size });
      paths.set(digest, path);
    }
    const manifest: ImageManifest = {
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      config: { mediaType: MediaType.OciConfig, digest: configDigest, size: configBytes.byteLength },
      layers,
    };
    const bytes = new TextEncoder().encode(JSON.stringify(manifest));
    const descriptor = { mediaType: MediaType.OciManifest, digest: sha256(bytes), size: bytes.byteLength };
    return new SavedImageSource(description, files, { descriptor, bytes }, paths);
  }

  async resolveRoot(): Promise<ManifestBlob> {
    return this.manifest;
  }

  async fetchManifest(desc: Descriptor): Promise<ManifestBlob> {
    if (desc.digest === this.manifest.descriptor.digest) return this.manifest;
    throw new OciError('MANIFEST_UNKNOWN', `${this.description}: no manifest ${desc.digest}`);
  }

  fetchBlob(desc: Descriptor, signal?: AbortSignal): Promise<Readable> {
    const path = this.paths.get(desc.digest) ?? blobName(desc.digest);
    return openVerified(this.files, path, desc, this.description, signal);
  }

  close(): Promise<void> {
    return this.files.close();
  }
}

async function hashFile(files: FileSet, path: string): Promise<Digest> {
  const hash = createHash('sha256');
  for await (const chunk of await files.open(path)) hash.update(chunk as Buffer);
  return `sha256:${hash.digest('hex')}`;
}

/**
 * Read a `docker save` archive (`docker-archive:PATH[:TAG]`) in place, without extracting it.
 * TAG picks by RepoTags (`alpine` = `alpine:latest` = `docker.io/library/alpine:latest`), `@N`
 * by position, a digest by manifest digest or image ID; without TAG the archive must hold one image.
 */
export async function openDockerArchiveSource(path: string, name?: string): Promise<ContentSource> {
  const description = describe(path, name);
  const files = await openArchiveFiles(path);
  try {
    const entries = await readSaveManifest(files, description);
    if ((await files.size('oci-layout')) !== undefined && (await files.size('index.json')) !== undefined) {
      const root = selectIndexEntry(await readLayoutIndex(files, description), name);
      if (root) return new LayoutSource(description, files, root);
    }
    if (!entries) throw new OciError('ARCHIVE_INVALID', `${description}: no manifest.json; not a docker save archive`);
    return await SavedImageSource.open(files, selectSaveEntry(entries, name, description), description);
  } catch (e) {
    await files.close();
    throw e;
  }
}

/** Image manifests a root stands for in manifest.json: itself, or an index's runnable platform images. */
function imagesOf(root: ManifestBlob, manifests: ReadonlyMap<Digest, ManifestBlob>, depth = 0): ImageManifest[] {
  const parsed = parseManifest(root.bytes, root.descriptor.mediaType, `manifest ${root.descriptor.digest}`);
  if (parsed.kind === 'image') return [parsed.manifest];
  if (depth > 4) return [];
  return parsed.index.manifests.flatMap((d) => {
    // BuildKit's attestation manifests (platform unknown/unknown) hold in-toto documents, not a filesystem.
    if (d.annotations?.['vnd.docker.reference.type'] === 'attestation-manifest' || d.platform?.os === 'unknown') {
      return [];
    }
    const child = manifests.get(d.digest);
    return child ? imagesOf(child, manifests, depth + 1) : [];
  });
}

/**
 * Write a `docker save` archive in the format docker >= 25 writes: an OCI layout (original
 * manifests and compressed blobs, so digests survive a round trip) plus manifest.json, which
 * `docker load` of any version reads. The root is named in index.json as docker names it
 * (io.containerd.image.name = full name, ref.name = the tag).
 */
export async function openDockerArchiveTarget(path: string, tag?: string): Promise<ContentTarget> {
  const full = tag === undefined ? undefined : normaliseImageName(tag);
  // RepoTags keep the name as given (docker writes the familiar form), with the implied tag spelled out.
  const repoTag = tag === undefined ? undefined : tag.lastIndexOf(':') > tag.lastIndexOf('/') ? tag : `${tag}:latest`;
  return new ArchiveTarget({
    path,
    description: describe(path, tag),
    annotations:
      full === undefined
        ? {}
        : { [IMAGE_NAME_ANNOTATION]: full, [REF_NAME_ANNOTATION]: full.slice(full.lastIndexOf(':') + 1) },
    async extraMembers(root, manifests) {
      const entries: DockerSaveEntry[] = imagesOf(root, manifests).map((m) => ({
        Config: blobName(m.config.digest),
        RepoTags: repoTag === undefined ? [] : [repoTag],
        Layers: m.layers.map((l) => blobName(l.digest)),
      }));
      return [{ name: 'manifest.json', bytes: Buffer.from(JSON.stringify(entries)) }];
    },
  });
}
