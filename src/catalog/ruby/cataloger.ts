/**
 * Installed Ruby gems: the specification RubyGems writes for each installed gem,
 * `<GEM_HOME>/specifications/<name>-<version>.gemspec`, wherever the gem home is
 * (`/usr/lib/ruby/gems/3.1.0`, `/usr/local/bundle`, `/var/lib/gems/3.1.0`, Debian's
 * `/usr/share/rubygems-integration/all`), plus the default gems Ruby ships in
 * `specifications/default/`. Several versions of one gem are several packages; the same
 * name and version in two gem homes is one package with two locations.
 */
import { posix } from 'node:path';
import type { Digest } from '../../oci/digest.ts';
import type { CatalogFile, CatalogInput, CatalogResult, Cataloger } from '../cataloger.ts';
import { toSpdxExpression } from '../license.ts';
import type { Package } from '../package.ts';
import { buildPurl } from '../purl.ts';
import { type GemDependency, type Gemspec, parseGemspec } from './gemspec.ts';
import { compareGemVersions, satisfies } from './version.ts';

// syft globs `**/specifications/**/*.gemspec` (default gems sit one level down); trivy
// `.*/specifications/.+\.gemspec`. Both read only installed specifications, never a project's
// own `foo.gemspec` at a repository root.
const SPEC_PATH = /\/specifications\/(?:default\/)?[^/]+\.gemspec$/;

export function gemWants(path: string): boolean {
  return SPEC_PATH.test(path);
}

/** Like the deb and rpm ids: the platform, when there is one, after a colon. */
export function gemPackageId(name: string, version: string, platform?: string): string {
  return platform === undefined ? `gem:${name}@${version}` : `gem:${name}@${version}:${platform}`;
}

/** RubyGems' full name: the directory under `gems/` and the specification's file name. */
function fullName(spec: Gemspec): string {
  return spec.platform === undefined ? `${spec.name}-${spec.version}` : `${spec.name}-${spec.version}-${spec.platform}`;
}

/**
 * Names RubyGems users write that are not SPDX ids. `BSDL` is the file Ruby and its default gems
 * ship, the 2-clause BSD text; `PSFL` (test-unit) is the Python Software Foundation License.
 */
const GEM_LICENSE_ALIASES: ReadonlyMap<string, string> = new Map([
  ['bsdl', 'BSD-2-Clause'],
  ['psfl', 'PSF-2.0'],
]);

interface Found {
  pkg: Package;
  spec: Gemspec;
}

const decoder = new TextDecoder();
const byId = (a: Package, b: Package) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

export const gemCataloger: Cataloger = {
  name: 'gem',
  version: 1,
  wants: gemWants,
  catalog(input: CatalogInput): CatalogResult {
    const warnings: string[] = [];
    const found = new Map<string, Found>();
    const files = [...input.files]
      .filter((f) => gemWants(f.path))
      .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    for (const file of files) {
      const parsed = parseGemspec(decoder.decode(file.bytes), file.path);
      warnings.push(...parsed.warnings);
      const spec = parsed.spec;
      if (spec === undefined) continue;
      const pkg = packageFromSpec(spec, file, input.allPaths);
      const seen = found.get(pkg.id);
      if (seen !== undefined) {
        // Installed in two gem homes (Debian's rubygems-integration and Ruby's own, say): one
        // package found twice.
        seen.pkg.locations.push(...pkg.locations);
        if (pkg.files !== undefined) seen.pkg.files = [...new Set([...(seen.pkg.files ?? []), ...pkg.files])].sort();
        continue;
      }
      found.set(pkg.id, { pkg, spec });
    }
    resolveDependencies([...found.values()]);
    return { packages: [...found.values()].map((f) => f.pkg).sort(byId), warnings };
  },
};

