/**
 * SPDX 2.3 JSON (spdx.github.io/spdx-spec/v2.3), laid out as syft writes an image SBOM: the document
 * DESCRIBES the image package, the image CONTAINS every package, packages carry a purl external
 * ref. Two deliberate differences from syft: dependencies are `A DEPENDS_ON B` (syft writes the
 * inverse DEPENDENCY_OF; both are SPDX 2.3 relationship types, DEPENDS_ON reads the way package
 * databases declare them), and layer provenance goes into package annotations, as trivy does.
 */
import { createHash } from 'node:crypto';
import type { Package, PackageType } from '../catalog/package.ts';
import { digestAlgorithm, digestHex } from '../oci/digest.ts';
import {
  canonicalFiles,
  canonicalPackages,
  compareBy,
  compareStrings,
  creationTime,
  documentUuid,
  type EncodeOptions,
  imagePurl,
  licenseRefsOf,
  packageLicense,
  rfc3339,
  type SbomDocument,
  type SbomEncoder,
  SbomError,
  type SbomFileEntry,
} from './document.ts';

const NOASSERTION = 'NOASSERTION';

export interface SpdxRelationship {
  spdxElementId: string;
  relationshipType: 'DESCRIBES' | 'CONTAINS' | 'DEPENDS_ON';
  relatedSpdxElement: string;
}

/** How syft's `sourceInfo` names the place a package was read from (spdxhelpers/source_info.go). */
const SOURCE_INFO: Record<PackageType, string> = {
  deb: 'DPKG DB',
  apk: 'APK DB',
  rpm: 'RPM DB',
  npm: 'installed node module manifest file',
  python: 'installed python package manifest file',
  java: 'installed java archive',
  go: 'go module information',
  rust: 'rust cargo manifest',
  gem: 'installed gem metadata',
  composer: 'installed composer package metadata',
};

/** SPDX 2.3 §3.2 idstring: letters, digits, `.` and `-`; everything else becomes `-` (syft's toSPDXID). */
function spdxIdPart(s: string): string {
  return s.replace(/[^a-zA-Z0-9.-]/g, '-');
}

function shortHash(s: string): string {
  return createHash('sha256').update(s, 'utf8').digest('hex').slice(0, 16);
}

export function packageSpdxId(pkg: Pick<Package, 'id' | 'type' | 'name'>): string {
  return `SPDXRef-Package-${spdxIdPart(pkg.type)}-${spdxIdPart(pkg.name)}-${shortHash(pkg.id)}`;
}

export function imageSpdxId(name: string): string {
  return `SPDXRef-DocumentRoot-Image-${spdxIdPart(name)}`;
}

/** syft's file ids: the last path parts, at most 40 characters ("..." when cut), then a hash. */
function fileSpdxId(file: SbomFileEntry): string {
  const parts = file.path.split('/').filter((p) => p !== '');
  let tail = '';
  for (let i = parts.length - 1; i >= 0; i--) {
    const next = tail === '' ? parts[i]! : `${parts[i]!}/${tail}`;
    if (next.length > 40) {
      tail = tail === '' ? `...${parts[i]!.slice(-37)}` : `...${tail}`;
      break;
    }
    tail = next;
  }
  return `SPDXRef-File-${spdxIdPart(tail)}-${shortHash(`${file.layerDiffId ?? ''}\0${file.path}`)}`;
}

/**
 * SPDX 2.3 §7.5 supplier: `Person: name (email)` or `Organization: name`. Package databases give a
 * maintainer as `Name <mail>` (dpkg, apk) — a person for syft too; values already in SPDX agent
 * form pass through.
 */
export function spdxSupplier(supplier: string | undefined): string {
  const s = supplier?.replace(/\s+/g, ' ').trim();
  if (s === undefined || s === '') return NOASSERTION;
  if (/^(Person|Organization|Tool):\s*\S/.test(s) || s === NOASSERTION) return s;
  const m = /^(.*?)\s*<([^>]*)>$/.exec(s);
  if (m !== null) return m[1] === '' ? `Person: (${m[2]!})` : `Person: ${m[1]!} (${m[2]!})`;
  return `Person: ${s}`;
}

function sourceInfo(pkg: Package): string | undefined {
  if (pkg.locations.length === 0) return undefined;
  const paths = [...new Set(pkg.locations.map((l) => l.path))];
  return `acquired package info from ${SOURCE_INFO[pkg.type]}: ${paths.join(', ')}`;
}

