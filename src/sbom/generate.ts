import { homedir } from 'node:os';
import { join } from 'node:path';
import type { CatalogFile, CatalogInput, Cataloger } from '../catalog/cataloger.ts';
import { apkCataloger } from '../catalog/apk/cataloger.ts';
import { composerCataloger } from '../catalog/composer/cataloger.ts';
import { dpkgCataloger } from '../catalog/dpkg/cataloger.ts';
import { detectDistro, osReleaseWants } from '../catalog/os-release.ts';
import { javaCataloger } from '../catalog/java/cataloger.ts';
import { npmCataloger } from '../catalog/npm/cataloger.ts';
import { pythonCataloger } from '../catalog/python/cataloger.ts';
import { rpmCataloger } from '../catalog/rpm/cataloger.ts';
import { gemCataloger } from '../catalog/ruby/cataloger.ts';
import { goBinaryCataloger } from '../catalog/go/cataloger.ts';
import { rustAuditCataloger } from '../catalog/rust/cataloger.ts';
import type { Package } from '../catalog/package.ts';
import {
  directoryLayerCache,
  type FileTree,
  type LayerAnalysis,
  type LayerCache,
  type LayerProgress,
  squashImage,
  type SquashOptions,
} from '../filesystem/index.ts';
import { DEFAULT_MAX_FILE_SIZE } from '../filesystem/layer-analysis.ts';
import type { NamedExtractor } from '../filesystem/content-extractor.ts';
import type { ContentSource } from '../oci/content.ts';
import { type Image, resolveImage } from '../oci/image.ts';
import type { Digest } from '../oci/digest.ts';
import type { Platform } from '../oci/manifest.ts';
import { openSource, parseImageLocation, type SourceOptions } from '../oci/source.ts';
import type { SbomDocument, SbomFileEntry } from './document.ts';
import { mergePackages } from './merge.ts';
import { type CatalogResult, directoryResultCache, type ResultCache, resultCacheKey } from './result-cache.ts';
import { buildId } from '../build-id.ts';

/** Every cataloger sigil runs by default: OS package managers first, then language ecosystems. */
export const DEFAULT_CATALOGERS: readonly Cataloger[] = [
  dpkgCataloger,
  apkCataloger,
  rpmCataloger,
  pythonCataloger,
  npmCataloger,
  javaCataloger,
  gemCataloger,
  composerCataloger,
  goBinaryCataloger,
  rustAuditCataloger,
];

export interface GenerateSbomOptions extends SourceOptions {
  platform?: Platform;
  /**
   * `squashed` (default): the packages of the final filesystem. `all-layers`: every layer's own
   * files cataloged too, so packages a later layer removed are reported, each with the layers it is in.
   */
  scope?: 'squashed' | 'all-layers';
  catalogers?: readonly Cataloger[];
  /**
   * Paths to leave out, with everything below them (`/usr/share/doc`). syft's --exclude takes
   * globs; a path prefix covers its common uses (`./usr/share/doc/**`) without a glob engine.
   */
  exclude?: readonly string[];
  /** A layer cache; `false` for none. Default: `cacheDir`'s `layers/`. */
  cache?: LayerCache | false;
  cacheDir?: string;
  maxFileSize?: number;
  concurrency?: number;
  /** Also hash each compressed layer's content against its diffID (`--verify-diffids`; costs ~1 s per GB). */
  verifyDiffIds?: boolean;
  signal?: AbortSignal;
  onLayer?: (e: LayerProgress) => void;
  /** List the files packages own (path, layer, owners): SPDX's per-file section, syft's --files. */
  files?: boolean;
  /**
   * The cache of whole results (see result-cache.ts); `false` for none. Default: `cacheDir`'s
   * `sboms/` when the layer cache is the default one, none when `cache` is given or `false`.
   */
  resultCache?: ResultCache | false;
  /** Version written into the document's tool field. */
  toolVersion?: string;
}

export interface GenerateSbomResult {
  document: SbomDocument;
  warnings: string[];
  /** Language packages left out because an OS package installed their files (see mergePackages). */
  attributed: string[];
  stats: { layers: number; files: number; packages: Record<string, number>; seconds: number };
}

/** `$XDG_CACHE_HOME/sigil`, else `~/.cache/sigil`, as syft and trivy keep theirs. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'sigil');
}

/**
 * Read an image and report its packages: resolve the platform, walk every layer once (in
 * parallel, cached per layer), squash with whiteouts, detect the distro, run the catalogers
 * on the files they asked for, and merge what several catalogers or places report as one.
 */
