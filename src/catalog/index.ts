export type {
  CatalogFile,
  CatalogInput,
  CatalogResult,
  Cataloger,
  ContentExtractor,
  ExtractSink,
  FileHeader,
} from './cataloger.ts';
export type { Distro, Location, Package, PackageType } from './package.ts';
export { PURL_TYPES } from './package.ts';
export { detectDistro, osReleaseWants, parseOsRelease } from './os-release.ts';
export { licenseRef, type SpdxResult, toSpdxExpression } from './license.ts';
export {
  apkPurl,
  buildPurl,
  debPurl,
  distroQualifier,
  golangPurl,
  mavenPurl,
  npmPurl,
  pep503Name,
  pypiPurl,
  rpmNamespace,
  rpmPurl,
} from './purl.ts';
export { dpkgCataloger, dpkgWants } from './dpkg/cataloger.ts';
export { apkCataloger, apkWants } from './apk/cataloger.ts';
export { pythonCataloger, pythonWants } from './python/cataloger.ts';
export { rpmCataloger, rpmWants } from './rpm/cataloger.ts';
export { javaCataloger } from './java/cataloger.ts';
export { npmCataloger } from './npm/cataloger.ts';
export { composerCataloger, composerWants } from './composer/cataloger.ts';
export { gemCataloger, gemWants } from './ruby/cataloger.ts';
export { goBinaryCataloger } from './go/cataloger.ts';
export { rustAuditCataloger } from './rust/cataloger.ts';
