import { type KeyObject, createHash, createPublicKey, sign as nodeSign, verify as nodeVerify } from 'node:crypto';
import { SignError } from './errors.ts';

/**
 * How an Ed25519 key signs. cosign loads key files with Ed25519ph (sigstore's
 * `options.WithED25519ph()` in cosign:pkg/cosign/keys.go GetDefaultLoadOptions), for signing and
 * for `verify --key`; a key taken from a certificate is used as plain Ed25519.
 */
export type Ed25519Mode = 'ph' | 'pure';

export interface RawSignatureOptions {
  /** Default `ph`, as cosign does for key files. */
  ed25519?: Ed25519Mode;
}

/** The hash cosign pairs with a key, or undefined for Ed25519 (which hashes internally). */
export function signatureHash(key: KeyObject): 'sha256' | 'sha384' | 'sha512' | undefined {
  switch (key.asymmetricKeyType) {
    case 'ec': {
      // sigstore's LoadECDSASigner/Verifier default: the hash whose size matches the curve.
      const curve = key.asymmetricKeyDetails?.namedCurve;
      if (curve === 'prime256v1') return 'sha256';
      if (curve === 'secp384r1') return 'sha384';
      if (curve === 'secp521r1') return 'sha512';
      throw new SignError(
        'KEY_UNSUPPORTED',
        `ECDSA curve ${curve ?? 'unknown'}: cosign signs with P-256, P-384 or P-521`,
      );
    }
    case 'rsa':
      // PKCS#1 v1.5 with SHA-256: sigstore's LoadVerifier/LoadSigner for *rsa.PublicKey unless PSS is
      // asked for explicitly, which cosign never does for keys, certificates or key files.
      return 'sha256';
    case 'ed25519':
      return undefined;
    default:
      throw new SignError(
        'KEY_UNSUPPORTED',
        `${key.asymmetricKeyType ?? 'unknown'} key: cosign signs with ECDSA (P-256/384/521), RSA (PKCS#1 v1.5) or Ed25519`,
      );
  }
}

/**
 * Sign `data` as cosign does with this private key: ECDSA → ASN.1 DER over the curve's hash,
 * RSA → PKCS#1 v1.5 SHA-256, Ed25519 → Ed25519ph (default) or pure Ed25519.
 */
export function signBytes(key: KeyObject, data: Uint8Array, options: RawSignatureOptions = {}): Uint8Array {
  if (key.type !== 'private') throw new SignError('KEY_INVALID', `signing needs a private key, got a ${key.type} key`);
  const hash = signatureHash(key);
  if (key.asymmetricKeyType === 'ed25519') {
    return (options.ed25519 ?? 'ph') === 'ph' ? ed25519phSign(key, data) : new Uint8Array(nodeSign(null, data, key));
  }
  const padding = key.asymmetricKeyType === 'rsa' ? { padding: 1 /* RSA_PKCS1_PADDING */ } : {};
  return new Uint8Array(nodeSign(hash!, data, { key, dsaEncoding: 'der', ...padding }));
}

/**
 * Whether `signature` is this key's signature over `data` with cosign's algorithm for the key
 * (see signBytes). A private key is accepted and its public half used. Malformed signatures are
 * simply not valid: this never throws for them.
 */
export function verifyBytes(
  key: KeyObject,
  data: Uint8Array,
  signature: Uint8Array,
  options: RawSignatureOptions = {},
): boolean {
  const publicKey = key.type === 'private' ? createPublicKey(key) : key;
  const hash = signatureHash(publicKey);
  try {
    if (publicKey.asymmetricKeyType === 'ed25519') {
      return (options.ed25519 ?? 'ph') === 'ph'
        ? ed25519phVerify(publicKey, data, signature)
        : nodeVerify(null, data, publicKey, signature);
    }
    const padding = publicKey.asymmetricKeyType === 'rsa' ? { padding: 1 } : {};
    return nodeVerify(hash!, data, { key: publicKey, dsaEncoding: 'der', ...padding }, signature);
  } catch {
    // OpenSSL throws on some malformed DER/lengths instead of returning false.
    return false;
  }
}

