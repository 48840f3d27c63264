/**
 * Packages from one Go binary's build info, as syft's go-module-binary cataloger writes them: the
 * main module, one package per dependency (the replacement when one is recorded), and a `stdlib`
 * package for the Go release the binary was linked with.
 */
import type { Digest } from '../../oci/digest.ts';
import type { Package } from '../package.ts';
import { golangPurl } from '../purl.ts';
import type { GoBuildInfo, GoModule } from './buildinfo.ts';

/** What the go command records for a main module built from a directory without a version. */
export const DEVEL_VERSION = '(devel)';

/**
 * One package per module per binary, as syft does (syft#4324: the same module in two binaries is
 * two findings, each with that binary's Go version and build): the binary path is part of the id.
 */
export function goPackageId(binaryPath: string, modulePath: string, version: string): string {
  return `go:${binaryPath}:${modulePath}@${version}`;
}

// syft's knownBuildFlagPatterns (parse_go_binary.go): `-X main.version=1.2.3`, `.gitVersion=`,
// `.buildVersion=`, `.Tag=v1.2.3`, with an optional import path before the value.
const LDFLAGS_VERSION = [
  /\.(?:[gG]it)?(?:[bB]uild)?[vV]er(?:sion)?=(?:\S+\/)*(v?\d+.\d+.\d+[-\w]*)/m,
  /\.[tT]ag=(?:\S+\/)*(v?\d+.\d+.\d+[-\w]*)/m,
];

/** A version set with `-ldflags -X …version=1.2.3`, `v`-prefixed as syft writes it. */
export function versionFromLdflags(ldflags: string | undefined): string | undefined {
  if (ldflags === undefined || ldflags === '') return undefined;
  for (const re of LDFLAGS_VERSION) {
    const m = re.exec(ldflags);
    if (m?.[1] !== undefined) return m[1].startsWith('v') ? m[1] : `v${m[1]}`;
  }
  return undefined;
}

/**
 * Go's pseudo-version for an untagged commit, `v0.0.0-<UTC yyyymmddhhmmss>-<12 hex>`
 * (golang.org/x/mod/module.PseudoVersion with no tag). An unparsable time gives Go's zero time,
 * as syft does.
 */
export function pseudoVersion(revision: string, time: string): string {
  const t = new Date(time);
  const stamp = Number.isNaN(t.getTime())
    ? '00010101000000'
    : t
        .toISOString()
        .replace(/\.\d+Z$/, '')
        .replace(/[-:T]/g, '');
  return `v0.0.0-${stamp}-${revision.slice(0, 12)}`;
}

/**
 * A `(devel)` main module's version the way syft guesses it: `-ldflags` first, then a
 * pseudo-version from the VCS stamp. syft can also grep the whole binary for a semver string
 * (off by default since it misfires); the stream keeps only the build info, so that step is skipped.
 */
export function mainModuleVersion(recorded: string | undefined, settings: ReadonlyMap<string, string>): string {
  if (recorded !== undefined && recorded !== DEVEL_VERSION) return recorded;
  const fromLdflags = versionFromLdflags(settings.get('-ldflags'));
  if (fromLdflags !== undefined) return fromLdflags;
  const revision = settings.get('vcs.revision');
  const time = settings.get('vcs.time');
  if (revision !== undefined && revision !== '' && time !== undefined) return pseudoVersion(revision, time);
  return DEVEL_VERSION;
}

/** `go1.21.0 X:loopvar` -> the release and the experiments. */
export function splitGoVersion(goVersion: string): { release: string; experiments: string[] } {
  const [release = '', ...rest] = goVersion.split(' ');
  const experiments = rest.filter((c) => c.startsWith('X:')).flatMap((c) => c.slice(2).split(','));
  return { release, experiments };
}

/** A replacement by a local directory (go.mod `replace m => ../m`), not by another module. */
function isDirectory(path: string): boolean {
  return path.startsWith('./') || path.startsWith('../') || path.startsWith('/') || /^[A-Za-z]:[\\/]/.test(path);
}

