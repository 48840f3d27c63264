/**
 * PHP Composer packages: the installed ones from each project's vendor/composer/installed.json
 * (Composer 1 writes a bare array, Composer 2 `{packages, dev, dev-package-names}`), and, for a
 * project with no installed.json, its composer.lock (`packages` and `packages-dev`): what syft's
 * php-composer-installed and -lock catalogers read. In an image the installed tree is the better
 * evidence; a lock alone still says what the application ships with.
 */
import type { CatalogFile, CatalogInput, CatalogResult, Cataloger } from '../cataloger.ts';
import type { Package } from '../package.ts';
import { type ComposerEntry, composerPackageId, composerPurl, parseComposerEntry } from './composer-package.ts';

const INSTALLED_SUFFIX = '/vendor/composer/installed.json';

export function isInstalledJson(path: string): boolean {
  return path.endsWith(INSTALLED_SUFFIX);
}

/**
 * A project's lock. Locks below a vendor folder belong to a dependency's own development (some
 * packages ship theirs in the dist) and say nothing about what is installed.
 */
export function isProjectLock(path: string): boolean {
  return path.endsWith('/composer.lock') && !path.includes('/vendor/');
}

export function composerWants(path: string): boolean {
  return isInstalledJson(path) || isProjectLock(path);
}

const decoder = new TextDecoder();

export const composerCataloger: Cataloger = {
  name: 'composer',
  version: 1,
  wants: composerWants,
  catalog(input: CatalogInput): CatalogResult {
    const warnings: string[] = [];
    const byId = new Map<string, Package>();
    const installedProjects = new Set<string>();
    for (const file of input.files) {
      if (!isInstalledJson(file.path)) continue;
      installedProjects.add(file.path.slice(0, -INSTALLED_SUFFIX.length));
      const entries = parseInstalledJson(file, warnings);
      if (entries !== undefined) addEntries(entries, file, byId);
    }
    for (const file of input.files) {
      if (!isProjectLock(file.path)) continue;
      const project = file.path.slice(0, -'/composer.lock'.length);
      if (installedProjects.has(project) || input.allPaths.has(project + INSTALLED_SUFFIX)) continue;
      const entries = parseComposerLock(file, warnings);
      if (entries !== undefined) addEntries(entries, file, byId);
    }

    const packages = [...byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    for (const p of packages) {
      p.locations.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
      p.dependsOn?.sort();
    }
    return { packages, warnings };
  },
};

function parseJson(file: CatalogFile, warnings: string[]): unknown {
  try {
    return JSON.parse(decoder.decode(file.bytes)) as unknown;
  } catch (e) {
    warnings.push(`${file.path}: not valid JSON (${(e as Error).message}); skipped`);
    return undefined;
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Composer 1: `[...]`; Composer 2: `{"packages": [...], "dev": bool, "dev-package-names": [...]}`. */
export function parseInstalledJson(file: CatalogFile, warnings: string[]): ComposerEntry[] | undefined {
  const doc = parseJson(file, warnings);
  if (doc === undefined) return undefined;
  if (Array.isArray(doc)) return entriesOf(doc, () => false, file, warnings);
  if (isObject(doc) && Array.isArray(doc.packages)) {
    // Composer 2 records which installed packages came from require-dev (InstalledFilesystemRepository).
    const devNames = new Set(
      Array.isArray(doc['dev-package-names'])
        ? doc['dev-package-names'].filter((n) => typeof n === 'string').map((n) => n.toLowerCase())
        : [],
    );
    return entriesOf(doc.packages, (name) => devNames.has(name), file, warnings);
  }
  warnings.push(
    `${file.path}: neither a Composer 1 package array nor a Composer 2 {"packages": [...]} object; skipped`,
  );
  return undefined;
}

export function parseComposerLock(file: CatalogFile, warnings: string[]): ComposerEntry[] | undefined {
  const doc = parseJson(file, warnings);
  if (doc === undefined) return undefined;
  if (!isObject(doc) || !Array.isArray(doc.packages)) {
    warnings.push(`${file.path}: composer.lock without a "packages" array; skipped`);
    return undefined;
  }
  const dev = Array.isArray(doc['packages-dev']) ? doc['packages-dev'] : [];
  return [...entriesOf(doc.packages, () => false, file, warnings), ...entriesOf(dev, () => true, file, warnings)];
}

function entriesOf(
  list: readonly unknown[],
  isDev: (name: string) => boolean,
  file: CatalogFile,
  warnings: string[],
): ComposerEntry[] {
  const out: ComposerEntry[] = [];
  list.forEach((raw, i) => {
    const name = isObject(raw) && typeof raw.name === 'string' ? raw.name.trim().toLowerCase() : '';
    const entry = parseComposerEntry(raw, isDev(name));
    if (typeof entry === 'string') warnings.push(`${file.path}: packages[${i}]: ${entry}; skipped`);
    else out.push(entry);
  });
  return out;
}

/**
 * One file's entries → packages. A `require` resolves against the same file's packages only (one
 * project's vendor tree): by name first, then through a package that `replace`s or `provide`s that
 * name, as Composer's solver accepts either.
 */
function addEntries(entries: readonly ComposerEntry[], file: CatalogFile, byId: Map<string, Package>): void {
  const byName = new Map<string, ComposerEntry>();
  for (const e of entries) if (!byName.has(e.name)) byName.set(e.name, e);
  for (const e of entries) for (const alias of e.provides) if (!byName.has(alias)) byName.set(alias, e);

  for (const e of entries) {
    const id = composerPackageId(e.name, e.version);
    let pkg = byId.get(id);
    if (pkg === undefined) {
      pkg = {
        id,
        type: 'composer',
        name: e.name,
        version: e.version,
        purl: composerPurl(e.name, e.version),
        locations: [],
      };
      if (e.license !== undefined) pkg.license = e.license;
      if (e.supplier !== undefined) pkg.supplier = e.supplier;
      const metadata: Record<string, string> = {};
      if (e.dev) metadata.dev = 'true';
      if (e.distUrl !== undefined) metadata.distUrl = e.distUrl;
      if (Object.keys(metadata).length > 0) pkg.metadata = metadata;
      byId.set(id, pkg);
    } else if (!e.dev && pkg.metadata?.dev === 'true') {
      // Needed at run time by one project: no longer a development-only package.
      delete pkg.metadata.dev;
    }
    if (!pkg.locations.some((l) => l.path === file.path))
      pkg.locations.push({ path: file.path, layerDiffId: file.layerDiffId });
    for (const req of e.requires) {
      const target = byName.get(req);
      if (target === undefined) continue; // not installed: an unmet requirement is Composer's to report
      const depId = composerPackageId(target.name, target.version);
      if (depId === id) continue;
      pkg.dependsOn ??= [];
      if (!pkg.dependsOn.includes(depId)) pkg.dependsOn.push(depId);
    }
  }
}
