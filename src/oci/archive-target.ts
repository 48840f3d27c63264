import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { addAbortSignal, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ContentTarget, PushBlobOptions } from './content.ts';
import { type Digest, digestAlgorithm, verifiedStream } from './digest.ts';
import { OciError } from './errors.ts';
import { blobName, checkComplete, indexEntry, LAYOUT_MARKER, tempSuffix } from './layout.ts';
import { type Descriptor, type ImageIndex, type ManifestBlob, verifyManifestBytes } from './manifest.ts';
import { MediaType } from './media-types.ts';
import { TarWriter } from './tar-writer.ts';

export interface ArchiveTargetOptions {
  path: string;
  description: string;
  /** Annotations naming the root in index.json. */
  annotations: Record<string, string>;
  /** Members written after index.json at commit (docker's manifest.json), given the root and every manifest written. */
  extraMembers?: (
    root: ManifestBlob,
    manifests: ReadonlyMap<Digest, ManifestBlob>,
  ) => Promise<{ name: string; bytes: Uint8Array }[]>;
}

/** One writer at a time; `tryLock` lets a caller that finds it busy do something useful instead of waiting. */
class Mutex {
  private locked = false;
  private readonly waiters: (() => void)[] = [];

  tryLock(): boolean {
    if (this.locked) return false;
    this.locked = true;
    return true;
  }

  async lock(): Promise<void> {
    if (this.tryLock()) return;
    // unlock() hands the lock straight to the first waiter.
    await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  unlock(): void {
    const next = this.waiters.shift();
    if (next) next();
    else this.locked = false;
  }
}

/**
 * Writes an OCI layout as a tar (`oci-archive:`, and docker >= 25's `docker save` format), streamed
 * into `<path>.<random>.tmp` and renamed to `path` by commit; nothing appears at `path` before.
 *
 * Tar members are sequential but a copy pushes several blobs at once. The push that finds the
 * tar free streams straight into it; the others spool to a temporary file beside the archive
 * (never into memory, and not in os.tmpdir(), which may be RAM) and are appended when the tar is
 * free, so downloads stay parallel and memory stays bounded. A blob whose bytes fail
 * verification is cut out of the tar again (TarWriter truncates), so the archive never holds it.
 */
export class ArchiveTarget implements ContentTarget {
  readonly description: string;
  private readonly tmpPath: string;
  private readonly spoolPath: string;
  private writer: Promise<TarWriter> | undefined;
  private spool: Promise<string> | undefined;
  private readonly mutex = new Mutex();
  private readonly written = new Map<Digest, number>();
  private readonly dirs = new Set<string>();
  private readonly manifests = new Map<Digest, ManifestBlob>();
  private readonly inflight = new Map<Digest, Promise<void>>();
  private state: 'open' | 'committed' | 'aborted' = 'open';

  constructor(private readonly options: ArchiveTargetOptions) {
    this.description = options.description;
    const suffix = tempSuffix();
    this.tmpPath = `${options.path}.${suffix}.tmp`;
    this.spoolPath = `${options.path}.${suffix}.spool`;
  }

  async hasBlob(desc: Descriptor): Promise<boolean> {
    return this.written.get(desc.digest) === desc.size;
  }

  async pushBlob(desc: Descriptor, open: () => Promise<Readable>, options: PushBlobOptions = {}): Promise<void> {
    this.checkOpen();
    options.signal?.throwIfAborted();
    blobName(desc.digest); // validates the digest before it becomes a member name
    if (await this.hasBlob(desc)) return;
    const running = this.inflight.get(desc.digest);
    if (running) return running;
    const push = this.push(desc, open, options).finally(() => this.inflight.delete(desc.digest));
    this.inflight.set(desc.digest, push);
    return push;
  }

  async pushManifest(manifest: ManifestBlob, signal?: AbortSignal): Promise<void> {
    this.checkOpen();
    signal?.throwIfAborted();
    const desc = manifest.descriptor;
    verifyManifestBytes(manifest.bytes, desc, `${this.description}: manifest ${desc.digest}`);
    this.manifests.set(desc.digest, manifest);
    if (await this.hasBlob(desc)) return;
    await this.withTar(async (tar) => {
      await this.addBlobDir(tar, desc.digest);
      await tar.addBytes(blobName(desc.digest), manifest.bytes);
    });
    this.written.set(desc.digest, desc.size);
  }

