/**
 * Real Debian packages as image content: download .debs with apt, unpack them in TypeScript
 * (ar container, tar members) and produce what `dpkg --install` would leave on disk: the
 * package's files plus its entries in the dpkg database (status paragraph, info/*.list,
 * info/*.md5sums and the other control files).
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import * as tar from 'tar-stream';

export const DEFAULT_CACHE_DIR = fileURLToPath(new URL('./cache/', import.meta.url));
export const DEFAULT_DEB_CACHE_DIR = join(DEFAULT_CACHE_DIR, 'debs');

/** One file-system entry of an image layer; `path` is relative ("usr/bin/x"), never "./" or "/"-prefixed. */
export interface LayerEntry {
  path: string;
  type: 'file' | 'directory' | 'symlink' | 'hardlink';
  /** Permission bits, setuid/setgid/sticky included. */
  mode: number;
  /** File content (type "file" only). */
  data?: Buffer;
  /** Symlink target as stored, or the relative path a hard link points to. */
  linkname?: string;
}

/** A .deb unpacked as dpkg would install it. */
export interface DebPackage {
  name: string;
  version: string;
  architecture: string;
  /** Name of its files under var/lib/dpkg/info: "libc6:amd64" for Multi-Arch: same packages, else the name. */
  infoName: string;
  /** The paragraph dpkg writes to var/lib/dpkg/status, without the trailing blank line. */
  statusParagraph: string;
  /** data.tar's entries followed by var/lib/dpkg/info/<infoName>.* files. */
  entries: LayerEntry[];
}

/**
 * Download the named packages (apt syntax: "name" or "name:arch") into `cacheDir` and return the
 * .deb paths in the order asked. A name whose `name_*.deb` is already cached is not downloaded again.
 */
export async function fetchDebs(names: string[], cacheDir = DEFAULT_DEB_CACHE_DIR): Promise<string[]> {
  await mkdir(cacheDir, { recursive: true });
  const missing = [];
  for (const name of names) if ((await findCachedDeb(name, cacheDir)) === undefined) missing.push(name);
  if (missing.length > 0) {
    // Download into a private directory, then move: two test workers fetching at once must never
    // see each other's half-written .deb files.
    const tmp = join(cacheDir, `.download-${process.pid}-${randomBytes(4).toString('hex')}`);
    await mkdir(tmp, { recursive: true });
    try {
      await aptDownload(missing, tmp);
      for (const f of await readdir(tmp)) if (f.endsWith('.deb')) await rename(join(tmp, f), join(cacheDir, f));
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  }
  const paths = [];
  for (const name of names) {
    const found = await findCachedDeb(name, cacheDir);
    if (found === undefined) throw new Error(`apt-get download ${name}: no ${debFilePrefix(name)}*.deb in ${cacheDir}`);
    paths.push(found);
  }
  return paths;
}

function debFilePrefix(name: string): string {
  return `${name.split(':')[0]}_`;
}

async function findCachedDeb(name: string, cacheDir: string): Promise<string | undefined> {
  const arch = name.includes(':') ? name.split(':')[1] : undefined;
  const prefix = debFilePrefix(name);
  const hits = (await readdir(cacheDir))
    .filter((f) => f.startsWith(prefix) && f.endsWith('.deb'))
    .filter((f) => arch === undefined || f.endsWith(`_${arch}.deb`) || f.endsWith('_all.deb'))
    .sort();
  const last = hits.at(-1);
  return last === undefined ? undefined : join(cacheDir, last);
}

async function aptDownload(names: string[], dir: string): Promise<void> {
  // As root apt drops privileges to _apt, which cannot write to our directory; it then warns
  // and downloads as root anyway. Say so up front to keep the output clean.
  const args = ['-q', '-o', 'APT::Sandbox::User=root', 'download', ...names];
  const first = await run('apt-get', args, { cwd: dir });
  if (first.code === 0) return;
  // On a fresh machine the package lists are empty: "Unable to locate package". Update once, retry.
  const update = await run('apt-get', ['-q', 'update'], { cwd: dir });
  if (update.code !== 0) {
    throw new Error(
      `apt-get download ${names.join(' ')} failed (${first.stderr.trim()}); ` +
        `apt-get update failed too: ${update.stderr.trim()}`,
    );
  }
  const second = await run('apt-get', args, { cwd: dir });
  if (second.code !== 0) throw new Error(`apt-get download ${names.join(' ')}: ${second.stderr.trim()}`);
}

interface RunResult {
  code: number;
  stdout: Buffer;
  stderr: string;
}

/** Run a command, feeding `input` on stdin, collecting stdout; rejects only if it cannot start. */
function run(cmd: string, args: string[], options: { cwd?: string; input?: Uint8Array } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: options.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code) =>
      resolve({ code: code ?? -1, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString() }),
    );
    // The child may exit before reading all input (e.g. on a corrupt stream): that is reported by its exit code.
    child.stdin.on('error', () => {});
    child.stdin.end(options.input);
  });
}

