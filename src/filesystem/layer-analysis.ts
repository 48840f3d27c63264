/**
 * One layer read on its own, in one streaming pass (trivy's per-layer model): what it adds,
 * what it whites out, and the bytes of the files a cataloger wants. The result is plain data,
 * so a cache can keep it keyed by diffID and squash.ts can combine layers without re-reading.
 */
import type { Digest } from '../oci/digest.ts';
import type { Layer } from '../oci/image.ts';
import type { ExtractSink, NamedExtractor } from './content-extractor.ts';
import type { FileType } from './file-tree.ts';
import { baseName, comparePaths, joinPath, normalizePath, parentPath } from './paths.ts';
import { asLayerError, fileDigests, fileHasher, type TarEntry, tarEntries } from './tar-entries.ts';

export interface LayerEntryInfo {
  path: string;
  type: FileType;
  size: number;
  mode: number;
  linkTarget?: string;
  /** Content digests (hex) of a regular file or hardlink, when the analysis was asked for them. */
  sha1?: string;
  sha256?: string;
}

export interface LayerAnalysis {
  diffId: Digest;
  /** Every entry except whiteout markers, in tar order (the last entry for a path wins). */
  entries: LayerEntryInfo[];
  /** Paths removed from lower layers by `.wh.<name>` markers, with everything below them. */
  whiteouts: string[];
  /** Directories whose lower-layer content `.wh..wh..opq` hides. */
  opaqueDirs: string[];
  /** Wanted regular files (and hardlinks, with their target's bytes), in path order. */
  captured: { path: string; bytes: Uint8Array }[];
  /** What extractors kept from the files they streamed, by path then extractor name. */
  extracts: LayerExtract[];
  warnings: string[];
}

export interface LayerExtract {
  path: string;
  /** The NamedExtractor's name (the cataloger's). */
  extractor: string;
  bytes: Uint8Array;
}

export interface AnalyzeOptions {
  /** Absolute path -> capture its bytes? */
  wants: (path: string) => boolean;
  /** Files larger than this are not read (a warning names them); default 64 MiB. */
  maxFileSize?: number;
  /** Uncompressed bytes per layer before LAYER_TOO_LARGE; default 16 GiB. */
  maxLayerBytes?: number;
  signal?: AbortSignal;
  /** Compressed bytes read so far, as they are read. */
  onBytes?: (bytes: number) => void;
  /** Hash every regular file's content (streamed) into its entry. */
  fileDigests?: boolean;
  /**
   * Check that a compressed layer's uncompressed bytes hash to its diffID (DIFFID_MISMATCH
   * otherwise). Off by default, as in trivy and syft: the blob digest is always checked, and the
   * layer cache keys on both digests, so an image claiming another layer's diffID cannot poison it.
   */
  verifyDiffId?: boolean;
  /** Stream the regular files these want through their sinks and keep the extracts. */
  extractors?: readonly NamedExtractor[];
}

/** Big enough for any package database seen in practice (a full RHEL rpmdb.sqlite is ~30 MB). */
export const DEFAULT_MAX_FILE_SIZE = 64 * 1024 * 1024;
/** trivy has no default cap; 16 GiB is more than any real layer and stops a bomb before the disk or the clock suffer. */
export const DEFAULT_MAX_LAYER_BYTES = 16 * 1024 * 1024 * 1024;

const OPAQUE_MARKER = '.wh..wh..opq';
const WHITEOUT_PREFIX = '.wh.';
/** aufs keeps its own metadata under `.wh..wh.` names (`.wh..wh.plnk`, `.wh..wh.aufs`); they whiteout nothing. */
const AUFS_META_PREFIX = '.wh..wh.';

/** The layer's tar entries, its blob digest-checked and its uncompressed stream checked against its diffID. */
async function layerEntries(
  layer: Layer,
  what: string,
  options: Pick<AnalyzeOptions, 'maxLayerBytes' | 'signal' | 'onBytes' | 'verifyDiffId'>,
): Promise<AsyncGenerator<TarEntry, void, undefined>> {
  const blob = await layer.open(options.signal);
  return tarEntries(blob, what, {
    maxBytes: options.maxLayerBytes ?? DEFAULT_MAX_LAYER_BYTES,
    diffId: layer.diffId,
    blobDigest: layer.digest,
    hashDiffId: options.verifyDiffId ?? false,
    ...(options.onBytes ? { onBytes: options.onBytes } : {}),
  });
}