  async commit(root: ManifestBlob, signal?: AbortSignal): Promise<void> {
    await this.pushManifest(root, signal);
    await checkComplete(
      root,
      async (d) => this.manifests.get(d.digest)?.bytes,
      (d) => this.hasBlob(d),
      this.description,
    );
    const index: ImageIndex = {
      schemaVersion: 2,
      mediaType: MediaType.OciIndex,
      manifests: [indexEntry(root.descriptor, this.options.annotations)],
    };
    const extra = (await this.options.extraMembers?.(root, this.manifests)) ?? [];
    await this.withTar(async (tar) => {
      await tar.addBytes('index.json', Buffer.from(JSON.stringify(index)));
      for (const m of extra) await tar.addBytes(m.name, m.bytes);
      await tar.finish();
    });
    this.checkOpen();
    await rename(this.tmpPath, this.options.path);
    this.state = 'committed';
    await rm(this.spoolPath, { recursive: true, force: true });
  }

  async abort(): Promise<void> {
    if (this.state === 'committed') return;
    this.state = 'aborted';
    const writer = await this.writer?.catch(() => undefined);
    await writer?.close().catch(() => {});
    await rm(this.tmpPath, { force: true });
    await rm(this.spoolPath, { recursive: true, force: true });
  }

  private async push(desc: Descriptor, open: () => Promise<Readable>, options: PushBlobOptions): Promise<void> {
    const verified = async (): Promise<Readable> => {
      const counted = verifiedStream(await open(), desc.digest, {
        size: desc.size,
        what: `${this.description}: blob ${desc.digest}`,
        ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      });
      return options.signal ? addAbortSignal(options.signal, counted) : counted;
    };
    if (this.mutex.tryLock()) {
      try {
        const tar = await this.tar();
        await this.addBlobDir(tar, desc.digest);
        await tar.addStream(blobName(desc.digest), desc.size, await verified());
      } finally {
        this.mutex.unlock();
      }
    } else {
      const spooled = `${await this.spoolDir()}/${tempSuffix()}`;
      try {
        await pipeline(await verified(), createWriteStream(spooled, { flags: 'wx' }));
        await this.withTar(async (tar) => {
          await this.addBlobDir(tar, desc.digest);
          await tar.addStream(blobName(desc.digest), desc.size, createReadStream(spooled));
        });
      } finally {
        await rm(spooled, { force: true });
      }
    }
    this.written.set(desc.digest, desc.size);
  }

  private async withTar(fn: (tar: TarWriter) => Promise<void>): Promise<void> {
    await this.mutex.lock();
    try {
      this.checkOpen();
      await fn(await this.tar());
    } finally {
      this.mutex.unlock();
    }
  }

  /** The tar, created on first use with the layout's fixed members. Only called holding the lock. */
  private tar(): Promise<TarWriter> {
    this.writer ??= (async () => {
      const tar = await TarWriter.create(this.tmpPath).catch((e: NodeJS.ErrnoException) => {
        throw new OciError('INVALID_OPTIONS', `${this.description}: cannot create ${this.tmpPath}: ${e.message}`, {
          cause: e,
        });
      });
      await tar.addBytes('oci-layout', Buffer.from(LAYOUT_MARKER));
      await tar.addDirectory('blobs');
      return tar;
    })();
    return this.writer;
  }

  private async addBlobDir(tar: TarWriter, digest: Digest): Promise<void> {
    const dir = `blobs/${digestAlgorithm(digest)}`;
    if (this.dirs.has(dir)) return;
    await tar.addDirectory(dir);
    this.dirs.add(dir);
  }

  private spoolDir(): Promise<string> {
    this.spool ??= mkdir(this.spoolPath, { recursive: true }).then(() => this.spoolPath);
    return this.spool;
  }

  private checkOpen(): void {
    if (this.state !== 'open') {
      throw new OciError('INVALID_OPTIONS', `${this.description}: the archive was already ${this.state}`);
    }
  }
}
