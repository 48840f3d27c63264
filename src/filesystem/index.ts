/** Layer reading, whiteout-aware squashing and the per-layer analysis cache. */
export type { CapturedFile } from './captured-file.ts';
export { FilesystemError, type FilesystemErrorCode, isFilesystemError } from './errors.ts';
export { type FileNode, type FileTree, type FileType, MAX_LINK_HOPS } from './file-tree.ts';
export {
  analyzeLayer,
  type AnalyzeOptions,
  DEFAULT_MAX_FILE_SIZE,
  DEFAULT_MAX_LAYER_BYTES,
  type LayerAnalysis,
  type LayerEntryInfo,
  readLayerFiles,
} from './layer-analysis.ts';
export type { ContentExtractor, ExtractSink, FileHeader, NamedExtractor } from './content-extractor.ts';
export { directoryLayerCache, type LayerCache, layerCacheKey, memoryLayerCache } from './layer-cache.ts';
export { normalizePath } from './paths.ts';
export { type LayerProgress, squashImage, type SquashOptions, type SquashResult } from './squash.ts';
export {
  decompressLayer,
  type LayerCompression,
  sniffCompression,
  type TarEntriesOptions,
  type TarEntry,
  tarEntries,
} from './tar-entries.ts';