export function encodeSpdx(doc: SbomDocument, options: EncodeOptions = {}): string {
  const created = rfc3339(creationTime(doc, options));
  const tool = `Tool: ${doc.tool.name}-${doc.tool.version}`;
  const packages = canonicalPackages(doc.packages, doc.source.layers);
  const idOf = new Map(packages.map((p) => [p.id, packageSpdxId(p)]));
  assertDistinct([...idOf.values()]);

  const rootId = imageSpdxId(doc.source.name);
  const root = {
    name: doc.source.name,
    SPDXID: rootId,
    versionInfo: doc.source.manifestDigest,
    supplier: NOASSERTION,
    downloadLocation: NOASSERTION,
    filesAnalyzed: false,
    checksums: [
      {
        algorithm: digestAlgorithm(doc.source.manifestDigest).toUpperCase(),
        checksumValue: digestHex(doc.source.manifestDigest),
      },
    ],
    licenseConcluded: NOASSERTION,
    licenseDeclared: NOASSERTION,
    copyrightText: NOASSERTION,
    externalRefs: [
      { referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: imagePurl(doc.source) },
    ],
    primaryPackagePurpose: 'CONTAINER',
  };

  const licenseRefs = new Set<string>();
  const spdxPackages = packages.map((pkg) => {
    const license = packageLicense(pkg);
    if (license !== undefined) for (const ref of licenseRefsOf(license)) licenseRefs.add(ref);
    const annotations = layerAnnotations(pkg, created, tool);
    return {
      name: pkg.name,
      SPDXID: idOf.get(pkg.id)!,
      versionInfo: pkg.version,
      supplier: spdxSupplier(pkg.supplier),
      downloadLocation: NOASSERTION,
      filesAnalyzed: false,
      sourceInfo: sourceInfo(pkg),
      licenseConcluded: NOASSERTION,
      licenseDeclared: license ?? NOASSERTION,
      copyrightText: NOASSERTION,
      externalRefs:
        pkg.purl === ''
          ? undefined
          : [{ referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: pkg.purl }],
      primaryPackagePurpose: 'LIBRARY',
      annotations: annotations.length > 0 ? annotations : undefined,
    };
  });

  const relationships: SpdxRelationship[] = [];
  for (const pkg of packages) {
    const id = idOf.get(pkg.id)!;
    relationships.push({ spdxElementId: rootId, relationshipType: 'CONTAINS', relatedSpdxElement: id });
    for (const dep of pkg.dependsOn ?? []) {
      relationships.push({ spdxElementId: id, relationshipType: 'DEPENDS_ON', relatedSpdxElement: idOf.get(dep)! });
    }
  }

  let files: Record<string, unknown>[] | undefined;
  if (doc.files !== undefined) {
    const entries = canonicalFiles(doc.files, new Set(idOf.keys()));
    const fileIds = entries.map(fileSpdxId);
    assertDistinct(fileIds);
    files = entries.map((f, i) => ({
      fileName: f.path.replace(/^\/+/, ''),
      SPDXID: fileIds[i]!,
      // SPDX 2.3 makes SHA1 mandatory for files; without a digest syft writes an all-zero SHA1, and so do we.
      checksums: [
        { algorithm: 'SHA1', checksumValue: f.sha1 ?? '0'.repeat(40) },
        ...(f.sha256 !== undefined ? [{ algorithm: 'SHA256', checksumValue: f.sha256 }] : []),
      ],
      licenseConcluded: NOASSERTION,
      licenseInfoInFiles: [NOASSERTION],
      copyrightText: NOASSERTION,
      comment: f.layerDiffId !== undefined ? `layerID: ${f.layerDiffId}` : undefined,
    }));
    entries.forEach((f, i) => {
      const owners = f.ownerIds.length > 0 ? f.ownerIds.map((o) => idOf.get(o)!) : [rootId];
      for (const owner of owners) {
        relationships.push({ spdxElementId: owner, relationshipType: 'CONTAINS', relatedSpdxElement: fileIds[i]! });
      }
    });
  }

  relationships.sort(
    compareBy(
      (r) => r.spdxElementId,
      (r) => r.relationshipType,
      (r) => r.relatedSpdxElement,
    ),
  );

  const body = {
    spdxVersion: 'SPDX-2.3',
    dataLicense: 'CC0-1.0',
    SPDXID: 'SPDXRef-DOCUMENT',
    name: doc.source.name,
    documentNamespace: '',
    creationInfo: { creators: [tool], created },
    packages: [root, ...spdxPackages],
    files,
    hasExtractedLicensingInfos:
      licenseRefs.size > 0 ? [...licenseRefs].sort(compareStrings).map(extractedLicense) : undefined,
    relationships: [
      { spdxElementId: 'SPDXRef-DOCUMENT', relationshipType: 'DESCRIBES', relatedSpdxElement: rootId },
      ...relationships,
    ],
  };
  const uuid = documentUuid(doc, options, 'spdx-json', JSON.stringify(body));
  body.documentNamespace = `https://sigil.dev/spdxdocs/${namespaceName(doc.source.name)}-${uuid}`;
  return `${JSON.stringify(body, null, 2)}\n`;
}

/** The name part of the namespace URI: syft replaces `#` and `:`; spaces and `/` are fine in a path. */
function namespaceName(name: string): string {
  return encodeURI(name.replace(/[#:]/g, '-'));
}

/**
 * SPDX 2.3 §10: every LicenseRef used must be declared with its text. Catalogers keep the name a
 * package database declared (sanitised into the id), not a license text, so the name is all we can
 * give and the comment says so.
 */
function extractedLicense(licenseId: string) {
  const name = licenseId.slice('LicenseRef-'.length);
  return {
    licenseId,
    name,
    extractedText: name,
    comment: 'license name declared by the package metadata; sigil did not capture a license text',
  };
}

function layerAnnotations(pkg: Package, date: string, annotator: string) {
  const notes: { annotationDate: string; annotationType: 'OTHER'; annotator: string; comment: string }[] = [];
  if (pkg.introducedBy !== undefined) {
    notes.push({
      annotationDate: date,
      annotationType: 'OTHER',
      annotator,
      comment: `sigil:layer:introducedBy: ${pkg.introducedBy}`,
    });
  }
  if (pkg.lastChangedBy !== undefined) {
    notes.push({
      annotationDate: date,
      annotationType: 'OTHER',
      annotator,
      comment: `sigil:layer:lastChangedBy: ${pkg.lastChangedBy}`,
    });
  }
  return notes;
}

function assertDistinct(ids: readonly string[]): void {
  const seen = new Set<string>();
  for (const id of ids) {
    // 64 bits of sha256 over distinct package ids: a clash means a bug, not bad luck.
    if (seen.has(id)) throw new SbomError('DOCUMENT_INVALID', `SPDX id ${id} assigned twice`);
    seen.add(id);
  }
}

export const spdxJsonEncoder: SbomEncoder = { id: 'spdx-json', encode: encodeSpdx };
