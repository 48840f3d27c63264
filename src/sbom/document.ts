/**
 * The SBOM document every encoder reads, and what the encoders derive from it the same way: the
 * creation time, the document UUID, the image's purl and the packages in one canonical order.
 * Nothing here knows SPDX or CycloneDX.
 */
import { createHash, randomUUID } from 'node:crypto';
import { licenseRef } from '../catalog/license.ts';
import type { Distro, Location, Package } from '../catalog/package.ts';
import { buildPurl } from '../catalog/purl.ts';
import { type Digest, digestHex } from '../oci/digest.ts';
import parseSpdx from 'spdx-expression-parse';
import { SbomError } from './errors.ts';

export { SbomError, type SbomErrorCode } from './errors.ts';

export interface SbomSource {
  /** As the user named it, e.g. `ghcr.io/org/app:1.0` or `oci-dir:./x`. */
  name: string;
  reference?: { registry?: string; repository?: string; tag?: string };
  manifestDigest: Digest;
  /** The index the manifest was selected from, when the user named an index. */
  indexDigest?: Digest;
  mediaType: string;
  platform?: { os: string; architecture: string; variant?: string };
  layers: { digest: Digest; diffId: Digest; mediaType: string; size: number }[];
}

/** One file of the image; given only with `--files`. */
export interface SbomFileEntry {
  /** Absolute path inside the image. */
  path: string;
  /** Hex digests of the content (regular files). */
  sha1?: string;
  sha256?: string;
  layerDiffId?: Digest;
  /** ids of the packages that own the file. */
  ownerIds: string[];
}

export interface SbomDocument {
  source: SbomSource;
  distro?: Distro;
  packages: Package[];
  files?: SbomFileEntry[];
  tool: { name: 'sigil'; version: string };
  /** When the SBOM was made; undefined → `options.sourceDateEpoch`, else now. */
  created?: Date;
}

export interface EncodeOptions {
  /** Seconds since the epoch (reproducible-builds.org SOURCE_DATE_EPOCH), read from the env by the CLI. */
  sourceDateEpoch?: number;
}

export type SbomFormat = 'spdx-json' | 'cyclonedx-json' | 'cyclonedx-json@1.7' | 'json' | 'table';

export interface SbomEncoder {
  id: SbomFormat;
  encode(doc: SbomDocument, options?: EncodeOptions): string;
}

/** Code-point order: `localeCompare` depends on the user's locale (in Danish "aa" sorts after "z"). */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Compare by several keys in turn. */
export function compareBy<T>(...keys: ((x: T) => string)[]): (a: T, b: T) => number {
  return (a, b) => {
    for (const key of keys) {
      const c = compareStrings(key(a), key(b));
      if (c !== 0) return c;
    }
    return 0;
  };
}

/** The document's time: `doc.created`, else SOURCE_DATE_EPOCH, else now. Whole seconds (trivy#3600). */
export function creationTime(doc: SbomDocument, options: EncodeOptions = {}): Date {
  const epoch = checkedEpoch(options);
  const ms = doc.created?.getTime() ?? (epoch === undefined ? Date.now() : epoch * 1000);
  return new Date(Math.floor(ms / 1000) * 1000);
}

