/**
 * The npm cataloger on real package.json files: this repository's own installed node_modules tree
 * (nested and scoped folders, packages that ship extra package.json files below their root) against
 * what npm itself reports for it (`npm ls --all --json`), plus lock-only projects and bad input.
 */
import { execFileSync } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { describe, expect, test } from 'vitest';
import type { CatalogFile } from '../../../src/catalog/cataloger.ts';
import { isPackageRootManifest, npmCataloger } from '../../../src/catalog/npm/cataloger.ts';
import type { Digest } from '../../../src/oci/digest.ts';

const REPO = join(import.meta.dirname, '../../..');
const LAYER = `sha256:${'cd'.repeat(32)}` as Digest;
const enc = new TextEncoder();

function file(path: string, content: string | object): CatalogFile {
  return {
    path,
    bytes: enc.encode(typeof content === 'string' ? content : JSON.stringify(content)),
    layerDiffId: LAYER,
  };
}

/** Every package.json below `dir` (roots and non-roots alike), as if the tree sat at /app/node_modules. */
async function allPackageJsons(dir: string): Promise<CatalogFile[]> {
  const out: CatalogFile[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile() || e.name !== 'package.json') continue;
    const abs = join(e.parentPath, e.name);
    out.push({ path: `/app/node_modules/${relative(dir, abs)}`, bytes: await readFile(abs), layerDiffId: LAYER });
  }
  return out.sort((a, b) => (a.path < b.path ? -1 : 1));
}

interface NpmLsNode {
  version?: string;
  /** Installed in this folder but declared by nobody: npm lists it under the folder, not as an edge. */
  extraneous?: boolean;
  dependencies?: Record<string, NpmLsNode>;
  problems?: string[];
}

