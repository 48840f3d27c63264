/**
 * rpm packages from the rpm database, in any of its three backends (sqlite, NDB, Berkeley DB hash:
 * see database.ts), with file lists, dependencies resolved through Provides and file ownership, and
 * per-package layer provenance from the database's versions in lower layers.
 */
import type { Digest } from '../../oci/digest.ts';
import type { CatalogFile, CatalogInput, CatalogResult, Cataloger } from '../cataloger.ts';
import type { Package } from '../package.ts';
import { readRpmDb } from './database.ts';
import { RpmDependencyIndex } from './dependencies.ts';
import { RpmHeader, TAG } from './header.ts';
import { headerFiles, type HeaderFiles, packageFromHeader, readNevra, rpmEvr, rpmPackageId } from './package.ts';

/**
 * Where rpm keeps its database: `/var/lib/rpm` (rpm < 4.16 default, and a symlink on newer
 * Fedora/SUSE), `/usr/lib/sysimage/rpm` (rpm ≥ 4.16 on Fedora 36+, openSUSE, SLE 15 SP3+) and
 * `/usr/share/rpm` (rpm-ostree / CoreOS). Same set as syft's glob, anchored at the image root.
 */
const DB_DIRS = ['/var/lib/rpm/', '/usr/lib/sysimage/rpm/', '/usr/share/rpm/'];
const DB_NAMES = ['rpmdb.sqlite', 'Packages.db', 'Packages'];
export const RPM_DB_PATHS: ReadonlySet<string> = new Set(DB_DIRS.flatMap((d) => DB_NAMES.map((n) => d + n)));

export function rpmWants(path: string): boolean {
  return RPM_DB_PATHS.has(path);
}

interface Found {
  pkg: Package;
  requires: string[];
}

export const rpmCataloger: Cataloger = {
  name: 'rpm',
  version: 1,
  wants: rpmWants,
  async catalog(input: CatalogInput): Promise<CatalogResult> {
    const warnings: string[] = [];
    const found = new Map<string, Found>();
    const deps = new RpmDependencyIndex();
    const provenance = new Map<string, Provenance>();
    for (const db of input.files) {
      if (!rpmWants(db.path)) continue;
      const read = await readRpmDb(db.bytes, db.path);
      warnings.push(...read.warnings);
      const history = db.earlier !== undefined && db.earlier.length > 0 ? await layerHistory(db) : undefined;
      for (const record of read.records) {
        let header: RpmHeader;
        let pkg: Package;
        try {
          header = RpmHeader.parse(record.blob);
          pkg = packageFromHeader({ header, dbPath: db.path, dbLayer: db.layerDiffId, distro: input.distro });
        } catch (e) {
          warnings.push(`${db.path}: ${record.id}: ${message(e)}; skipped`);
          continue;
        }
        const seen = found.get(pkg.id);
        if (seen !== undefined) {
          // The same package in two databases (a stale /var/lib/rpm next to /usr/lib/sysimage/rpm).
          seen.pkg.locations.push(...pkg.locations);
          continue;
        }
        let files: HeaderFiles = { all: [], regular: [] };
        let provides: string[] = [];
        let requires: string[] = [];
        try {
          files = headerFiles(header);
          provides = header.strings(TAG.PROVIDENAME);
          requires = header.strings(TAG.REQUIRENAME);
        } catch (e) {
          warnings.push(`${db.path}: ${record.id} (${pkg.name}): files or dependencies unreadable: ${message(e)}`);
        }
        // With the final filesystem at hand keep the files that are really there (syft does the same):
        // `rpm --excludedocs` and `tsflags=nodocs` leave documented files uninstalled.
        const owned = input.allPaths.size > 0 ? files.regular.filter((f) => input.allPaths.has(f)) : files.regular;
        if (owned.length > 0) pkg.files = owned.sort();
        deps.add(pkg.id, pkg.name, provides, files.all);
        found.set(pkg.id, { pkg, requires });
        provenance.set(pkg.id, history?.of(pkg) ?? { introducedBy: db.layerDiffId, lastChangedBy: db.layerDiffId });
      }
    }
    for (const { pkg, requires } of found.values()) {
      const dependsOn = deps.resolve(pkg.id, requires);
      if (dependsOn.length > 0) pkg.dependsOn = dependsOn;
      const p = provenance.get(pkg.id)!;
      pkg.introducedBy = p.introducedBy;
      pkg.lastChangedBy = p.lastChangedBy;
    }
    const packages = [...found.values()].map((f) => f.pkg).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return { packages, warnings };
  },
};

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

interface Provenance {
  introducedBy: Digest;
  lastChangedBy: Digest;
}

/** Per layer version of a database: package ids present, and name.arch → ids. */
interface Version {
  layerDiffId: Digest;
  ids: Set<string>;
  byNameArch: Map<string, string[]>;
}

const nameArch = (name: string, arch: string | undefined) => `${name}.${arch ?? ''}`;

/**
 * Which layer first brought a package and which last changed it, from the database's versions
 * oldest to final. A package is followed by name.arch, so an upgrade in a later layer is a change;
 * names installed several times at once (kernels, gpg-pubkey) are followed by their exact NEVRA.
 * Lower layers' warnings are not reported: only the final database defines the packages.
 */
async function layerHistory(db: CatalogFile): Promise<{ of(pkg: Package): Provenance }> {
  const versions: Version[] = [];
  for (const v of [...(db.earlier ?? []), { layerDiffId: db.layerDiffId, bytes: db.bytes }]) {
    const version: Version = { layerDiffId: v.layerDiffId, ids: new Set(), byNameArch: new Map() };
    for (const record of (await readRpmDb(v.bytes, db.path)).records) {
      try {
        const n = readNevra(RpmHeader.parse(record.blob));
        const id = rpmPackageId(n.name, rpmEvr(n.version, n.release, n.epoch), n.arch);
        version.ids.add(id);
        const key = nameArch(n.name, n.arch);
        version.byNameArch.set(key, [...(version.byNameArch.get(key) ?? []), id]);
      } catch {
        // Reported (if still present) when the final database is read.
      }
    }
    versions.push(version);
  }
  const final = versions[versions.length - 1]!;
  return {
    of(pkg: Package): Provenance {
      const key = nameArch(pkg.name, pkg.arch);
      const single = (final.byNameArch.get(key)?.length ?? 0) <= 1;
      let introducedBy: Digest | undefined;
      let lastChangedBy: Digest = db.layerDiffId;
      let previous: string | undefined;
      for (const v of versions) {
        const marker = single ? v.byNameArch.get(key)?.join(' ') : v.ids.has(pkg.id) ? pkg.id : undefined;
        if (marker !== undefined && (introducedBy === undefined || marker !== previous)) {
          introducedBy ??= v.layerDiffId;
          lastChangedBy = v.layerDiffId;
        }
        previous = marker;
      }
      return { introducedBy: introducedBy ?? db.layerDiffId, lastChangedBy };
    },
  };
}
