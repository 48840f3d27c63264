/**
 * npm packages: installed ones from each package root's package.json under node_modules (npm,
 * yarn classic and pnpm's `.pnpm/<id>/node_modules/<name>` layouts alike), and, for a project
 * that has a package-lock.json but no installed node_modules, the lock's entries (what syft and
 * trivy do for directories; in an image the installed tree is the better evidence when it exists).
 */
import type { CatalogFile, CatalogInput, CatalogResult, Cataloger } from '../cataloger.ts';
import type { Package } from '../package.ts';
import { npmPurl } from '../purl.ts';
import { asObject, jsonString, npmAuthor, npmDependencyNames, npmLicense } from './package-json.ts';
import { parsePackageLock, type TreeNode } from './package-lock.ts';
import { resolveDependency } from './resolve.ts';

/**
 * A package root is the folder right below the last `node_modules` (`x`), or two below it when the
 * first is a scope (`@s/x`). package.json files deeper in a package (`x/lib/package.json`, which
 * only sets `"type"`, or test fixtures) are not packages: trivy's `IsPackageRoot` rule.
 */
export function isPackageRootManifest(path: string): boolean {
  if (!path.endsWith('/package.json')) return false;
  const at = path.lastIndexOf('/node_modules/');
  if (at < 0) return false;
  const segments = path.slice(at + '/node_modules/'.length, -'/package.json'.length).split('/');
  if (segments.some((s) => s === '' || s.startsWith('.'))) {
    // `.bin`, `.cache`, `.pnpm` itself: npm's own folders, never a package.
    return false;
  }
  if (segments.length === 1) return !segments[0]!.startsWith('@');
  return segments.length === 2 && segments[0]!.startsWith('@');
}

/** A project's lock file; those inside node_modules describe a dependency's own development tree. */
export function isProjectLock(path: string): boolean {
  return path.endsWith('/package-lock.json') && !path.includes('/node_modules/');
}

export function npmWants(path: string): boolean {
  return isPackageRootManifest(path) || isProjectLock(path);
}

const decoder = new TextDecoder();

export function npmPackageId(name: string, version: string): string {
  return `npm:${name}@${version}`;
}

export const npmCataloger: Cataloger = {
  name: 'npm',
  version: 1,
  wants: npmWants,
  catalog(input: CatalogInput): CatalogResult {
    const warnings: string[] = [];
    const manifests = input.files.filter((f) => isPackageRootManifest(f.path));
    const locks = input.files.filter((f) => isProjectLock(f.path));

    const installed = new Map<string, { node: TreeNode; file: CatalogFile }>();
    for (const file of manifests) {
      const node = nodeFromManifest(file, warnings);
      if (node !== undefined) installed.set(node.dir, { node, file });
    }
    const byId = new Map<string, Package>();
    addTree(installed, byId);

    for (const lock of locks) {
      const projectDir = lock.path.slice(0, lock.path.lastIndexOf('/'));
      if (hasInstalledTree(projectDir, input, manifests)) continue;
      const parsed = parsePackageLock(decoder.decode(lock.bytes), lock.path);
      warnings.push(...parsed.warnings);
      const tree = new Map(parsed.nodes.map((node) => [node.dir, { node, file: lock }]));
      addTree(tree, byId);
    }

    const packages = [...byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    for (const p of packages) {
      p.locations.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
      if (p.dependsOn !== undefined) p.dependsOn.sort();
    }
    return { packages, warnings };
  },
};

function nodeFromManifest(file: CatalogFile, warnings: string[]): TreeNode | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(decoder.decode(file.bytes));
  } catch (e) {
    warnings.push(`${file.path}: not valid JSON (${(e as Error).message}); skipped`);
    return undefined;
  }
  const manifest = asObject(doc);
  const name = manifest && jsonString(manifest.name);
  const version = manifest && jsonString(manifest.version);
  if (manifest === undefined || name === undefined || version === undefined) {
    warnings.push(`${file.path}: package.json without name or version; skipped`);
    return undefined;
  }
  const node: TreeNode = {
    dir: file.path.slice(0, -'/package.json'.length),
    name,
    version,
    dependencies: npmDependencyNames(manifest),
  };
  const license = npmLicense(manifest);
  if (license !== undefined) node.license = license;
  const supplier = npmAuthor(manifest);
  if (supplier !== undefined) node.supplier = supplier;
  return node;
}

/** Is anything installed under `<project>/node_modules`? Then the lock is not needed (nor trusted). */
function hasInstalledTree(projectDir: string, input: CatalogInput, manifests: readonly CatalogFile[]): boolean {
  const prefix = `${projectDir}/node_modules/`;
  if (manifests.some((m) => m.path.startsWith(prefix))) return true;
  for (const p of input.allPaths) if (p.startsWith(prefix)) return true;
  return false;
}

/** Folders → packages (one per name@version, every folder a location), dependencies by Node's lookup. */
function addTree(tree: ReadonlyMap<string, { node: TreeNode; file: CatalogFile }>, byId: Map<string, Package>): void {
  for (const { node, file } of tree.values()) {
    const id = npmPackageId(node.name, node.version);
    let pkg = byId.get(id);
    if (pkg === undefined) {
      pkg = {
        id,
        type: 'npm',
        name: node.name,
        version: node.version,
        purl: npmPurl(node.name, node.version),
        locations: [],
      };
      if (node.license !== undefined) pkg.license = node.license;
      if (node.supplier !== undefined) pkg.supplier = node.supplier;
      if (node.dev === true) pkg.metadata = { dev: 'true' };
      byId.set(id, pkg);
    }
    if (!pkg.locations.some((l) => l.path === file.path))
      pkg.locations.push({ path: file.path, layerDiffId: file.layerDiffId });
    for (const dep of node.dependencies) {
      const dir = resolveDependency(node.dir, dep, tree);
      const target = dir === undefined ? undefined : tree.get(dir)?.node;
      if (target === undefined) continue; // optional or peer dependency that is not installed
      const depId = npmPackageId(target.name, target.version);
      if (depId === id) continue;
      pkg.dependsOn ??= [];
      if (!pkg.dependsOn.includes(depId)) pkg.dependsOn.push(depId);
    }
  }
}
