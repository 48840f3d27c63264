/**
 * The SBOM benchmark's image: a linux/amd64 image of seven gzip layers of real Debian bookworm
 * packages (toolchains, Go, Java, LLVM, Boost and kernel headers, TeX, icons), about 1.5 GB
 * uncompressed, 400 MB compressed and 56,000 files, each layer an install step with the dpkg
 * database as `dpkg --unpack` leaves it (status rewritten, info/<pkg>.list, .md5sums, …).
 *
 * Unlike the demo image (testdata/debs.ts, which unpacks a whole .deb into memory), this builder
 * streams: `dpkg-deb --fsys-tarfile` feeds each package's data.tar entry by entry into the
 * layer's tar, gzip and the blob file, so no package, let alone a layer, is ever held in memory.
 *
 *   node testdata/big-debian.ts <outdir>
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { basename } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { createGzip } from 'node:zlib';
import * as tar from 'tar-stream';
import type { Descriptor } from '../src/oci/manifest.ts';
import { MediaType } from '../src/oci/media-types.ts';
import { DEFAULT_DEB_CACHE_DIR, fetchDebs, parseControl, statusParagraph } from './debs.ts';
import {
  HashingStream,
  initLayout,
  REF_NAME_ANNOTATION,
  writeBlobStream,
  writeImageManifest,
  writeIndexJson,
} from './oci-layout.ts';
import { FIXED_TIME } from './tar-layer.ts';

/**
 * One install step per layer. Names are bookworm's; the kernel headers' ABI number changes with
 * point releases, so "linux-headers-common" is resolved to the newest one apt knows.
 */
export const BIG_DEBIAN_LAYERS: readonly (readonly string[])[] = [
  [
    'base-files',
    'libc6',
    'libgcc-s1',
    'gcc-12-base',
    'zlib1g',
    'libstdc++6',
    'libzstd1',
    'tzdata',
    'locales',
    'perl-base',
    'libperl5.36',
    'perl-modules-5.36',
    'libpython3.11-minimal',
    'libpython3.11-stdlib',
    'python3.11-minimal',
  ],
  ['libbinutils', 'binutils-x86-64-linux-gnu', 'cpp-12', 'gcc-12', 'g++-12', 'libgcc-12-dev', 'libstdc++-12-dev'],
  ['libllvm15', 'libclang-cpp15', 'libllvm14', 'libgl1-mesa-dri', 'libicu72'],
  ['golang-1.19-go', 'golang-1.19-src'],
  ['openjdk-17-jre-headless', 'python3-numpy'],
  ['linux-headers-common', 'libboost1.74-dev'],
  ['texlive-base', 'adwaita-icon-theme'],
];

export interface BigLayer {
  descriptor: Descriptor;
  diffId: string;
  /** Packages this layer installs ("name" as in the status file). */
  packages: string[];
  /** Bytes of the uncompressed tar. */
  uncompressedSize: number;
  /** Regular files (tar type "file") in the layer. */
  files: number;
}

export interface BuiltBigImage {
  layoutDir: string;
  manifest: Descriptor;
  config: Descriptor;
  layers: BigLayer[];
  /** Every package of the final dpkg database, in install order. */
  packages: { name: string; version: string; architecture: string }[];
  compressedBytes: number;
  uncompressedBytes: number;
  files: number;
}

interface RunOutput {
  code: number;
  stdout: Buffer;
  stderr: string;
}