export interface ArMember {
  name: string;
  data: Buffer;
}

/** Parse a Unix `ar` archive (the .deb container): "!<arch>\n", then 60-byte headers, data padded to 2 bytes. */
export function parseAr(buf: Buffer, what = 'ar archive'): ArMember[] {
  if (buf.subarray(0, 8).toString('latin1') !== '!<arch>\n') throw new Error(`${what}: not an ar archive`);
  const members: ArMember[] = [];
  let off = 8;
  while (off < buf.length) {
    if (off + 60 > buf.length) throw new Error(`${what}: truncated member header at offset ${off}`);
    const header = buf.subarray(off, off + 60).toString('latin1');
    if (header.slice(58, 60) !== '`\n') throw new Error(`${what}: bad member header magic at offset ${off}`);
    // GNU ar ends names with "/"; dpkg-deb pads them with spaces.
    const name = header.slice(0, 16).trimEnd().replace(/\/$/, '');
    const size = Number.parseInt(header.slice(48, 58).trim(), 10);
    if (!Number.isSafeInteger(size) || size < 0) throw new Error(`${what}: bad size for member "${name}"`);
    const start = off + 60;
    if (start + size > buf.length) throw new Error(`${what}: member "${name}" runs past the end`);
    members.push({ name, data: buf.subarray(start, start + size) });
    off = start + size + (size % 2);
  }
  return members;
}

/** The uncompressed tar of a deb member, by its suffix; xz and zstd through their command-line tools. */
async function memberTar(member: ArMember, debPath: string): Promise<Buffer> {
  const { name, data } = member;
  if (name.endsWith('.tar')) return data;
  if (name.endsWith('.tar.gz')) return gunzipSync(data);
  const tool = name.endsWith('.tar.xz')
    ? 'xz'
    : name.endsWith('.tar.zst')
      ? 'zstd'
      : name.endsWith('.tar.bz2')
        ? 'bzip2'
        : undefined;
  if (tool === undefined) throw new Error(`${debPath}: member ${name} has an unknown compression`);
  let r: RunResult;
  try {
    r = await run(tool, ['-dc'], { input: data });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    // No such tool here: dpkg-deb (always on Debian) decompresses every format it can build.
    const flag = name.startsWith('control.') ? '--ctrl-tarfile' : '--fsys-tarfile';
    const fallback = await run('dpkg-deb', [flag, debPath]);
    if (fallback.code !== 0) {
      throw new Error(`${tool} is missing and dpkg-deb ${flag} ${debPath} failed: ${fallback.stderr.trim()}`, {
        cause: e,
      });
    }
    return fallback.stdout;
  }
  if (r.code !== 0) throw new Error(`${debPath}: ${tool} -dc ${name}: ${r.stderr.trim()}`);
  return r.stdout;
}

interface TarItem {
  path: string;
  type: string;
  mode: number;
  data: Buffer;
  linkname: string | undefined;
}

async function readTar(buf: Buffer): Promise<TarItem[]> {
  const items: TarItem[] = [];
  const extract = tar.extract();
  Readable.from([buf]).pipe(extract);
  for await (const entry of extract) {
    const chunks: Buffer[] = [];
    for await (const c of entry) chunks.push(c as Buffer);
    const h = entry.header;
    items.push({
      path: h.name,
      type: h.type ?? 'file',
      mode: h.mode ?? 0o644,
      data: Buffer.concat(chunks),
      linkname: h.linkname ?? undefined,
    });
  }
  return items;
}

