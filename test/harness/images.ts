/**
 * The test suite's images, built once per machine into testdata/cache and reused.
 *
 * A cache entry's name carries a hash of the code that builds it (the testdata/*.ts files) and of
 * the zlib that compresses it, so changing a builder rebuilds rather than serving stale images.
 * Builds go to a private temporary directory renamed into place when complete: two vitest
 * workers asking at once both build, one rename wins, and nobody ever sees half an image.
 *
 * The layouts are shared: a test that writes into one (attaching a signature, say) must work on
 * `writableCopy(dir)`.
 */
import { createHash, randomBytes } from 'node:crypto';
import { cp, mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type BuiltImage,
  type BuiltIndex,
  type BuiltLargeImage,
  buildDemoImage,
  buildLargeImage,
  buildMultiPlatformImage,
} from '../../testdata/build-images.ts';
import { DEFAULT_CACHE_DIR } from '../../testdata/debs.ts';

const TESTDATA_DIR = fileURLToPath(new URL('../../testdata/', import.meta.url));
const BUILDER_FILES = ['build-images.ts', 'debs.ts', 'large-image.ts', 'oci-layout.ts', 'tar-layer.ts'];

/** Root of the cache; SIGIL_TESTDATA_CACHE moves it (e.g. to a roomier disk for the benchmark). */
function cacheRoot(): string {
  return process.env.SIGIL_TESTDATA_CACHE ?? DEFAULT_CACHE_DIR;
}

let builderKey: Promise<string> | undefined;
function getBuilderKey(): Promise<string> {
  builderKey ??= (async () => {
    const h = createHash('sha256');
    for (const f of BUILDER_FILES) h.update(f).update(await readFile(join(TESTDATA_DIR, f)));
    h.update(`zlib ${process.versions.zlib}`);
    return h.digest('hex').slice(0, 12);
  })();
  return builderKey;
}

const memo = new Map<string, Promise<unknown>>();

/**
 * Return the cached build `<kind>-<key>` (its build.json), building it first if absent. `build`
 * writes an OCI layout into the directory it is given and returns a JSON-able description whose
 * `layoutDir` is rewritten to the final path.
 */
function cached<T extends { layoutDir: string }>(kind: string, build: (layoutDir: string) => Promise<T>): Promise<T> {
  let p = memo.get(kind) as Promise<T> | undefined;
  if (p === undefined) {
    p = (async () => {
      const root = cacheRoot();
      const entry = join(root, `${kind}-${await getBuilderKey()}`);
      const existing = await readBuild<T>(entry);
      if (existing !== undefined) return existing;
      await mkdir(root, { recursive: true });
      const tmp = join(root, `.build-${kind}-${process.pid}-${randomBytes(4).toString('hex')}`);
      try {
        const built = await build(join(tmp, 'layout'));
        built.layoutDir = join(entry, 'layout');
        await writeFile(join(tmp, 'build.json'), JSON.stringify(built, null, 2));
        await rename(tmp, entry).catch(async (e: NodeJS.ErrnoException) => {
          // Another worker finished first; its build is identical (builds are deterministic).
          if (e.code !== 'ENOTEMPTY' && e.code !== 'EEXIST') throw e;
        });
      } finally {
        await rm(tmp, { recursive: true, force: true });
      }
      await pruneStale(root, kind, entry);
      const done = await readBuild<T>(entry);
      if (done === undefined) throw new Error(`testdata cache: ${entry} missing after build`);
      return done;
    })();
    memo.set(kind, p);
    p.catch(() => memo.delete(kind));
  }
  return p;
}

async function readBuild<T>(entry: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(join(entry, 'build.json'), 'utf8')) as T;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** Drop builds of the same kind made by older builder code: large images would otherwise pile up. */
async function pruneStale(root: string, kind: string, keep: string): Promise<void> {
  const key = await getBuilderKey();
  for (const name of await readdir(root)) {
    const m = /^(.*)-([0-9a-f]{12})$/.exec(name);
    if (m === null || m[1] !== kind || m[2] === key || join(root, name) === keep) continue;
    await rm(join(root, name), { recursive: true, force: true });
  }
}

/** The demo image (linux/amd64, 3 layers of real Debian packages); see testdata/README.md. */
export function demoImage(): Promise<BuiltImage> {
  return cached('demo', (dir) => buildDemoImage(dir));
}

/** Path of the demo image's OCI layout (ref name "demo"). */
export async function demoImageLayout(): Promise<string> {
  return (await demoImage()).layoutDir;
}

/** The linux/amd64 + linux/arm64/v8 index; its amd64 manifest is the demo image's. */
export function multiPlatformImage(): Promise<BuiltIndex> {
  return cached('multi', (dir) => buildMultiPlatformImage(dir));
}

/** Path of the multi-platform OCI layout (ref name "multi", pointing at the index). */
export async function multiPlatformLayout(): Promise<string> {
  return (await multiPlatformImage()).layoutDir;
}

/** An image whose uncompressed random-data layers add up to about `bytes`, for the copy benchmark. */
export function largeImage(bytes: number): Promise<BuiltLargeImage> {
  return cached(`large${bytes}`, (dir) => buildLargeImage(dir, bytes));
}

/** Path of the large image's OCI layout (ref name "large"). */
export async function largeImageLayout(bytes: number): Promise<string> {
  return (await largeImage(bytes)).layoutDir;
}

/** A private copy of a cached layout under the OS temp dir, for tests that write into it. */
export async function writableCopy(layoutDir: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sigil-layout-'));
  await cp(layoutDir, dir, { recursive: true });
  return dir;
}
