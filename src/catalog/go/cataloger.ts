/**
 * Go modules compiled into Go binaries (syft's go-module-binary-cataloger, trivy's gobinary).
 * Binaries cannot be chosen by path, so this cataloger wants no whole files: its extractor streams
 * every executable of a layer past `BuildInfoSink`, which keeps only the build info blob, and
 * `catalog` reads those blobs from `input.extracts`.
 */
import type { CatalogInput, CatalogResult, Cataloger } from '../cataloger.ts';
import type { Package } from '../package.ts';
import { GoBuildInfoError, parseBuildInfo } from './buildinfo.ts';
import { goBuildInfoExtractor } from './buildinfo-scanner.ts';
import { goBinaryPackages } from './package.ts';

const byId = (a: Package, b: Package) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

export const goBinaryCataloger: Cataloger = {
  name: 'go-binary',
  version: 1,
  wants: () => false,
  extractor: goBuildInfoExtractor,
  catalog(input: CatalogInput): CatalogResult {
    const packages: Package[] = [];
    const warnings: string[] = [];
    const extracts = [...(input.extracts ?? [])].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    for (const file of extracts) {
      let info;
      try {
        info = parseBuildInfo(file.bytes);
      } catch (e) {
        // One unreadable binary must not cost the whole SBOM (syft records an "unknown" too).
        if (!(e instanceof GoBuildInfoError)) throw e;
        warnings.push(`${file.path}: Go binary build info: ${e.message}`);
        continue;
      }
      const found = goBinaryPackages({ path: file.path, layerDiffId: file.layerDiffId, info });
      packages.push(...found.packages);
      warnings.push(...found.warnings);
    }
    return { packages: packages.sort(byId), warnings };
  },
};
