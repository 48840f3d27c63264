import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { VerifyError } from './errors.ts';
import {
  defaultTufCacheDir,
  parseTrustedRoot,
  PUBLIC_GOOD_TUF,
  resetTrustCache,
  trustMaterialOf,
  TUF_TRUSTED_ROOT_FILE,
} from './trust-material.ts';

/**
 * `cosign initialize`: a TUF client update (root rotation, timestamp, snapshot and targets
 * checks, all done by tuf-js through @sigstore/tuf) whose verified `trusted_root.json` target is
 * stored in the TUF cache dir, where trust-material.ts prefers it to the embedded seeds. The TUF
 * metadata itself lives beside it, one folder per mirror (@sigstore/tuf's layout), so the next
 * update starts from the last trusted TUF root and rollbacks are caught.
 */

/** `{ mirror, updatedAt }` of the stored trusted root. */
export const TUF_TRUSTED_ROOT_META_FILE = 'trusted_root.meta.json';

const TARGET = 'trusted_root.json';

export interface UpdateTrustedRootOptions {
  /** TUF repository base URL; default the public-good instance's. */
  mirror?: string;
  /**
   * The initial TUF root.json to trust (cosign --root); given, it replaces the cached TUF root,
   * as cosign's initialize does. Default: the cached TUF root, else the seeds' for the public-good
   * mirror (other mirrors need one).
   */
  root?: string;
  /** Default defaultTufCacheDir(env). */
  cacheDir?: string;
  /** Start again from `root` (or the seeds) even when a TUF root is cached. */
  force?: boolean;
  signal?: AbortSignal;
  /** Per-request timeout in ms; default 5000 as sigstore-js. */
  timeout?: number;
  /** Retries of a request that failed to connect or got a 5xx; default 2. */
  retries?: number;
  /** For the default cacheDir ($TUF_ROOT, $XDG_CACHE_HOME, $HOME); default process.env. */
  env?: NodeJS.ProcessEnv;
}

export interface UpdatedTrustedRoot {
  /** Where the trusted root is stored: `<cacheDir>/trusted_root.json`. */
  path: string;
  mirror: string;
  updatedAt: string;
  trustedRoot: Record<string, unknown>;
}

/** Runs the TUF update and stores the verified trusted root; on failure the stored one is untouched. */
export async function updateTrustedRoot(options: UpdateTrustedRootOptions = {}): Promise<UpdatedTrustedRoot> {
  const { signal } = options;
  signal?.throwIfAborted();
  const mirror = mirrorUrl(options.mirror ?? PUBLIC_GOOD_TUF);
  if (options.root !== undefined) await checkTufRoot(options.root);
  const cacheDir = options.cacheDir ?? defaultTufCacheDir(options.env);
  const path = join(cacheDir, TUF_TRUSTED_ROOT_FILE);

  const { initTUF, TUFError } = await import('@sigstore/tuf');
  let text: string;
  try {
    await mkdir(cacheDir, { recursive: true });
    const tuf = await abortable(
      initTUF({
        mirrorURL: mirror,
        cachePath: cacheDir,
        ...(options.root !== undefined ? { rootPath: options.root } : {}),
        force: options.force === true || options.root !== undefined,
        forceCache: false,
        retry: options.retries ?? 2,
        timeout: options.timeout ?? 5000,
      }),
      signal,
    );
    text = await abortable(tuf.getTarget(TARGET), signal);
  } catch (err) {
    if (signal?.aborted && err === signal.reason) throw err;
    if (err instanceof TUFError && err.code === 'TUF_INIT_CACHE_ERROR') {
      throw new VerifyError(
        'TRUST_ROOT_INVALID',
        `TUF mirror ${mirror} has no embedded initial root: give its root.json (sigil initialize --root FILE)`,
        { cause: err },
      );
    }
    throw new VerifyError('TUF_UPDATE_FAILED', `TUF update from ${mirror}: ${explain(err, mirror)}; ${kept(path)}`, {
      cause: err,
    });
  }

  const trustedRoot = usableTrustedRoot(text, mirror, path);
  const updatedAt = new Date().toISOString();
  await storeAtomically(
    [
      [path, text],
      [join(cacheDir, TUF_TRUSTED_ROOT_META_FILE), `${JSON.stringify({ mirror, updatedAt }, null, 2)}\n`],
    ],
    signal,
  );
  // A long-lived process (or a test) that already loaded the default root sees the new one.
  resetTrustCache();
  return { path, mirror, updatedAt, trustedRoot };
}

