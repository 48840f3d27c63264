/**
 * The SBOM result cache: what cataloging an image's layers produced (distro, packages, owned
 * files, warnings), keyed by everything it is a function of: the layers in order (diffID and
 * blob digest), what the catalogers select and their options, and the running code's build id.
 * The same layers again (the same image, or another image made of the same layers) skip the
 * squash and the catalogers; a new layer on top misses here and still reuses the per-layer
 * analyses of the layers below.
 *
 * Entries are JSON files written under a temporary name and renamed into place, so processes
 * that share the directory see a whole entry or none. An entry that does not parse is a miss.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { readFileIfExists, writeFileAtomic } from '../atomic-file.ts';
import type { Distro, Package } from '../catalog/package.ts';
import type { SbomFileEntry } from './document.ts';

export interface CatalogResult {
  distro?: Distro;
  packages: Package[];
  files?: SbomFileEntry[];
  warnings: string[];
  attributed: string[];
  /** Files in the final filesystem. */
  fileCount: number;
}

export interface ResultCache {
  get(key: string): Promise<CatalogResult | undefined>;
  put(key: string, result: CatalogResult): Promise<void>;
}

const RESULT_VERSION = 1;

/** The key of a result: a sha256 over its inputs, each on its own line. */
export function resultCacheKey(parts: readonly string[]): string {
  return createHash('sha256')
    .update(`sigil sbom result v${RESULT_VERSION}\n${parts.join('\n')}`)
    .digest('hex');
}

function isResult(v: unknown): v is CatalogResult {
  const r = v as Partial<CatalogResult> | null;
  return (
    typeof r === 'object' &&
    r !== null &&
    Array.isArray(r.packages) &&
    Array.isArray(r.warnings) &&
    Array.isArray(r.attributed) &&
    typeof r.fileCount === 'number' &&
    (r.files === undefined || Array.isArray(r.files))
  );
}

export function directoryResultCache(dir: string): ResultCache {
  const file = (key: string) => {
    if (!/^[0-9a-f]{64}$/.test(key)) throw new Error(`result cache key "${key}": expected 64 hex digits`);
    return join(dir, `${key}.json`);
  };
  return {
    async get(key) {
      const buf = await readFileIfExists(file(key));
      if (buf === undefined) return undefined;
      try {
        const doc = JSON.parse(buf.toString('utf8')) as unknown;
        return isResult(doc) ? doc : undefined;
      } catch {
        return undefined;
      }
    },
    put: (key, result) => writeFileAtomic(file(key), JSON.stringify(result)),
  };
}