function runSync(cmd: string, args: string[]): RunOutput {
  const r = spawnSync(cmd, args, { maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw r.error;
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr.toString() };
}

/** "linux-headers-common" → the newest linux-headers-6.1.0-N-common apt offers; other names unchanged. */
function resolveName(name: string): string {
  if (name !== 'linux-headers-common') return name;
  const r = runSync('apt-cache', ['pkgnames', 'linux-headers-6.1.0-']);
  const abis = r.stdout
    .toString()
    .split('\n')
    .map((n) => /^linux-headers-6\.1\.0-(\d+)-common$/.exec(n)?.[1])
    .filter((n): n is string => n !== undefined)
    .map(Number)
    .sort((a, b) => b - a);
  // Without package lists apt-cache finds nothing; fetchDebs updates them when a download fails,
  // so fall back to one name bookworm has had since 2025.
  return `linux-headers-6.1.0-${abis[0] ?? 37}-common`;
}

interface InstalledDeb {
  name: string;
  version: string;
  architecture: string;
  statusParagraph: string;
}

/** A control.tar member other than `control`: what dpkg copies to info/<pkg>.<member>. */
interface ControlMember {
  name: string;
  mode: number;
  data: Buffer;
}

async function readControlTar(debPath: string): Promise<{ control: string; members: ControlMember[] }> {
  const r = runSync('dpkg-deb', ['--ctrl-tarfile', debPath]);
  if (r.code !== 0) throw new Error(`dpkg-deb --ctrl-tarfile ${debPath}: ${r.stderr.trim()}`);
  const extract = tar.extract();
  Readable.from([r.stdout]).pipe(extract);
  let control: string | undefined;
  const members: ControlMember[] = [];
  for await (const entry of extract) {
    const chunks: Buffer[] = [];
    for await (const c of entry) chunks.push(c as Buffer);
    const name = entry.header.name.replace(/^\.?\/+/, '').replace(/\/+$/, '');
    if (entry.header.type !== 'file' || name === '') continue;
    if (name === 'control') control = Buffer.concat(chunks).toString('utf8');
    else members.push({ name, mode: (entry.header.mode ?? 0o644) & 0o7777, data: Buffer.concat(chunks) });
  }
  if (control === undefined) throw new Error(`${debPath}: control.tar has no control file`);
  return { control, members };
}

/** Counts the regular files that go into a layer (the tar's bytes are counted by its hash stream). */
interface LayerStats {
  files: number;
}

/**
 * Append one .deb, as `dpkg --unpack` would install it, to the layer's tar: its data.tar entries
 * streamed from dpkg-deb, then var/lib/dpkg/info/<pkg>.* (the control members and the .list).
 */
async function packDeb(
  pack: tar.Pack,
  debPath: string,
  emitted: Map<string, string>,
  stats: LayerStats,
): Promise<InstalledDeb> {
  const { control, members } = await readControlTar(debPath);
  const fields = parseControl(control);
  const field = (n: string) => fields.find((f) => f.name === n)?.value;
  const name = field('Package');
  const version = field('Version');
  const architecture = field('Architecture');
  if (!name || !version || !architecture) throw new Error(`${debPath}: control lacks Package, Version or Architecture`);
  const infoName = field('Multi-Arch') === 'same' ? `${name}:${architecture}` : name;
  const conffilePaths = new Set<string>();
  for (const line of members
    .find((m) => m.name === 'conffiles')
    ?.data.toString()
    .split('\n') ?? []) {
    const words = line.trim().split(/\s+/);
    // Flagged lines ("remove-on-upgrade /etc/x") name files that are not installed.
    if (words.length === 1 && words[0] !== '') conffilePaths.add((words[0] as string).replace(/^\/+/, ''));
  }
  const conffileMd5 = new Map<string, string>();
  const header = { uid: 0, gid: 0, uname: 'root', gname: 'root', mtime: FIXED_TIME };

  const child = spawn('dpkg-deb', ['--fsys-tarfile', debPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  const stderr: Buffer[] = [];
  child.stderr.on('data', (c: Buffer) => stderr.push(c));
  const exited = once(child, 'close') as Promise<[number | null]>;
  const listLines: string[] = [];
  const extract = tar.extract();
  child.stdout.pipe(extract);
  for await (const entry of extract) {
    const h = entry.header;
    const path = h.name.replace(/^\.?\/+/, '').replace(/\/+$/, '');
    listLines.push(path === '' ? '/.' : `/${path}`);
    const mode = (h.mode ?? 0o644) & 0o7777;
    const seen = emitted.get(path);
    if (path === '' || (seen === 'directory' && h.type === 'directory')) {
      entry.resume();
      continue;
    }
    if (seen !== undefined) throw new Error(`${path} is shipped by ${name} and by another package of the same layer`);
    emitted.set(path, h.type ?? 'file');
    switch (h.type) {
      case 'directory':
        pack.entry({ ...header, name: path, mode, type: 'directory' });
        entry.resume();
        break;
      case 'symlink':
        pack.entry({ ...header, name: path, mode, type: 'symlink', linkname: h.linkname ?? '' });
        entry.resume();
        break;
      case 'link':
        pack.entry({ ...header, name: path, mode, type: 'link', linkname: (h.linkname ?? '').replace(/^\.?\/+/, '') });
        entry.resume();
        break;
      case 'file': {
        stats.files++;
        const out = pack.entry({ ...header, name: path, mode, type: 'file', size: h.size ?? 0 });
        const md5 = conffilePaths.has(path) ? createHash('md5') : undefined;
        for await (const chunk of entry) {
          md5?.update(chunk as Buffer);
          if (!out.write(chunk)) await once(out, 'drain');
        }
        const done = once(out, 'finish');
        out.end(undefined); // streamx's end(data) declares its argument required
        await done;
        if (md5) conffileMd5.set(path, md5.digest('hex'));
        break;
      }
      default:
        throw new Error(`${debPath}: data.tar entry ${h.name} has unsupported type ${h.type}`);
    }
  }
  const [code] = await exited;
  if (code !== 0) throw new Error(`dpkg-deb --fsys-tarfile ${debPath}: ${Buffer.concat(stderr).toString().trim()}`);

  const info = [
    ...members.map((m) => ({ name: `${infoName}.${m.name}`, mode: m.mode, data: m.data })),
    { name: `${infoName}.list`, mode: 0o644, data: Buffer.from(`${listLines.join('\n')}\n`) },
  ];
  for (const f of info) {
    const path = `var/lib/dpkg/info/${f.name}`;
    emitted.set(path, 'file');
    stats.files++;
    pack.entry({ ...header, name: path, mode: f.mode, type: 'file', size: f.data.length }, f.data);
  }

  const conffiles = [...conffilePaths]
    .filter((p) => conffileMd5.has(p))
    .map((p) => ({ path: `/${p}`, md5: conffileMd5.get(p) as string }));
  return { name, version, architecture, statusParagraph: statusParagraph(fields, conffiles) };
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Write one install-step layer (packages, their info files, the rewritten status) as a gzip blob. */
async function writeDebLayer(
  layoutDir: string,
  debPaths: string[],
  installed: InstalledDeb[],
): Promise<BigLayer & { added: InstalledDeb[] }> {
  const pack = tar.pack();
  const diff = new HashingStream();
  // Level 6 (zlib's default, pinned): level 9 takes several times longer on these 1.5 GB and
  // saves little; the benchmark wants realistic, not minimal, blobs.
  const written = writeBlobStream(layoutDir, Readable.from(pack), diff, createGzip({ level: 6, memLevel: 8 }));
  const header = { uid: 0, gid: 0, uname: 'root', gname: 'root', mtime: FIXED_TIME };
  const emitted = new Map<string, string>();
  for (const dir of ['var', 'var/lib', 'var/lib/dpkg', 'var/lib/dpkg/info']) {
    emitted.set(dir, 'directory');
    pack.entry({ ...header, name: dir, mode: 0o755, type: 'directory' });
  }
  const stats: LayerStats = { files: 2 }; // info/format and status, below
  pack.entry({ ...header, name: 'var/lib/dpkg/info/format', mode: 0o644, type: 'file' }, Buffer.from('1\n'));
  const added: InstalledDeb[] = [];
  const failed = written.catch((e: unknown) => e);
  try {
    for (const deb of debPaths) added.push(await packDeb(pack, deb, emitted, stats));
  } catch (e) {
    pack.destroy(e as Error);
    await failed;
    throw e;
  }
  // dpkg writes status sorted by package name, then architecture.
  const all = [...installed, ...added].sort((a, b) => cmp(a.name, b.name) || cmp(a.architecture, b.architecture));
  pack.entry(
    { ...header, name: 'var/lib/dpkg/status', mode: 0o644, type: 'file' },
    all.map((p) => `${p.statusParagraph}\n\n`).join(''),
  );
  pack.finalize();
  const blob = await written;
  return {
    descriptor: { mediaType: MediaType.OciLayerGzip, digest: blob.digest, size: blob.size },
    diffId: diff.digest(),
    packages: added.map((p) => p.name),
    uncompressedSize: diff.size,
    files: stats.files,
    added,
  };
}

export interface BigDebianOptions {
  /** `org.opencontainers.image.ref.name` in index.json; default "big-debian". */
  name?: string;
  /** Where downloaded .debs are kept; default testdata/cache/debs. */
  debCacheDir?: string;
  /** Called after each layer, for progress. */
  onLayer?: (layer: BigLayer, index: number) => void;
}

/** Build the big Debian image as an OCI layout in `outDir`; see the module comment. */
export async function buildBigDebianImage(outDir: string, options: BigDebianOptions = {}): Promise<BuiltBigImage> {
  const debCacheDir = options.debCacheDir ?? DEFAULT_DEB_CACHE_DIR;
  await initLayout(outDir);
  const installed: InstalledDeb[] = [];
  const layers: BigLayer[] = [];
  const history = [];
  for (const names of BIG_DEBIAN_LAYERS) {
    const debs = await fetchDebs(names.map(resolveName), debCacheDir);
    const { added, ...layer } = await writeDebLayer(outDir, debs, installed);
    installed.push(...added);
    layers.push(layer);
    options.onLayer?.(layer, layers.length - 1);
    history.push({
      created: FIXED_TIME.toISOString(),
      created_by: `dpkg --unpack ${debs.map((d) => basename(d)).join(' ')}`,
      comment: 'sigil testdata: files and dpkg database written by testdata/big-debian.ts; maintainer scripts not run',
    });
  }
  const written = await writeImageManifest(
    outDir,
    {
      created: FIXED_TIME.toISOString(),
      architecture: 'amd64',
      os: 'linux',
      config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['/bin/bash'] },
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
      history,
    },
    layers,
  );
  const manifest: Descriptor = {
    ...written.manifest,
    platform: { architecture: 'amd64', os: 'linux' },
    annotations: { [REF_NAME_ANNOTATION]: options.name ?? 'big-debian' },
  };
  await writeIndexJson(outDir, [manifest]);
  return {
    layoutDir: outDir,
    manifest,
    config: written.config,
    layers,
    packages: installed.map((p) => ({ name: p.name, version: p.version, architecture: p.architecture })),
    compressedBytes: layers.reduce((n, l) => n + l.descriptor.size, 0),
    uncompressedBytes: layers.reduce((n, l) => n + l.uncompressedSize, 0),
    files: layers.reduce((n, l) => n + l.files, 0),
  };
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const out = process.argv[2];
  if (out === undefined || process.argv.length !== 3) {
    process.stderr.write('usage: node testdata/big-debian.ts <outdir>\n');
    process.exitCode = 2;
  } else {
    const started = performance.now();
    buildBigDebianImage(out, {
      onLayer: (l, i) =>
        process.stderr.write(
          `layer ${i + 1}: ${l.packages.join(' ')}: ${(l.descriptor.size / 1e6).toFixed(0)} MB gzip, ` +
            `${(l.uncompressedSize / 1e6).toFixed(0)} MB tar, ${l.files} files\n`,
        ),
    }).then(
      (built) => {
        process.stdout.write(`${JSON.stringify(built, null, 2)}\n`);
        process.stderr.write(`built in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
      },
      (e: unknown) => {
        process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
        process.exitCode = 1;
      },
    );
  }
}
