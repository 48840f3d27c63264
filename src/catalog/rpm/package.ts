/** One decoded rpm header → the shared package model (everything but dependencies and provenance). */
import type { Digest } from '../../oci/digest.ts';
import { rpmLicenseExpression } from './license.ts';
import type { Distro, Package } from '../package.ts';
import { rpmPurl } from '../purl.ts';
import { RpmDbError } from './errors.ts';
import { type RpmHeader, TAG } from './header.ts';

/** `[epoch:]version-release`, as syft and `rpm -q --qf '%{EPOCH}:%{VERSION}-%{RELEASE}'` write it. */
export function rpmEvr(version: string, release: string | undefined, epoch: number | undefined): string {
  const vr = release === undefined || release === '' ? version : `${version}-${release}`;
  return epoch === undefined ? vr : `${epoch}:${vr}`;
}

export function rpmPackageId(name: string, evr: string, arch: string | undefined): string {
  return arch === undefined ? `rpm:${name}@${evr}` : `rpm:${name}@${evr}:${arch}`;
}

/**
 * `util-linux-2.32.1-42.el8_8.src.rpm` → name, version, release. Name-version-release split at the
 * last two dashes (rpm forbids `-` in version and release); `.nosrc.rpm` is the no-source variant.
 */
export function parseSourceRpm(srpm: string): { name: string; version: string; release: string } | undefined {
  const m = /^(.+)-([^-]+)-([^-]+)\.(?:no)?src\.rpm$/.exec(srpm);
  return m === null ? undefined : { name: m[1]!, version: m[2]!, release: m[3]! };
}

/** The NEVRA fields every use of a header needs; throws RpmDbError when NAME or VERSION is missing. */
export function readNevra(h: RpmHeader): {
  name: string;
  version: string;
  release?: string;
  epoch?: number;
  arch?: string;
} {
  const name = h.string(TAG.NAME);
  const version = h.string(TAG.VERSION);
  if (!name || !version) throw new RpmDbError('HEADER_CORRUPT', 'rpm header without NAME or VERSION');
  const release = h.string(TAG.RELEASE) || undefined;
  const epoch = h.integer(TAG.EPOCH);
  const arch = h.string(TAG.ARCH) || undefined;
  return {
    name,
    version,
    ...(release !== undefined ? { release } : {}),
    ...(epoch !== undefined ? { epoch } : {}),
    ...(arch !== undefined ? { arch } : {}),
  };
}

export interface HeaderPackageInput {
  header: RpmHeader;
  dbPath: string;
  dbLayer: Digest;
  distro: Distro | undefined;
}

/**
 * gpg-pubkey entries (keys imported with `rpm --import`) are kept as packages: syft keeps them (its
 * rpm cataloger filters nothing but nameless entries) and `rpm -qa` lists them. They have no arch
 * and no source rpm (the header says `(none)`); their License is the word `pubkey`, which is not a license and is dropped.
 */
export function packageFromHeader({ header, dbPath, dbLayer, distro }: HeaderPackageInput): Package {
  const nevra = readNevra(header);
  const evr = rpmEvr(nevra.version, nevra.release, nevra.epoch);
  // `rpm --import` writes the literal placeholder "(none)" into gpg-pubkey headers: not a source rpm.
  const srpmTag = header.string(TAG.SOURCERPM);
  const sourceRpm = srpmTag === undefined || srpmTag === '' || srpmTag === '(none)' ? undefined : srpmTag;
  const pkg: Package = {
    id: rpmPackageId(nevra.name, evr, nevra.arch),
    type: 'rpm',
    name: nevra.name,
    version: evr,
    purl: rpmPurl({ ...nevra, ...(sourceRpm !== undefined ? { sourceRpm } : {}) }, distro),
    locations: [{ path: dbPath, layerDiffId: dbLayer }],
  };
  if (nevra.arch !== undefined) pkg.arch = nevra.arch;
  const license = header.string(TAG.LICENSE);
  const metadata: Record<string, string> = {};
  if (license) {
    metadata.License = license;
    if (!(nevra.name === 'gpg-pubkey' && license === 'pubkey')) {
      const expression = rpmLicenseExpression(license);
      if (expression !== undefined) pkg.license = expression;
    }
  }
  const vendor = header.string(TAG.VENDOR);
  if (vendor) pkg.supplier = vendor;
  if (sourceRpm !== undefined) {
    metadata.SourceRpm = sourceRpm;
    const src = parseSourceRpm(sourceRpm);
    if (src !== undefined) {
      pkg.sourceName = src.name;
      pkg.sourceVersion = rpmEvr(src.version, src.release, undefined);
    }
  }
  const size = header.integer(TAG.LONGSIZE) ?? header.integer(TAG.SIZE);
  if (size !== undefined) metadata.Size = String(size);
  const modularity = header.has(TAG.MODULARITYLABEL) ? header.string(TAG.MODULARITYLABEL) : undefined;
  if (modularity) metadata.ModularityLabel = modularity;
  if (Object.keys(metadata).length > 0) pkg.metadata = metadata;
  return pkg;
}

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
/** rpmfileAttrs RPMFILE_GHOST: listed but not shipped in the payload. */
const RPMFILE_GHOST = 1 << 6;

export interface HeaderFiles {
  /** Every path the header lists (directories, symlinks, ghosts included): what `Requires: /path` matches. */
  all: string[];
  /** Regular files the package installed: what attribution wants. */
  regular: string[];
}

/**
 * File paths from BASENAMES/DIRNAMES/DIRINDEXES (rpm ≥ 4 "compressed file names"), or the older
 * OLDFILENAMES. Throws RpmDbError when the arrays disagree.
 */
export function headerFiles(h: RpmHeader): HeaderFiles {
  let all: string[];
  if (h.has(TAG.BASENAMES)) {
    const base = h.strings(TAG.BASENAMES);
    const dirs = h.strings(TAG.DIRNAMES);
    const index = h.integers(TAG.DIRINDEXES);
    if (index.length !== base.length) {
      throw new RpmDbError('HEADER_CORRUPT', `${base.length} BASENAMES but ${index.length} DIRINDEXES`);
    }
    all = base.map((b, i) => {
      const dir = dirs[index[i]!];
      if (dir === undefined) throw new RpmDbError('HEADER_CORRUPT', `DIRINDEXES[${i}] = ${index[i]} out of range`);
      return dir + b;
    });
  } else {
    all = h.strings(TAG.OLDFILENAMES);
  }
  const modes = h.integers(TAG.FILEMODES);
  const flags = h.integers(TAG.FILEFLAGS);
  const regular = all.filter((_, i) => {
    const mode = modes[i];
    const flag = flags[i] ?? 0;
    return (mode === undefined || (mode & S_IFMT) === S_IFREG) && (flag & RPMFILE_GHOST) === 0;
  });
  return { all, regular };
}
