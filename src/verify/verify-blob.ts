/**
 * verify-blob: one Sigstore bundle over one file (cosign verify-blob --bundle, the conformance
 * suite's verify-bundle), checked by the same checkEvidence as image signatures.
 *
 * The artifact comes as bytes or, as the conformance protocol allows, as a digest `sha256:HEX`
 * (sigil also takes `sha384:HEX`). A message-signature bundle is then verified over the digest
 * itself (prehashed ECDSA on P-256/P-384/P-521, RSA PKCS#1 v1.5): @sigstore/verify cannot,
 * it always hashes an artifact it is given. For a DSSE bundle the in-toto statement must name
 * the blob's digest among its subjects (checkEvidence's digest step).
 */
import { createHash, type KeyObject, publicDecrypt, constants as cryptoConstants } from 'node:crypto';
import { existsSync } from 'node:fs';
import type { Authority, CheckResult } from './authority.ts';
import { checkEvidence, type PrehashedArtifact } from './check.ts';
import type { Evidence } from './evidence/evidence.ts';
import { evidenceFromBundle } from './evidence/from-bundle.ts';
import { VerifyError } from './errors.ts';

export type BlobInput =
  | { kind: 'bytes'; bytes: Uint8Array; /** for reports, e.g. the file path */ name?: string }
  | { kind: 'digest'; algorithm: 'sha256' | 'sha384'; hex: string };

const DIGEST_INPUT = /^(sha256:[0-9a-f]{64}|sha384:[0-9a-f]{96})$/i;

/**
 * Reads a FILE_OR_DIGEST argument as the conformance protocol says: a digest when it has the
 * `sha256:` prefix, the right length of hex, and is not a path on disk; a file path otherwise.
 */
export function artifactArgument(arg: string, exists: (path: string) => boolean = existsSync): 'digest' | 'file' {
  return DIGEST_INPUT.test(arg) && !exists(arg) ? 'digest' : 'file';
}

/** `sha256:HEX` / `sha384:HEX` as a BlobInput. */
export function digestInput(arg: string): BlobInput {
  if (!DIGEST_INPUT.test(arg)) {
    throw new VerifyError('EVIDENCE_INVALID', `${arg}: not a sha256:HEX (64) or sha384:HEX (96) digest`);
  }
  const [algorithm, hex] = arg.toLowerCase().split(':') as ['sha256' | 'sha384', string];
  return { kind: 'digest', algorithm, hex };
}

export interface VerifyBlobOptions {
  authority: Authority;
  /** Verification time when no signed time exists; default now. */
  now?: Date;
  /** Where the bundle came from, for messages. */
  bundleName?: string;
}

export type VerifyBlobResult = CheckResult & { evidence: Evidence; digest: string };

/** Verifies `bundle` (JSON text, bytes or parsed) over `input` for one authority; never throws for a bad bundle. */
export async function verifyBlob(
  bundle: Uint8Array | string | Record<string, unknown>,
  input: BlobInput,
  o: VerifyBlobOptions,
): Promise<VerifyBlobResult> {
  const name = o.bundleName ?? 'bundle';
  const evidence = evidenceFromBundle(bundle, { description: name, path: name }, 'file');
  const digest =
    input.kind === 'digest'
      ? `${input.algorithm}:${input.hex.toLowerCase()}`
      : `sha256:${createHash('sha256').update(input.bytes).digest('hex')}`;
  let prehashed: PrehashedArtifact | undefined;
  if (evidence.bundle?.content.$case === 'messageSignature') {
    // A message signature claims exactly one thing: the digest of the bytes it signs. Stated as
    // a one-subject claim, checkEvidence's digest step compares it like any other.
    const [alg, hex] = digest.split(':') as [string, string];
    evidence.claim = {
      type: 'in-toto',
      statementType: 'message-signature',
      subjects: [{ name: input.kind === 'bytes' ? (input.name ?? 'artifact') : digest, digest: { [alg]: hex } }],
      predicateType: '',
    };
    evidence.problems = evidence.problems.filter((p) => !p.startsWith('bundle holds a message signature'));
    if (input.kind === 'bytes') evidence.payload = new Uint8Array(input.bytes);
    else {
      const d = Buffer.from(input.hex, 'hex');
      prehashed = { digest: d, verify: (key, sig) => verifyPrehashed(key, d, sig) };
    }
  }
  const r = await checkEvidence(evidence, o.authority, {
    digest,
    ...(o.now ? { now: o.now } : {}),
    ...(prehashed ? { prehashed } : {}),
  });
  return { ...r, evidence, digest };
}

interface Curve {
  p: bigint;
  a: bigint;
  n: bigint;
  gx: bigint;
  gy: bigint;
}

const CURVES: Record<string, Curve> = {
  'P-256': {
    p: 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn,
    a: 0xffffffff00000001000000000000000000000000fffffffffffffffffffffffcn,
    n: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
    gx: 0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296n,
    gy: 0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5n,
  },
  'P-384': {
    p: 0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffffn,
    a: 0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000fffffffcn,
    n: 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n,
    gx: 0xaa87ca22be8b05378eb1c71ef320ad746e1d3b628ba79b9859f741e082542a385502f25dbf55296c3a545e3872760ab7n,
    gy: 0x3617de4a96262c6f5d9e98bf9292dc29f8f41dbd289a147ce9da3113b5f0b8c00a60b1ce1d7e819d7a431d7c90ea0e5fn,
  },
};