export async function generateSbom(
  source: string | ContentSource,
  options: GenerateSbomOptions = {},
): Promise<GenerateSbomResult> {
  const started = performance.now();
  const catalogers = options.catalogers ?? DEFAULT_CATALOGERS;
  const exclude = (options.exclude ?? []).map((p) => p.replace(/\/+$/, ''));
  const excluded = (path: string) => exclude.some((p) => path === p || path.startsWith(`${p}/`));
  const wants = (path: string) => !excluded(path) && (osReleaseWants(path) || catalogers.some((c) => c.wants(path)));
  const cache =
    options.cache === false
      ? undefined
      : (options.cache ?? directoryLayerCache(join(options.cacheDir ?? defaultCacheDir(), 'layers')));
  const extractors: NamedExtractor[] = catalogers.flatMap((c) =>
    c.extractor === undefined
      ? []
      : [
          {
            name: c.name,
            extractor: {
              wants: (file) => !excluded(file.path) && c.extractor!.wants(file),
              start: (file) => c.extractor!.start(file),
            },
          },
        ],
  );
  // What `wants` selects is part of each cached analysis: a new cataloger version re-reads layers.
  const cacheSalt = ['os-release@1', ...catalogers.map((c) => `${c.name}@${c.version}`), ...exclude].join(',');

  const src = typeof source === 'string' ? await openSource(source, options) : source;
  try {
    const image = await resolveImage(src, {
      ...(options.platform ? { platform: options.platform } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    const resultCache =
      options.resultCache === false || options.cache === false
        ? undefined
        : (options.resultCache ??
          (options.cache === undefined
            ? directoryResultCache(join(options.cacheDir ?? defaultCacheDir(), 'sboms'))
            : undefined));
    const resultKey = resultCache
      ? resultCacheKey([
          `code ${await buildId()}`,
          `catalogers ${cacheSalt}`,
          `scope ${options.scope ?? 'squashed'}`,
          `files ${options.files === true}`,
          `maxFileSize ${options.maxFileSize ?? DEFAULT_MAX_FILE_SIZE}`,
          ...image.layers.map((l) => `layer ${l.diffId} ${l.digest}`),
        ])
      : '';
    let result: CatalogResult | undefined;
    const warnings: string[] = [];
    // --verify-diffids asks for every layer to be read, so nothing cached answers it.
    if (resultCache && !options.verifyDiffIds) {
      try {
        result = await resultCache.get(resultKey);
      } catch (e) {
        warnings.push(`result cache: ${(e as Error).message}; cataloging the layers instead`);
      }
      if (result) {
        // The layers were not read: report each as a cached one, as the layer cache would.
        for (const [index, l] of image.layers.entries()) {
          options.onLayer?.({
            diffId: l.diffId,
            index,
            total: image.layers.length,
            bytes: l.size,
            done: true,
            cached: true,
          });
        }
      }
    }
    if (!result) {
      const squash: SquashOptions = {
        wants,
        ...(cache ? { cache, cacheSalt } : {}),
        ...(options.maxFileSize ? { maxFileSize: options.maxFileSize } : {}),
        ...(options.concurrency ? { concurrency: options.concurrency } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
        ...(options.onLayer ? { onLayer: options.onLayer } : {}),
        ...(options.files ? { fileDigests: true } : {}),
        ...(options.verifyDiffIds ? { verifyDiffIds: true } : {}),
        ...(extractors.length > 0 ? { extractors } : {}),
      };
      result = await catalogImage(image, catalogers, squash, options.scope ?? 'squashed');
      if (resultCache) {
        await resultCache.put(resultKey, result).catch((e: unknown) => {
          warnings.push(`result cache: storing: ${(e as Error).message}`);
        });
      }
    }
    warnings.push(...result.warnings);
    const packages = result.packages;
    const counts: Record<string, number> = {};
    for (const p of packages) counts[p.type] = (counts[p.type] ?? 0) + 1;

    const location = typeof source === 'string' ? parseImageLocation(source) : undefined;
    const reference = location?.kind === 'registry' ? location.reference : undefined;
    const document: SbomDocument = {
      source: {
        name: typeof source === 'string' ? source : src.description,
        ...(reference
          ? {
              reference: {
                registry: reference.registry,
                repository: reference.repository,
                ...(reference.tag ? { tag: reference.tag } : {}),
              },
            }
          : {}),
        manifestDigest: image.manifestBlob.descriptor.digest,
        ...(image.root !== image.manifestBlob ? { indexDigest: image.root.descriptor.digest } : {}),
        mediaType: image.manifestBlob.descriptor.mediaType,
        platform: {
          os: image.config.os ?? 'linux',
          architecture: image.config.architecture ?? 'unknown',
          ...(image.config.variant ? { variant: image.config.variant } : {}),
        },
        layers: image.layers.map((l) => ({ digest: l.digest, diffId: l.diffId, mediaType: l.mediaType, size: l.size })),
      },
      ...(result.distro ? { distro: result.distro } : {}),
      packages,
      ...(result.files ? { files: result.files } : {}),
      tool: { name: 'sigil', version: options.toolVersion ?? '0.0.0' },
    };
    return {
      document,
      warnings,
      attributed: result.attributed,
      stats: {
        layers: image.layers.length,
        files: result.fileCount,
        packages: counts,
        seconds: (performance.now() - started) / 1000,
      },
    };
  } finally {
    if (typeof source === 'string') await src.close();
  }
}

/**
 * Walk every layer once (in parallel, cached per layer), squash with whiteouts, detect the
 * distro, run the catalogers on the files they asked for, and merge what several catalogers
 * or places report as one. With `fileDigests`, also the files each package owns.
 */
async function catalogImage(
  image: Image,
  catalogers: readonly Cataloger[],
  squash: SquashOptions,
  scope: 'squashed' | 'all-layers',
): Promise<CatalogResult> {
  const squashed = await squashImage(image, squash);
  const warnings = [...squashed.warnings];
  const distro = detectDistro(squashed.files.filter((f) => osReleaseWants(f.path)));
  const allPaths = new Set<string>();
  for (const node of squashed.tree.files()) allPaths.add(node.path);
  const views: CatalogView[] = [
    {
      files: squashed.files,
      extracts: squashed.extracts,
      allPaths,
      resolvePath: (path) => squashed.tree.resolve(path)?.path,
    },
  ];
  if (scope === 'all-layers') views.push(...squashed.layers.map(layerView));

  const found: Package[] = [];
  for (const view of views) {
    for (const cataloger of catalogers) {
      const result = await cataloger.catalog({
        ...view,
        files: view.files.filter((f) => cataloger.wants(f.path)),
        extracts: view.extracts.filter((x) => x.extractor === cataloger.name),
        ...(distro ? { distro } : {}),
      });
      warnings.push(...result.warnings.map((w) => `${cataloger.name}: ${w}`));
      found.push(...result.packages);
    }
  }
  const merged = mergePackages(found);
  const packages =
    scope === 'all-layers'
      ? merged.packages.map((p) =>
          withLayerSpan(
            p,
            image.layers.map((l) => l.diffId),
          ),
        )
      : merged.packages;
  return {
    ...(distro ? { distro } : {}),
    packages,
    ...(squash.fileDigests ? { files: ownedFiles(packages, squashed.tree) } : {}),
    warnings,
    attributed: merged.attributed,
    fileCount: squashed.tree.size,
  };
}

/** The files of the final filesystem that packages declare as theirs, with the layer each came from. */
function ownedFiles(packages: readonly Package[], tree: FileTree): SbomFileEntry[] {
  const files: SbomFileEntry[] = [];
  for (const pkg of packages) {
    for (const path of pkg.files ?? []) {
      const node = tree.get(path);
      if (node === undefined) continue;
      files.push({
        path,
        layerDiffId: node.layerDiffId,
        ownerIds: [pkg.id],
        ...(node.sha1 ? { sha1: node.sha1 } : {}),
        ...(node.sha256 ? { sha256: node.sha256 } : {}),
      });
    }
  }
  return files;
}

/** What one catalog pass sees: the squashed filesystem, or (all-layers) one layer's own files. */
type CatalogView = Pick<CatalogInput, 'files' | 'allPaths' | 'resolvePath'> & {
  extracts: readonly (CatalogFile & { extractor: string })[];
};

function layerView(layer: LayerAnalysis): CatalogView {
  const allPaths = new Set<string>();
  for (const e of layer.entries) if (e.type === 'file' || e.type === 'hardlink') allPaths.add(e.path);
  return {
    files: layer.captured.map((c) => ({ path: c.path, bytes: c.bytes, layerDiffId: layer.diffId })),
    extracts: layer.extracts.map((x) => ({
      path: x.path,
      bytes: x.bytes,
      layerDiffId: layer.diffId,
      extractor: x.extractor,
    })),
    allPaths,
  };
}

/** A package no longer in the final filesystem: it came in with the first layer that holds it and was last seen in the last. */
function withLayerSpan(pkg: Package, diffIds: readonly Digest[]): Package {
  const found = pkg.locations
    .map((l) => (l.layerDiffId === undefined ? -1 : diffIds.indexOf(l.layerDiffId)))
    .filter((i) => i >= 0)
    .sort((a, b) => a - b);
  if (found.length === 0) return pkg;
  return { ...pkg, introducedBy: diffIds[found[0]!]!, lastChangedBy: diffIds[found.at(-1)!]! };
}
