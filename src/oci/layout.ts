import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { addAbortSignal, pipeline as pipe, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ContentSource, ContentTarget, PushBlobOptions } from './content.ts';
import {
  assertDigest,
  type Digest,
  DigestVerifier,
  digestAlgorithm,
  digestHex,
  isDigest,
  verifiedStream,
} from './digest.ts';
import { isOciError, OciError } from './errors.ts';
import { directoryFileSet, type FileSet } from './file-set.ts';
import {
  type Descriptor,
  type ImageIndex,
  type ManifestBlob,
  manifestMediaType,
  parseManifest,
  verifyManifestBytes,
} from './manifest.ts';
import { MediaType } from './media-types.ts';

/** image-spec v1.1 annotations.md: the name an index.json entry is known by (`oci:PATH:NAME`). */
export const REF_NAME_ANNOTATION = 'org.opencontainers.image.ref.name';
/** The full image name containerd and docker >= 25 put on index.json entries. */
export const IMAGE_NAME_ANNOTATION = 'io.containerd.image.name';
const LAYOUT_VERSION = '1.0.0';
/** The `oci-layout` file's content (image-layout.md). */
export const LAYOUT_MARKER = JSON.stringify({ imageLayoutVersion: LAYOUT_VERSION });
/** distribution refuses manifests over 4 MiB; a bigger one in a layout is broken or hostile. */
export const MANIFEST_LIMIT = 4 * 1024 * 1024;
/** index.json lists every image in a layout; mirrors hold thousands, each entry a few hundred bytes. */
const INDEX_LIMIT = 64 * 1024 * 1024;

/** `blobs/<alg>/<hex>` (image-layout.md "Blobs"); the digest is checked first so it cannot name another path. */
export function blobName(digest: Digest): string {
  assertDigest(digest);
  return `blobs/${digestAlgorithm(digest)}/${digestHex(digest)}`;
}

/** Read `oci-layout` and `index.json` of a layout, whether a directory or inside an archive. */
export async function readLayoutIndex(files: FileSet, description: string): Promise<ImageIndex> {
  const marker = await files.read('oci-layout', 64 * 1024).catch((e: unknown) => {
    if (isOciError(e, 'BLOB_UNKNOWN')) {
      throw new OciError('LAYOUT_INVALID', `${description}: not an OCI image layout (no oci-layout file)`, {
        cause: e,
      });
    }
    throw e;
  });
  let version: unknown;
  try {
    version = (JSON.parse(marker.toString('utf8')) as { imageLayoutVersion?: unknown }).imageLayoutVersion;
  } catch (e) {
    throw new OciError('LAYOUT_INVALID', `${description}: oci-layout is not valid JSON`, { cause: e });
  }
  if (version !== LAYOUT_VERSION) {
    throw new OciError('LAYOUT_INVALID', `${description}: unsupported imageLayoutVersion ${JSON.stringify(version)}`);
  }
  const bytes = await files.read('index.json', INDEX_LIMIT).catch((e: unknown) => {
    if (isOciError(e, 'BLOB_UNKNOWN')) {
      throw new OciError('LAYOUT_INVALID', `${description}: no index.json`, { cause: e });
    }
    throw e;
  });
  const parsed = parseManifest(bytes, MediaType.OciIndex, `${description}: index.json`);
  if (parsed.kind !== 'index') throw new OciError('LAYOUT_INVALID', `${description}: index.json is not an image index`);
  return parsed.index;
}

/** How an index.json entry is named in messages. */
export function entryName(d: Descriptor): string {
  return d.annotations?.[REF_NAME_ANNOTATION] ?? `${d.digest} (no name)`;
}

/**
 * Pick the entry of index.json that `name` means, as skopeo's `oci:PATH:NAME`: the entry whose
 * ref.name annotation is `name`; no name picks the only entry, and several are an error listing
 * them. Digests are handled by resolveLayoutRoot.
 */
export function selectLayoutEntry(index: ImageIndex, name: string | undefined, description: string): Descriptor {
  const entries = index.manifests;
  if (name === undefined) {
    if (entries.length === 1) return entries[0]!;
    if (entries.length === 0) throw new OciError('SOURCE_INVALID', `${description}: the layout holds no images`);
    throw new OciError(
      'SOURCE_INVALID',
      `${description}: the layout holds ${entries.length} images; name one as PATH:NAME: ${entries.map(entryName).join(', ')}`,
    );
  }
  const matches = entries.filter((d) => d.annotations?.[REF_NAME_ANNOTATION] === name);
  if (matches.length >= 1) {
    // Writers replace an entry of the same name, so two is a hand-edited index; the last was added last.
    return matches.at(-1)!;
  }
  throw new OciError(
    'MANIFEST_UNKNOWN',
    `${description}: no image named "${name}"; the layout holds: ${entries.map(entryName).join(', ') || 'nothing'}`,
  );
}

