import type { Package, PackageType } from '../catalog/package.ts';

/** Package managers of the distribution: their databases list the files each package installed. */
const OS_TYPES: ReadonlySet<PackageType> = new Set(['deb', 'apk', 'rpm']);

/**
 * One list of packages from every cataloger's findings:
 * - a package reported twice (two catalogers, two database files) is one package with both locations;
 * - a language package whose every location is a file an OS package installed (Debian's
 *   `python3-six` ships `six-1.16.0.dist-info`) is the OS package's content, not a second
 *   package: it is dropped and named in `attributed`, as trivy does for system-installed files,
 *   and dependencies on it point at that OS package instead.
 * Output is sorted by id, so the order catalogers ran in never shows.
 */
export function mergePackages(found: readonly Package[]): { packages: Package[]; attributed: string[] } {
  const byId = new Map<string, Package>();
  for (const pkg of found) {
    const existing = byId.get(pkg.id);
    if (!existing) {
      byId.set(pkg.id, { ...pkg, locations: [...pkg.locations] });
      continue;
    }
    for (const loc of pkg.locations) {
      if (!existing.locations.some((l) => l.path === loc.path && l.layerDiffId === loc.layerDiffId)) {
        existing.locations.push(loc);
      }
    }
    existing.locations.sort((a, b) => compare(a.path, b.path));
  }

  const osOwner = new Map<string, string>();
  for (const pkg of byId.values()) {
    if (!OS_TYPES.has(pkg.type)) continue;
    for (const f of pkg.files ?? []) osOwner.set(f, pkg.id);
  }
  const attributed: string[] = [];
  /** Dropped language package id -> the OS package that holds it, so edges to it keep a target. */
  const absorbedBy = new Map<string, string>();
  for (const [id, pkg] of byId) {
    if (OS_TYPES.has(pkg.type) || pkg.locations.length === 0) continue;
    const owners = pkg.locations.map((l) => osOwner.get(l.path));
    if (owners.every((o) => o !== undefined)) {
      byId.delete(id);
      absorbedBy.set(id, owners[0]!);
      attributed.push(`${pkg.type} ${pkg.name}@${pkg.version} is part of ${[...new Set(owners)].join(', ')}`);
    }
  }
  const packages = [...byId.values()].sort((a, b) => compare(a.id, b.id));
  if (absorbedBy.size > 0) {
    for (const pkg of packages) {
      if (!pkg.dependsOn?.some((d) => absorbedBy.has(d))) continue;
      const deps = new Set(pkg.dependsOn.map((d) => absorbedBy.get(d) ?? d));
      deps.delete(pkg.id);
      pkg.dependsOn = [...deps].sort(compare);
    }
  }
  return { packages, attributed: attributed.sort(compare) };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
