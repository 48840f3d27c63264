/**
 * Package URLs as syft writes them (purl spec: github.com/package-url/purl-spec), one builder per
 * ecosystem. packageurl-js does the percent-encoding; the few places where syft's output differs
 * from packageurl-js's defaults are adjusted here and say so.
 */
import { PackageURL } from 'packageurl-js';
import type { Distro } from './package.ts';

type Qualifiers = Record<string, string | undefined>;

/**
 * Build a purl. Qualifiers with an empty or undefined value are dropped; the rest are written in
 * alphabetical order (packageurl-js sorts them, as syft's `PURLQualifiers` does). `''` when
 * the parts make no valid purl.
 */
export function buildPurl(
  type: string,
  namespace: string | undefined,
  name: string,
  version: string | undefined,
  qualifiers: Qualifiers = {},
  subpath?: string,
): string {
  const q: Record<string, string> = {};
  for (const [k, v] of Object.entries(qualifiers)) if (v !== undefined && v !== '') q[k] = v;
  let purl: string;
  try {
    purl = new PackageURL(
      type,
      namespace === '' ? undefined : namespace,
      name,
      version === '' ? undefined : version,
      Object.keys(q).length > 0 ? q : undefined,
      subpath,
    ).toString();
  } catch {
    // A name or version from a hostile database that no purl can hold (an empty name, a Go
    // version "v…" that is not semver, where packageurl-js 2.0.1 even throws a ReferenceError):
    // the package is still reported, without a purl, which the encoders already leave out.
    return '';
  }
  return encodeVersionColon(purl);
}

/**
 * The purl spec lets `:` stand unencoded in a version and packageurl-js leaves it so; syft (through
 * anchore/packageurl-go) writes a Debian epoch as `@1%3A1.2.13…`. Both parse to the same purl: we
 * follow syft so the two tools' SBOMs can be compared string for string.
 */
function encodeVersionColon(purl: string): string {
  const q = purl.indexOf('?');
  const hash = purl.indexOf('#');
  const end = q >= 0 ? q : hash >= 0 ? hash : purl.length;
  // Names and namespaces have `@` encoded, so the last `@` before the qualifiers starts the version.
  const at = purl.lastIndexOf('@', end);
  if (at < 0) return purl;
  return purl.slice(0, at + 1) + purl.slice(at + 1, end).replaceAll(':', '%3A') + purl.slice(end);
}

/** syft's `distro` qualifier: `<ID>-<VERSION_ID>` (`debian-12`, `alpine-3.20.3`); none without a version. */
export function distroQualifier(distro: Distro | undefined): string | undefined {
  if (distro === undefined || distro.versionId === undefined || distro.versionId === '') return undefined;
  return `${distro.id}-${distro.versionId}`;
}

export interface DebPurlInput {
  name: string;
  version: string;
  arch?: string;
  /** The `Source:` package, when the stanza names one. */
  sourceName?: string;
  sourceVersion?: string;
}

/**
 * `pkg:deb/<distro id>/<name>@<version>?arch=…&distro=<id>-<version id>&upstream=<src>[@<srcver>]`.
 * The epoch stays in the version (syft; trivy moves it to `epoch=`). `upstream` appears only when the
 * stanza has a `Source:` field, as in syft's debian/package.go. Without a distro we still say
 * `debian`: a dpkg database is evidence enough of a Debian family system (syft returns no purl at
 * all, which leaves the package unmatchable by scanners).
 */
export function debPurl(p: DebPurlInput, distro: Distro | undefined): string {
  const namespace = distro?.id ?? 'debian';
  const upstream =
    p.sourceName === undefined
      ? undefined
      : p.sourceVersion !== undefined
        ? `${p.sourceName}@${p.sourceVersion}`
        : p.sourceName;
  return buildPurl('deb', namespace.toLowerCase(), p.name, p.version, {
    arch: p.arch,
    distro: distroQualifier(distro),
    upstream,
  });
}

/** `pkg:apk/<id>/<name>@<version>?arch=…&distro=<id>-<version>&upstream=<origin>` (origin only when ≠ name). */
export function apkPurl(
  p: { name: string; version: string; arch?: string; origin?: string },
  distro: Distro | undefined,
): string {
  return buildPurl('apk', (distro?.id ?? 'alpine').toLowerCase(), p.name, p.version, {
    arch: p.arch,
    distro: distroQualifier(distro),
    upstream: p.origin !== undefined && p.origin !== p.name ? p.origin : undefined,
  });
}

/** syft maps os-release IDs to rpm namespaces: RHEL is `redhat`, every openSUSE flavour `opensuse`. */
export function rpmNamespace(distroId: string): string {
  const id = distroId.toLowerCase();
  if (id === 'rhel' || id === 'hummingbird') return 'redhat';
  if (id.startsWith('opensuse')) return 'opensuse';
  return id;
}

/**
 * `pkg:rpm/<ns>/<name>@<version>-<release>?arch=…&distro=…&epoch=N&upstream=<source rpm>`; `epoch`
 * only when the header has one (an epoch of 0 is written, as rpm distinguishes 0 from none).
 */
export function rpmPurl(
  p: { name: string; version: string; release?: string; epoch?: number; arch?: string; sourceRpm?: string },
  distro: Distro | undefined,
): string {
  const version = p.release !== undefined && p.release !== '' ? `${p.version}-${p.release}` : p.version;
  return buildPurl('rpm', distro === undefined ? undefined : rpmNamespace(distro.id), p.name, version, {
    arch: p.arch,
    distro: distroQualifier(distro),
    epoch: p.epoch === undefined ? undefined : String(p.epoch),
    upstream: p.sourceRpm,
  });
}

/** `pkg:npm/%40scope/name@v`: a scoped name's scope is the namespace. */
export function npmPurl(name: string, version: string): string {
  if (name.startsWith('@') && name.includes('/')) {
    const slash = name.indexOf('/');
    return buildPurl('npm', name.slice(0, slash), name.slice(slash + 1), version);
  }
  return buildPurl('npm', undefined, name, version);
}

/** PEP 503 normalised project name: runs of `-`, `_`, `.` become one `-`, lower-cased. */
export function pep503Name(name: string): string {
  return name.replace(/[-_.]+/g, '-').toLowerCase();
}

export function pypiPurl(name: string, version: string): string {
  return buildPurl('pypi', undefined, pep503Name(name), version);
}

/**
 * `pkg:golang/github.com/cli/cli/v2@2.63.0`: everything before the last `/` is the namespace, case
 * kept (syft; trivy lower-cases). The standard library is `stdlib`.
 */
export function golangPurl(modulePath: string, version: string | undefined): string {
  const slash = modulePath.lastIndexOf('/');
  if (slash < 0) return buildPurl('golang', undefined, modulePath, version);
  return buildPurl('golang', modulePath.slice(0, slash), modulePath.slice(slash + 1), version);
}

/** The purl spec requires a namespace for maven: callers without a groupId must choose one. */
export function mavenPurl(groupId: string, artifactId: string, version: string | undefined): string {
  return buildPurl('maven', groupId, artifactId, version);
}
