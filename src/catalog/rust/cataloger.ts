/**
 * Rust crates that cargo-auditable recorded inside binaries (syft's cargo-auditable-binary
 * cataloger, trivy's rust-binary analyzer). Binaries cannot be chosen by path, so this cataloger
 * wants no path: its extractor streams every executable through a DepV0Sink and the layer walk
 * hands back the extracts of files still present in the final filesystem.
 *
 * As syft (and trivy) do, only `kind: runtime` crates are reported: build-only crates (build
 * scripts, proc-macros) are not in the binary. Dependency edges come from the index lists and are
 * kept only between reported crates, again as syft does. The root crate is the binary's own and is
 * reported like the others. A crate found in several binaries is one package with several locations.
 */
import type { CatalogFile, CatalogInput, CatalogResult, Cataloger } from '../cataloger.ts';
import type { Package } from '../package.ts';
import { buildPurl } from '../purl.ts';
import { type AuditCrate, parseAuditData } from './audit-data.ts';
import { decodeDepV0Extract, type DepV0SinkOptions, depV0Extractor } from './dep-v0-sink.ts';

export function rustPackageId(name: string, version: string): string {
  return `rust:${name}@${version}`;
}

/** `pkg:cargo/<name>@<version>`, no namespace or qualifiers (syft's packageURL for Rust). */
export function cargoPurl(name: string, version: string): string {
  return buildPurl('cargo', undefined, name, version);
}

const decoder = new TextDecoder('utf-8', { fatal: true });

/** The cataloger with its extractor built from `options` (tests lower the memory limit). */
export function makeRustAuditCataloger(options: DepV0SinkOptions = {}): Cataloger {
  return {
    name: 'rust-binary',
    version: 1,
    wants: () => false,
    extractor: depV0Extractor(options),
    catalog(input: CatalogInput): CatalogResult {
      const warnings: string[] = [];
      const byId = new Map<string, Package>();
      for (const file of input.extracts ?? []) addBinary(file, byId, warnings);
      const packages = [...byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      for (const p of packages) {
        p.locations.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
        p.dependsOn?.sort();
      }
      return { packages, warnings };
    },
  };
}

export const rustAuditCataloger: Cataloger = makeRustAuditCataloger();

function addBinary(file: CatalogFile, byId: Map<string, Package>, warnings: string[]): void {
  const extract = decodeDepV0Extract(file.bytes);
  if (!extract.ok) {
    warnings.push(`${file.path}: cargo-auditable data unreadable: ${extract.error}; skipped`);
    return;
  }
  let crates: AuditCrate[];
  try {
    const data = parseAuditData(decoder.decode(extract.json));
    crates = data.crates;
    for (const p of data.problems) warnings.push(`${file.path}: cargo-auditable data: ${p}`);
  } catch (e) {
    warnings.push(`${file.path}: cargo-auditable data is not valid audit JSON (${(e as Error).message}); skipped`);
    return;
  }
  const reported = crates.map((c) => c.kind === 'runtime' && c.name !== '' && c.version !== '');
  crates.forEach((crate, i) => {
    if (!reported[i]) return;
    const id = rustPackageId(crate.name, crate.version);
    let pkg = byId.get(id);
    if (pkg === undefined) {
      pkg = {
        id,
        type: 'rust',
        name: crate.name,
        version: crate.version,
        purl: cargoPurl(crate.name, crate.version),
        locations: [],
        metadata: { kind: crate.kind },
      };
      if (crate.source !== undefined) pkg.metadata!.source = crate.source;
      byId.set(id, pkg);
    }
    if (crate.root) pkg.metadata!.root = 'true';
    if (!pkg.locations.some((l) => l.path === file.path)) {
      pkg.locations.push({ path: file.path, layerDiffId: file.layerDiffId });
    }
    for (const d of crate.dependencies) {
      const dep = crates[d]!;
      if (!reported[d]) continue;
      const depId = rustPackageId(dep.name, dep.version);
      if (depId === id) continue;
      pkg.dependsOn ??= [];
      if (!pkg.dependsOn.includes(depId)) pkg.dependsOn.push(depId);
    }
  });
}