/** A hardlink may name another hardlink in broken tars; follow a few, then give up. */
const MAX_HARDLINK_HOPS = 8;

export function describeLayer(layer: Pick<Layer, 'digest'>): string {
  return `layer ${layer.digest}`;
}

function overCapWarning(path: string, size: number, cap: number, layer: Pick<Layer, 'digest'>): string {
  return `${path} in ${describeLayer(layer)} is ${size} bytes, over the ${cap} byte file size cap: not read`;
}

export async function analyzeLayer(layer: Layer, options: AnalyzeOptions): Promise<LayerAnalysis> {
  const maxFileSize = options.maxFileSize ?? DEFAULT_MAX_FILE_SIZE;
  const what = describeLayer(layer);
  const entries: LayerEntryInfo[] = [];
  const byPath = new Map<string, LayerEntryInfo>();
  const whiteouts: string[] = [];
  const opaqueDirs: string[] = [];
  const captured = new Map<string, Uint8Array>();
  /** path -> extractor name -> extract. */
  const extracts = new Map<string, Map<string, Uint8Array>>();
  const extractors = options.extractors ?? [];
  const warnings: string[] = [];
  /** Wanted hardlinks whose target was not wanted itself, so its bytes were not kept. */
  const pendingLinks = new Map<string, string>();

  try {
    for await (const e of await layerEntries(layer, what, options)) {
      const base = baseName(e.path);
      if (base === OPAQUE_MARKER) {
        opaqueDirs.push(parentPath(e.path));
        continue;
      }
      // A bare `.wh.` is an ordinary name (stereoscope PR #647): reading it as a whiteout of its
      // directory would let one crafted entry hide everything beside it.
      if (base.startsWith(WHITEOUT_PREFIX) && base !== WHITEOUT_PREFIX) {
        if (base.startsWith(AUFS_META_PREFIX)) continue;
        const name = base.slice(WHITEOUT_PREFIX.length);
        if (name === '.' || name === '..') {
          warnings.push(`${what}: ignored whiteout ${e.name}: it names no file`);
          continue;
        }
        whiteouts.push(joinPath(parentPath(e.path), name));
        continue;
      }
      // The root's own entry ("./"): the root is always there.
      if (e.path === '/') continue;

      const info: LayerEntryInfo = { path: e.path, type: e.type, size: e.size, mode: e.mode & 0o7777 };
      if (e.type === 'symlink') info.linkTarget = e.linkname ?? '';
      captured.delete(e.path);
      extracts.delete(e.path);
      pendingLinks.delete(e.path);

      if (e.type === 'hardlink') {
        // A tar hardlink is a second name for a file earlier in this same tar: bind it to that
        // content now and never re-resolve it against other layers (stereoscope PR #670).
        let target = normalizePath(e.linkname ?? '');
        let t = byPath.get(target);
        for (let hops = 0; t?.type === 'hardlink' && t.linkTarget !== undefined && hops < MAX_HARDLINK_HOPS; hops++) {
          target = t.linkTarget;
          t = byPath.get(target);
        }
        info.linkTarget = target;
        if (t === undefined || t.type !== 'file') {
          warnings.push(
            `${what}: hardlink ${e.path} points at ${target}, which is not a regular file earlier in the layer`,
          );
        } else {
          info.size = t.size;
          if (t.sha1 !== undefined) info.sha1 = t.sha1;
          if (t.sha256 !== undefined) info.sha256 = t.sha256;
          const targetExtracts = extracts.get(target);
          if (targetExtracts !== undefined) extracts.set(e.path, targetExtracts);
          if (options.wants(e.path)) {
            const bytes = captured.get(target);
            if (bytes !== undefined) captured.set(e.path, bytes);
            else if (t.size > maxFileSize) warnings.push(overCapWarning(e.path, t.size, maxFileSize, layer));
            else pendingLinks.set(e.path, target);
          }
        }
      } else if (e.type === 'file') {
        const wanted = options.wants(e.path);
        const header = { path: e.path, mode: info.mode, size: e.size };
        const sinks = extractors.filter((x) => x.extractor.wants(header));
        if (wanted && e.size <= maxFileSize) {
          const bytes = await e.read();
          captured.set(e.path, bytes);
          if (options.fileDigests) Object.assign(info, fileDigests(bytes));
          if (sinks.length > 0) keepExtracts(e.path, await runSinks(sinks, header, (visit) => visit(bytes)), extracts);
        } else {
          if (wanted) warnings.push(overCapWarning(e.path, e.size, maxFileSize, layer));
          if (sinks.length > 0) {
            const hasher = options.fileDigests ? fileHasher() : undefined;
            const got = await runSinks(sinks, header, (visit) =>
              e.stream((chunk) => {
                hasher?.update(chunk);
                visit(chunk);
              }),
            );
            if (hasher) Object.assign(info, hasher.digest());
            keepExtracts(e.path, got, extracts);
          } else if (options.fileDigests) Object.assign(info, await e.digests());
        }
      }
      entries.push(info);
      byPath.set(e.path, info);
    }
  } catch (e) {
    throw asLayerError(e, what);
  }

  if (pendingLinks.size > 0) {
    // Rare (a wanted name hardlinked to an unwanted one): one more pass for just those targets.
    const targets = await readLayerFiles(layer, new Set(pendingLinks.values()), options);
    for (const [path, target] of pendingLinks) {
      const bytes = targets.get(target);
      if (bytes !== undefined) captured.set(path, bytes);
      else warnings.push(`${what}: hardlink ${path}: its target ${target} could not be read`);
    }
  }

  return {
    diffId: layer.diffId,
    entries,
    whiteouts,
    opaqueDirs,
    captured: [...captured].map(([path, bytes]) => ({ path, bytes })).sort((a, b) => comparePaths(a.path, b.path)),
    extracts: [...extracts]
      .sort(([a], [b]) => comparePaths(a, b))
      .flatMap(([path, byName]) =>
        [...byName].sort(([a], [b]) => (a < b ? -1 : 1)).map(([extractor, bytes]) => ({ path, extractor, bytes })),
      ),
    warnings,
  };
}