/** "./usr/bin/" → "usr/bin"; "./" → "". */
function normalisePath(p: string): string {
  return p.replace(/^\.?\/+/, '').replace(/\/+$/, '');
}

interface ControlField {
  name: string;
  /** Everything after "Name:", continuation lines included, without the final newline. */
  value: string;
}

/** Parse one deb822 paragraph, keeping field order and continuation lines verbatim. */
export function parseControl(text: string): ControlField[] {
  const fields: ControlField[] = [];
  for (const line of text.replace(/\n+$/, '').split('\n')) {
    if (line.startsWith(' ') || line.startsWith('\t')) {
      const last = fields.at(-1);
      if (last === undefined) throw new Error(`control: continuation line before any field: "${line}"`);
      last.value += `\n${line}`;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) throw new Error(`control: not a field: "${line}"`);
    fields.push({ name: line.slice(0, colon), value: line.slice(colon + 1).replace(/^[ \t]/, '') });
  }
  return fields;
}

// The order dpkg writes status fields in (lib/dpkg/parse.c fieldinfos); fields it does not know
// (Homepage, Built-Using, …) follow in their original order.
const STATUS_FIELD_ORDER = [
  'Package',
  'Essential',
  'Protected',
  'Status',
  'Priority',
  'Section',
  'Installed-Size',
  'Origin',
  'Maintainer',
  'Bugs',
  'Architecture',
  'Multi-Arch',
  'Source',
  'Version',
  'Config-Version',
  'Replaces',
  'Provides',
  'Depends',
  'Pre-Depends',
  'Recommends',
  'Suggests',
  'Breaks',
  'Conflicts',
  'Enhances',
  'Conffiles',
  'Description',
];

/** The paragraph dpkg writes to var/lib/dpkg/status for an installed package, fields in dpkg's order. */
export function statusParagraph(control: ControlField[], conffiles: { path: string; md5: string }[]): string {
  const fields = [...control, { name: 'Status', value: 'install ok installed' }];
  if (conffiles.length > 0) {
    fields.push({ name: 'Conffiles', value: conffiles.map((c) => `\n ${c.path} ${c.md5}`).join('') });
  }
  const rank = (n: string) => {
    const i = STATUS_FIELD_ORDER.indexOf(n);
    return i < 0 ? STATUS_FIELD_ORDER.length : i;
  };
  // Array.prototype.sort is stable, so unknown fields keep their relative order.
  fields.sort((a, b) => rank(a.name) - rank(b.name));
  return fields.map((f) => (f.value.startsWith('\n') ? `${f.name}:${f.value}` : `${f.name}: ${f.value}`)).join('\n');
}

/**
 * Unpack a .deb into the entries an install writes: data.tar's files, then the dpkg database
 * files for this package under var/lib/dpkg/info. The status paragraph is returned separately
 * because var/lib/dpkg/status holds every installed package: see `dpkgLayerEntries`.
 */
