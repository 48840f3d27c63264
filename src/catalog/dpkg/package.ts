/** One installed dpkg paragraph → the shared package model (everything but provenance and dependencies). */
import type { Digest } from '../../oci/digest.ts';
import type { Distro, Location, Package } from '../package.ts';
import { debPurl } from '../purl.ts';
import type { Stanza } from './parse-status.ts';

/** Ids are readable and stable across runs: the same name, version and arch give the same id. */
export function debPackageId(name: string, version: string, arch: string | undefined): string {
  return arch === undefined ? `deb:${name}@${version}` : `deb:${name}@${version}:${arch}`;
}

/** `Source: glibc` or `Source: glibc (2.36-9)`: the version is given only when it differs from the binary's. */
export function parseSource(value: string | undefined): { name?: string; version?: string } {
  if (value === undefined) return {};
  const m = /^(\S+)(?:\s+\(([^)]+)\))?/.exec(value.trim());
  if (m === null) return {};
  return m[2] === undefined ? { name: m[1]! } : { name: m[1]!, version: m[2].trim() };
}

/** Fields worth keeping for the JSON output; the long ones (Description, Conffiles) are not. */
const METADATA_FIELDS = [
  'Installed-Size',
  'Section',
  'Priority',
  'Essential',
  'Multi-Arch',
  'Homepage',
  'Provides',
  'Depends',
  'Pre-Depends',
];

export interface StanzaPackageInput {
  stanza: Stanza;
  dbPath: string;
  dbLayer: Digest;
  distro: Distro | undefined;
}

/** Undefined when the paragraph lacks Package or Version (the caller warns). */
export function packageFromStanza({ stanza, dbPath, dbLayer, distro }: StanzaPackageInput): Package | undefined {
  const f = stanza.fields;
  const name = f.get('package')?.trim();
  const version = f.get('version')?.trim();
  if (!name || !version) return undefined;
  const arch = f.get('architecture')?.trim() || undefined;
  const source = parseSource(f.get('source'));
  const metadata: Record<string, string> = {};
  for (const field of METADATA_FIELDS) {
    const v = f.get(field.toLowerCase());
    if (v !== undefined && v !== '') metadata[field] = v;
  }
  const location: Location = { path: dbPath, layerDiffId: dbLayer };
  const pkg: Package = {
    id: debPackageId(name, version, arch),
    type: 'deb',
    name,
    version,
    purl: debPurl({ name, version, arch, sourceName: source.name, sourceVersion: source.version }, distro),
    locations: [location],
  };
  if (arch !== undefined) pkg.arch = arch;
  const maintainer = f.get('maintainer')?.trim();
  if (maintainer) pkg.supplier = maintainer;
  if (source.name !== undefined) pkg.sourceName = source.name;
  if (source.version !== undefined) pkg.sourceVersion = source.version;
  if (Object.keys(metadata).length > 0) pkg.metadata = metadata;
  return pkg;
}
