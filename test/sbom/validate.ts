/**
 * Validation used by the SBOM tests: the official SPDX 2.3 JSON schema (vendored, see
 * schemas/README.md) through ajv, plus the rules the schema leaves out but SPDX 2.3 states (ids,
 * relationships pointing at existing elements, declared LicenseRefs); CycloneDX through the
 * library's own strict validator, plus bom-ref and dependency integrity.
 */
import { readFileSync } from 'node:fs';
import { Spec, Validation } from '@cyclonedx/cyclonedx-library';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import parseSpdx from 'spdx-expression-parse';

const schema = JSON.parse(readFileSync(new URL('./schemas/spdx-2.3.schema.json', import.meta.url), 'utf8')) as object;
const ajv = new Ajv({ allErrors: true, strict: false });
addFormats.default(ajv);
const validateSpdxSchema = ajv.compile(schema);

/** Every problem found in an SPDX 2.3 JSON text; empty when it is valid. */
export function spdxProblems(text: string): string[] {
  const doc = JSON.parse(text) as Record<string, unknown>;
  const problems: string[] = [];
  if (!validateSpdxSchema(doc)) {
    for (const e of validateSpdxSchema.errors ?? []) problems.push(`schema: ${e.instancePath} ${e.message ?? ''}`);
  }
  const packages = (doc.packages ?? []) as Record<string, unknown>[];
  const files = (doc.files ?? []) as Record<string, unknown>[];
  const ids = new Set<string>(['SPDXRef-DOCUMENT']);
  for (const el of [...packages, ...files]) {
    const id = String(el.SPDXID);
    // SPDX 2.3 §7.2 / §8.2: "SPDXRef-" followed by letters, digits, "." and "-".
    if (!/^SPDXRef-[A-Za-z0-9.-]+$/.test(id)) problems.push(`bad SPDXID ${id}`);
    if (ids.has(id)) problems.push(`duplicate SPDXID ${id}`);
    ids.add(id);
  }
  for (const r of (doc.relationships ?? []) as Record<string, string>[]) {
    for (const end of [r.spdxElementId!, r.relatedSpdxElement!]) {
      if (!ids.has(end)) problems.push(`relationship ${r.relationshipType} names unknown element ${end}`);
    }
  }
  const declared = new Set(
    ((doc.hasExtractedLicensingInfos ?? []) as Record<string, string>[]).map((l) => l.licenseId),
  );
  for (const p of packages) {
    for (const field of ['licenseDeclared', 'licenseConcluded']) {
      const value = p[field] as string | undefined;
      if (value === undefined || value === 'NOASSERTION' || value === 'NONE') continue;
      try {
        parseSpdx(value);
      } catch {
        problems.push(`${String(p.SPDXID)} ${field} is not an SPDX expression: ${value}`);
      }
      // §10.1: a LicenseRef used in the document must be declared in hasExtractedLicensingInfos.
      for (const ref of value.match(/LicenseRef-[A-Za-z0-9.-]+/g) ?? []) {
        if (!declared.has(ref)) problems.push(`${String(p.SPDXID)} uses undeclared ${ref}`);
      }
    }
  }
  const ns = String(doc.documentNamespace);
  // §6.5: a unique absolute URI without "#".
  if (!/^https?:\/\/[^#\s]+$/.test(ns)) problems.push(`bad documentNamespace ${ns}`);
  const created = (doc.creationInfo as Record<string, unknown> | undefined)?.created;
  if (typeof created !== 'string' || !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/.test(created)) {
    problems.push(`creationInfo.created is not YYYY-MM-DDThh:mm:ssZ: ${String(created)}`);
  }
  return problems;
}

const cdxValidators = {
  '1.6': new Validation.JsonStrictValidator(Spec.Version.v1dot6),
  '1.7': new Validation.JsonStrictValidator(Spec.Version.v1dot7),
};

/** Every problem found in a CycloneDX JSON text of `version`; empty when it is valid. */
export async function cycloneDxProblems(text: string, version: '1.6' | '1.7'): Promise<string[]> {
  const problems: string[] = [];
  const error = await cdxValidators[version].validate(text);
  if (error !== null) problems.push(`schema: ${JSON.stringify(error)}`);
  const bom = JSON.parse(text) as {
    specVersion?: string;
    metadata?: { component?: { 'bom-ref'?: string } };
    components?: { 'bom-ref'?: string }[];
    dependencies?: { ref: string; dependsOn?: string[] }[];
  };
  if (bom.specVersion !== version) problems.push(`specVersion ${String(bom.specVersion)}, expected ${version}`);
  const refs = new Set<string>();
  for (const c of [bom.metadata?.component, ...(bom.components ?? [])]) {
    const ref = c?.['bom-ref'];
    if (ref === undefined) {
      problems.push('component without bom-ref');
      continue;
    }
    if (refs.has(ref)) problems.push(`duplicate bom-ref ${ref}`);
    refs.add(ref);
  }
  const seenDeps = new Set<string>();
  for (const d of bom.dependencies ?? []) {
    if (seenDeps.has(d.ref)) problems.push(`two dependency entries for ${d.ref}`);
    seenDeps.add(d.ref);
    if (!refs.has(d.ref)) problems.push(`dependency entry for unknown ref ${d.ref}`);
    const on = d.dependsOn ?? [];
    if (new Set(on).size !== on.length) problems.push(`duplicate dependsOn in ${d.ref}`);
    for (const target of on) if (!refs.has(target)) problems.push(`${d.ref} depends on unknown ref ${target}`);
  }
  return problems;
}