type Header = { path: string; mode: number; size: number };

/**
 * Feeds one file's content to every sink that wants it, then ends them all. A sink that returns
 * false gets no more chunks. Sinks may hold temp files, so `end` runs even when feeding failed.
 */
async function runSinks(
  named: readonly NamedExtractor[],
  header: Header,
  feed: (visit: (chunk: Uint8Array) => void) => void | Promise<void>,
): Promise<Map<string, Uint8Array>> {
  const open = named.map((x) => ({ name: x.name, sink: x.extractor.start(header) as ExtractSink, active: true }));
  const finish = () => {
    const out = new Map<string, Uint8Array>();
    for (const s of open) {
      const bytes = s.sink.end();
      if (bytes !== undefined) out.set(s.name, bytes);
    }
    return out;
  };
  try {
    await feed((chunk) => {
      for (const s of open) if (s.active) s.active = s.sink.write(chunk);
    });
  } catch (e) {
    finish();
    throw e;
  }
  return finish();
}

function keepExtracts(path: string, got: Map<string, Uint8Array>, into: Map<string, Map<string, Uint8Array>>): void {
  if (got.size > 0) into.set(path, got);
}

/**
 * The bytes of the named regular files of one layer (the last entry for a path wins), read in
 * one more pass: for hardlink targets and symlink targets nobody asked for the first time.
 * Files over the size cap are left out.
 */
export async function readLayerFiles(
  layer: Layer,
  paths: ReadonlySet<string>,
  options: Pick<AnalyzeOptions, 'maxFileSize' | 'maxLayerBytes' | 'signal' | 'verifyDiffId'>,
): Promise<Map<string, Uint8Array>> {
  const maxFileSize = options.maxFileSize ?? DEFAULT_MAX_FILE_SIZE;
  const what = describeLayer(layer);
  const out = new Map<string, Uint8Array>();
  try {
    for await (const e of await layerEntries(layer, what, options)) {
      if (!paths.has(e.path)) continue;
      out.delete(e.path);
      if (e.type === 'file' && e.size <= maxFileSize) out.set(e.path, await e.read());
    }
  } catch (e) {
    throw asLayerError(e, what);
  }
  return out;
}
