/**
 * Test and benchmark images built from real content, written as OCI image layouts.
 *
 *   node testdata/build-images.ts demo <outdir>
 *   node testdata/build-images.ts multi <outdir>
 *   node testdata/build-images.ts large <bytes> <outdir>
 *
 * See testdata/README.md for what each image holds.
 */
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Descriptor, Platform } from '../src/oci/manifest.ts';
import { MediaType } from '../src/oci/media-types.ts';
import { type DebPackage, DEFAULT_DEB_CACHE_DIR, debToLayerEntries, dpkgLayerEntries, fetchDebs } from './debs.ts';
import { buildLargeImage } from './large-image.ts';
import { initLayout, REF_NAME_ANNOTATION, writeImageManifest, writeIndexJson, writeJsonBlob } from './oci-layout.ts';
import { FIXED_TIME, writeTarLayer } from './tar-layer.ts';

export { type BuiltLargeImage, buildLargeImage, type LargeImageOptions } from './large-image.ts';

/**
 * The demo image: one layer per install step, as `RUN apt-get install` steps would make. Small
 * packages (about 3.5 MB of .debs together) that still give a cataloger real work: a Multi-Arch:
 * same library set (info files named "pkg:amd64"), conffiles, an Essential package, symlinks.
 */
export const DEMO_LAYERS: readonly (readonly string[])[] = [
  ['base-files', 'netbase', 'gcc-12-base'],
  ['libc6', 'libgcc-s1'],
  ['zlib1g', 'libzstd1', 'mawk'],
];
export const DEMO_PACKAGES: readonly string[] = DEMO_LAYERS.flat();

/**
 * The arm64 image of the multi-platform index. apt here only knows amd64 (fetching arm64 .debs
 * would need `dpkg --add-architecture arm64` and another `apt-get update`, changing the machine),
 * so this image holds Architecture: all packages, which are byte-for-byte what an arm64 system
 * installs: real content, distinct from the amd64 image's.
 */
export const ARM64_LAYERS: readonly (readonly string[])[] = [['netbase', 'sensible-utils', 'debian-archive-keyring']];
export const ARM64_PACKAGES: readonly string[] = ARM64_LAYERS.flat();

export interface InstalledPackage {
  name: string;
  version: string;
  architecture: string;
}

export interface BuiltLayer {
  descriptor: Descriptor;
  diffId: string;
  /** Packages this layer installs. */
  packages: string[];
}

export interface BuiltImage {
  layoutDir: string;
  /** The image manifest's descriptor, with platform (and, for a top-level image, its ref name). */
  manifest: Descriptor;
  config: Descriptor;
  layers: BuiltLayer[];
  /** Every package of the final filesystem's dpkg database, in install order. */
  packages: InstalledPackage[];
}

export interface BuiltIndex {
  layoutDir: string;
  /** The image index's descriptor as listed in index.json. */
  index: Descriptor;
  images: BuiltImage[];
}

export interface DemoImageOptions {
  /** `org.opencontainers.image.ref.name` in index.json; default "demo" ("multi" for the index). */
  name?: string;
  /** Where downloaded .debs are kept; default testdata/cache/debs. */
  debCacheDir?: string;
}

interface ImageRecipe {
  layers: readonly (readonly string[])[];
  platform: Platform;
  cmd: string[];
}

const DEMO_RECIPE: ImageRecipe = {
  layers: DEMO_LAYERS,
  platform: { architecture: 'amd64', os: 'linux' },
  cmd: ['/usr/bin/mawk', '-W', 'version'],
};

const ARM64_RECIPE: ImageRecipe = {
  layers: ARM64_LAYERS,
  platform: { architecture: 'arm64', os: 'linux', variant: 'v8' },
  cmd: ['/bin/cat', '/etc/protocols'],
};

