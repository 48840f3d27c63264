/**
 * Looking inside files that cannot be chosen by path (binaries): each file an extractor wants
 * streams through its sink while the layer is read, and only the small extract is kept and
 * cached, never the file.
 */

/** A regular file as its tar header describes it: all an extractor can decide on. */
export interface FileHeader {
  path: string;
  /** Permission bits (0o755 for an executable). */
  mode: number;
  size: number;
}

/**
 * Takes one file's content chunk by chunk, in order. `write` returns false once it needs no
 * more (not a binary of its kind, or it already has what it wants); `end` then gives the extract.
 * `end` is called exactly once per started sink, also when the layer walk fails mid-file.
 */
export interface ExtractSink {
  write(chunk: Uint8Array): boolean;
  end(): Uint8Array | undefined;
}

/** The sink must keep its memory bounded whatever the file size. */
export interface ContentExtractor {
  wants(file: FileHeader): boolean;
  start(file: FileHeader): ExtractSink;
}

/** An extractor under the name its extracts are filed by (the cataloger's name). */
export interface NamedExtractor {
  name: string;
  extractor: ContentExtractor;
}