function digestName(name: string | undefined): Digest | undefined {
  const d = name?.startsWith('@') ? name.slice(1) : name;
  return d !== undefined && isDigest(d) ? d : undefined;
}

/** Read a manifest blob by descriptor, bounded, and check its bytes against the descriptor. */
export async function readManifestBlob(files: FileSet, desc: Descriptor, description: string): Promise<ManifestBlob> {
  const what = `${description}: manifest ${desc.digest}`;
  if (desc.size > MANIFEST_LIMIT) {
    throw new OciError('MANIFEST_INVALID', `${what}: ${desc.size} bytes, more than the ${MANIFEST_LIMIT} allowed`);
  }
  const name = blobName(desc.digest);
  if ((await files.size(name)) === undefined) {
    throw new OciError('MANIFEST_UNKNOWN', `${what}: not found at ${files.where(name)}`);
  }
  const bytes = await files.read(name, MANIFEST_LIMIT);
  verifyManifestBytes(bytes, desc, what);
  return { descriptor: desc, bytes: new Uint8Array(bytes) };
}

/** A file's bytes checked against `desc` as they flow; a missing file is BLOB_UNKNOWN naming digest and place. */
export async function openVerified(
  files: FileSet,
  name: string,
  desc: Descriptor,
  description: string,
  signal?: AbortSignal,
): Promise<Readable> {
  signal?.throwIfAborted();
  if ((await files.size(name)) === undefined) {
    throw new OciError('BLOB_UNKNOWN', `${description}: blob ${desc.digest} not found at ${files.where(name)}`);
  }
  const verifier = new DigestVerifier(desc.digest, { size: desc.size, what: `${description}: blob ${desc.digest}` });
  // pipeline destroys the file stream when the consumer stops early, and passes a read error on.
  pipe(await files.open(name), verifier, () => {});
  return signal ? addAbortSignal(signal, verifier) : verifier;
}

/** ContentSource over a layout's files: a directory (`oci-dir:`) or a tar read in place (`oci-archive:`, docker >= 25). */
export class LayoutSource implements ContentSource {
  constructor(
    readonly description: string,
    private readonly files: FileSet,
    private readonly root: Descriptor,
  ) {}

  async resolveRoot(signal?: AbortSignal): Promise<ManifestBlob> {
    signal?.throwIfAborted();
    return readManifestBlob(this.files, this.root, this.description);
  }

  async fetchManifest(desc: Descriptor, signal?: AbortSignal): Promise<ManifestBlob> {
    signal?.throwIfAborted();
    return readManifestBlob(this.files, desc, this.description);
  }

  fetchBlob(desc: Descriptor, signal?: AbortSignal): Promise<Readable> {
    return openVerified(this.files, blobName(desc.digest), desc, this.description, signal);
  }

  close(): Promise<void> {
    return this.files.close();
  }
}

/**
 * The root a layout source serves. A digest not listed in index.json is still served when
 * its blob is present (a child of an index, say): manifests are content-addressed, so the
 * digest alone identifies the bytes, and its size is the file's.
 */
export async function resolveLayoutRoot(
  files: FileSet,
  name: string | undefined,
  description: string,
): Promise<Descriptor> {
  const index = await readLayoutIndex(files, description);
  const digest = digestName(name);
  if (digest === undefined) return selectLayoutEntry(index, name, description);
  const listed = index.manifests.find((d) => d.digest === digest);
  if (listed) return listed;
  const size = await files.size(blobName(digest));
  if (size === undefined || size > MANIFEST_LIMIT) {
    throw new OciError('MANIFEST_UNKNOWN', `${description}: no manifest ${digest} in the layout`);
  }
  const bytes = await files.read(blobName(digest), MANIFEST_LIMIT);
  return { mediaType: manifestMediaType(bytes), digest, size };
}

export async function openLayoutSource(path: string, name?: string): Promise<ContentSource> {
  const description = `oci-dir ${path}${name === undefined ? '' : `:${name}`}`;
  const st = await stat(path).catch(() => undefined);
  if (!st?.isDirectory()) throw new OciError('SOURCE_INVALID', `${description}: no such directory`);
  const files = directoryFileSet(path);
  return new LayoutSource(description, files, await resolveLayoutRoot(files, name, description));
}