/** Write the layers, config and manifest of one image into `layoutDir` (index.json is the caller's). */
async function writeImage(layoutDir: string, recipe: ImageRecipe, debCacheDir: string): Promise<BuiltImage> {
  const installed: DebPackage[] = [];
  const layers: BuiltLayer[] = [];
  const history = [];
  for (const names of recipe.layers) {
    const debs = await fetchDebs([...names], debCacheDir);
    const added = [];
    for (const deb of debs) added.push(await debToLayerEntries(deb));
    const written = await writeTarLayer(layoutDir, dpkgLayerEntries(added, installed), 'gzip');
    installed.push(...added);
    layers.push({ ...written, packages: added.map((p) => p.name) });
    history.push({
      created: FIXED_TIME.toISOString(),
      created_by: `dpkg --unpack ${debs.map((d) => basename(d)).join(' ')}`,
      comment: 'sigil testdata: files and dpkg database written by testdata/debs.ts; maintainer scripts not run',
    });
  }
  const written = await writeImageManifest(
    layoutDir,
    {
      created: FIXED_TIME.toISOString(),
      architecture: recipe.platform.architecture,
      ...(recipe.platform.variant ? { variant: recipe.platform.variant } : {}),
      os: recipe.platform.os,
      config: {
        Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
        Cmd: recipe.cmd,
      },
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
      history,
    },
    layers,
  );
  return {
    layoutDir,
    manifest: { ...written.manifest, platform: recipe.platform },
    config: written.config,
    layers,
    packages: installed.map((p) => ({ name: p.name, version: p.version, architecture: p.architecture })),
  };
}

/** The linux/amd64 demo image (3 gzip layers of real Debian packages) as an OCI layout in `outDir`. */
export async function buildDemoImage(outDir: string, options: DemoImageOptions = {}): Promise<BuiltImage> {
  await initLayout(outDir);
  const image = await writeImage(outDir, DEMO_RECIPE, options.debCacheDir ?? DEFAULT_DEB_CACHE_DIR);
  image.manifest.annotations = { [REF_NAME_ANNOTATION]: options.name ?? 'demo' };
  await writeIndexJson(outDir, [image.manifest]);
  return image;
}

/**
 * An image index for linux/amd64 (the demo image, same manifest digest) and linux/arm64/v8
 * (Architecture: all packages, see ARM64_LAYERS), as an OCI layout in `outDir`.
 */
export async function buildMultiPlatformImage(outDir: string, options: DemoImageOptions = {}): Promise<BuiltIndex> {
  await initLayout(outDir);
  const debCacheDir = options.debCacheDir ?? DEFAULT_DEB_CACHE_DIR;
  const images = [
    await writeImage(outDir, DEMO_RECIPE, debCacheDir),
    await writeImage(outDir, ARM64_RECIPE, debCacheDir),
  ];
  const index = await writeJsonBlob(outDir, {
    schemaVersion: 2,
    mediaType: MediaType.OciIndex,
    manifests: images.map((i) => i.manifest),
  });
  const indexDesc: Descriptor = {
    mediaType: MediaType.OciIndex,
    digest: index.digest,
    size: index.size,
    annotations: { [REF_NAME_ANNOTATION]: options.name ?? 'multi' },
  };
  await writeIndexJson(outDir, [indexDesc]);
  return { layoutDir: outDir, index: indexDesc, images };
}

async function main(argv: string[]): Promise<void> {
  const usage = 'usage: node testdata/build-images.ts demo <outdir> | multi <outdir> | large <bytes> <outdir>';
  const [kind, ...rest] = argv;
  const started = performance.now();
  let result: unknown;
  if (kind === 'demo' && rest.length === 1) result = await buildDemoImage(rest[0] as string);
  else if (kind === 'multi' && rest.length === 1) result = await buildMultiPlatformImage(rest[0] as string);
  else if (kind === 'large' && rest.length === 2) {
    const bytes = Number(rest[0]);
    if (!Number.isSafeInteger(bytes) || bytes <= 0) {
      throw new Error(`large: "${rest[0]}" is not a byte count\n${usage}`);
    }
    result = await buildLargeImage(rest[1] as string, bytes);
  } else {
    process.stderr.write(`${usage}\n`);
    process.exitCode = 2;
    return;
  }
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  process.stderr.write(`built ${kind} in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).catch((e: unknown) => {
    process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 1;
  });
}
