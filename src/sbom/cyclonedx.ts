/**
 * CycloneDX JSON 1.6 and 1.7, built from @cyclonedx/cyclonedx-library's models and written by its
 * JSON serializer. The shape follows syft's image SBOM (the image as `metadata.component` of type
 * container, one `library` component per package, an `operating-system` component for the distro),
 * with syft's `syft:` properties mirrored under `sigil:`.
 *
 * Ordering: the serializer's `sortLists` compares with `localeCompare`, whose order depends on the
 * user's locale (under LANG=da_DK "aa…" sorts after "z…"), which would make the same image give
 * different bytes on different machines. So every list is built here in code-point order and the
 * serializer keeps insertion order (`sortLists: false`).
 */
import { Enums, Models, Serialize, Spec } from '@cyclonedx/cyclonedx-library';
import { PackageURL } from 'packageurl-js';
import parseSpdx from 'spdx-expression-parse';
import type { Distro, Package } from '../catalog/package.ts';
import {
  canonicalFiles,
  canonicalPackages,
  compareStrings,
  creationTime,
  documentUuid,
  type EncodeOptions,
  imagePurl,
  packageLicense,
  type SbomDocument,
  type SbomEncoder,
  SbomError,
  type SbomSource,
} from './document.ts';

export type CycloneDxVersion = '1.6' | '1.7';

const SPECS = { '1.6': Spec.Spec1dot6, '1.7': Spec.Spec1dot7 } as const;

export function encodeCycloneDx(doc: SbomDocument, version: CycloneDxVersion, options: EncodeOptions = {}): string {
  const bom = buildBom(doc, creationTime(doc, options));
  const serializer = new Serialize.JsonSerializer(new Serialize.JSON.Normalize.Factory(SPECS[version]));
  const write = () => `${serializer.serialize(bom, { sortLists: false, space: 2 })}\n`;
  const format = `cyclonedx-json@${version}`;
  bom.serialNumber = `urn:uuid:${documentUuid(doc, options, format, write())}`;
  return write();
}

/** The BOM model without serial number (the caller derives it from the rest). */
export function buildBom(doc: SbomDocument, timestamp: Date): Models.Bom {
  const packages = canonicalPackages(doc.packages, doc.source.layers);
  const image = imageComponent(doc.source);
  const tool = new Models.Component(Enums.ComponentType.Application, doc.tool.name, { version: doc.tool.version });
  const metadata = new Models.Metadata({
    timestamp,
    tools: new Models.Tools({ components: new Models.ComponentRepository([tool]) }),
    component: image,
  });
  const bom = new Models.Bom({ metadata });

  const refs = new Set<string>([image.bomRef.value!]);
  const claim = (ref: string): string => {
    if (refs.has(ref)) throw new SbomError('DOCUMENT_INVALID', `bom-ref "${ref}" would be used twice`);
    refs.add(ref);
    return ref;
  };

  if (doc.distro !== undefined) bom.components.add(osComponent(doc.distro, claim));
  const byId = new Map<string, Models.Component>();
  for (const pkg of packages) {
    const component = packageComponent(pkg, claim);
    byId.set(pkg.id, component);
    bom.components.add(component);
  }
  // canonicalPackages left only dependencies on packages that exist; the library matches refs by identity.
  for (const pkg of packages) {
    const component = byId.get(pkg.id)!;
    for (const dep of pkg.dependsOn ?? []) component.dependencies.add(byId.get(dep)!.bomRef);
  }
  if (doc.files !== undefined) {
    for (const f of canonicalFiles(doc.files, new Set(byId.keys()))) {
      const hashes = new Models.HashDictionary();
      if (f.sha256 !== undefined) hashes.set(Enums.HashAlgorithm['SHA-256'], f.sha256);
      const properties = new Models.PropertyRepository();
      if (f.layerDiffId !== undefined) properties.add(new Models.Property('sigil:file:layerID', f.layerDiffId));
      f.ownerIds.forEach((owner, i) => properties.add(new Models.Property(`sigil:file:owner:${i}`, owner)));
      bom.components.add(
        new Models.Component(Enums.ComponentType.File, f.path, {
          bomRef: claim(`file:${f.layerDiffId ?? ''}:${f.path}`),
          hashes,
          properties,
        }),
      );
    }
  }
  return bom;
}

function imageComponent(source: SbomSource): Models.Component {
  const properties = new Models.PropertyRepository();
  const add = (name: string, value: string | undefined) => {
    if (value !== undefined && value !== '') properties.add(new Models.Property(name, value));
  };
  add('sigil:image:mediaType', source.mediaType);
  add('sigil:image:indexDigest', source.indexDigest);
  if (source.platform !== undefined) {
    const { os, architecture, variant } = source.platform;
    add('sigil:image:platform', [os, architecture, variant].filter((x) => x !== undefined && x !== '').join('/'));
  }
  source.layers.forEach((layer, i) => {
    add(`sigil:image:layer:${i}:digest`, layer.digest);
    add(`sigil:image:layer:${i}:diffID`, layer.diffId);
    add(`sigil:image:layer:${i}:mediaType`, layer.mediaType);
    add(`sigil:image:layer:${i}:size`, String(layer.size));
  });
  return new Models.Component(Enums.ComponentType.Container, source.name, {
    bomRef: `image:${source.manifestDigest}`,
    version: source.manifestDigest,
    purl: imagePurl(source),
    properties,
  });
}

