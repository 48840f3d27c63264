/**
 * The final filesystem of an image: layers analysed in parallel (each read once, or taken from
 * the cache), then applied bottom to top with the OCI whiteout rules (image-spec v1.1
 * layer.md "Whiteouts"):
 *  - `.wh..wh..opq` hides everything the lower layers put in its directory, wherever the
 *    marker sits among the layer's entries (the spec's reading in image-spec PR #1215);
 *  - `.wh.<name>` removes `<name>` and everything below it from the lower layers;
 *  - an entry replaces the lower one at its path; a non-directory over a directory drops the
 *    directory's subtree, as overlayfs shows it (no whiteout is written for that; trivy#2637).
 * Markers are applied before the layer's own entries, so what the layer itself adds survives.
 */
import { availableParallelism } from 'node:os';
import type { Digest } from '../oci/digest.ts';
import type { Image } from '../oci/image.ts';
import type { CapturedFile } from './captured-file.ts';
import type { NamedExtractor } from './content-extractor.ts';
import { FilesystemError } from './errors.ts';
import { type FileTree, isRegular, SquashedTree } from './file-tree.ts';
import {
  analyzeLayer,
  DEFAULT_MAX_FILE_SIZE,
  DEFAULT_MAX_LAYER_BYTES,
  describeLayer,
  type LayerAnalysis,
  readLayerFiles,
} from './layer-analysis.ts';
import { type LayerCache, layerCacheKey } from './layer-cache.ts';
import { comparePaths } from './paths.ts';

export interface LayerProgress {
  diffId: Digest;
  index: number;
  /** How many layers the image has. */
  total: number;
  /** Compressed bytes read so far (the layer's size once done, also when it came from the cache). */
  bytes: number;
  done: boolean;
  /** True when the analysis came from the cache and the layer was not read. */
  cached?: boolean;
}

export interface SquashOptions {
  /** Absolute path -> capture its bytes? */
  wants: (path: string) => boolean;
  /** Default 64 MiB; a larger wanted file is skipped with a warning naming path and layer. */
  maxFileSize?: number;
  /** Decompression-bomb cap on uncompressed bytes per layer; default 16 GiB. */
  maxLayerBytes?: number;
  /** Layers read at once; default the larger of the core count and libuv's thread pool size (4). */
  concurrency?: number;
  signal?: AbortSignal;
  onLayer?: (e: LayerProgress) => void;
  cache?: LayerCache;
  /**
   * Required with `cache`: what else the analysis depends on besides the layer bytes (the
   * catalogers' names and versions, i.e. what `wants` accepts). Part of the cache key.
   */
  cacheSalt?: string;
  /** Hash every regular file (SHA-1, SHA-256) as it streams by, for per-file SBOM entries. */
  fileDigests?: boolean;
  /** Check each compressed layer's uncompressed bytes against its diffID (see AnalyzeOptions). */
  verifyDiffIds?: boolean;
  /** Look inside the files these want (binaries); their names are part of the cache key. */
  extractors?: readonly NamedExtractor[];
}

export interface SquashResult {
  tree: FileTree;
  /**
   * Wanted files of the final filesystem, in path order. A wanted symlink appears with the
   * content of the file it resolves to. `earlier` lists the path's versions in lower layers
   * since it was last deleted, oldest first, from the layers where they were captured.
   */
  files: CapturedFile[];
  /** Extracts of files of the final filesystem, in path order; `bytes` is the extract. */
  extracts: (CapturedFile & { extractor: string })[];
  /** Each layer's own analysis, bottom first (for `--scope all-layers`). */
  layers: LayerAnalysis[];
  warnings: string[];
}