/**
 * Verifies `signature` over an already computed `digest`: ECDSA (DER signature) on P-256 and
 * P-384 by the textbook verification equation, RSA PKCS#1 v1.5 by recovering the DigestInfo.
 * node:crypto has no prehashed verify (crypto.verify always hashes its input).
 */
export function verifyPrehashed(key: KeyObject, digest: Buffer, signature: Buffer): boolean {
  if (key.asymmetricKeyType === 'rsa') return verifyRsaPrehashed(key, digest, signature);
  if (key.asymmetricKeyType !== 'ec') return false;
  const jwk = key.export({ format: 'jwk' });
  const curve = jwk.crv ? CURVES[jwk.crv] : undefined;
  if (!curve || !jwk.x || !jwk.y) return false;
  const rs = derSignature(signature);
  if (!rs) return false;
  const [r, s] = rs;
  const { n } = curve;
  if (r <= 0n || r >= n || s <= 0n || s >= n) return false;
  const e = digestScalar(digest, n);
  const w = modInverse(s, n);
  const q: Point = [fromB64url(jwk.x), fromB64url(jwk.y)];
  const g: Point = [curve.gx, curve.gy];
  const sum = add(curve, mul(curve, g, (e * w) % n), mul(curve, q, (r * w) % n));
  return sum !== null && sum[0] % n === r;
}

/** DigestInfo prefixes (RFC 8017 §9.2 note 1) for the SHA-2 digests a prehashed input can be. */
const DIGEST_INFO: Record<number, string> = {
  32: '3031300d060960864801650304020105000420',
  48: '3041300d060960864801650304020205000430',
  64: '3051300d060960864801650304020305000440',
};

function verifyRsaPrehashed(key: KeyObject, digest: Buffer, signature: Buffer): boolean {
  const prefix = DIGEST_INFO[digest.length];
  if (!prefix) return false;
  try {
    const recovered = publicDecrypt({ key, padding: cryptoConstants.RSA_PKCS1_PADDING }, signature);
    return recovered.equals(Buffer.concat([Buffer.from(prefix, 'hex'), digest]));
  } catch {
    return false;
  }
}

type Point = [bigint, bigint] | null;

function fromB64url(s: string): bigint {
  return BigInt(`0x${Buffer.from(s, 'base64url').toString('hex') || '0'}`);
}

/** The leftmost bitlen(n) bits of the digest, as FIPS 186-4 §6.4 takes them. */
function digestScalar(digest: Buffer, n: bigint): bigint {
  let e = BigInt(`0x${digest.toString('hex') || '0'}`);
  const excess = digest.length * 8 - n.toString(2).length;
  if (excess > 0) e >>= BigInt(excess);
  return e;
}

function mod(a: bigint, m: bigint): bigint {
  const r = a % m;
  return r < 0n ? r + m : r;
}

function modInverse(a: bigint, m: bigint): bigint {
  let [oldR, r] = [mod(a, m), m];
  let [oldS, s] = [1n, 0n];
  while (r !== 0n) {
    const q = oldR / r;
    [oldR, r] = [r, oldR - q * r];
    [oldS, s] = [s, oldS - q * s];
  }
  return mod(oldS, m);
}

function add(c: Curve, a: Point, b: Point): Point {
  if (a === null) return b;
  if (b === null) return a;
  const [x1, y1] = a;
  const [x2, y2] = b;
  let l: bigint;
  if (x1 === x2) {
    if (mod(y1 + y2, c.p) === 0n) return null;
    l = mod((3n * x1 * x1 + c.a) * modInverse(2n * y1, c.p), c.p);
  } else {
    l = mod((y2 - y1) * modInverse(x2 - x1, c.p), c.p);
  }
  const x3 = mod(l * l - x1 - x2, c.p);
  return [x3, mod(l * (x1 - x3) - y1, c.p)];
}

function mul(c: Curve, p: Point, k: bigint): Point {
  let result: Point = null;
  let addend = p;
  while (k > 0n) {
    if (k & 1n) result = add(c, result, addend);
    addend = add(c, addend, addend);
    k >>= 1n;
  }
  return result;
}

/** (r, s) of a DER ECDSA-Sig-Value; undefined when malformed. */
function derSignature(sig: Buffer): [bigint, bigint] | undefined {
  let i = 0;
  const len = (): number | undefined => {
    const b = sig[i++];
    if (b === undefined) return undefined;
    if (b < 0x80) return b;
    if (b === 0x81) return sig[i++];
    return undefined;
  };
  if (sig[i++] !== 0x30) return undefined;
  const total = len();
  if (total === undefined || i + total !== sig.length) return undefined;
  const ints: bigint[] = [];
  for (let k = 0; k < 2; k++) {
    if (sig[i++] !== 0x02) return undefined;
    const l = len();
    if (l === undefined || l === 0 || i + l > sig.length) return undefined;
    ints.push(BigInt(`0x${sig.subarray(i, i + l).toString('hex')}`));
    i += l;
  }
  return i === sig.length ? [ints[0]!, ints[1]!] : undefined;
}
