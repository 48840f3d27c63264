/**
 * The JSON cargo-auditable embeds (the `VersionInfo` of its auditable-serde crate, schema at
 * rustsec.org/schemas/cargo-auditable.json): `{"packages": [{name, version, source, kind,
 * dependencies, root}]}`. Fields at their default are left out by the writer: `kind` is then
 * "runtime", `dependencies` empty, `root` false (go-rustaudit fills the same defaults).
 */

export type CrateKind = 'runtime' | 'build';

export interface AuditCrate {
  name: string;
  version: string;
  /** `crates.io`, `git`, `local`, `registry` or (for std crates) `builtin`; kept as written. */
  source?: string;
  kind: CrateKind;
  /** Indexes into the same `packages` array. */
  dependencies: number[];
  root: boolean;
}

export interface AuditData {
  crates: AuditCrate[];
  /** Problems with single entries; the rest of the list is still used. */
  problems: string[];
}

/** Parse the JSON text; throws (a SyntaxError or TypeError with a message) when it is not audit data at all. */
export function parseAuditData(text: string): AuditData {
  const doc: unknown = JSON.parse(text);
  if (typeof doc !== 'object' || doc === null || !Array.isArray((doc as { packages?: unknown }).packages)) {
    throw new TypeError('no "packages" array');
  }
  const entries = (doc as { packages: unknown[] }).packages;
  const crates: AuditCrate[] = [];
  const problems: string[] = [];
  entries.forEach((entry, i) => {
    const e = (typeof entry === 'object' && entry !== null ? entry : {}) as Record<string, unknown>;
    const name = typeof e.name === 'string' ? e.name : '';
    const version = typeof e.version === 'string' ? e.version : '';
    if (name === '' || version === '') problems.push(`packages[${i}]: no name or version; skipped`);
    const kind: CrateKind = e.kind === 'build' ? 'build' : 'runtime';
    if (e.kind !== undefined && e.kind !== 'build' && e.kind !== 'runtime') {
      problems.push(`packages[${i}] (${name}): unknown kind ${JSON.stringify(e.kind)}, taken as runtime`);
    }
    const dependencies: number[] = [];
    if (Array.isArray(e.dependencies)) {
      for (const d of e.dependencies) {
        if (Number.isInteger(d) && (d as number) >= 0 && (d as number) < entries.length && d !== i) {
          dependencies.push(d as number);
        } else {
          problems.push(
            `packages[${i}] (${name}): dependency index ${JSON.stringify(d)} out of range or itself; ignored`,
          );
        }
      }
    }
    const crate: AuditCrate = { name, version, kind, dependencies, root: e.root === true };
    if (typeof e.source === 'string') crate.source = e.source;
    crates.push(crate);
  });
  return { crates, problems };
}
