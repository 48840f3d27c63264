/**
 * Debian packages from dpkg's database: `/var/lib/dpkg/status` (a full system) or
 * `/var/lib/dpkg/status.d/<pkg>` (distroless: one paragraph per file, no Status field), with file
 * lists from `info/<pkg>[:arch].list` (or `.md5sums`, the only list distroless has), licenses from
 * `/usr/share/doc/<pkg>/copyright`, dependencies from Depends/Pre-Depends, and per-package layer
 * provenance from the database's earlier versions in lower layers.
 */
import type { Digest } from '../../oci/digest.ts';
import type { CatalogFile, CatalogInput, CatalogResult, Cataloger } from '../cataloger.ts';
import { toSpdxExpression } from '../license.ts';
import type { Package } from '../package.ts';
import { copyrightLicenses } from './copyright.ts';
import { DependencyIndex } from './dependencies.ts';
import { packageFromStanza } from './package.ts';
import { isInstalled, parseStanzas, type Stanza } from './parse-status.ts';

const STATUS = '/var/lib/dpkg/status';
const STATUS_D = '/var/lib/dpkg/status.d/';
const INFO = '/var/lib/dpkg/info/';
const COPYRIGHT = /^\/usr\/share\/doc\/([^/]+)\/copyright$/;

/**
 * Files dpkg keeps next to a paragraph in status.d (distroless copies the control archive's
 * members there). Package names may contain dots (`libgtk2.0-0`), so only these suffixes mark a
 * sidecar.
 */
const STATUS_D_SIDECARS = [
  '.md5sums',
  '.conffiles',
  '.list',
  '.preinst',
  '.postinst',
  '.prerm',
  '.postrm',
  '.config',
  '.templates',
  '.triggers',
  '.shlibs',
  '.symbols',
];

function childName(path: string, dir: string): string | undefined {
  if (!path.startsWith(dir)) return undefined;
  const rest = path.slice(dir.length);
  return rest === '' || rest.includes('/') ? undefined : rest;
}

function isStatusDStanza(name: string): boolean {
  return !name.startsWith('.') && !STATUS_D_SIDECARS.some((s) => name.endsWith(s));
}

export function dpkgWants(path: string): boolean {
  if (path === STATUS) return true;
  const d = childName(path, STATUS_D);
  if (d !== undefined) return isStatusDStanza(d) || d.endsWith('.md5sums');
  const info = childName(path, INFO);
  if (info !== undefined) return info.endsWith('.list') || info.endsWith('.md5sums');
  return COPYRIGHT.test(path);
}

const decoder = new TextDecoder();
const text = (bytes: Uint8Array) => decoder.decode(bytes);

interface Found {
  pkg: Package;
  stanza: Stanza;
  db: CatalogFile;
  /** Key for info files in status.d: the paragraph's file name, which need not be the package name. */
  statusDName?: string;
}

export const dpkgCataloger: Cataloger = {
  name: 'dpkg',
  version: 1,
  wants: dpkgWants,
  catalog(input: CatalogInput): CatalogResult {
    const warnings: string[] = [];
    const dbs: { file: CatalogFile; statusDName?: string }[] = [];
    const lists = new Map<string, CatalogFile>();
    const infoMd5 = new Map<string, CatalogFile>();
    const statusDMd5 = new Map<string, CatalogFile>();
    const copyrights = new Map<string, CatalogFile>();
    for (const file of input.files) {
      if (file.path === STATUS) {
        dbs.push({ file });
        continue;
      }
      const d = childName(file.path, STATUS_D);
      if (d !== undefined) {
        if (d.endsWith('.md5sums')) statusDMd5.set(d.slice(0, -'.md5sums'.length), file);
        else if (isStatusDStanza(d)) dbs.push({ file, statusDName: d });
        continue;
      }
      const info = childName(file.path, INFO);
      if (info !== undefined) {
        if (info.endsWith('.list')) lists.set(info.slice(0, -'.list'.length), file);
        else if (info.endsWith('.md5sums')) infoMd5.set(info.slice(0, -'.md5sums'.length), file);
        continue;
      }
      const c = COPYRIGHT.exec(file.path);
      if (c !== null) copyrights.set(c[1]!, file);
    }

    const found = new Map<string, Found>();
    for (const { file, statusDName } of dbs) {
      const parsed = parseStanzas(text(file.bytes), file.path);
      warnings.push(...parsed.warnings);
      for (const stanza of parsed.stanzas) {
        if (!isInstalled(stanza)) continue;
        const pkg = packageFromStanza({ stanza, dbPath: file.path, dbLayer: file.layerDiffId, distro: input.distro });
        if (pkg === undefined) {
          warnings.push(`${file.path}:${stanza.line}: paragraph without Package or Version; skipped`);
          continue;
        }
        const seen = found.get(pkg.id);
        if (seen !== undefined) {
          // The same package in status and in status.d: one package, found in two places.
          seen.pkg.locations.push(...pkg.locations);
          continue;
        }
        found.set(pkg.id, { pkg, stanza, db: file, ...(statusDName !== undefined ? { statusDName } : {}) });
      }
    }

    const deps = new DependencyIndex();
    for (const { pkg, stanza } of found.values()) deps.add(pkg, stanza.fields.get('provides'));

    const history = new ProvenanceIndex();
    for (const entry of found.values()) {
      const { pkg, stanza, db } = entry;
      // dpkg names info files "pkg:arch" for Multi-Arch: same packages (dpkg ≥ 1.16.2), else "pkg".
      const infoKeys =
        pkg.arch !== undefined && pkg.arch !== 'all' ? [`${pkg.name}:${pkg.arch}`, pkg.name] : [pkg.name];
      const list = firstOf(lists, infoKeys);
      const md5 =
        entry.statusDName !== undefined
          ? firstOf(statusDMd5, [entry.statusDName, pkg.name])
          : firstOf(infoMd5, infoKeys);
      if (list !== undefined) {
        // .list leaves still include empty directories (/var/tmp) and symlinks: with the final
        // filesystem's regular files at hand, keep those, which is what attribution needs.
        const leaves = filesFromList(text(list.bytes));
        pkg.files = input.allPaths.size > 0 ? leaves.filter((f) => input.allPaths.has(f)) : leaves;
        pkg.locations.push({ path: list.path, layerDiffId: list.layerDiffId });
      } else if (md5 !== undefined) {
        pkg.files = filesFromMd5sums(text(md5.bytes));
        pkg.locations.push({ path: md5.path, layerDiffId: md5.layerDiffId });
      }

      const copyright = copyrights.get(pkg.name) ?? linkedCopyright(pkg.name, copyrights, input.resolvePath);
      if (copyright !== undefined) {
        const { expression } = toSpdxExpression(copyrightLicenses(text(copyright.bytes)));
        if (expression !== undefined) pkg.license = expression;
      }

      const dependsOn = deps.resolve(pkg, [stanza.fields.get('pre-depends'), stanza.fields.get('depends')]);
      if (dependsOn.length > 0) pkg.dependsOn = dependsOn;

      const p = history.of(db, stanzaKey(stanza));
      pkg.introducedBy = p.introducedBy;
      pkg.lastChangedBy = p.lastChangedBy;
    }

    const packages = [...found.values()].map((f) => f.pkg).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return { packages, warnings };
  },
};

