/**
 * JSON as Go's encoding/json writes it, for bytes that must equal cosign's: compact, keys in
 * the order given (callers build objects in Go struct field order and sort map keys), and
 * `<`, `>`, `&`, U+2028, U+2029 escaped as `\u003c`… (Go's HTML-safe default). Those five
 * characters can only occur inside strings in JSON.stringify's output, so replacing them
 * everywhere is exact. Go ≥1.22 writes `\b` and `\f` like JSON.stringify does.
 */
export function goJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** A string map with keys in byte order, as Go serializes `map[string]string`. */
export function sortedMap(m: Record<string, string> | undefined): Record<string, string> | undefined {
  if (!m) return undefined;
  const keys = Object.keys(m).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  if (keys.length === 0) return undefined;
  const out: Record<string, string> = {};
  for (const k of keys) out[k] = m[k] as string;
  return out;
}