/** The index.json entry for a committed root: its descriptor, named by `annotations` (earlier names dropped). */
export function indexEntry(root: Descriptor, annotations: Record<string, string>): Descriptor {
  const kept = { ...root.annotations };
  delete kept[REF_NAME_ANNOTATION];
  delete kept[IMAGE_NAME_ANNOTATION];
  const merged = { ...kept, ...annotations };
  const entry: Descriptor = { mediaType: root.mediaType, digest: root.digest, size: root.size };
  if (root.platform) entry.platform = root.platform;
  if (root.artifactType) entry.artifactType = root.artifactType;
  if (Object.keys(merged).length > 0) entry.annotations = merged;
  return entry;
}

/**
 * Refuse to publish a root whose content is not all there: walk it (index children, then
 * config and layers) and ask the target for each. A copy that skipped a blob by mistake then
 * fails at commit instead of leaving a name that points at nothing. Foreign layers are not
 * copied by anyone (they live at their URLs), so they are not required.
 */
export async function checkComplete(
  root: ManifestBlob,
  manifestBytes: (desc: Descriptor) => Promise<Uint8Array | undefined>,
  hasBlob: (desc: Descriptor) => Promise<boolean>,
  description: string,
  depth = 0,
): Promise<void> {
  if (depth > 4) throw new OciError('MANIFEST_INVALID', `${description}: indexes nested too deeply`);
  const what = `${description}: manifest ${root.descriptor.digest}`;
  const parsed = parseManifest(root.bytes, root.descriptor.mediaType, what);
  if (parsed.kind === 'image') {
    for (const d of [parsed.manifest.config, ...parsed.manifest.layers]) {
      if (d.urls?.length && /foreign|nondistributable/.test(d.mediaType)) continue;
      if (!(await hasBlob(d))) {
        throw new OciError(
          'BLOB_UNKNOWN',
          `${what} references blob ${d.digest}, which was not written; nothing published`,
        );
      }
    }
    return;
  }
  for (const d of parsed.index.manifests) {
    const bytes = await manifestBytes(d);
    if (!bytes) {
      throw new OciError(
        'MANIFEST_UNKNOWN',
        `${what} references manifest ${d.digest}, which was not written; nothing published`,
      );
    }
    await checkComplete({ descriptor: d, bytes }, manifestBytes, hasBlob, description, depth + 1);
  }
}

export function tempSuffix(): string {
  return randomBytes(6).toString('hex');
}

/**
 * Writes into an OCI layout directory, creating it on first write. Blobs go to a temporary
 * file in their blobs/<alg> directory and are renamed once their digest is verified, so a blob
 * file's name always matches its bytes; index.json is rewritten (temp + rename) only by commit.
 */
class LayoutTarget implements ContentTarget {
  readonly description: string;
  private ready: Promise<void> | undefined;
  /** What this target made and abort must remove: the whole directory, or the layout files in an empty one. */
  private created: 'nothing' | 'directory' | 'layout' = 'nothing';
  private readonly temps = new Set<string>();
  private readonly files: FileSet;

  constructor(
    private readonly path: string,
    private readonly name: string | undefined,
    private readonly state: 'absent' | 'empty' | 'layout',
  ) {
    this.description = `oci-dir ${path}${name === undefined ? '' : `:${name}`}`;
    this.files = directoryFileSet(path);
  }

  async hasBlob(desc: Descriptor): Promise<boolean> {
    return (await this.files.size(blobName(desc.digest))) === desc.size;
  }

  async pushBlob(desc: Descriptor, open: () => Promise<Readable>, options: PushBlobOptions = {}): Promise<void> {
    await this.ensureLayout();
    if (await this.hasBlob(desc)) return;
    const final = join(this.path, blobName(desc.digest));
    const tmp = join(this.path, 'blobs', digestAlgorithm(desc.digest), `.tmp-${tempSuffix()}`);
    this.temps.add(tmp);
    try {
      const verified = verifiedStream(await open(), desc.digest, {
        size: desc.size,
        what: `${this.description}: blob ${desc.digest}`,
        ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      });
      await pipeline(
        // A 1 MiB buffer lets the stream batch chunks into one writev instead of a syscall per chunk.
        [verified, createWriteStream(tmp, { flags: 'wx', highWaterMark: 1 << 20 })],
        options.signal ? { signal: options.signal } : {},
      );
      await rename(tmp, final);
    } finally {
      this.temps.delete(tmp);
      await rm(tmp, { force: true });
    }
  }

  async pushManifest(manifest: ManifestBlob, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    verifyManifestBytes(
      manifest.bytes,
      manifest.descriptor,
      `${this.description}: manifest ${manifest.descriptor.digest}`,
    );
    await this.ensureLayout();
    await this.writeBytes(manifest.descriptor, manifest.bytes);
  }

