/**
 * sigil's own JSON: the document model as it is, for scripts and for diffing two runs. Packages and
 * files in canonical order, object keys sorted, so equal documents give equal bytes.
 */
import {
  canonicalFiles,
  canonicalPackages,
  creationTime,
  type EncodeOptions,
  rfc3339,
  type SbomDocument,
  type SbomEncoder,
  stableStringify,
} from './document.ts';

/** Bumped when a field changes meaning or goes away; new fields do not bump it. */
export const SIGIL_JSON_SCHEMA_VERSION = 1;

export function encodeSigilJson(doc: SbomDocument, options: EncodeOptions = {}): string {
  const packages = canonicalPackages(doc.packages, doc.source.layers);
  const out = {
    schemaVersion: SIGIL_JSON_SCHEMA_VERSION,
    tool: doc.tool,
    created: rfc3339(creationTime(doc, options)),
    source: doc.source,
    distro: doc.distro,
    packages,
    files: doc.files === undefined ? undefined : canonicalFiles(doc.files, new Set(packages.map((p) => p.id))),
  };
  // Keys sorted inside each value, but the top level in reading order.
  const body = Object.entries(out)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `  ${JSON.stringify(k)}: ${stableStringify(v, 2).replaceAll('\n', '\n  ')}`);
  return `{\n${body.join(',\n')}\n}\n`;
}

export const sigilJsonEncoder: SbomEncoder = { id: 'json', encode: encodeSigilJson };