/** verifyBytes, throwing SIGNATURE_INVALID with `what` in the message when it is not valid. */
export function assertSignature(
  key: KeyObject,
  data: Uint8Array,
  signature: Uint8Array,
  what: string,
  options: RawSignatureOptions = {},
): void {
  if (!verifyBytes(key, data, signature, options)) {
    throw new SignError(
      'SIGNATURE_INVALID',
      `${what}: signature does not verify with the given ${key.asymmetricKeyType} key`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Ed25519ph (RFC 8032 §5.1, phflag 1, empty context). OpenSSL 3.0, which Node links, only does
// pure Ed25519, so the curve arithmetic is here: extended coordinates, BigInt, constant time not
// attempted (verification handles public data; signing with Ed25519 key files is rare in cosign,
// whose generate-key-pair only makes ECDSA keys).

const P = 2n ** 255n - 19n;
const L = 2n ** 252n + 27742317777372353535851937790883648493n;
type Point = readonly [bigint, bigint, bigint, bigint];

function mod(a: bigint, m = P): bigint {
  const r = a % m;
  return r >= 0n ? r : r + m;
}
function pow(b: bigint, e: bigint): bigint {
  let r = 1n;
  b = mod(b);
  while (e > 0n) {
    if (e & 1n) r = (r * b) % P;
    b = (b * b) % P;
    e >>= 1n;
  }
  return r;
}
const inv = (a: bigint): bigint => pow(a, P - 2n);
const D = mod(-121665n * inv(121666n));
const SQRT_M1 = pow(2n, (P - 1n) / 4n);
const ZERO: Point = [0n, 1n, 1n, 0n];

function add(p: Point, q: Point): Point {
  const a = mod((p[1] - p[0]) * (q[1] - q[0]));
  const b = mod((p[1] + p[0]) * (q[1] + q[0]));
  const c = mod(2n * D * p[3] * q[3]);
  const d = mod(2n * p[2] * q[2]);
  const e = b - a;
  const f = d - c;
  const g = d + c;
  const h = b + a;
  return [mod(e * f), mod(g * h), mod(f * g), mod(e * h)];
}
function mul(k: bigint, p: Point): Point {
  let r = ZERO;
  let q = p;
  while (k > 0n) {
    if (k & 1n) r = add(r, q);
    q = add(q, q);
    k >>= 1n;
  }
  return r;
}
function leBigInt(b: Uint8Array): bigint {
  let n = 0n;
  for (let i = b.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(b[i]!);
  return n;
}
function leBytes(n: bigint, len = 32): Uint8Array {
  const out = new Uint8Array(len);
  for (let i = 0; i < len; i++, n >>= 8n) out[i] = Number(n & 0xffn);
  return out;
}
function encodePoint(p: Point): Uint8Array {
  const zi = inv(p[2]);
  const x = mod(p[0] * zi);
  const out = leBytes(mod(p[1] * zi));
  out[31]! |= Number(x & 1n) << 7;
  return out;
}
function decodePoint(b: Uint8Array): Point | undefined {
  if (b.length !== 32) return undefined;
  const sign = b[31]! >> 7;
  const y = leBigInt(b) & ((1n << 255n) - 1n);
  if (y >= P) return undefined;
  const u = mod(y * y - 1n);
  const v = mod(D * y * y + 1n);
  let x = mod(u * pow(v, 3n) * pow(u * pow(v, 7n), (P - 5n) / 8n));
  const vx2 = mod(v * x * x);
  if (vx2 === mod(-u)) x = mod(x * SQRT_M1);
  else if (vx2 !== u) return undefined;
  if (x === 0n && sign === 1) return undefined;
  if (Number(x & 1n) !== sign) x = P - x;
  return [x, y, 1n, mod(x * y)];
}
const BASE = decodePoint(leBytes(mod(4n * inv(5n))))!;

function sha512(...parts: Uint8Array[]): Uint8Array {
  const h = createHash('sha512');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}
/** dom2(phflag = 1, context = "") from RFC 8032 §2. */
const DOM2_PH = new Uint8Array([...Buffer.from('SigEd25519 no Ed25519 collisions'), 1, 0]);

/** RFC 8032 Ed25519 over `message` with the domain prefix `dom` (empty = pure Ed25519). */
export function ed25519SignWith(seed: Uint8Array, message: Uint8Array, dom: Uint8Array): Uint8Array {
  const h = sha512(seed);
  const a = h.slice(0, 32);
  a[0]! &= 248;
  a[31]! &= 127;
  a[31]! |= 64;
  const s = leBigInt(a);
  const publicKey = encodePoint(mul(s, BASE));
  const r = mod(leBigInt(sha512(dom, h.slice(32), message)), L);
  const R = encodePoint(mul(r, BASE));
  const k = mod(leBigInt(sha512(dom, R, publicKey, message)), L);
  const S = mod(r + k * s, L);
  const sig = new Uint8Array(64);
  sig.set(R, 0);
  sig.set(leBytes(S), 32);
  return sig;
}

/** Verification as Go's crypto/ed25519 does it: canonical S, then [S]B − [k]A must encode to R. */
export function ed25519VerifyWith(
  publicKey: Uint8Array,
  message: Uint8Array,
  sig: Uint8Array,
  dom: Uint8Array,
): boolean {
  if (sig.length !== 64 || publicKey.length !== 32) return false;
  const A = decodePoint(publicKey);
  if (!A) return false;
  const S = leBigInt(sig.subarray(32));
  if (S >= L) return false;
  const k = mod(leBigInt(sha512(dom, sig.subarray(0, 32), publicKey, message)), L);
  const negA: Point = [mod(-A[0]), A[1], A[2], mod(-A[3])];
  const check = encodePoint(add(mul(S, BASE), mul(k, negA)));
  return Buffer.compare(check, sig.subarray(0, 32)) === 0;
}

function ed25519phSign(key: KeyObject, data: Uint8Array): Uint8Array {
  const jwk = key.export({ format: 'jwk' });
  return ed25519SignWith(new Uint8Array(Buffer.from(jwk.d!, 'base64url')), sha512(data), DOM2_PH);
}

function ed25519phVerify(key: KeyObject, data: Uint8Array, sig: Uint8Array): boolean {
  const jwk = key.export({ format: 'jwk' });
  return ed25519VerifyWith(new Uint8Array(Buffer.from(jwk.x!, 'base64url')), sha512(data), sig, DOM2_PH);
}