  async commit(root: ManifestBlob, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    await this.pushManifest(root, signal);
    await checkComplete(
      root,
      async (d) =>
        (await this.hasBlob(d)) ? (await readManifestBlob(this.files, d, this.description)).bytes : undefined,
      (d) => this.hasBlob(d),
      this.description,
    );
    const indexPath = join(this.path, 'index.json');
    let index: ImageIndex = { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [] };
    if (this.state === 'layout') {
      const existing = await readFile(indexPath).catch(() => undefined);
      if (existing) {
        const parsed = parseManifest(existing, MediaType.OciIndex, `${this.description}: index.json`);
        if (parsed.kind === 'index') index = parsed.index;
      }
    }
    const entry = indexEntry(root.descriptor, this.name === undefined ? {} : { [REF_NAME_ANNOTATION]: this.name });
    // As skopeo and oras: a name moves to the new image; an unnamed entry of the same digest is not repeated.
    index.manifests = index.manifests.filter((d) =>
      this.name === undefined
        ? !(d.digest === entry.digest && d.annotations?.[REF_NAME_ANNOTATION] === undefined)
        : d.annotations?.[REF_NAME_ANNOTATION] !== this.name,
    );
    index.manifests.push(entry);
    const tmp = join(this.path, `.index.json.tmp-${tempSuffix()}`);
    this.temps.add(tmp);
    try {
      await writeFile(tmp, JSON.stringify(index), { flag: 'wx' });
      await rename(tmp, indexPath);
    } finally {
      this.temps.delete(tmp);
      await rm(tmp, { force: true });
    }
    // Committed: an abort after this must not undo a published layout.
    this.created = 'nothing';
  }

  async abort(): Promise<void> {
    await Promise.all([...this.temps].map((t) => rm(t, { force: true })));
    if (this.created === 'directory') await rm(this.path, { recursive: true, force: true });
    else if (this.created === 'layout') {
      for (const f of ['blobs', 'oci-layout', 'index.json'])
        await rm(join(this.path, f), { recursive: true, force: true });
    }
    this.created = 'nothing';
    this.ready = undefined;
  }

  private ensureLayout(): Promise<void> {
    this.ready ??= (async () => {
      if (this.state === 'layout') return;
      if (this.state === 'absent') {
        await mkdir(this.path, { recursive: true });
        this.created = 'directory';
      } else {
        this.created = 'layout';
      }
      await mkdir(join(this.path, 'blobs', 'sha256'), { recursive: true });
      await writeFile(join(this.path, 'oci-layout'), LAYOUT_MARKER);
    })();
    return this.ready;
  }

  private async writeBytes(desc: Descriptor, bytes: Uint8Array): Promise<void> {
    if (await this.hasBlob(desc)) return;
    await mkdir(join(this.path, 'blobs', digestAlgorithm(desc.digest)), { recursive: true });
    const tmp = join(this.path, 'blobs', digestAlgorithm(desc.digest), `.tmp-${tempSuffix()}`);
    this.temps.add(tmp);
    try {
      await writeFile(tmp, bytes, { flag: 'wx' });
      await rename(tmp, join(this.path, blobName(desc.digest)));
    } finally {
      this.temps.delete(tmp);
      await rm(tmp, { force: true });
    }
  }
}

/**
 * Write to an OCI layout directory (`oci-dir:PATH[:NAME]`): created if absent, added to if it
 * is a layout already, refused if it is a non-empty directory of something else.
 */
export async function openLayoutTarget(path: string, name?: string): Promise<ContentTarget> {
  const st = await stat(path).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return undefined;
    throw new OciError('INVALID_OPTIONS', `oci-dir ${path}: ${e.message}`, { cause: e });
  });
  if (!st) return new LayoutTarget(path, name, 'absent');
  if (!st.isDirectory()) throw new OciError('LAYOUT_INVALID', `oci-dir ${path}: exists and is not a directory`);
  const entries = await readdir(path);
  if (entries.length === 0) return new LayoutTarget(path, name, 'empty');
  // Check the marker now: writing blobs into some other directory would be a surprise.
  await readLayoutIndex(directoryFileSet(path), `oci-dir ${path}`).catch(async (e: unknown) => {
    // A layout whose index.json was never written (a crash before commit) is still a layout.
    if (isOciError(e, 'LAYOUT_INVALID') && entries.includes('oci-layout') && !entries.includes('index.json')) return;
    throw isOciError(e, 'LAYOUT_INVALID')
      ? new OciError('LAYOUT_INVALID', `oci-dir ${path}: exists, is not empty and is not an OCI layout`, { cause: e })
      : e;
  });
  return new LayoutTarget(path, name, 'layout');
}