function firstOf<V>(m: Map<string, V>, keys: string[]): V | undefined {
  for (const k of keys) {
    const v = m.get(k);
    if (v !== undefined) return v;
  }
  return undefined;
}

/**
 * `.list` holds every path the package unpacked, directories included (`/.`, `/usr`, …). Keep the
 * leaves: a path that is the parent of another listed path is a directory the package shares.
 */
export function filesFromList(content: string): string[] {
  const paths = new Set(
    content
      .replace(/\r\n?/g, '\n')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l.startsWith('/') && l !== '/.' && l !== '/'),
  );
  const parents = new Set<string>();
  for (const p of paths) {
    for (let i = p.lastIndexOf('/'); i > 0; i = p.lastIndexOf('/', i - 1)) parents.add(p.slice(0, i));
  }
  return [...paths].filter((p) => !parents.has(p)).sort();
}

/** `md5sums`: `<32 hex>  <path relative to />` per line. */
export function filesFromMd5sums(content: string): string[] {
  const out = new Set<string>();
  for (const line of content.replace(/\r\n?/g, '\n').split('\n')) {
    const m = /^[0-9a-fA-F]{32}\s+\*?(.+)$/.exec(line.trim());
    if (m !== null) out.add(`/${m[1]!.replace(/^\.?\/+/, '')}`);
  }
  return [...out].sort();
}

function stanzaKey(stanza: Stanza): string {
  return `${stanza.fields.get('package')?.trim() ?? ''}:${stanza.fields.get('architecture')?.trim() ?? ''}`;
}

/**
 * Which layer brought each package and which last changed its record, read off the database file's
 * versions from the oldest layer to the final one. Each version is parsed once per database file.
 */
class ProvenanceIndex {
  private readonly cache = new Map<CatalogFile, Map<string, { introducedBy: Digest; lastChangedBy: Digest }>>();

  of(db: CatalogFile, key: string): { introducedBy: Digest; lastChangedBy: Digest } {
    let perKey = this.cache.get(db);
    if (perKey === undefined) {
      perKey = this.build(db);
      this.cache.set(db, perKey);
    }
    return perKey.get(key) ?? { introducedBy: db.layerDiffId, lastChangedBy: db.layerDiffId };
  }

  private build(db: CatalogFile): Map<string, { introducedBy: Digest; lastChangedBy: Digest }> {
    const versions = [...(db.earlier ?? []), { layerDiffId: db.layerDiffId, bytes: db.bytes }];
    const out = new Map<string, { introducedBy: Digest; lastChangedBy: Digest }>();
    const previous = new Map<string, string>();
    for (const version of versions) {
      // Warnings of lower layers' versions are not reported: only the final database defines the packages.
      const { stanzas } = parseStanzas(text(version.bytes), db.path);
      const present = new Set<string>();
      for (const stanza of stanzas) {
        if (!isInstalled(stanza)) continue;
        const key = stanzaKey(stanza);
        present.add(key);
        const seen = out.get(key);
        if (seen === undefined) {
          out.set(key, { introducedBy: version.layerDiffId, lastChangedBy: version.layerDiffId });
        } else if (previous.get(key) !== stanza.text) {
          seen.lastChangedBy = version.layerDiffId;
        }
        previous.set(key, stanza.text);
      }
      // Removed in this layer: a later reinstall is a change even if its paragraph is byte-identical.
      for (const key of previous.keys()) if (!present.has(key)) previous.delete(key);
    }
    return out;
  }
}

/**
 * Debian packages built from one source often make `/usr/share/doc/<pkg>` a symlink to the doc
 * directory of another (libgcc-s1 -> gcc-12-base): the copyright that applies is the one the
 * link leads to, which was captured under its real path.
 */
function linkedCopyright(
  name: string,
  copyrights: ReadonlyMap<string, CatalogFile>,
  resolvePath: CatalogInput['resolvePath'],
): CatalogFile | undefined {
  const real = resolvePath?.(`/usr/share/doc/${name}/copyright`);
  const c = real === undefined ? null : COPYRIGHT.exec(real);
  return c === null ? undefined : copyrights.get(c[1]!);
}
