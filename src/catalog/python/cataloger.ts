/**
 * Installed Python distributions: wheel installs (`*.dist-info/METADATA` + `RECORD`) and setuptools
 * installs (`*.egg-info/PKG-INFO` + `installed-files.txt` + `requires.txt`, a single-file
 * `*.egg-info`, or `*.egg/EGG-INFO/PKG-INFO`), wherever they sit (site-packages, dist-packages,
 * virtualenvs). Names are PEP 503-normalised as syft does, so one project spelled `Foo_Bar` and
 * `foo-bar` is one package; the same name and version in two places is one package with two
 * locations.
 */
import { posix } from 'node:path';
import type { Digest } from '../../oci/digest.ts';
import type { CatalogFile, CatalogInput, CatalogResult, Cataloger } from '../cataloger.ts';
import type { Package } from '../package.ts';
import { pep503Name, pypiPurl } from '../purl.ts';
import { pythonLicense } from './license.ts';
import { type CoreMetadata, field, fieldAll, parseCoreMetadata } from './metadata.ts';
import { filesFromInstalledFiles, filesFromRecord } from './record.ts';
import { parseRequirement, parseRequiresTxt, type Requirement } from './requirements.ts';

type Role = 'metadata' | 'record' | 'installedFiles' | 'requiresTxt';

interface Wanted {
  /** The metadata directory (or the single-file egg-info), which groups a distribution's files. */
  key: string;
  role: Role;
}

// Upper-case DIST-INFO / EGG-INFO as well: syft globs both spellings.
const DIST_INFO = /^(.+\.dist-info)\/(METADATA|RECORD)$/i;
const EGG_INFO_DIR = /^(.+\.egg-info)\/(PKG-INFO|installed-files\.txt|requires\.txt)$/i;
const EGG_DIR = /^(.+\.egg\/EGG-INFO)\/(PKG-INFO|requires\.txt)$/;
const EGG_INFO_FILE = /\.egg-info$/i;

const ROLES: Record<string, Role> = {
  metadata: 'metadata',
  'pkg-info': 'metadata',
  record: 'record',
  'installed-files.txt': 'installedFiles',
  'requires.txt': 'requiresTxt',
};

function classify(path: string): Wanted | undefined {
  const m = DIST_INFO.exec(path) ?? EGG_INFO_DIR.exec(path) ?? EGG_DIR.exec(path);
  if (m !== null) {
    const role = ROLES[m[2]!.toLowerCase()];
    return role === undefined ? undefined : { key: m[1]!, role };
  }
  // distutils and old setuptools write the metadata as one file, `foo-1.0.egg-info`.
  if (EGG_INFO_FILE.test(path)) return { key: path, role: 'metadata' };
  return undefined;
}

export function pythonWants(path: string): boolean {
  return classify(path) !== undefined;
}

interface Group {
  key: string;
  metadata?: CatalogFile;
  record?: CatalogFile;
  installedFiles?: CatalogFile;
  requiresTxt?: CatalogFile;
}

interface Found {
  pkg: Package;
  requirements: Requirement[];
  /** Directories holding the metadata (site-packages), one per location: dependencies prefer the same one. */
  sitePackages: string[];
}

const decoder = new TextDecoder();
const text = (f: CatalogFile) => decoder.decode(f.bytes);
const byId = (a: Package, b: Package) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

export function pythonPackageId(name: string, version: string): string {
  return `python:${pep503Name(name)}@${version}`;
}

export const pythonCataloger: Cataloger = {
  name: 'python',
  version: 1,
  wants: pythonWants,
  catalog(input: CatalogInput): CatalogResult {
    const warnings: string[] = [];
    const groups = new Map<string, Group>();
    for (const file of input.files) {
      const w = classify(file.path);
      if (w === undefined) continue;
      const g = groups.get(w.key) ?? { key: w.key };
      g[w.role] = file;
      groups.set(w.key, g);
    }

    const found = new Map<string, Found>();
    for (const g of [...groups.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))) {
      if (g.metadata === undefined) continue; // a RECORD without METADATA describes nothing we can name
      const meta = parseCoreMetadata(text(g.metadata), g.metadata.path);
      warnings.push(...meta.warnings);
      const name = field(meta, 'Name');
      const version = field(meta, 'Version');
      if (name === undefined || version === undefined) {
        const missing = name === undefined ? 'Name' : 'Version';
        warnings.push(`${g.metadata.path}: no ${missing} field; distribution skipped`);
        continue;
      }
      const sitePackages = posix.dirname(g.key.endsWith('/EGG-INFO') ? posix.dirname(g.key) : g.key);
      const pkg = packageFromMetadata(meta, name, version, g.metadata);
      const files = ownedFiles(g, sitePackages);
      const owned = input.allPaths.size > 0 ? files.filter((f) => input.allPaths.has(f)) : files;
      if (owned.length > 0) pkg.files = owned;
      for (const f of [g.record, g.installedFiles]) {
        if (f !== undefined) pkg.locations.push({ path: f.path, layerDiffId: f.layerDiffId });
      }
      const requirements = [
        ...fieldAll(meta, 'Requires-Dist')
          .map(parseRequirement)
          .filter((r) => r !== undefined),
        ...(g.requiresTxt === undefined ? [] : parseRequiresTxt(text(g.requiresTxt))),
      ];

      const seen = found.get(pkg.id);
      if (seen !== undefined) {
        // Installed twice (system dist-packages and a venv, or two Python versions): one package, two places.
        seen.pkg.locations.push(...pkg.locations);
        if (pkg.files !== undefined) seen.pkg.files = [...new Set([...(seen.pkg.files ?? []), ...pkg.files])].sort();
        seen.sitePackages.push(sitePackages);
        seen.requirements.push(...requirements);
        continue;
      }
      found.set(pkg.id, { pkg, requirements, sitePackages: [sitePackages] });
    }

    resolveDependencies([...found.values()]);
    return { packages: [...found.values()].map((f) => f.pkg).sort(byId), warnings };
  },
};