export interface GoBinary {
  path: string;
  layerDiffId: Digest;
  info: GoBuildInfo;
}

export function goBinaryPackages(bin: GoBinary): { packages: Package[]; warnings: string[] } {
  const { info } = bin;
  const warnings: string[] = [];
  const settings = new Map(info.settings);
  const { release, experiments } = splitGoVersion(info.goVersion);
  const arch = settings.get('GOARCH');
  const location = { path: bin.path, layerDiffId: bin.layerDiffId };
  const common: Record<string, string> = { goVersion: release };
  if (experiments.length > 0) common.goExperiments = experiments.join(',');
  if (arch !== undefined) common.architecture = arch;

  const make = (mod: GoModule, version: string, extra: Record<string, string>): Package => {
    const pkg: Package = {
      id: goPackageId(bin.path, mod.path, version),
      type: 'go',
      name: mod.path,
      version,
      purl: golangPurl(mod.path, version),
      locations: [{ ...location }],
      metadata: { ...common, ...extra },
    };
    if (arch !== undefined) pkg.arch = arch;
    if (mod.sum !== undefined) pkg.metadata!.h1Digest = mod.sum;
    return pkg;
  };

  // GOPATH-mode builds (Debian's) record only `path`: the main module is that path, version unknown.
  const mainModule = info.main ?? (info.path !== undefined ? { path: info.path } : undefined);
  const deps: Package[] = [];
  const seen = new Set<string>();
  for (const dep of info.deps) {
    const extra: Record<string, string> = {};
    if (mainModule !== undefined) extra.mainModule = mainModule.path;
    let used = dep.replace ?? dep;
    if (dep.replace !== undefined && isDirectory(dep.replace.path)) {
      // `replace m => ./dir`: the code is m's, from a directory; syft names the package `./dir`
      // (purl `pkg:golang/./dir`), trivy drops its purl. Keeping the module path names it usefully.
      used = { path: dep.path, version: dep.replace.version ?? DEVEL_VERSION };
      extra.replacedBy = dep.replace.path;
    } else if (dep.replace !== undefined) {
      extra.replaces = dep.version === undefined ? dep.path : `${dep.path}@${dep.version}`;
    }
    const version = used.version ?? dep.version ?? '';
    const pkg = make(used, version, extra);
    // Two requirements replaced by one module would be one package twice (syft PR #5069).
    if (seen.has(pkg.id)) continue;
    seen.add(pkg.id);
    deps.push(pkg);
  }

  const packages: Package[] = [...deps];
  let stdlib: Package | undefined;
  if (/^go\d+(\.\d+)*/.test(release)) {
    stdlib = {
      id: goPackageId(bin.path, 'stdlib', release),
      type: 'go',
      name: 'stdlib',
      // syft: the name is `go1.22.1` in Version, `1.22.1` in the purl (trivy writes `v1.22.1`).
      version: release,
      purl: golangPurl('stdlib', release.slice(2)),
      license: 'BSD-3-Clause',
      locations: [{ ...location }],
      metadata: { ...common },
    };
    if (arch !== undefined) stdlib.arch = arch;
    packages.push(stdlib);
  } else {
    warnings.push(`${bin.path}: Go version "${info.goVersion}" is not a release: no stdlib package`);
  }

  if (mainModule === undefined) {
    warnings.push(`${bin.path}: Go build info names no main module (no path or mod line)`);
    return { packages, warnings };
  }
  const version = mainModuleVersion(mainModule.version, settings);
  const buildSettings: Record<string, string> = { mainModule: mainModule.path };
  for (const [k, v] of info.settings) buildSettings[`build:${k}`] = v;
  if (info.main === undefined) buildSettings.buildMode = 'gopath';
  const main = make(mainModule, version, buildSettings);
  const dependsOn = [...deps.map((d) => d.id), ...(stdlib !== undefined ? [stdlib.id] : [])].sort();
  if (dependsOn.length > 0) main.dependsOn = dependsOn;
  packages.push(main);
  return { packages, warnings };
}
