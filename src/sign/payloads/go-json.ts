/**
 * The bytes Go's `encoding/json` writes, and the key matching its decoder does. cosign signs the
 * exact bytes of its payloads, so a payload sigil writes must be byte-for-byte what cosign would
 * write for the same fields (sigstore:pkg/signature/payload, in-toto-golang statements).
 *
 * Go distinguishes structs (fields in declaration order) from maps (keys sorted by their UTF-8
 * bytes). JS objects cannot carry that difference, and they iterate integer-like keys first
 * whatever the insertion order, so a struct is spelled out as a `GoStruct` and every plain object
 * is encoded as a Go map.
 */

/** A Go struct: fields written in this order; `undefined` values are left out (`omitempty`). */
export class GoStruct {
  constructor(readonly fields: ReadonlyArray<readonly [string, unknown]>) {}
}

export function goStruct(fields: ReadonlyArray<readonly [string, unknown]>): GoStruct {
  return new GoStruct(fields);
}

const HEX = '0123456789abcdef';

/**
 * One JSON string as Go writes it (encoding/json encodeState.string with HTML escaping on, which
 * json.Marshal always uses): `<`, `>`, `&` and U+2028/U+2029 become `\u` escapes, control
 * characters other than \b \f \n \r \t become `\u00XX` (Go ≥ 1.22 writes `\b` and `\f` short), and
 * text that is not valid UTF-16 (a lone surrogate) becomes `\ufffd`, as Go does for invalid UTF-8.
 */
export function goString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdfff) {
      const next = s.charCodeAt(i + 1);
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        out += s[i]! + s[i + 1]!;
        i++;
      } else {
        out += '\\ufffd';
      }
      continue;
    }
    switch (c) {
      case 0x22:
        out += '\\"';
        continue;
      case 0x5c:
        out += '\\\\';
        continue;
      case 0x08:
        out += '\\b';
        continue;
      case 0x0c:
        out += '\\f';
        continue;
      case 0x0a:
        out += '\\n';
        continue;
      case 0x0d:
        out += '\\r';
        continue;
      case 0x09:
        out += '\\t';
        continue;
      case 0x3c:
      case 0x3e:
      case 0x26:
        out += `\\u00${HEX[c >> 4]}${HEX[c & 0xf]}`;
        continue;
      case 0x2028:
      case 0x2029:
        out += `\\u${c.toString(16)}`;
        continue;
    }
    out += c < 0x20 ? `\\u00${HEX[c >> 4]}${HEX[c & 0xf]}` : s[i]!;
  }
  return out + '"';
}

/** Go sorts map keys by their UTF-8 bytes; JS's default sort uses UTF-16 units, which differs above U+E000. */
function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** Compact JSON text of `value` as Go's json.Marshal writes it. */
export function goJson(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (value instanceof GoStruct) {
    const parts: string[] = [];
    for (const [k, v] of value.fields) if (v !== undefined) parts.push(`${goString(k)}:${goJson(v)}`);
    return `{${parts.join(',')}}`;
  }
  switch (typeof value) {
    case 'string':
      return goString(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      // Go writes float64 in the shortest form that round-trips, switching to exponent form below
      // 1e-6 and from 1e21, exactly where JS's Number#toString does; Go refuses NaN and ±Inf.
      if (!Number.isFinite(value)) throw new TypeError(`json: unsupported value: ${value}`);
      return Object.is(value, -0) ? '-0' : String(value);
    case 'object': {
      if (Array.isArray(value)) return `[${value.map((v) => goJson(v)).join(',')}]`;
      const keys = Object.keys(value).sort(compareUtf8);
      return `{${keys.map((k) => `${goString(k)}:${goJson((value as Record<string, unknown>)[k])}`).join(',')}}`;
    }
    default:
      throw new TypeError(`json: unsupported type: ${typeof value}`);
  }
}

/** UTF-8 bytes of goJson(value). */
export function goJsonBytes(value: unknown): Uint8Array {
  return new TextEncoder().encode(goJson(value));
}

/**
 * Go's decoder matches object keys to struct fields case-insensitively (exact match preferred),
 * folding the Kelvin sign to `k` and the long s to `s` as its foldName does; when several keys land
 * on one field, the last one in the text wins. `JSON.parse` keeps the last of exact duplicates.
 */
export function goField(obj: Record<string, unknown>, field: string): unknown {
  const want = fold(field);
  let found: unknown = undefined;
  for (const key of Object.keys(obj)) if (fold(key) === want) found = obj[key];
  return found;
}

function fold(s: string): string {
  return s
    .replace(/\u212a/g, 'k')
    .replace(/\u017f/g, 's')
    .replace(/[A-Z]/g, (c) => c.toLowerCase());
}

/** Plain JSON object (not array, not null). */
export function isJsonObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Decoder for JSON input as Go's json.Unmarshal reads it: invalid UTF-8 inside strings becomes
 * U+FFFD instead of failing (outside strings it then fails to parse, as in Go), and a byte-order
 * mark is kept so that JSON.parse rejects it as Go does.
 */
export const GO_JSON_TEXT = new TextDecoder('utf-8', { ignoreBOM: true });

/**
 * A JSON object decoded as Go's encoding/json reads one (GO_JSON_TEXT), or `fail`'s error:
 * "not JSON" with the parser's error as cause, or "expected a JSON object".
 */
export function parseGoJsonObject(
  bytes: Uint8Array,
  fail: (why: string, cause?: unknown) => Error,
): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = JSON.parse(GO_JSON_TEXT.decode(bytes));
  } catch (err) {
    throw fail('not JSON', err);
  }
  if (!isJsonObject(doc)) throw fail('expected a JSON object');
  return doc;
}
