/**
 * The SBOM benchmark's big Debian image (testdata/big-debian.ts), built once per machine into
 * testdata/cache/big-debian-<key> and reused. As in images.ts, `key` hashes the builder sources
 * and zlib's version, builds go to a temporary directory renamed into place, and older builds
 * are removed (each is about 500 MB).
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BigDebianOptions, buildBigDebianImage, type BuiltBigImage } from '../../testdata/big-debian.ts';
import { DEFAULT_CACHE_DIR } from '../../testdata/debs.ts';

const TESTDATA_DIR = fileURLToPath(new URL('../../testdata/', import.meta.url));
const BUILDER_FILES = ['big-debian.ts', 'debs.ts', 'oci-layout.ts', 'tar-layer.ts'];
const KIND = 'big-debian';

async function builderKey(): Promise<string> {
  const h = createHash('sha256');
  for (const f of BUILDER_FILES) h.update(f).update(await readFile(join(TESTDATA_DIR, f)));
  h.update(`zlib ${process.versions.zlib}`);
  return h.digest('hex').slice(0, 12);
}

async function readBuild(entry: string): Promise<BuiltBigImage | undefined> {
  try {
    return JSON.parse(await readFile(join(entry, 'build.json'), 'utf8')) as BuiltBigImage;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

let memo: Promise<BuiltBigImage> | undefined;

/**
 * The big Debian image (7 gzip layers, ~470 MB compressed, ~1.6 GB uncompressed, ~51,000 files),
 * building it first if absent (about a minute plus the ~300 MB of .deb downloads).
 * SIGIL_TESTDATA_CACHE moves the cache, as for the other images.
 */
export function bigDebianImage(onLayer?: BigDebianOptions['onLayer']): Promise<BuiltBigImage> {
  memo ??= (async () => {
    const root = process.env.SIGIL_TESTDATA_CACHE ?? DEFAULT_CACHE_DIR;
    const key = await builderKey();
    const entry = join(root, `${KIND}-${key}`);
    const existing = await readBuild(entry);
    if (existing !== undefined) return existing;
    await mkdir(root, { recursive: true });
    const tmp = join(root, `.build-${KIND}-${process.pid}-${randomBytes(4).toString('hex')}`);
    try {
      const built = await buildBigDebianImage(join(tmp, 'layout'), onLayer ? { onLayer } : {});
      built.layoutDir = join(entry, 'layout');
      await writeFile(join(tmp, 'build.json'), JSON.stringify(built, null, 2));
      await rename(tmp, entry).catch((e: NodeJS.ErrnoException) => {
        // Another process finished first; its build is the same (builds are deterministic).
        if (e.code !== 'ENOTEMPTY' && e.code !== 'EEXIST') throw e;
      });
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
    for (const name of await readdir(root)) {
      const m = /^(.*)-([0-9a-f]{12})$/.exec(name);
      if (m?.[1] === KIND && m[2] !== key) await rm(join(root, name), { recursive: true, force: true });
    }
    const done = await readBuild(entry);
    if (done === undefined) throw new Error(`testdata cache: ${entry} missing after build`);
    return done;
  })();
  memo.catch(() => {
    memo = undefined;
  });
  return memo;
}

/** Path of the big Debian image's OCI layout (ref name "big-debian"). */
export async function bigDebianLayout(): Promise<string> {
  return (await bigDebianImage()).layoutDir;
}