function resolveSquashOptions(o: SquashOptions) {
  if (o.cache !== undefined && o.cacheSalt === undefined) {
    // Without a salt, analyses made for other catalogers would be served as if complete.
    throw new FilesystemError('INVALID_OPTIONS', 'squashImage: a cache needs a cacheSalt naming what `wants` selects');
  }
  // Inflate runs on libuv's thread pool (UV_THREADPOOL_SIZE, 4 by default), not on the cores the
  // event loop uses: on 2 cores, 4 layers in flight cut the 1.6 GB benchmark image from 5.6-5.9 s
  // to 4.9-5.0 s at the same peak RSS (6 was no better).
  const concurrency = o.concurrency ?? Math.max(availableParallelism(), Number(process.env.UV_THREADPOOL_SIZE) || 4);
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new FilesystemError(
      'INVALID_OPTIONS',
      `squashImage: concurrency must be a positive integer, got ${concurrency}`,
    );
  }
  return {
    ...o,
    concurrency,
    maxFileSize: o.maxFileSize ?? DEFAULT_MAX_FILE_SIZE,
    maxLayerBytes: o.maxLayerBytes ?? DEFAULT_MAX_LAYER_BYTES,
  };
}

type Resolved = ReturnType<typeof resolveSquashOptions>;

/** Run `task` for 0..n-1, at most `limit` at once; the first failure aborts the rest and is thrown. */
async function runBounded(
  n: number,
  limit: number,
  signal: AbortSignal | undefined,
  task: (i: number, signal: AbortSignal) => Promise<void>,
): Promise<void> {
  const controller = new AbortController();
  const combined = signal ? AbortSignal.any([signal, controller.signal]) : controller.signal;
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (failure === undefined && next < n) {
      const i = next++;
      try {
        await task(i, combined);
      } catch (e) {
        failure ??= { error: e };
        controller.abort(e);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, n) }, worker));
  if (failure !== undefined) throw failure.error;
}

async function analyzeAll(image: Pick<Image, 'layers'>, o: Resolved, warnings: string[]): Promise<LayerAnalysis[]> {
  const layers = image.layers;
  const analyses: LayerAnalysis[] = new Array<LayerAnalysis>(layers.length);
  const extractorNames = (o.extractors ?? []).map((x) => x.name).join(',');
  const salt =
    `${o.cacheSalt ?? ''}\0maxFileSize=${o.maxFileSize}${o.fileDigests ? '\0digests' : ''}` +
    (extractorNames ? `\0extractors=${extractorNames}` : '');
  await runBounded(layers.length, o.concurrency, o.signal, async (i, signal) => {
    const layer = layers[i]!;
    // The blob digest is checked on every read; with it in the key, an image whose config claims a
    // popular layer's diffID for other bytes files its analysis apart instead of poisoning that layer's.
    const key = o.cache ? layerCacheKey(layer.diffId, `${salt}\0blob=${layer.digest}`) : '';
    if (o.cache) {
      try {
        const hit = await o.cache.get(key);
        if (hit !== undefined && hit.diffId === layer.diffId) {
          analyses[i] = hit;
          o.onLayer?.({
            diffId: layer.diffId,
            index: i,
            total: layers.length,
            bytes: layer.size,
            done: true,
            cached: true,
          });
          return;
        }
      } catch (e) {
        warnings.push(
          `layer cache: reading ${describeLayer(layer)}: ${(e as Error).message}; reading the layer instead`,
        );
      }
    }
    const analysis = await analyzeLayer(layer, {
      wants: o.wants,
      maxFileSize: o.maxFileSize,
      maxLayerBytes: o.maxLayerBytes,
      ...(o.fileDigests ? { fileDigests: true } : {}),
      ...(o.verifyDiffIds ? { verifyDiffId: true } : {}),
      ...(o.extractors ? { extractors: o.extractors } : {}),
      signal,
      ...(o.onLayer
        ? {
            onBytes: (bytes: number) =>
              o.onLayer!({ diffId: layer.diffId, index: i, total: layers.length, bytes, done: false }),
          }
        : {}),
    });
    analyses[i] = analysis;
    o.onLayer?.({ diffId: layer.diffId, index: i, total: layers.length, bytes: layer.size, done: true });
    if (o.cache) {
      // A cache that cannot be written (full disk, read-only dir) costs speed next time, not this result.
      await o.cache.put(key, analysis).catch((e: unknown) => {
        warnings.push(`layer cache: storing ${describeLayer(layer)}: ${(e as Error).message}`);
      });
    }
  });
  return analyses;
}