/** npm's own view of the installed tree: every name@version and every resolved dependency edge. */
function npmLsTruth(): { packages: Set<string>; edges: Set<string> } {
  const out = execFileSync('npm', ['ls', '--all', '--json'], {
    cwd: REPO,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const root = JSON.parse(out) as NpmLsNode;
  const packages = new Set<string>();
  const edges = new Set<string>();
  const walk = (node: NpmLsNode, from: string | undefined) => {
    for (const [name, child] of Object.entries(node.dependencies ?? {})) {
      if (child.version === undefined) continue; // optional/peer dependency npm did not install
      const id = `${name}@${child.version}`;
      packages.add(id);
      if (from !== undefined && child.extraneous !== true) edges.add(`${from} -> ${id}`);
      walk(child, id);
    }
  };
  walk(root, undefined);
  // Installed but needed by nothing: npm lists them only as problems.
  for (const p of root.problems ?? []) {
    const m = /^extraneous: (\S+@\S+) /.exec(p);
    if (m !== null) packages.add(m[1]!);
  }
  return { packages, edges };
}

describe("this repository's node_modules", async () => {
  const all = await allPackageJsons(join(REPO, 'node_modules'));
  const wanted = all.filter((f) => npmCataloger.wants(f.path));
  const result = await npmCataloger.catalog({ files: wanted, allPaths: new Set(all.map((f) => f.path)) });

  test('wants only package roots: nested and scoped yes, files deeper inside a package no', () => {
    const paths = new Set(wanted.map((f) => f.path));
    expect(paths.has('/app/node_modules/yargs/package.json')).toBe(true);
    expect(paths.has('/app/node_modules/@types/node/package.json')).toBe(true);
    expect(paths.has('/app/node_modules/cliui/node_modules/string-width/package.json')).toBe(true);
    const skipped = all.filter((f) => !paths.has(f.path)).map((f) => f.path);
    expect(skipped.length).toBeGreaterThan(0);
    for (const p of skipped) {
      const rest = p.slice(p.lastIndexOf('/node_modules/') + 14, -'/package.json'.length).split('/');
      expect(rest.length === 1 || (rest.length === 2 && rest[0]!.startsWith('@'))).toBe(false);
    }
  });

  test('the package set is exactly what npm ls reports, with no warnings', () => {
    const truth = npmLsTruth();
    expect(result.warnings).toEqual([]);
    expect(new Set(result.packages.map((p) => `${p.name}@${p.version}`))).toEqual(truth.packages);
  });

  test('dependencies resolve like Node: the edges are npm ls edges', () => {
    const truth = npmLsTruth();
    const ours = new Set<string>();
    for (const p of result.packages) {
      for (const d of p.dependsOn ?? []) ours.add(`${p.name}@${p.version} -> ${d.slice('npm:'.length)}`);
    }
    expect(ours).toEqual(truth.edges);
  });

  test('fields of real manifests: purl, license, supplier, nested copies', async () => {
    const yargs = result.packages.find((p) => p.name === 'yargs')!;
    const manifest = JSON.parse(await readFile(join(REPO, 'node_modules/yargs/package.json'), 'utf8')) as {
      version: string;
      license: string;
      dependencies: Record<string, string>;
    };
    expect(yargs.version).toBe(manifest.version);
    expect(yargs.purl).toBe(`pkg:npm/yargs@${manifest.version}`);
    expect(yargs.license).toBe(manifest.license);
    expect(yargs.dependsOn!.map((d) => d.slice(4).replace(/@[^@]+$/, '')).sort()).toEqual(
      Object.keys(manifest.dependencies).sort(),
    );
    const types = result.packages.find((p) => p.name === '@types/node')!;
    expect(types.purl).toBe(`pkg:npm/%40types/node@${types.version}`);
    expect(types.license).toBe('MIT');
    // cliui needs string-width from its own nested node_modules, not the hoisted one.
    const cliui = result.packages.find((p) => p.name === 'cliui')!;
    const nestedSw = JSON.parse(
      await readFile(join(REPO, 'node_modules/cliui/node_modules/string-width/package.json'), 'utf8'),
    ) as { version: string };
    expect(cliui.dependsOn).toContain(`npm:string-width@${nestedSw.version}`);
    for (const p of result.packages) expect(p.locations.length).toBeGreaterThan(0);
  });
});

describe('synthetic trees around real rules', () => {
  test('one name@version in two folders is one package with two locations; author → supplier', async () => {
    const files = [
      file('/srv/a/node_modules/left-pad/package.json', { name: 'left-pad', version: '1.3.0', license: 'WTFPL' }),
      file('/srv/b/node_modules/left-pad/package.json', { name: 'left-pad', version: '1.3.0', license: 'WTFPL' }),
      file('/srv/a/node_modules/x/package.json', {
        name: 'x',
        version: '1.0.0',
        author: 'Jane Doe <jane@example.org> (https://example.org)',
        licenses: [{ type: 'MIT' }, { type: 'Apache-2.0' }],
        dependencies: { 'left-pad': '^1' },
      }),
      file('/srv/a/node_modules/y/package.json', {
        name: 'y',
        version: '2.0.0',
        license: { type: 'ISC' },
        author: { name: 'Ann', email: 'ann@example.org' },
      }),
    ];
    const { packages, warnings } = await npmCataloger.catalog({ files, allPaths: new Set() });
    expect(warnings).toEqual([]);
    const lp = packages.find((p) => p.name === 'left-pad')!;
    expect(lp.locations.map((l) => l.path)).toEqual([
      '/srv/a/node_modules/left-pad/package.json',
      '/srv/b/node_modules/left-pad/package.json',
    ]);
    const x = packages.find((p) => p.name === 'x')!;
    expect(x.supplier).toBe('Jane Doe <jane@example.org>');
    expect(x.license).toBe('MIT OR Apache-2.0'); // legacy `licenses` array: any of them
    expect(x.dependsOn).toEqual(['npm:left-pad@1.3.0']);
    const y = packages.find((p) => p.name === 'y')!;
    expect(y.license).toBe('ISC');
    expect(y.supplier).toBe('Ann <ann@example.org>');
  });

  test('non-root package.json files are not wanted; a root without version or with bad JSON warns', async () => {
    expect(npmCataloger.wants('/app/node_modules/rxjs/ajax/package.json')).toBe(false);
    expect(npmCataloger.wants('/app/node_modules/x/test/fixtures/p/node_modules/q/package.json')).toBe(true);
    expect(isPackageRootManifest('/app/node_modules/x/test/fixtures/p/package.json')).toBe(false);
    expect(npmCataloger.wants('/app/node_modules/@scope/package.json')).toBe(false);
    expect(npmCataloger.wants('/app/node_modules/.pnpm/a@1.0.0/node_modules/a/package.json')).toBe(true);
    expect(npmCataloger.wants('/app/package.json')).toBe(false);
    expect(npmCataloger.wants('/app/node_modules/x/package-lock.json')).toBe(false);
    const files = [
      file('/app/node_modules/broken/package.json', '{"name": "broken", "version": '),
      file('/app/node_modules/nover/package.json', { name: 'nover' }),
      file('/app/node_modules/ok/package.json', { name: 'ok', version: '1.0.0' }),
    ];
    const { packages, warnings } = await npmCataloger.catalog({ files, allPaths: new Set() });
    expect(packages.map((p) => p.id)).toEqual(['npm:ok@1.0.0']);
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatch(/^\/app\/node_modules\/broken\/package.json: not valid JSON/);
    expect(warnings[1]).toMatch(/^\/app\/node_modules\/nover\/package.json: package.json without name or version/);
  });
});

describe('package-lock.json', () => {
  // The repository's own lock (v3), written by npm: its entries are the truth for a lock-only project.
  test('a lock-only project yields the lock entries, dependencies resolved through the lock paths', async () => {
    const content = await readFile(join(REPO, 'package-lock.json'), 'utf8');
    const lock = JSON.parse(content) as {
      packages: Record<string, { version?: string; name?: string; link?: boolean }>;
    };
    const expected = new Set(
      Object.entries(lock.packages)
        .filter(([k, v]) => k.includes('node_modules/') && v.link !== true)
        .map(([k, v]) => `${v.name ?? k.slice(k.lastIndexOf('node_modules/') + 13)}@${v.version}`),
    );
    const { packages, warnings } = await npmCataloger.catalog({
      files: [file('/app/package-lock.json', content)],
      allPaths: new Set(['/app/package-lock.json', '/app/package.json']),
    });
    expect(warnings).toEqual([]);
    expect(new Set(packages.map((p) => `${p.name}@${p.version}`))).toEqual(expected);
    expect(packages.every((p) => p.locations[0]!.path === '/app/package-lock.json')).toBe(true);
    const cliui = packages.find((p) => p.name === 'cliui')!;
    const nested = lock.packages['node_modules/cliui/node_modules/string-width']!;
    expect(cliui.dependsOn).toContain(`npm:string-width@${nested.version}`);
    expect(packages.find((p) => p.name === 'vitest')!.metadata).toEqual({ dev: 'true' });
  });

  test('an installed node_modules wins over the lock', async () => {
    const lock = { lockfileVersion: 3, packages: { '': {}, 'node_modules/a': { version: '1.0.0' } } };
    const files = [
      file('/app/node_modules/b/package.json', { name: 'b', version: '2.0.0' }),
      file('/app/package-lock.json', lock),
    ];
    const { packages } = await npmCataloger.catalog({ files, allPaths: new Set(files.map((f) => f.path)) });
    expect(packages.map((p) => p.id)).toEqual(['npm:b@2.0.0']);
  });

  test('lockfileVersion 1: nested dependencies and requires', async () => {
    const lock = {
      lockfileVersion: 1,
      dependencies: {
        a: { version: '1.0.0', requires: { b: '^2' } },
        b: { version: '3.0.0' },
        c: { version: '1.0.0', requires: { b: '^2' }, dependencies: { b: { version: '2.1.0' } } },
      },
    };
    const { packages } = await npmCataloger.catalog({
      files: [file('/p/package-lock.json', lock)],
      allPaths: new Set(),
    });
    const deps = Object.fromEntries(packages.map((p) => [p.id, p.dependsOn ?? []]));
    expect(deps).toEqual({
      'npm:a@1.0.0': ['npm:b@3.0.0'],
      'npm:b@2.1.0': [],
      'npm:b@3.0.0': [],
      'npm:c@1.0.0': ['npm:b@2.1.0'],
    });
  });

  test('malformed lock warns with its path', async () => {
    const { packages, warnings } = await npmCataloger.catalog({
      files: [file('/p/package-lock.json', '{')],
      allPaths: new Set(),
    });
    expect(packages).toEqual([]);
    expect(warnings[0]).toMatch(/^\/p\/package-lock.json: not valid JSON/);
  });
});