export async function debToLayerEntries(debPath: string): Promise<DebPackage> {
  const members = parseAr(await readFile(debPath), debPath);
  if (members[0]?.name !== 'debian-binary' || !members[0].data.toString().startsWith('2.')) {
    throw new Error(`${debPath}: not a Debian binary package (format 2.x)`);
  }
  const controlMember = members.find((m) => m.name.startsWith('control.tar'));
  const dataMember = members.find((m) => m.name.startsWith('data.tar'));
  if (controlMember === undefined || dataMember === undefined) {
    throw new Error(`${debPath}: missing control.tar or data.tar member`);
  }
  const controlItems = await readTar(await memberTar(controlMember, debPath));
  const dataItems = await readTar(await memberTar(dataMember, debPath));

  const controlFile = controlItems.find((i) => normalisePath(i.path) === 'control');
  if (controlFile === undefined) throw new Error(`${debPath}: control.tar has no control file`);
  const control = parseControl(controlFile.data.toString('utf8'));
  const field = (n: string) => control.find((f) => f.name === n)?.value;
  const name = field('Package');
  const version = field('Version');
  const architecture = field('Architecture');
  if (!name || !version || !architecture) throw new Error(`${debPath}: control lacks Package, Version or Architecture`);
  // dpkg ≥ 1.16.2 qualifies info file names with the architecture for Multi-Arch: same packages,
  // which may be co-installed for several architectures.
  const infoName = field('Multi-Arch') === 'same' ? `${name}:${architecture}` : name;

  const entries: LayerEntry[] = [];
  const listLines: string[] = [];
  const fileData = new Map<string, Buffer>();
  for (const item of dataItems) {
    const path = normalisePath(item.path);
    listLines.push(path === '' ? '/.' : `/${path}`);
    if (path === '') continue;
    const mode = item.mode & 0o7777;
    switch (item.type) {
      case 'directory':
        entries.push({ path, type: 'directory', mode });
        break;
      case 'file':
        entries.push({ path, type: 'file', mode, data: item.data });
        fileData.set(path, item.data);
        break;
      case 'symlink':
        entries.push({ path, type: 'symlink', mode, linkname: item.linkname ?? '' });
        break;
      case 'link':
        entries.push({ path, type: 'hardlink', mode, linkname: normalisePath(item.linkname ?? '') });
        break;
      default:
        throw new Error(`${debPath}: data.tar entry ${item.path} has unsupported type ${item.type}`);
    }
  }

  const conffiles: { path: string; md5: string }[] = [];
  const info: LayerEntry[] = [];
  for (const item of controlItems) {
    const base = normalisePath(item.path);
    if (base === '' || base === 'control' || item.type !== 'file') continue;
    const path = `var/lib/dpkg/info/${infoName}.${base}`;
    info.push({ path, type: 'file', mode: item.mode & 0o7777, data: item.data });
    if (base === 'conffiles') {
      for (const line of item.data.toString().split('\n')) {
        const words = line.trim().split(/\s+/);
        // dpkg ≥ 1.20.1 allows flags before the path ("remove-on-upgrade /etc/x"): such files are not installed.
        if (words.length !== 1 || words[0] === '') continue;
        const path = words[0] as string;
        const data = fileData.get(normalisePath(path));
        if (data !== undefined) conffiles.push({ path, md5: createHash('md5').update(data).digest('hex') });
      }
    }
  }
  info.push({
    path: `var/lib/dpkg/info/${infoName}.list`,
    type: 'file',
    mode: 0o644,
    data: Buffer.from(`${listLines.join('\n')}\n`),
  });
  return {
    name,
    version,
    architecture,
    infoName,
    statusParagraph: statusParagraph(control, conffiles),
    entries: [...entries, ...info],
  };
}

const DPKG_DIRS = ['var', 'var/lib', 'var/lib/dpkg', 'var/lib/dpkg/info'];

/**
 * The entries of one image layer that installs `added` on top of `installedBefore` (packages of
 * lower layers): the packages' files and info files, plus var/lib/dpkg/status rewritten with all
 * of them, as a `RUN dpkg -i` step leaves it. Directories shared by several packages appear once.
 */
export function dpkgLayerEntries(added: DebPackage[], installedBefore: DebPackage[] = []): LayerEntry[] {
  const byPath = new Map<string, LayerEntry>();
  for (const dir of DPKG_DIRS) byPath.set(dir, { path: dir, type: 'directory', mode: 0o755 });
  // Without info/format dpkg assumes the pre-multiarch layout and looks for "libc6.list" instead
  // of "libc6:amd64.list"; every dpkg since 1.16.2 writes "1" here.
  byPath.set('var/lib/dpkg/info/format', {
    path: 'var/lib/dpkg/info/format',
    type: 'file',
    mode: 0o644,
    data: Buffer.from('1\n'),
  });
  for (const pkg of added) {
    for (const e of pkg.entries) {
      const seen = byPath.get(e.path);
      if (seen !== undefined) {
        if (seen.type === 'directory' && e.type === 'directory') continue;
        throw new Error(`${e.path} is shipped by ${pkg.name} and by another package of the same layer`);
      }
      byPath.set(e.path, e);
    }
  }
  // dpkg writes status sorted by package name, then architecture.
  const all = [...installedBefore, ...added].sort((a, b) => cmp(a.name, b.name) || cmp(a.architecture, b.architecture));
  byPath.set('var/lib/dpkg/status', {
    path: 'var/lib/dpkg/status',
    type: 'file',
    mode: 0o644,
    data: Buffer.from(all.map((p) => `${p.statusParagraph}\n\n`).join('')),
  });
  return [...byPath.values()];
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
