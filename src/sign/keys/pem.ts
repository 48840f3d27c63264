import { SignError } from '../errors.ts';

/** One PEM block as Go's encoding/pem sees it: type, optional RFC 1421 headers, DER bytes. */
export interface PemBlock {
  type: string;
  headers: Record<string, string>;
  bytes: Buffer;
}

// Go's pem.Decode takes the first well-formed block and ignores text around it (comments
// before a key are common in hand-made files); the END line must repeat the BEGIN type.
const TYPE = '[\\x21-\\x2c\\x2e-\\x7e](?:[\\x20-\\x2c\\x2e-\\x7e]*[\\x21-\\x2c\\x2e-\\x7e])?';
const BEGIN_LINE = new RegExp(`-----BEGIN (${TYPE})-----\\r?\\n`, 'g');
const END_LINE = new RegExp(`-----END (${TYPE})-----`, 'g');
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * The first BEGIN line with an END line of the same type after it, and the text between. One
 * regexp with a back-reference did the same, but scanned to the end of the text from every
 * BEGIN line: a 1 MiB file of unterminated BEGIN lines took ~10 s. Here each line is found once.
 */
function firstBlock(s: string): { type: string; body: string } | undefined {
  const ends = new Map<string, number[]>();
  for (const m of s.matchAll(END_LINE)) {
    const list = ends.get(m[1]!) ?? [];
    list.push(m.index);
    ends.set(m[1]!, list);
  }
  for (const m of s.matchAll(BEGIN_LINE)) {
    const list = ends.get(m[1]!);
    if (list === undefined) continue;
    const start = m.index + m[0].length;
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (list[mid]! < start) lo = mid + 1;
      else hi = mid;
    }
    if (lo < list.length) return { type: m[1]!, body: s.slice(start, list[lo]) };
  }
  return undefined;
}

/** The first PEM block of `text`, or undefined when there is none. */
export function decodePem(text: string | Uint8Array): PemBlock | undefined {
  const s = typeof text === 'string' ? text : Buffer.from(text).toString('latin1');
  const m = firstBlock(s);
  if (!m) return undefined;
  const type = m.type;
  const lines = m.body.split(/\r?\n/);
  const headers: Record<string, string> = {};
  // RFC 1421 headers ("Proc-Type: 4,ENCRYPTED") come first and end at a blank line.
  if (lines[0]?.includes(':')) {
    while (lines.length > 0 && lines[0] !== '') {
      const line = lines.shift() as string;
      const colon = line.indexOf(':');
      if (colon < 0) return undefined;
      headers[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
    }
  }
  const body = lines.join('').replace(/[ \t]/g, '');
  if (!BASE64.test(body) || body.length % 4 !== 0) return undefined;
  return { type, headers, bytes: Buffer.from(body, 'base64') };
}

/** Like decodePem, but a missing block is a KEY_INVALID error naming `what`. */
export function requirePem(text: string | Uint8Array, what: string): PemBlock {
  const block = decodePem(text);
  if (!block) throw new SignError('KEY_INVALID', `${what}: no PEM block found (expected -----BEGIN … -----)`);
  return block;
}

/** PEM as Go's pem.EncodeToMemory writes it: 64-column base64 lines, trailing newline. */
export function encodePem(type: string, bytes: Uint8Array): string {
  const b64 = Buffer.from(bytes).toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 64) lines.push(b64.slice(i, i + 64));
  return `-----BEGIN ${type}-----\n${lines.join('\n')}${lines.length > 0 ? '\n' : ''}-----END ${type}-----\n`;
}