/** syft's OS component: `os:<id>@<versionID>`, swid, and the os-release fields as properties. */
function osComponent(distro: Distro, claim: (ref: string) => string): Models.Component {
  const properties = new Models.PropertyRepository();
  const add = (name: string, value: string | undefined) => {
    if (value !== undefined && value !== '') properties.add(new Models.Property(name, value));
  };
  add('sigil:distro:id', distro.id);
  for (const like of [...(distro.idLike ?? [])].sort(compareStrings)) add('sigil:distro:idLike', like);
  add('sigil:distro:versionID', distro.versionId);
  add('sigil:distro:versionCodename', distro.codename);
  add('sigil:distro:prettyName', distro.prettyName);
  const version = distro.versionId;
  return new Models.Component(Enums.ComponentType.OperatingSystem, distro.id, {
    bomRef: claim(`os:${distro.id}${version !== undefined ? `@${version}` : ''}`),
    version,
    description: distro.prettyName,
    swid: new Models.SWID(distro.id, distro.id, version !== undefined ? { version } : {}),
    properties,
  });
}

function packageComponent(pkg: Package, claim: (ref: string) => string): Models.Component {
  const properties = new Models.PropertyRepository();
  const add = (name: string, value: string | undefined) => {
    if (value !== undefined && value !== '') properties.add(new Models.Property(name, value));
  };
  add('sigil:package:type', pkg.type);
  add('sigil:package:arch', pkg.arch);
  add('sigil:package:sourceName', pkg.sourceName);
  add('sigil:package:sourceVersion', pkg.sourceVersion);
  add('sigil:layer:introducedBy', pkg.introducedBy);
  add('sigil:layer:lastChangedBy', pkg.lastChangedBy);
  pkg.locations.forEach((location, i) => {
    add(`sigil:location:${i}:layerID`, location.layerDiffId);
    add(`sigil:location:${i}:path`, location.path);
  });
  for (const key of Object.keys(pkg.metadata ?? {}).sort(compareStrings))
    add(`sigil:metadata:${key}`, pkg.metadata![key]);

  const licenses = new Models.LicenseRepository();
  const license = packageLicense(pkg);
  if (license !== undefined) licenses.add(cdxLicense(license));
  return new Models.Component(Enums.ComponentType.Library, pkg.name, {
    bomRef: claim(pkg.id),
    group: mavenGroup(pkg),
    version: pkg.version,
    purl: pkg.purl === '' ? undefined : pkg.purl,
    supplier: cdxSupplier(pkg.supplier),
    licenses,
    properties,
  });
}

/**
 * A lone SPDX id becomes `license.id` (the library writes it as `license.name` when its copy of the
 * SPDX list does not know the id); anything else — compound, `WITH`, `+`, LicenseRef — is one
 * `expression`. Never both kinds in one array: the schema's oneOf forbids it (trivy#9300).
 */
function cdxLicense(expression: string): Models.License {
  const node = parseSpdx(expression);
  if (
    !('conjunction' in node) &&
    node.exception === undefined &&
    node.plus !== true &&
    !node.license.startsWith('LicenseRef-')
  ) {
    return new Models.SpdxLicense(node.license);
  }
  return new Models.LicenseExpression(expression);
}

/** syft sets `group` only for Java (the pom groupId); npm scopes stay in the name. */
function mavenGroup(pkg: Package): string | undefined {
  if (pkg.type !== 'java' || pkg.purl === '') return undefined;
  try {
    return PackageURL.fromString(pkg.purl).namespace ?? undefined;
  } catch {
    return undefined;
  }
}

const EMAIL = /^[^\s@<>()]+@[^\s@<>()]+\.[^\s@<>()]+$/;

/**
 * `Organization: X` → an organisation named X; `Name <mail>` or `Person: Name (mail)` (a maintainer)
 * → an entity named after the person with them as contact. A malformed address is dropped: the
 * schema checks `email` as idn-email.
 */
export function cdxSupplier(supplier: string | undefined): Models.OrganizationalEntity | undefined {
  const s = supplier?.replace(/\s+/g, ' ').trim();
  if (s === undefined || s === '' || s === 'NOASSERTION') return undefined;
  const org = /^Organization:\s*(.+)$/.exec(s);
  if (org !== null) return new Models.OrganizationalEntity({ name: org[1]!.trim() });
  const body = s.replace(/^Person:\s*/, '');
  const m = /^(.*?)\s*[<(]\s*([^>)]*?)\s*[>)]$/.exec(body);
  const hasEmail = m !== null && EMAIL.test(m[2]!);
  const name = (hasEmail ? m[1]! : body).trim();
  const email = hasEmail ? m[2]! : undefined;
  const contact = new Models.OrganizationalContact({ name: name === '' ? undefined : name, email });
  return new Models.OrganizationalEntity({
    name: name === '' ? email : name,
    contact: new Models.OrganizationalContactRepository([contact]),
  });
}

export const cycloneDxJsonEncoder: SbomEncoder = {
  id: 'cyclonedx-json',
  encode: (doc, options) => encodeCycloneDx(doc, '1.6', options),
};

export const cycloneDx17JsonEncoder: SbomEncoder = {
  id: 'cyclonedx-json@1.7',
  encode: (doc, options) => encodeCycloneDx(doc, '1.7', options),
};
