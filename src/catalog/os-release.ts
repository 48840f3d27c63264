/**
 * Which distribution an image is built from. Order follows syft (syft/linux/identify_release.go):
 * the os-release files first, the first that yields an ID wins; then the older single-line release
 * files, for images without os-release (Alpine before 3.x os-release, CentOS 6, Debian
 * stretch-era minimal trees).
 */
import type { CatalogFile } from './cataloger.ts';
import type { Distro } from './package.ts';

const OS_RELEASE_PATHS = ['/etc/os-release', '/usr/lib/os-release'];
const FALLBACK_PATHS = [
  '/etc/alpine-release',
  '/etc/debian_version',
  '/etc/redhat-release',
  '/etc/centos-release',
  '/etc/system-release',
];
const WANTED = new Set([...OS_RELEASE_PATHS, ...FALLBACK_PATHS]);

export const osReleaseWants = (path: string): boolean => WANTED.has(path);

/**
 * Parse os-release(5): `KEY=value` lines, values optionally in single or double quotes with
 * shell-style backslash escapes in double quotes; `#` comments and blank lines skipped.
 */
export function parseOsRelease(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (m === null) continue;
    out[m[1]!] = unquote(m[2]!.trim());
  }
  return out;
}

function unquote(v: string): string {
  if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) return v.slice(1, -1).replace(/\\([\\"$`])/g, '$1');
  if (v.length >= 2 && v.startsWith("'") && v.endsWith("'")) return v.slice(1, -1);
  // Unquoted: a trailing comment is not part of the value.
  return v.replace(/\s+#.*$/, '');
}

function fromOsRelease(fields: Record<string, string>): Distro | undefined {
  const id = fields.ID?.toLowerCase();
  if (id === undefined || id === '') return undefined;
  const distro: Distro = { id };
  if (fields.VERSION_ID) distro.versionId = fields.VERSION_ID;
  if (fields.VERSION_CODENAME) distro.codename = fields.VERSION_CODENAME;
  if (fields.PRETTY_NAME) distro.prettyName = fields.PRETTY_NAME;
  const idLike = (fields.ID_LIKE ?? '').split(/\s+/).filter((s) => s !== '');
  if (idLike.length > 0) distro.idLike = idLike.map((s) => s.toLowerCase());
  return distro;
}

function firstLine(bytes: Uint8Array): string {
  return (new TextDecoder().decode(bytes).split(/\r?\n/)[0] ?? '').trim();
}

/**
 * `/etc/debian_version`: `12.5` (a stable point release) → version 12, as os-release's VERSION_ID
 * says on the same system; `bookworm/sid` (testing, unstable) → no version, the codename only.
 */
function fromDebianVersion(line: string): Distro | undefined {
  if (line === '') return undefined;
  const numeric = /^(\d+)(?:\.\d+)*$/.exec(line);
  if (numeric !== null) return { id: 'debian', versionId: numeric[1]!, prettyName: `Debian GNU/Linux ${line}` };
  const codename = /^([a-z]+)\/sid$/.exec(line);
  if (codename !== null) return { id: 'debian', codename: codename[1]!, prettyName: `Debian GNU/Linux ${line}` };
  return undefined;
}

/**
 * The RHEL family's one-liners, e.g. "Red Hat Enterprise Linux Server release 7.9 (Maipo)",
 * "CentOS Linux release 7.9.2009 (Core)", "Amazon Linux release 2 (Karoo)". syft's regex; the name
 * → ID table below covers what those files say in practice.
 */
const RELEASE_NAMES: readonly [RegExp, string][] = [
  [/^red hat enterprise linux/i, 'rhel'],
  [/^centos/i, 'centos'],
  [/^rocky linux/i, 'rocky'],
  [/^almalinux/i, 'almalinux'],
  [/^scientific linux/i, 'scientific'],
  [/^oracle linux/i, 'ol'],
  [/^fedora/i, 'fedora'],
  [/^amazon linux/i, 'amzn'],
];

function fromRedhatRelease(line: string): Distro | undefined {
  const m = /^(.*?)\s+release\s+(\d+(?:\.\d+)?)/.exec(line);
  if (m === null) return undefined;
  const id = RELEASE_NAMES.find(([re]) => re.test(m[1]!))?.[1] ?? m[1]!.toLowerCase().replace(/\s+/g, '-');
  // syft appends rhel to ID_LIKE for these files: they only exist on RHEL derivatives.
  const distro: Distro = { id, versionId: m[2]!, prettyName: line };
  if (id !== 'rhel') distro.idLike = ['rhel'];
  return distro;
}

/** The distro of the final filesystem, from the files `osReleaseWants` accepted; undefined if none says. */
export function detectDistro(files: readonly CatalogFile[]): Distro | undefined {
  const byPath = new Map(files.map((f) => [f.path, f]));
  for (const path of OS_RELEASE_PATHS) {
    const f = byPath.get(path);
    if (f === undefined) continue;
    const d = fromOsRelease(parseOsRelease(new TextDecoder().decode(f.bytes)));
    if (d !== undefined) return d;
  }
  for (const path of FALLBACK_PATHS) {
    const f = byPath.get(path);
    if (f === undefined) continue;
    const line = firstLine(f.bytes);
    let d: Distro | undefined;
    switch (path) {
      case '/etc/alpine-release':
        d = /^\d+(?:\.\d+)*/.test(line)
          ? { id: 'alpine', versionId: line, prettyName: `Alpine Linux v${line}` }
          : undefined;
        break;
      case '/etc/debian_version':
        d = fromDebianVersion(line);
        break;
      default:
        d = fromRedhatRelease(line);
    }
    if (d !== undefined) return d;
  }
  return undefined;
}
