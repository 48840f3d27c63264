import type { Readable } from 'node:stream';
import type { ContentSource } from './content.ts';
import type { Digest } from './digest.ts';
import { OciError } from './errors.ts';
import {
  type Descriptor,
  type ImageConfig,
  type ImageManifest,
  type ManifestBlob,
  type Platform,
  parseConfig,
  parseManifest,
} from './manifest.ts';
import { LINUX_AMD64, selectManifest } from './platform.ts';

/** One layer of an image: compressed bytes as in the manifest, uncompressed identity from the config. */
export interface Layer {
  readonly digest: Digest;
  readonly diffId: Digest;
  readonly mediaType: string;
  readonly size: number;
  readonly descriptor: Descriptor;
  /** The compressed bytes, digest-checked as they are read. */
  open(signal?: AbortSignal): Promise<Readable>;
}

/** A single-platform image resolved from a source (an index is walked to one manifest). */
export interface Image {
  readonly source: ContentSource;
  /** What the source names: the image manifest itself, or the index it was selected from. */
  readonly root: ManifestBlob;
  readonly manifestBlob: ManifestBlob;
  readonly manifest: ImageManifest;
  readonly configBlob: Uint8Array;
  readonly config: ImageConfig;
  readonly layers: readonly Layer[];
}

export interface ResolveOptions {
  platform?: Platform;
  signal?: AbortSignal;
}

/** Read at most this much config JSON: configs are kilobytes; a larger one is hostile or broken. */
const CONFIG_LIMIT = 8 * 1024 * 1024;

export async function resolveImage(source: ContentSource, options: ResolveOptions = {}): Promise<Image> {
  const platform = options.platform ?? LINUX_AMD64;
  const root = await source.resolveRoot(options.signal);
  let manifestBlob = root;
  // Nested indexes are legal (an index may point at an index); bound the walk.
  for (let depth = 0; ; depth++) {
    const parsed = parseManifest(manifestBlob.bytes, manifestBlob.descriptor.mediaType, source.description);
    if (parsed.kind === 'image') {
      const configBlob = await readBlob(source, parsed.manifest.config, CONFIG_LIMIT, options.signal);
      const config = parseConfig(configBlob, `${source.description}: config ${parsed.manifest.config.digest}`);
      return {
        source,
        root,
        manifestBlob,
        manifest: parsed.manifest,
        configBlob,
        config,
        layers: layersOf(source, parsed.manifest, config),
      };
    }
    if (depth >= 4) throw new OciError('MANIFEST_INVALID', `${source.description}: indexes nested too deeply`);
    const desc = selectManifest(parsed.index, platform, source.description);
    manifestBlob = await source.fetchManifest(desc, options.signal);
  }
}

function layersOf(source: ContentSource, manifest: ImageManifest, config: ImageConfig): Layer[] {
  const diffIds = config.rootfs.diff_ids;
  if (diffIds.length !== manifest.layers.length) {
    throw new OciError(
      'MANIFEST_INVALID',
      `${source.description}: manifest has ${manifest.layers.length} layers but config lists ${diffIds.length} diff_ids`,
    );
  }
  return manifest.layers.map((descriptor, i) => ({
    digest: descriptor.digest,
    diffId: diffIds[i]!,
    mediaType: descriptor.mediaType,
    size: descriptor.size,
    descriptor,
    open: (signal?: AbortSignal) => source.fetchBlob(descriptor, signal),
  }));
}

/** A small blob (config, signature payload) fully read, verified, and capped at `limit` bytes. */
export async function readBlob(
  source: ContentSource,
  desc: Descriptor,
  limit: number,
  signal?: AbortSignal,
): Promise<Uint8Array> {
  if (desc.size > limit) {
    throw new OciError(
      'MANIFEST_INVALID',
      `${source.description}: blob ${desc.digest} is ${desc.size} bytes, over the ${limit} byte limit`,
    );
  }
  const chunks: Buffer[] = [];
  for await (const chunk of await source.fetchBlob(desc, signal)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
