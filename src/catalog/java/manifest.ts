/** META-INF/MANIFEST.MF and pom.properties: the two text formats a jar describes itself in. */

/**
 * The main section of a manifest (JAR File Specification, "Manifest Specification"): `Name: value`
 * lines, where a line starting with one space continues the previous one (lines are wrapped at 72
 * bytes, so long values are always folded). The main section ends at the first empty line.
 * Keys are returned lower-cased: the spec says header names are case-insensitive.
 */
export function parseManifest(content: string): Map<string, string> {
  const out = new Map<string, string>();
  let key: string | undefined;
  for (const line of content.split(/\r\n|\r|\n/)) {
    if (line === '') {
      if (out.size > 0) break;
      continue;
    }
    if (line.startsWith(' ')) {
      if (key !== undefined) out.set(key, out.get(key)! + line.slice(1));
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) {
      key = undefined;
      continue;
    }
    key = line.slice(0, colon).trim().toLowerCase();
    out.set(key, line.slice(colon + 1).replace(/^ /, ''));
  }
  for (const [k, v] of out) out.set(k, v.trim());
  return out;
}

/** java.util.Properties, the subset Maven writes: `key=value` / `key: value`, `#` and `!` comments. */
export function parseProperties(content: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const raw of content.split(/\r\n|\r|\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith('!')) continue;
    const m = /^([^=:\s]+)\s*[=:\s]\s*(.*)$/.exec(line);
    if (m !== null) out.set(m[1]!, m[2]!.trim());
  }
  return out;
}
