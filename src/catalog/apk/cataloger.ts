/**
 * Alpine (and Wolfi, postmarketOS, …) packages from apk's installed database,
 * `/lib/apk/db/installed` (`/usr/lib/apk/db/installed` on newer apk-tools): names, versions,
 * licenses, origins, owned files from the `F:`/`R:` lines, dependencies from `D:` resolved through
 * names and `p:` provides, and per-package layer provenance from the database's earlier versions.
 * Virtual packages (`apk add --virtual .build-deps …`) are real records and are kept, as syft does:
 * they say why their dependencies are installed.
 */
import type { CatalogFile, CatalogInput, CatalogResult, Cataloger } from '../cataloger.ts';
import type { Package } from '../package.ts';
import { ApkDependencyIndex } from './dependencies.ts';
import { apkRoot, packageFromRecord } from './package.ts';
import { type ApkRecord, parseInstalled } from './parse-installed.ts';
import { ApkProvenanceIndex } from './provenance.ts';

/** syft's glob is `**\/lib/apk/db/installed`: a database below `/` is an apk root of its own (a chroot). */
export function apkWants(path: string): boolean {
  return path.endsWith('/lib/apk/db/installed');
}

const decoder = new TextDecoder();

interface Found {
  pkg: Package;
  record: ApkRecord;
  db: CatalogFile;
}

export const apkCataloger: Cataloger = {
  name: 'apk',
  version: 1,
  wants: apkWants,
  catalog(input: CatalogInput): CatalogResult {
    const warnings: string[] = [];
    const found = new Map<string, Found>();
    for (const db of input.files) {
      if (!apkWants(db.path)) continue;
      const parsed = parseInstalled(decoder.decode(db.bytes), db.path);
      warnings.push(...parsed.warnings);
      const root = apkRoot(db.path);
      for (const record of parsed.records) {
        const pkg = packageFromRecord({ record, dbPath: db.path, dbLayer: db.layerDiffId, distro: input.distro });
        if (pkg === undefined) {
          warnings.push(`${db.path}:${record.line}: record without P: or V:; skipped`);
          continue;
        }
        const files = record.files.map((f) => root + f);
        // R: lines name symlinks too (libuuid.so.1): with the final filesystem at hand, keep its
        // regular files, which is what attributing language packages needs.
        const owned = input.allPaths.size > 0 ? files.filter((f) => input.allPaths.has(f)) : files;
        if (owned.length > 0) pkg.files = [...new Set(owned)].sort();
        const seen = found.get(pkg.id);
        if (seen !== undefined) {
          // The same package in two databases (`/lib/apk` and `/usr/lib/apk` during the move): one package.
          seen.pkg.locations.push(...pkg.locations);
          if (pkg.files !== undefined) seen.pkg.files = [...new Set([...(seen.pkg.files ?? []), ...pkg.files])].sort();
          continue;
        }
        found.set(pkg.id, { pkg, record, db });
      }
    }

    const deps = new ApkDependencyIndex();
    for (const { pkg, record } of found.values()) deps.add(pkg, record.fields.get('p'));
    const history = new ApkProvenanceIndex();
    for (const { pkg, record, db } of found.values()) {
      const { dependsOn } = deps.resolve(pkg, record.fields.get('D'));
      if (dependsOn.length > 0) pkg.dependsOn = dependsOn;
      const p = history.of(db, pkg.name);
      pkg.introducedBy = p.introducedBy;
      pkg.lastChangedBy = p.lastChangedBy;
    }

    const packages = [...found.values()].map((f) => f.pkg).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return { packages, warnings };
  },
};
