import type { Digest } from '../oci/digest.ts';

/** Ecosystems sigil catalogs; the purl type of each is in `PURL_TYPES`. */
export type PackageType = 'deb' | 'apk' | 'rpm' | 'npm' | 'python' | 'java' | 'go' | 'rust' | 'gem' | 'composer';

export const PURL_TYPES: Record<PackageType, string> = {
  deb: 'deb',
  apk: 'apk',
  rpm: 'rpm',
  npm: 'npm',
  python: 'pypi',
  java: 'maven',
  go: 'golang',
  rust: 'cargo',
  gem: 'gem',
  composer: 'composer',
};

/** Where a package was found: a file of the image and the layers behind it. */
export interface Location {
  /** Absolute path inside the image, e.g. `/var/lib/dpkg/status`. */
  path: string;
  /** diffID of the layer the file came from (the top-most one holding it). */
  layerDiffId?: Digest;
}

/**
 * One package of the image, whatever its ecosystem: the model every encoder (SPDX,
 * CycloneDX, sigil's JSON) reads. Catalogers fill it; nothing here knows an output format.
 */
export interface Package {
  /** Stable within one SBOM: derived from type, name, version and arch, so output is deterministic. */
  id: string;
  type: PackageType;
  name: string;
  /** As the package manager writes it, epoch included (`1:1.2.13.dfsg-1`). */
  version: string;
  /** Package architecture where the ecosystem has one (`amd64`, `all`, `x86_64`, `noarch`). */
  arch?: string;
  /** Package URL (purl spec), as syft writes it. */
  purl: string;
  /** A valid SPDX license expression, or undefined when nothing is declared. */
  license?: string;
  /** Who supplies it (`Organization: Debian`, maintainer `Name <mail>`), where the database says. */
  supplier?: string;
  /** The source package (deb `Source:`, rpm source rpm) when it differs from the name. */
  sourceName?: string;
  sourceVersion?: string;
  /** Database entries and files that declare the package; one package may sit in several places. */
  locations: Location[];
  /** Layer that first brought the package into the image, and the last layer that changed its record. */
  introducedBy?: Digest;
  lastChangedBy?: Digest;
  /** ids of packages this one depends on, where the database declares dependencies. */
  dependsOn?: string[];
  /** Files the package owns (paths), where the database lists them; used to attribute language packages. */
  files?: string[];
  /** Ecosystem-specific fields kept for the JSON output (`Installed-Size`, `Maintainer`, …). */
  metadata?: Record<string, string>;
}

/** The distribution the image is built from (os-release fields). */
export interface Distro {
  /** `ID`, e.g. `debian`, `alpine`, `rhel`, `amzn`. */
  id: string;
  /** `VERSION_ID`, e.g. `12`, `3.20.3`. */
  versionId?: string;
  /** `VERSION_CODENAME`, e.g. `bookworm`. */
  codename?: string;
  prettyName?: string;
  idLike?: string[];
}