/** Fields kept for the JSON output; the long ones (Description, Classifier) are not. */
const METADATA_FIELDS = [
  'Metadata-Version',
  'Name',
  'License',
  'License-Expression',
  'Author',
  'Author-email',
  'Maintainer',
  'Maintainer-email',
  'Home-page',
  'Requires-Python',
];

function packageFromMetadata(meta: CoreMetadata, name: string, version: string, file: CatalogFile): Package {
  const pkg: Package = {
    id: pythonPackageId(name, version),
    type: 'python',
    // syft reports the PEP 503 name, so the same project installed by two tools compares equal.
    name: pep503Name(name),
    version,
    purl: pypiPurl(name, version),
    locations: [{ path: file.path, layerDiffId: file.layerDiffId }],
    ...provenance(file),
  };
  const license = pythonLicense(meta);
  if (license !== undefined) pkg.license = license;
  const supplier = person(meta, 'Maintainer') ?? person(meta, 'Author');
  if (supplier !== undefined) pkg.supplier = supplier;
  const metadata: Record<string, string> = {};
  for (const key of METADATA_FIELDS) {
    // A pasted license text is kept to its first line: the JSON output is not the place for it.
    const v = field(meta, key)?.split('\n')[0]?.trim();
    if (v !== undefined && v !== '' && v.toUpperCase() !== 'UNKNOWN') metadata[key] = v;
  }
  const requires = fieldAll(meta, 'Requires-Dist');
  if (requires.length > 0) metadata['Requires-Dist'] = requires.join(', ');
  pkg.metadata = metadata;
  return pkg;
}

/** `Maintainer` + `Maintainer-email` → `Name <mail>`; metadata 2.1 often puts `Name <mail>` in the -email field alone. */
function person(meta: CoreMetadata, role: 'Maintainer' | 'Author'): string | undefined {
  const name = field(meta, role);
  const email = field(meta, `${role}-email`);
  const n = name !== undefined && name.toUpperCase() !== 'UNKNOWN' ? name : undefined;
  const e = email !== undefined && email.toUpperCase() !== 'UNKNOWN' ? email : undefined;
  if (n !== undefined && e !== undefined) return e.includes('<') ? e : `${n} <${e}>`;
  return n ?? e;
}

function ownedFiles(g: Group, sitePackages: string): string[] {
  if (g.record !== undefined) return filesFromRecord(text(g.record), sitePackages);
  if (g.installedFiles !== undefined) return filesFromInstalledFiles(text(g.installedFiles), g.key);
  return [];
}

/**
 * The metadata file's versions, oldest layer first: the first layer that held it brought the
 * distribution, the last one that wrote different bytes changed it (a reinstall of the same version
 * rewrites the same path).
 */
function provenance(file: CatalogFile): { introducedBy: Digest; lastChangedBy: Digest } {
  const versions = [...(file.earlier ?? []), { layerDiffId: file.layerDiffId, bytes: file.bytes }];
  let lastChangedBy = versions[0]!.layerDiffId;
  for (let i = 1; i < versions.length; i++) {
    if (!sameBytes(versions[i - 1]!.bytes, versions[i]!.bytes)) lastChangedBy = versions[i]!.layerDiffId;
  }
  return { introducedBy: versions[0]!.layerDiffId, lastChangedBy };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.length).equals(b);
}

/**
 * Requirements that hold without an extra, resolved by PEP 503 name to installed distributions.
 * With several installed versions of one name, the one in the same site-packages directory wins
 * (that is the one Python imports), else the smallest id.
 */
function resolveDependencies(all: Found[]): void {
  const byName = new Map<string, Found[]>();
  for (const f of all) {
    const list = byName.get(f.pkg.name) ?? [];
    list.push(f);
    byName.set(f.pkg.name, list);
  }
  for (const f of all) {
    const out = new Set<string>();
    for (const r of f.requirements) {
      if (r.extraOnly) continue;
      const cands = byName.get(pep503Name(r.name));
      if (cands === undefined) continue;
      const hit =
        cands.find((c) => c.sitePackages.some((s) => f.sitePackages.includes(s))) ??
        [...cands].sort((a, b) => byId(a.pkg, b.pkg))[0]!;
      if (hit.pkg.id !== f.pkg.id) out.add(hit.pkg.id);
    }
    if (out.size > 0) f.pkg.dependsOn = [...out].sort();
  }
}
