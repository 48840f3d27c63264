/**
 * package-lock.json (npm's lock, docs.npmjs.com "package-lock.json"): v2/v3 list every installed
 * folder under `packages`, keyed by its path relative to the project ("node_modules/a/node_modules/b");
 * v1 nests `dependencies` the way the folders nest. Both become the same shape as an installed tree:
 * one node per folder, so dependencies resolve with the same node_modules lookup.
 */
import { asObject, jsonString, npmDependencyNames, npmLicense } from './package-json.ts';

export interface TreeNode {
  /** Absolute folder the package is (or would be) installed in: `/app/node_modules/@s/x`. */
  dir: string;
  name: string;
  version: string;
  license?: string;
  supplier?: string;
  dependencies: string[];
  dev?: boolean;
}

export interface LockParse {
  nodes: TreeNode[];
  warnings: string[];
}

const lastName = (key: string) => key.slice(key.lastIndexOf('node_modules/') + 'node_modules/'.length);

export function parsePackageLock(content: string, path: string): LockParse {
  const warnings: string[] = [];
  let doc: unknown;
  try {
    doc = JSON.parse(content);
  } catch (e) {
    return { nodes: [], warnings: [`${path}: not valid JSON (${(e as Error).message}); skipped`] };
  }
  const lock = asObject(doc);
  if (lock === undefined) return { nodes: [], warnings: [`${path}: not a JSON object; skipped`] };
  const projectDir = path.slice(0, path.lastIndexOf('/')) || '';
  const packages = asObject(lock.packages);
  const nodes: TreeNode[] = [];
  if (packages !== undefined) {
    for (const [key, value] of Object.entries(packages)) {
      const entry = asObject(value);
      // "" is the project itself; keys without node_modules are workspace folders, reached through links.
      if (entry === undefined || !key.includes('node_modules/') || entry.link === true) continue;
      const name = jsonString(entry.name) ?? lastName(key);
      const version = jsonString(entry.version);
      if (version === undefined) {
        warnings.push(`${path}: "${key}" has no version; skipped`);
        continue;
      }
      nodes.push(node(`${projectDir}/${key}`, name, version, entry, npmDependencyNames(entry)));
    }
    return { nodes, warnings };
  }
  // lockfileVersion 1: `requires` names the dependencies, nested `dependencies` the folders below.
  const walk = (deps: Record<string, unknown>, dir: string) => {
    for (const [name, value] of Object.entries(deps)) {
      const entry = asObject(value);
      if (entry === undefined) continue;
      const here = `${dir}/node_modules/${name}`;
      const version = jsonString(entry.version);
      if (version === undefined) warnings.push(`${path}: "${name}" under ${dir || '/'} has no version; skipped`);
      else nodes.push(node(here, name, version, entry, Object.keys(asObject(entry.requires) ?? {}).sort()));
      const nested = asObject(entry.dependencies);
      if (nested !== undefined) walk(nested, here);
    }
  };
  walk(asObject(lock.dependencies) ?? {}, projectDir);
  return { nodes, warnings };
}

function node(dir: string, name: string, version: string, entry: Record<string, unknown>, deps: string[]): TreeNode {
  const n: TreeNode = { dir, name, version, dependencies: deps };
  const license = npmLicense(entry);
  if (license !== undefined) n.license = license;
  if (entry.dev === true) n.dev = true;
  return n;
}