function applyLayers(analyses: readonly LayerAnalysis[]): SquashedTree {
  const tree = new SquashedTree();
  analyses.forEach((a, layerIndex) => {
    for (const dir of a.opaqueDirs) tree.clearChildren(dir, layerIndex, a.diffId);
    for (const path of a.whiteouts) tree.remove(path);
    for (const e of a.entries) tree.set({ ...e, layerIndex, layerDiffId: a.diffId });
  });
  return tree;
}

export async function squashImage(image: Pick<Image, 'layers'>, options: SquashOptions): Promise<SquashResult> {
  const o = resolveSquashOptions(options);
  const warnings: string[] = [];
  const analyses = await analyzeAll(image, o, warnings);
  for (const a of analyses) warnings.push(...a.warnings);
  const tree = applyLayers(analyses);
  const capturedByLayer = analyses.map((a) => new Map(a.captured.map((c) => [c.path, c.bytes])));

  const files: CapturedFile[] = [];
  for (const node of tree.files()) {
    const bytes = capturedByLayer[node.layerIndex]!.get(node.path);
    if (bytes === undefined) continue;
    const earlier = tree
      .historyOf(node.path)
      .filter((l) => capturedByLayer[l]!.has(node.path))
      .map((l) => ({ layerDiffId: analyses[l]!.diffId, bytes: capturedByLayer[l]!.get(node.path)! }));
    files.push({ path: node.path, bytes, layerDiffId: node.layerDiffId, ...(earlier.length > 0 ? { earlier } : {}) });
  }

  // Wanted symlinks (Debian's /etc/os-release -> ../usr/lib/os-release) get their target's bytes;
  // a target nobody wanted is read in one more pass over its layer.
  const missing = new Map<number, Map<string, string[]>>();
  for (const node of tree.nodes()) {
    if (node.type !== 'symlink' || !o.wants(node.path)) continue;
    const target = tree.resolve(node.path);
    if (target === undefined || !isRegular(target.type)) {
      if (target === undefined) warnings.push(`${node.path}: symlink to ${node.linkTarget} leads nowhere in the image`);
      continue;
    }
    const bytes = capturedByLayer[target.layerIndex]!.get(target.path);
    if (bytes !== undefined) {
      files.push({ path: node.path, bytes, layerDiffId: target.layerDiffId });
      continue;
    }
    if (target.size > o.maxFileSize) {
      warnings.push(
        `${node.path} -> ${target.path} in ${describeLayer(image.layers[target.layerIndex]!)} is ${target.size} bytes, over the ${o.maxFileSize} byte file size cap: not read`,
      );
      continue;
    }
    // A hardlink's content is its target's, in the same layer.
    const source = target.type === 'hardlink' && target.linkTarget !== undefined ? target.linkTarget : target.path;
    const inLayer = missing.get(target.layerIndex) ?? new Map<string, string[]>();
    missing.set(target.layerIndex, inLayer);
    inLayer.set(source, [...(inLayer.get(source) ?? []), node.path]);
  }
  for (const [layerIndex, wanted] of missing) {
    const layer = image.layers[layerIndex]!;
    const got = await readLayerFiles(layer, new Set(wanted.keys()), o);
    for (const [source, links] of wanted) {
      const bytes = got.get(source);
      if (bytes === undefined) {
        warnings.push(`${links.join(', ')}: target ${source} in ${describeLayer(layer)} could not be read`);
        continue;
      }
      for (const path of links) files.push({ path, bytes, layerDiffId: layer.diffId });
    }
  }
  files.sort((a, b) => comparePaths(a.path, b.path));

  // An extract counts only where its layer's file is the one the final filesystem shows.
  const extracts: SquashResult['extracts'] = [];
  analyses.forEach((a, layerIndex) => {
    for (const x of a.extracts) {
      const node = tree.get(x.path);
      if (node?.layerIndex === layerIndex && isRegular(node.type))
        extracts.push({ path: x.path, bytes: x.bytes, layerDiffId: a.diffId, extractor: x.extractor });
    }
  });
  extracts.sort((a, b) => comparePaths(a.path, b.path) || (a.extractor < b.extractor ? -1 : 1));

  return { tree, files, extracts, layers: analyses, warnings };
}
