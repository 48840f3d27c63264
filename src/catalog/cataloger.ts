import type { CapturedFile } from '../filesystem/captured-file.ts';
import type { ContentExtractor } from '../filesystem/content-extractor.ts';
import type { Distro, Package } from './package.ts';

export type CatalogFile = CapturedFile;
export type { ContentExtractor, ExtractSink, FileHeader } from '../filesystem/content-extractor.ts';

/** What a cataloger sees: only the files it wanted, plus what the image says about itself. */
export interface CatalogInput {
  /** Files whose path `wants` accepted, in path order, each already read (under the size cap). */
  files: readonly CatalogFile[];
  /** Every regular file path of the final filesystem, for catalogers that decide by existence. */
  allPaths: ReadonlySet<string>;
  /**
   * Where a path really leads in the final filesystem, symlinks followed inside the root
   * (`/usr/share/doc/libgcc-s1/copyright` -> `/usr/share/doc/gcc-12-base/copyright` when the
   * doc directory is a link); undefined when nothing is there. Absent when no tree is at hand.
   */
  resolvePath?: (path: string) => string | undefined;
  distro?: Distro;
  /**
   * What this cataloger's `extractor` kept from files of the final filesystem, in path order:
   * `bytes` are the extract (say a Go binary's build info), not the file. Absent or empty without an extractor.
   */
  extracts?: readonly CatalogFile[];
}

export interface CatalogResult {
  packages: Package[];
  /** Problems that did not stop cataloging: a malformed record names its file and line. */
  warnings: string[];
}

/**
 * One ecosystem's cataloger: it declares the paths it needs and turns their contents into
 * packages. `version` is part of the layer-cache key: bump it when output for the same input changes.
 */
export interface Cataloger {
  readonly name: string;
  readonly version: number;
  wants(path: string): boolean;
  /** Streams files it cannot choose by path (binaries) through a sink; see ContentExtractor. */
  readonly extractor?: ContentExtractor;
  catalog(input: CatalogInput): CatalogResult | Promise<CatalogResult>;
}