function packageFromSpec(spec: Gemspec, file: CatalogFile, allPaths: ReadonlySet<string>): Package {
  const pkg: Package = {
    id: gemPackageId(spec.name, spec.version, spec.platform),
    type: 'gem',
    name: spec.name,
    version: spec.version,
    // The purl spec's gem type names `platform` as its qualifier (`pkg:gem/jruby-launcher@1.1.2?platform=java`).
    purl: buildPurl('gem', undefined, spec.name, spec.version, { platform: spec.platform }),
    locations: [{ path: file.path, layerDiffId: file.layerDiffId }],
    ...provenance(file),
  };
  if (spec.platform !== undefined) pkg.arch = spec.platform;
  const license = gemLicense(spec.licenses);
  if (license !== undefined) pkg.license = license;
  if (spec.authors.length > 0) pkg.supplier = spec.authors.join(', ');
  const owned = ownedFiles(spec, file.path, allPaths);
  if (owned.length > 0) pkg.files = owned;
  const metadata: Record<string, string> = {};
  if (spec.licenses.length > 0) metadata.licenses = spec.licenses.join(', ');
  if (spec.authors.length > 0) metadata.authors = spec.authors.join(', ');
  if (spec.homepage !== undefined) metadata.homepage = spec.homepage;
  if (spec.summary !== undefined) metadata.summary = spec.summary.split('\n')[0]!.trim();
  if (spec.runtimeDependencies.length > 0) metadata.dependencies = spec.runtimeDependencies.map(describe).join(', ');
  pkg.metadata = metadata;
  return pkg;
}

const describe = (d: GemDependency) =>
  d.requirements.length > 0 ? `${d.name} (${d.requirements.join(', ')})` : d.name;

/**
 * `licenses` lists the licenses a gem is offered under: Ruby's own `["Ruby", "BSD-2-Clause"]` is
 * its dual licence, a choice, so the names are joined with OR (syft keeps them as separate
 * entries, which SPDX readers take as AND).
 */
export function gemLicense(licenses: readonly string[]): string | undefined {
  const parts: string[] = [];
  for (const raw of licenses) {
    const alias = GEM_LICENSE_ALIASES.get(raw.trim().toLowerCase());
    const expr = alias ?? toSpdxExpression([raw]).expression;
    if (expr !== undefined && !parts.includes(expr)) parts.push(expr);
  }
  if (parts.length === 0) return undefined;
  if (parts.length === 1) return parts[0];
  // Each part is valid SPDX, so the joined text parses directly and comes back in canonical form.
  return toSpdxExpression([parts.map((p) => `(${p})`).join(' OR ')]).expression;
}

/**
 * `s.files` are relative to `<GEM_HOME>/gems/<name>-<version>[-<platform>]/`, next to `specifications/`. Only
 * paths that exist are kept: default gems and Debian's packaged gems install their code elsewhere
 * (rubylibdir, vendor_ruby), so the list would name files that are not there.
 */
function ownedFiles(spec: Gemspec, specPath: string, allPaths: ReadonlySet<string>): string[] {
  if (allPaths.size === 0 || spec.files.length === 0) return [];
  const home = specPath.slice(0, specPath.lastIndexOf('/specifications/'));
  const gemDir = posix.join(home, 'gems', fullName(spec));
  const out = new Set<string>();
  for (const f of spec.files) {
    const p = posix.join(gemDir, f);
    if (p.startsWith(`${gemDir}/`) && allPaths.has(p)) out.add(p);
  }
  return [...out].sort();
}

/**
 * Runtime dependencies resolved against the installed gems the way RubyGems activates them: the
 * highest installed version that meets every requirement. A dependency no installed version
 * meets is left out rather than pointed at a version Ruby would refuse to load.
 */
function resolveDependencies(all: Found[]): void {
  const byName = new Map<string, Found[]>();
  for (const f of all) {
    const list = byName.get(f.spec.name) ?? [];
    list.push(f);
    byName.set(f.spec.name, list);
  }
  for (const list of byName.values()) list.sort((a, b) => compareGemVersions(b.spec.version, a.spec.version));
  for (const f of all) {
    const out = new Set<string>();
    for (const dep of f.spec.runtimeDependencies) {
      const hit = byName.get(dep.name)?.find((c) => dep.requirements.every((r) => satisfies(c.spec.version, r)));
      if (hit !== undefined && hit.pkg.id !== f.pkg.id) out.add(hit.pkg.id);
    }
    if (out.size > 0) f.pkg.dependsOn = [...out].sort();
  }
}

/**
 * The specification's versions, oldest layer first: the first layer that held it brought the gem,
 * the last one that wrote different bytes changed it.
 */
function provenance(file: CatalogFile): { introducedBy: Digest; lastChangedBy: Digest } {
  const versions = [...(file.earlier ?? []), { layerDiffId: file.layerDiffId, bytes: file.bytes }];
  let lastChangedBy = versions[0]!.layerDiffId;
  for (let i = 1; i < versions.length; i++) {
    if (!Buffer.from(versions[i - 1]!.bytes).equals(Buffer.from(versions[i]!.bytes))) {
      lastChangedBy = versions[i]!.layerDiffId;
    }
  }
  return { introducedBy: versions[0]!.layerDiffId, lastChangedBy };
}
