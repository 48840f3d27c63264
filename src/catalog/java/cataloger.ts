/**
 * Java archives (jar, war, ear, Jenkins jpi/hpi): each archive's pom.properties files (one package
 * each), else its manifest, else its file name; archives nested inside (WEB-INF/lib, BOOT-INF/lib,
 * an ear's modules) are read the same way, down to a depth limit and within one uncompressed-byte
 * budget per top-level file. A nested package's location is `<outer path>:<member>`, as syft writes it.
 */
import type { CatalogFile, CatalogInput, CatalogResult, Cataloger } from '../cataloger.ts';
import type { Package } from '../package.ts';
import { type ByteBudget, JavaArchiveError, partialMembers, readMembers, type ArchiveMember } from './archive.ts';
import { parseManifest, parseProperties } from './manifest.ts';
import {
  bundleLicense,
  identityFromFileName,
  identityFromManifest,
  identityFromPom,
  type JavaIdentity,
  toPackage,
} from './package.ts';

const ARCHIVE = /\.(jar|war|ear|jpi|hpi)$/i;
const MANIFEST = 'META-INF/MANIFEST.MF';
const POM_PROPERTIES = /^META-INF\/maven\/[^/]+\/[^/]+\/pom\.properties$/;

export function javaWants(path: string): boolean {
  return ARCHIVE.test(path);
}

export interface JavaCatalogerOptions {
  /** Archives inside archives followed this deep (an ear's war's jar is depth 2). Default 4. */
  maxDepth?: number;
  /**
   * Uncompressed bytes read from one top-level archive, nested ones included. Default 512 MiB:
   * above the largest Spring Boot fat jars seen in practice (a few hundred MB), far below what a
   * zip bomb claims.
   */
  maxUncompressedBytes?: number;
}

export function createJavaCataloger(options: JavaCatalogerOptions = {}): Cataloger {
  const maxDepth = options.maxDepth ?? 4;
  const maxBytes = options.maxUncompressedBytes ?? 512 * 1024 * 1024;
  return {
    name: 'java',
    version: 1,
    wants: javaWants,
    async catalog(input: CatalogInput): Promise<CatalogResult> {
      const warnings: string[] = [];
      const byId = new Map<string, Package>();
      for (const file of input.files) {
        if (!javaWants(file.path)) continue;
        const budget: ByteBudget = { remaining: maxBytes, limit: maxBytes };
        await catalogArchive(file.bytes, file.path, file, 0, { maxDepth, budget, warnings, byId });
      }
      const packages = [...byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      for (const p of packages) p.locations.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
      return { packages, warnings };
    },
  };
}

export const javaCataloger: Cataloger = createJavaCataloger();

interface Walk {
  maxDepth: number;
  budget: ByteBudget;
  warnings: string[];
  byId: Map<string, Package>;
}

const decoder = new TextDecoder();

async function catalogArchive(
  bytes: Uint8Array,
  path: string,
  file: CatalogFile,
  depth: number,
  walk: Walk,
): Promise<void> {
  let members: ArchiveMember[];
  let capped = false;
  try {
    members = await readMembers(
      bytes,
      (name) => name === MANIFEST || POM_PROPERTIES.test(name) || ARCHIVE.test(name),
      walk.budget,
    );
  } catch (e) {
    if (!(e instanceof JavaArchiveError)) throw e;
    walk.warnings.push(`${path}: ${e.message}; ${e.code === 'ARCHIVE_TOO_LARGE' ? 'the rest is skipped' : 'skipped'}`);
    if (e.code !== 'ARCHIVE_TOO_LARGE') return;
    members = partialMembers(e);
    capped = true;
  }

  for (const identity of identities(members, path, capped)) {
    add(walk.byId, toPackage(identity, { path, layerDiffId: file.layerDiffId }));
  }

  for (const member of members) {
    if (!ARCHIVE.test(member.name)) continue;
    const inner = `${path}:${member.name}`;
    if (depth + 1 > walk.maxDepth) {
      walk.warnings.push(`${inner}: nested deeper than ${walk.maxDepth} archives; not read`);
      continue;
    }
    await catalogArchive(member.bytes, inner, file, depth + 1, walk);
  }
}

function identities(members: readonly ArchiveMember[], path: string, capped: boolean): JavaIdentity[] {
  const manifestMember = members.find((m) => m.name === MANIFEST);
  const manifest =
    manifestMember === undefined ? new Map<string, string>() : parseManifest(decoder.decode(manifestMember.bytes));
  const poms = members
    .filter((m) => POM_PROPERTIES.test(m.name))
    .map((m) => identityFromPom(m.name, parseProperties(decoder.decode(m.bytes))))
    .filter((id) => id !== undefined);
  if (poms.length > 0) {
    // Bundle-License describes the archive itself: give it to its package when there is no doubt which.
    const license = bundleLicense(manifest);
    if (poms.length === 1 && license !== undefined) poms[0]!.license = license;
    return poms;
  }
  // A capped read may have stopped before the pom.properties: do not guess from weaker evidence.
  if (capped && manifestMember === undefined) return [];
  const fileName = path.slice(path.lastIndexOf('/') + 1).replace(/^.*:/, '');
  const fromManifest = identityFromManifest(manifest, fileName);
  if (fromManifest !== undefined) return [fromManifest];
  const fromName = identityFromFileName(fileName);
  return fromName === undefined ? [] : [fromName];
}

function add(byId: Map<string, Package>, pkg: Package): void {
  const seen = byId.get(pkg.id);
  if (seen === undefined) {
    byId.set(pkg.id, pkg);
    return;
  }
  for (const l of pkg.locations) if (!seen.locations.some((s) => s.path === l.path)) seen.locations.push(l);
  if (seen.license === undefined && pkg.license !== undefined) seen.license = pkg.license;
}
