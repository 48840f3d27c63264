/**
 * Per-layer analysis cache: a base layer shared by many images is read once. The interface is
 * two methods so a shared backend (Redis, the registry itself) can replace the directory.
 *
 * On disk, one file per key: an 8-byte magic, a 4-byte big-endian header length, a JSON header
 * (the analysis with each captured file's and extract's byte length in place of its bytes), then
 * the captured bytes and the extract bytes back to back. No base64: package databases are most of the payload.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { readFileIfExists, writeFileAtomic } from '../atomic-file.ts';
import type { Digest } from '../oci/digest.ts';
import { FilesystemError } from './errors.ts';
import type { LayerAnalysis, LayerEntryInfo } from './layer-analysis.ts';

export interface LayerCache {
  get(key: string): Promise<LayerAnalysis | undefined>;
  put(key: string, analysis: LayerAnalysis): Promise<void>;
}

/** Bump when LayerAnalysis or how it is computed changes: old entries then simply miss. */
const ANALYSIS_VERSION = 2;
const MAGIC = Buffer.from('SGLA0002');

/**
 * The cache key of a layer's analysis: its diffID plus `salt`, which must change whenever the
 * analysis of the same bytes would (the catalogers' `wants` and their versions, the file cap).
 */
export function layerCacheKey(diffId: Digest, salt: string): string {
  return createHash('sha256').update(`sigil layer analysis v${ANALYSIS_VERSION}\0${diffId}\0${salt}`).digest('hex');
}

const KEY_RE = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}$/;

function checkKey(key: string): void {
  // The key becomes a file name: nothing that could climb out of the directory or hide as a dotfile.
  if (!KEY_RE.test(key)) {
    throw new FilesystemError(
      'INVALID_OPTIONS',
      `layer cache key "${key}": expected up to 200 of [A-Za-z0-9._-], not starting with "."`,
    );
  }
}

export function encodeAnalysis(a: LayerAnalysis): Buffer {
  const header = JSON.stringify({
    diffId: a.diffId,
    entries: a.entries,
    whiteouts: a.whiteouts,
    opaqueDirs: a.opaqueDirs,
    warnings: a.warnings,
    captured: a.captured.map((c) => ({ path: c.path, length: c.bytes.byteLength })),
    extracts: a.extracts.map((x) => ({ path: x.path, extractor: x.extractor, length: x.bytes.byteLength })),
  });
  const headerBytes = Buffer.from(header);
  const length = Buffer.alloc(4);
  length.writeUInt32BE(headerBytes.length);
  return Buffer.concat([
    MAGIC,
    length,
    headerBytes,
    ...a.captured.map((c) => c.bytes),
    ...a.extracts.map((x) => x.bytes),
  ]);
}

function isStringArray(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((s) => typeof s === 'string');
}

/** The analysis in `buf`, or undefined when it is not one (another version, a damaged file). */
export function decodeAnalysis(buf: Buffer): LayerAnalysis | undefined {
  if (buf.length < MAGIC.length + 4 || !buf.subarray(0, MAGIC.length).equals(MAGIC)) return undefined;
  const headerLength = buf.readUInt32BE(MAGIC.length);
  const start = MAGIC.length + 4;
  if (start + headerLength > buf.length) return undefined;
  let h: Record<string, unknown>;
  try {
    h = JSON.parse(buf.toString('utf8', start, start + headerLength)) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (
    typeof h.diffId !== 'string' ||
    !Array.isArray(h.entries) ||
    !isStringArray(h.whiteouts) ||
    !isStringArray(h.opaqueDirs) ||
    !isStringArray(h.warnings) ||
    !Array.isArray(h.captured) ||
    !Array.isArray(h.extracts)
  ) {
    return undefined;
  }
  let offset = start + headerLength;
  const captured: LayerAnalysis['captured'] = [];
  for (const c of h.captured as { path?: unknown; length?: unknown }[]) {
    if (typeof c.path !== 'string' || typeof c.length !== 'number' || offset + c.length > buf.length) return undefined;
    captured.push({ path: c.path, bytes: buf.subarray(offset, offset + c.length) });
    offset += c.length;
  }
  const extracts: LayerAnalysis['extracts'] = [];
  for (const x of h.extracts as { path?: unknown; extractor?: unknown; length?: unknown }[]) {
    if (
      typeof x.path !== 'string' ||
      typeof x.extractor !== 'string' ||
      typeof x.length !== 'number' ||
      offset + x.length > buf.length
    )
      return undefined;
    extracts.push({ path: x.path, extractor: x.extractor, bytes: buf.subarray(offset, offset + x.length) });
    offset += x.length;
  }
  if (offset !== buf.length) return undefined;
  return {
    diffId: h.diffId,
    entries: h.entries as LayerEntryInfo[],
    whiteouts: h.whiteouts,
    opaqueDirs: h.opaqueDirs,
    captured,
    extracts,
    warnings: h.warnings,
  };
}

/**
 * A cache directory shared safely by concurrent processes: entries are written under a
 * temporary name and renamed into place, so a reader sees a whole entry or none; two writers
 * of one key write the same analysis and the last rename wins.
 */
export function directoryLayerCache(dir: string): LayerCache {
  return {
    async get(key) {
      checkKey(key);
      const buf = await readFileIfExists(join(dir, key));
      return buf === undefined ? undefined : decodeAnalysis(buf);
    },
    async put(key, analysis) {
      checkKey(key);
      await writeFileAtomic(join(dir, key), encodeAnalysis(analysis));
    },
  };
}

/** An in-process cache, for a long-running program or tests. */
export function memoryLayerCache(): LayerCache & { readonly size: number } {
  const entries = new Map<string, LayerAnalysis>();
  return {
    get: (key) => Promise.resolve(entries.get(key)),
    put: (key, analysis) => {
      entries.set(key, analysis);
      return Promise.resolve();
    },
    get size() {
      return entries.size;
    },
  };
}
