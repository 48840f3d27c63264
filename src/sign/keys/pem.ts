import { SignError } from '../errors.ts';

/** One PEM block as Go's encoding/pem sees it: type, optional RFC 1421 headers, DER bytes. */
export interface PemBlock {
  type: string;
  headers: Record<string, string>;
  bytes: Buffer;
}

// Go's pem.Decode takes the first well-formed block and ignores text around it (comments
// before a key are common in hand-made files); the END line must repeat the BEGIN type.
const BLOCK =
  /-----BEGIN ([\x21-\x2c\x2e-\x7e](?:[\x20-\x2c\x2e-\x7e]*[\x21-\x2c\x2e-\x7e])?)-----\r?\n([\s\S]*?)-----END \1-----/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** The first PEM block of `text`, or undefined when there is none. */
export function decodePem(text: string | Uint8Array): PemBlock | undefined {
  const s = typeof text === 'string' ? text : Buffer.from(text).toString('latin1');
  const m = BLOCK.exec(s);
  if (!m) return undefined;
  const type = m[1] as string;
  const lines = (m[2] as string).split(/\r?\n/);
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
