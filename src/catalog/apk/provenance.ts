/**
 * Which layer brought each apk package and which last changed its record, read off the database
 * file's versions from the oldest layer to the final one (the same reading the dpkg cataloger does
 * of its status file). A record is keyed by its `P:` name: apk installs at most one package of a name.
 */
import type { Digest } from '../../oci/digest.ts';
import type { CatalogFile } from '../cataloger.ts';
import { parseInstalled } from './parse-installed.ts';

export interface Provenance {
  introducedBy: Digest;
  lastChangedBy: Digest;
}

const decoder = new TextDecoder();

/** Each database version is parsed once per database file, however many packages ask. */
export class ApkProvenanceIndex {
  private readonly cache = new Map<CatalogFile, Map<string, Provenance>>();

  of(db: CatalogFile, name: string): Provenance {
    let perName = this.cache.get(db);
    if (perName === undefined) {
      perName = build(db);
      this.cache.set(db, perName);
    }
    return perName.get(name) ?? { introducedBy: db.layerDiffId, lastChangedBy: db.layerDiffId };
  }
}

function build(db: CatalogFile): Map<string, Provenance> {
  const versions = [...(db.earlier ?? []), { layerDiffId: db.layerDiffId, bytes: db.bytes }];
  const out = new Map<string, Provenance>();
  const previous = new Map<string, string>();
  for (const version of versions) {
    // Warnings of lower layers' versions are not reported: only the final database defines the packages.
    const { records } = parseInstalled(decoder.decode(version.bytes), db.path);
    const present = new Set<string>();
    for (const record of records) {
      const name = record.fields.get('P')?.trim();
      if (!name) continue;
      present.add(name);
      const seen = out.get(name);
      if (seen === undefined) {
        out.set(name, { introducedBy: version.layerDiffId, lastChangedBy: version.layerDiffId });
      } else if (previous.get(name) !== record.text) {
        // Upgraded, or back after a layer removed it: either way this layer changed it.
        seen.lastChangedBy = version.layerDiffId;
      }
      previous.set(name, record.text);
    }
    for (const name of [...previous.keys()]) if (!present.has(name)) previous.delete(name);
  }
  return out;
}