/** RFC 3339 in UTC without fractions, the form SPDX tools expect: `2024-01-02T03:04:05Z`. */
export function rfc3339(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function checkedEpoch(options: EncodeOptions): number | undefined {
  const e = options.sourceDateEpoch;
  if (e === undefined) return undefined;
  if (!Number.isSafeInteger(e) || e < 0) {
    throw new SbomError('INVALID_OPTIONS', `sourceDateEpoch must be a non-negative whole number of seconds, got ${e}`);
  }
  return e;
}

/** Fixed namespace for sigil's name-based UUIDs (RFC 9562 §5.5); any constant works, it must never change. */
const SIGIL_UUID_NAMESPACE = '7c1b4f0e-2d3a-4e8b-9f61-5a0c3e2d1b47';

/** RFC 9562 version-5 UUID (SHA-1, name-based) of `name` in sigil's namespace. */
export function nameBasedUuid(name: string): string {
  const ns = Buffer.from(SIGIL_UUID_NAMESPACE.replaceAll('-', ''), 'hex');
  const bytes = createHash('sha1').update(ns).update(name, 'utf8').digest().subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x50;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * The document's UUID (SPDX namespace, CycloneDX serial). Random unless SOURCE_DATE_EPOCH is set;
 * then derived from the manifest digest, the format and a hash of the rest of the output, so the
 * same image gives the same UUID while two different documents about it (another sigil version,
 * `--files`) still get different ones, as both specs ask of a document identifier.
 */
export function documentUuid(doc: SbomDocument, options: EncodeOptions, format: string, body: string): string {
  if (checkedEpoch(options) === undefined) return randomUUID();
  const bodyHash = createHash('sha256').update(body, 'utf8').digest('hex');
  return nameBasedUuid(`${doc.source.manifestDigest}\n${format}\n${bodyHash}`);
}

/**
 * The image's purl (purl-spec `oci` type): name = last path segment of the repository, version =
 * manifest digest, `arch`, `repository_url` and `tag` qualifiers when known. Sources without a
 * registry reference (an OCI layout directory, an archive) use the last segment of the name the
 * user gave and no repository_url.
 */
export function imagePurl(source: SbomSource): string {
  const repository = source.reference?.repository;
  const name = repository !== undefined ? lastSegment(repository) : localImageName(source.name);
  const registry = source.reference?.registry;
  return buildPurl('oci', undefined, name, source.manifestDigest, {
    arch: source.platform?.architecture,
    repository_url:
      repository !== undefined ? (registry !== undefined ? `${registry}/${repository}` : repository) : undefined,
    tag: source.reference?.tag,
  });
}

function lastSegment(path: string): string {
  const parts = path.split('/').filter((p) => p !== '');
  return (parts[parts.length - 1] ?? path).toLowerCase();
}

/** `oci-dir:./out/app:1.0` → `app`; `docker-archive:/tmp/x.tar` → `x`. */
function localImageName(name: string): string {
  const withoutScheme = name.replace(/^[a-z][a-z0-9-]*:/, '');
  const last = withoutScheme.split('/').filter((p) => p !== '' && p !== '.' && p !== '..');
  let base = last[last.length - 1] ?? '';
  base = base.replace(/:.*$/, '').replace(/\.(tar|tar\.gz|tgz)$/, '');
  const cleaned = base.toLowerCase().replace(/[^a-z0-9._-]+/g, '-');
  return cleaned === '' ? 'image' : cleaned;
}

/** Hex of the manifest digest, for checksums. */
export function manifestHex(source: SbomSource): string {
  return digestHex(source.manifestDigest);
}

/**
 * A package's license as a valid SPDX expression. Catalogers already normalise (catalog/license.ts);
 * a value that still does not parse is kept as a LicenseRef rather than written out invalid.
 */
export function packageLicense(pkg: Package): string | undefined {
  if (pkg.license === undefined || pkg.license.trim() === '') return undefined;
  try {
    parseSpdx(pkg.license);
    return pkg.license;
  } catch {
    return licenseRef(pkg.license);
  }
}

/** `LicenseRef-…` ids used in an expression, sorted and distinct. */
export function licenseRefsOf(expression: string): string[] {
  const refs = new Set<string>();
  const walk = (node: parseSpdx.Info): void => {
    if ('conjunction' in node) {
      walk(node.left);
      walk(node.right);
    } else if (node.license.startsWith('LicenseRef-')) {
      refs.add(node.license);
    }
  };
  walk(parseSpdx(expression));
  return [...refs].sort(compareStrings);
}

const comparePackages = compareBy<Package>(
  (p) => p.type,
  (p) => p.name,
  (p) => p.version,
  (p) => p.id,
);

/**
 * The packages in canonical order, each with distinct locations (by path, then in layer order, as
 * syft lists them) and dependencies that point only at other packages of the document. The input is
 * not modified. Two packages with one id are accepted only when they are the same package (then one
 * is kept): otherwise dependencies on that id would be ambiguous, and that is a cataloger bug worth
 * failing on.
 */
export function canonicalPackages(packages: readonly Package[], layers: SbomSource['layers'] = []): Package[] {
  const layerIndex = new Map(layers.map((l, i) => [l.diffId, i]));
  // Unknown layers after the known ones, by digest; the index is zero-padded so strings compare as numbers.
  const layerKey = (d: string | undefined) =>
    d === undefined ? '~' : layerIndex.has(d) ? String(layerIndex.get(d)).padStart(6, '0') : `~${d}`;
  const compareLocations = compareBy<Location>(
    (l) => l.path,
    (l) => layerKey(l.layerDiffId),
  );
  const byId = new Map<string, Package>();
  for (const pkg of packages) {
    const seen = byId.get(pkg.id);
    if (seen === undefined) {
      byId.set(pkg.id, pkg);
    } else if (stableStringify(seen) !== stableStringify(pkg)) {
      throw new SbomError(
        'DOCUMENT_INVALID',
        `two different packages share the id "${pkg.id}" (${seen.name}@${seen.version} and ${pkg.name}@${pkg.version}); package ids must be unique`,
      );
    }
  }
  const result: Package[] = [];
  for (const pkg of byId.values()) {
    const copy: Package = { ...pkg, locations: distinctLocations(pkg.locations, compareLocations) };
    if (pkg.dependsOn !== undefined) {
      const deps = [...new Set(pkg.dependsOn)].filter((d) => d !== pkg.id && byId.has(d)).sort(compareStrings);
      if (deps.length > 0) copy.dependsOn = deps;
      else delete copy.dependsOn;
    }
    if (pkg.files !== undefined) copy.files = [...new Set(pkg.files)].sort(compareStrings);
    result.push(copy);
  }
  return result.sort(comparePackages);
}

function distinctLocations(locations: readonly Location[], compare: (a: Location, b: Location) => number): Location[] {
  const seen = new Map<string, Location>();
  for (const l of locations) seen.set(`${l.path}\0${l.layerDiffId ?? ''}`, l);
  return [...seen.values()].sort(compare);
}

/** Files in canonical order (path, then layer), duplicates merged, owners sorted. */
export function canonicalFiles(files: readonly SbomFileEntry[], packageIds: ReadonlySet<string>): SbomFileEntry[] {
  const byKey = new Map<string, { entry: SbomFileEntry; owners: Set<string> }>();
  for (const f of files) {
    const key = `${f.path}\0${f.layerDiffId ?? ''}`;
    const seen = byKey.get(key);
    if (seen === undefined) {
      byKey.set(key, { entry: f, owners: new Set(f.ownerIds) });
      continue;
    }
    for (const id of f.ownerIds) seen.owners.add(id);
    // One file has one content; if two entries disagree, pick by value so input order cannot matter.
    if (f.sha256 !== undefined && (seen.entry.sha256 === undefined || f.sha256 < seen.entry.sha256)) {
      seen.entry = { ...seen.entry, sha256: f.sha256, ...(f.sha1 !== undefined ? { sha1: f.sha1 } : {}) };
    }
  }
  return [...byKey.values()]
    .map(({ entry, owners }) => ({
      ...entry,
      ownerIds: [...owners].filter((id) => packageIds.has(id)).sort(compareStrings),
    }))
    .sort(
      compareBy(
        (f) => f.path,
        (f) => f.layerDiffId ?? '',
      ),
    );
}

/** JSON with object keys sorted at every level: a stable text for any plain value. */
export function stableStringify(value: unknown, space?: number): string {
  return JSON.stringify(sortKeys(value), null, space);
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value instanceof Date) return value.toISOString();
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value).sort(compareStrings)) {
      const v = (value as Record<string, unknown>)[k];
      if (v !== undefined) out[k] = sortKeys(v);
    }
    return out;
  }
  return value;
}
