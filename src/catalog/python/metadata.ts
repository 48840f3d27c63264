/**
 * Python core metadata (packaging.python.org "Core metadata specifications", versions 1.0–2.4) as
 * installed in `*.dist-info/METADATA`, `*.egg-info/PKG-INFO` or a single-file `*.egg-info`:
 * RFC 822 style headers, continuation lines starting with whitespace, then a blank line and the
 * description body (metadata 2.1+), which is not read. Several fields repeat (Classifier,
 * Requires-Dist, License-File, Project-URL), so every field keeps a list of values.
 */

export interface CoreMetadata {
  /** Field names lower-cased (the spec treats them case-insensitively), values in file order. */
  fields: Map<string, string[]>;
  warnings: string[];
}

export function parseCoreMetadata(content: string, path: string): CoreMetadata {
  const lines = content
    .replace(/^\uFEFF/, '')
    .replace(/\r\n?/g, '\n')
    .split('\n');
  const fields = new Map<string, string[]>();
  const warnings: string[] = [];
  let last: { values: string[]; index: number } | undefined;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    // The header ends at the first empty line; what follows is the long description.
    if (line.trim() === '') break;
    if (/^[ \t]/.test(line)) {
      if (last === undefined) {
        warnings.push(`${path}:${i + 1}: continuation line before any field; skipped`);
        continue;
      }
      // setuptools indents continuation lines by 8 spaces and, for Description, a `|`.
      last.values[last.index] = `${last.values[last.index]!}\n${line.replace(/^[ \t]+\|?/, '').trimEnd()}`;
      continue;
    }
    const m = /^([A-Za-z0-9][A-Za-z0-9_-]*):[ \t]*(.*)$/.exec(line);
    if (m === null) {
      warnings.push(`${path}:${i + 1}: "${line.slice(0, 60)}" is not a "Field: value" line; skipped`);
      last = undefined;
      continue;
    }
    const key = m[1]!.toLowerCase();
    const values = fields.get(key) ?? [];
    values.push(m[2]!.trimEnd());
    fields.set(key, values);
    last = { values, index: values.length - 1 };
  }
  return { fields, warnings };
}

/** The first value of a field, trimmed; undefined when absent or empty. */
export function field(meta: CoreMetadata, name: string): string | undefined {
  const v = meta.fields.get(name.toLowerCase())?.[0]?.trim();
  return v === undefined || v === '' ? undefined : v;
}

export function fieldAll(meta: CoreMetadata, name: string): string[] {
  return (meta.fields.get(name.toLowerCase()) ?? []).map((v) => v.trim()).filter((v) => v !== '');
}