function mirrorUrl(mirror: string): string {
  let url: URL;
  try {
    url = new URL(mirror);
  } catch {
    throw new VerifyError('TRUST_ROOT_INVALID', `TUF mirror ${mirror}: not a URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new VerifyError('TRUST_ROOT_INVALID', `TUF mirror ${mirror}: not an http(s) URL`);
  }
  // @sigstore/tuf finds the seeds by the exact URL, without a trailing slash.
  return mirror.replace(/\/+$/, '');
}

/** The initial root must be TUF root metadata; a Sigstore trusted_root.json is the usual mix-up. */
async function checkTufRoot(file: string): Promise<void> {
  let doc: { signed?: { _type?: unknown }; mediaType?: unknown };
  try {
    doc = JSON.parse(await readFile(file, 'utf8')) as typeof doc;
  } catch (err) {
    throw new VerifyError('TRUST_ROOT_INVALID', `TUF root ${file}: ${(err as Error).message}`, { cause: err });
  }
  if (doc?.signed?._type === 'root') return;
  const hint = String(doc?.mediaType).includes('trustedroot')
    ? ': it is a Sigstore trusted_root.json (use it with --trusted-root); give the TUF repository root.json'
    : '';
  throw new VerifyError('TRUST_ROOT_INVALID', `TUF root ${file}: not TUF root metadata (signed._type "root")${hint}`);
}

/** The target passed TUF's hash check; it must also be a trusted root verification can use. */
function usableTrustedRoot(text: string, mirror: string, path: string): Record<string, unknown> {
  try {
    const doc = parseTrustedRoot(text, 'target');
    trustMaterialOf(doc);
    return doc;
  } catch (err) {
    throw new VerifyError(
      'TUF_UPDATE_FAILED',
      `TUF target ${TARGET} from ${mirror} is not a usable Sigstore trusted root: ${(err as Error).message}; ${kept(path)}`,
      { cause: err },
    );
  }
}

const kept = (path: string) => (existsSync(path) ? `${path} is unchanged` : 'nothing was stored');

/** Each file written beside its final name, then renamed over it: readers see old or new, never half. */
async function storeAtomically(files: [string, string][], signal?: AbortSignal): Promise<void> {
  const suffix = `.${randomBytes(6).toString('hex')}.tmp`;
  try {
    for (const [path, text] of files) await writeFile(path + suffix, text);
    signal?.throwIfAborted();
    for (const [path] of files) await rename(path + suffix, path);
  } finally {
    await Promise.all(files.map(([path]) => rm(path + suffix, { force: true })));
  }
}

/** @sigstore/tuf takes no signal: stop waiting on abort (its requests end with their timeout). */
function abortable<T>(work: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return work;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    if (signal.aborted) onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** The failure and its causes, with what to check; tuf-js's messages name the metadata (or none, for HTTP). */
function explain(err: unknown, mirror: string): string {
  const chain: Error[] = [];
  for (let e: unknown = err; e instanceof Error && chain.length < 5; e = e.cause) chain.push(e);
  const names = new Set(chain.map((e) => e.constructor.name));
  const text = chain
    .filter((e) => !(e.constructor.name === 'TUFError' && e.cause instanceof Error))
    .map((e) => {
      const code = (e as { code?: unknown }).code;
      const status = (e as { statusCode?: unknown }).statusCode;
      const name = e.constructor.name === 'Error' ? '' : `${e.constructor.name}: `;
      const http = status ? ` (HTTP ${String(status)})` : '';
      const errno =
        typeof code === 'string' && !code.startsWith('TUF_') && !e.message.includes(code) ? ` (${code})` : '';
      return `${name}${e.message}${http}${errno}`;
    })
    .join(': ');
  const code = (err as { code?: unknown }).code;
  if (code === 'TUF_FIND_TARGET_ERROR') return `targets metadata lists no ${TARGET}`;
  if (code === 'TUF_DOWNLOAD_TARGET_ERROR') {
    return names.has('LengthOrHashMismatchError')
      ? `target ${TARGET} (${mirror}/targets/) does not match the length and hash in targets.json, refused: ${text}`
      : `target ${TARGET} could not be fetched from ${mirror}/targets/: ${text}`;
  }
  if (names.has('DownloadHTTPError')) {
    return `metadata (timestamp.json, N.snapshot.json or N.targets.json) could not be fetched: ${text} (is ${mirror} the TUF repository's base URL?)`;
  }
  // Snapshot and targets failures reach us flattened into a RuntimeError's message: match the text too.
  if (names.has('ExpiredMetadataError') || /is expired/.test(text)) {
    return `${text} (the mirror's metadata is stale, or this clock is wrong)`;
  }
  if (names.has('UnsignedMetadataError') || /signed by \d+\/\d+ keys|failed to verify/.test(text)) {
    return `${text} (not signed by the keys the trusted TUF root names: a wrong initial root, or a tampered mirror)`;
  }
  if (names.has('BadVersionError') || /less than current version|does not match snapshot version/.test(text)) {
    return `${text} (a rollback, refused)`;
  }
  if (names.has('LengthOrHashMismatchError') || /Expected (hash|length)/.test(text)) {
    return `${text} (metadata does not match its hash in the metadata above it, refused)`;
  }
  if (/fetch failed/.test(text)) return `cannot reach the mirror: ${text}`;
  if (chain.some((e) => e.name === 'TimeoutError')) return `the mirror did not answer in time: ${text}`;
  return text;
}
