/**
 * What one archive says it is: Maven coordinates from pom.properties, else the manifest's
 * headers, else the file name — syft's and trivy's order (trivy looks up the SHA-1 in its Java
 * DB in between; sigil stays offline).
 */
import { toSpdxExpression } from '../license.ts';
import type { Location, Package } from '../package.ts';
import { mavenPurl } from '../purl.ts';

export type JavaEvidence = 'pom.properties' | 'MANIFEST.MF' | 'file-name';

export interface JavaIdentity {
  name: string;
  version: string;
  /** groupId as the archive states it (pom.properties). */
  groupId?: string;
  /** Namespace for the purl: `groupId`, else a domain-shaped manifest header (syft's hint). */
  purlGroup?: string;
  evidence: JavaEvidence;
  license?: string;
}

export function javaPackageId(group: string | undefined, name: string, version: string): string {
  return `java:${group ?? ''}:${name}@${version}`;
}

export function toPackage(id: JavaIdentity, location: Location): Package {
  // The maven purl type requires a namespace (packageurl-js rejects one without); with no groupId
  // known, the artifactId stands in, as syft does for archives identified by name alone.
  const group = id.purlGroup ?? id.name;
  const pkg: Package = {
    id: javaPackageId(group, id.name, id.version),
    type: 'java',
    name: id.name,
    version: id.version,
    purl: mavenPurl(group, id.name, id.version),
    locations: [location],
    metadata: { evidence: id.evidence, ...(id.groupId !== undefined ? { groupId: id.groupId } : {}) },
  };
  if (id.license !== undefined) pkg.license = id.license;
  return pkg;
}

/** `META-INF/maven/<groupId>/<artifactId>/pom.properties`; the file's own keys win over the path. */
export function identityFromPom(path: string, props: Map<string, string>): JavaIdentity | undefined {
  const parts = path.split('/');
  const groupId = props.get('groupId') || parts[2];
  const name = props.get('artifactId') || parts[3];
  const version = props.get('version');
  if (!name || !version) return undefined;
  return { name, version, evidence: 'pom.properties', ...(groupId ? { groupId, purlGroup: groupId } : {}) };
}

const first = (m: Map<string, string>, keys: string[]) => {
  for (const k of keys) {
    const v = m.get(k.toLowerCase());
    if (v !== undefined && v !== '') return v;
  }
  return undefined;
};

/** OSGi headers carry directives after `;` (`Bundle-SymbolicName: org.x;singleton:=true`). */
const bare = (v: string | undefined) => v?.split(';')[0]!.trim() || undefined;

/** Reverse-domain names, the shape of a groupId (syft's `startsWithTopLevelDomain`). */
const DOMAIN =
  /^(com|org|net|io|javax|jakarta|edu|gov|mil|dev|ch|de|fr|uk|nl|be|eu|us|ca|jp|cn|ru|info|biz|me)\.[a-z0-9_]/i;

/**
 * Name: Implementation-Title → Bundle-Name → Specification-Title → Extension-Name → Bundle-SymbolicName.
 * Version: Implementation-Version → Specification-Version → Bundle-Version. Either may come from the
 * file name when the manifest lacks it; no version at all means no package.
 */
export function identityFromManifest(
  manifest: Map<string, string>,
  fileName: string | undefined,
): JavaIdentity | undefined {
  const fromName = fileName === undefined ? undefined : identityFromFileName(fileName);
  const name =
    first(manifest, ['Implementation-Title', 'Bundle-Name', 'Specification-Title', 'Extension-Name']) ??
    bare(manifest.get('bundle-symbolicname'));
  const version = first(manifest, ['Implementation-Version', 'Specification-Version', 'Bundle-Version']);
  if (name === undefined || version === undefined) {
    if (fromName === undefined) return undefined;
    const license = bundleLicense(manifest);
    return { ...fromName, ...(license !== undefined ? { license } : {}) };
  }
  const hint = [
    bare(manifest.get('bundle-symbolicname')),
    first(manifest, ['Extension-Name', 'Implementation-Vendor-Id', 'Specification-Vendor', 'Implementation-Vendor']),
  ].find((v) => v !== undefined && DOMAIN.test(v) && !/\s/.test(v));
  const license = bundleLicense(manifest);
  return {
    name,
    version,
    evidence: 'MANIFEST.MF',
    ...(hint !== undefined ? { purlGroup: hint } : {}),
    ...(license !== undefined ? { license } : {}),
  };
}

const ARCHIVE_EXT = /\.(jar|war|ear|jpi|hpi)$/i;

/** `commons-io-2.11.0.jar` → commons-io 2.11.0 (trivy's pattern); a name without a version gives nothing. */
export function identityFromFileName(fileName: string): JavaIdentity | undefined {
  const base = fileName.slice(fileName.lastIndexOf('/') + 1);
  const m = /^([a-zA-Z0-9._-]*[^-*])-(\d\S*?)\.(?:jar|war|ear|jpi|hpi)$/i.exec(base);
  if (m === null || !ARCHIVE_EXT.test(base)) return undefined;
  return { name: m[1]!, version: m[2]!, evidence: 'file-name' };
}

/** Licence URLs that name exactly one SPDX licence; anything else keeps its text as a LicenseRef. */
const LICENSE_URLS: [RegExp, string][] = [
  [/apache\.org\/licenses\/LICENSE-2\.0/i, 'Apache-2.0'],
  [/opensource\.org\/licenses\/MIT/i, 'MIT'],
  [/eclipse\.org\/legal\/epl-v10/i, 'EPL-1.0'],
  [/eclipse\.org\/legal\/epl-2\.0/i, 'EPL-2.0'],
  [/opensource\.org\/licenses\/BSD-3-Clause/i, 'BSD-3-Clause'],
];

/** `Bundle-License` (OSGi core, 3.2.1.4): a comma list of `<SPDX id or URL>[;description=…;link=…]`. */
export function bundleLicense(manifest: Map<string, string>): string | undefined {
  const raw = manifest.get('bundle-license');
  if (raw === undefined || raw.trim() === '') return undefined;
  const values = raw
    .split(/,(?=(?:[^"]*"[^"]*")*[^"]*$)/)
    .map((v) => v.split(';')[0]!.trim().replace(/^"|"$/g, ''))
    .filter((v) => v !== '')
    .map((v) => LICENSE_URLS.find(([re]) => re.test(v))?.[1] ?? v);
  return toSpdxExpression(values).expression;
}
