import { SignError, type SignErrorCode } from '../errors.ts';

const STD = /^[A-Za-z0-9+/]*={0,2}$/;
const URL_SAFE = /^[A-Za-z0-9_-]*={0,2}$/;

/**
 * Decode base64 the way cosign's Go readers accept it: standard alphabet with padding (Go's
 * StdEncoding), CR and LF anywhere ignored (Go's decoder skips them; a containers/image fixture
 * wraps signatures at 76 columns). `urlSafe` also accepts the URL alphabet and missing padding,
 * as the DSSE library's b64Decode does. Unlike Buffer.from(s, 'base64'), which silently drops
 * characters it does not know, anything else is an error.
 */
export function decodeBase64(
  text: string,
  what: string,
  code: SignErrorCode = 'PAYLOAD_INVALID',
  options: { urlSafe?: boolean } = {},
): Uint8Array {
  const s = text.replace(/[\r\n]/g, '');
  const padded = s.length % 4 === 0;
  const ok = STD.test(s) ? padded || options.urlSafe : options.urlSafe && URL_SAFE.test(s);
  // A padding-only remainder of 1 char can never be valid base64.
  if (!ok || s.replace(/=+$/, '').length % 4 === 1) {
    throw new SignError(code, `${what} is not valid base64`);
  }
  return new Uint8Array(Buffer.from(s, s.includes('-') || s.includes('_') ? 'base64url' : 'base64'));
}

/** Standard base64 with padding, no line breaks: what cosign writes. */
export function encodeBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}
