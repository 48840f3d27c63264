/**
 * bcrypt, for the htpasswd file of the basic-auth test registry: distribution 2.8's htpasswd
 * access controller accepts only bcrypt hashes (registry/auth/htpasswd/htpasswd.go), node:crypto
 * has no bcrypt, and this spares the test machines `apache2-utils` and the suite an npm package.
 *
 * Blowfish's initial P-array and S-boxes are the hexadecimal digits of π after the point
 * (Schneier 1993), so they are computed here with BigInt instead of pasted as 1042 constants.
 * Test only: it is not constant-time and not meant to protect anything.
 */
import { randomBytes } from 'node:crypto';

const BLOWFISH_WORDS = 18 + 4 * 256;

let piWordsCache: Uint32Array | undefined;

/** The first `BLOWFISH_WORDS` 32-bit words of π's fractional part, by Machin's formula. */
function piWords(): Uint32Array {
  if (piWordsCache) return piWordsCache;
  const bits = BigInt(BLOWFISH_WORDS * 32);
  const guard = 64n;
  const one = 1n << (bits + guard);
  // atan(1/x) = Σ (-1)^k / ((2k+1) x^(2k+1)), in fixed point with `bits + guard` fraction bits.
  const atanInv = (x: bigint): bigint => {
    const x2 = x * x;
    let power = one / x;
    let sum = 0n;
    for (let k = 1n; power !== 0n; k += 2n) {
      sum += (k & 2n ? -power : power) / k;
      power /= x2;
    }
    return sum;
  };
  const pi = 16n * atanInv(5n) - 4n * atanInv(239n);
  const fraction = (pi - (3n << (bits + guard))) >> guard;
  const words = new Uint32Array(BLOWFISH_WORDS);
  for (let i = 0; i < BLOWFISH_WORDS; i++) {
    words[i] = Number((fraction >> (bits - 32n * BigInt(i + 1))) & 0xffffffffn);
  }
  piWordsCache = words;
  return words;
}

class EksBlowfish {
  readonly p: Uint32Array;
  readonly s: Uint32Array;
  private readonly lr = new Uint32Array(2);

  constructor() {
    const pi = piWords();
    this.p = pi.slice(0, 18);
    this.s = pi.slice(18);
  }

  private f(x: number): number {
    const s = this.s;
    return (
      (((s[x >>> 24]! + s[256 + ((x >>> 16) & 0xff)]!) ^ s[512 + ((x >>> 8) & 0xff)]!) + s[768 + (x & 0xff)]!) >>> 0
    );
  }

  /** Encrypts this.lr in place. */
  encipher(): void {
    let l = this.lr[0]!;
    let r = this.lr[1]!;
    const p = this.p;
    for (let i = 0; i < 16; i += 2) {
      l = (l ^ p[i]!) >>> 0;
      r = (r ^ this.f(l)) >>> 0;
      r = (r ^ p[i + 1]!) >>> 0;
      l = (l ^ this.f(r)) >>> 0;
    }
    this.lr[0] = (r ^ p[17]!) >>> 0;
    this.lr[1] = (l ^ p[16]!) >>> 0;
  }

  /** The key schedule; with `salt` it is bcrypt's ExpandKey(state, salt, key), without it plain Blowfish's. */
  expandKey(key: Uint8Array, salt?: Uint8Array): void {
    let keyPos = 0;
    const keyWord = (): number => {
      let w = 0;
      for (let i = 0; i < 4; i++) {
        w = ((w << 8) | key[keyPos]!) >>> 0;
        keyPos = (keyPos + 1) % key.length;
      }
      return w;
    };
    for (let i = 0; i < 18; i++) this.p[i] = (this.p[i]! ^ keyWord()) >>> 0;

    let saltPos = 0;
    const saltWord = (): number => {
      if (!salt) return 0;
      let w = 0;
      for (let i = 0; i < 4; i++) {
        w = ((w << 8) | salt[saltPos]!) >>> 0;
        saltPos = (saltPos + 1) % salt.length;
      }
      return w;
    };
    this.lr[0] = 0;
    this.lr[1] = 0;
    const fill = (table: Uint32Array): void => {
      for (let i = 0; i < table.length; i += 2) {
        this.lr[0] = (this.lr[0]! ^ saltWord()) >>> 0;
        this.lr[1] = (this.lr[1]! ^ saltWord()) >>> 0;
        this.encipher();
        table[i] = this.lr[0]!;
        table[i + 1] = this.lr[1]!;
      }
    };
    fill(this.p);
    fill(this.s);
  }

  encryptWords(words: Uint32Array): void {
    for (let i = 0; i < words.length; i += 2) {
      this.lr[0] = words[i]!;
      this.lr[1] = words[i + 1]!;
      this.encipher();
      words[i] = this.lr[0]!;
      words[i + 1] = this.lr[1]!;
    }
  }
}

const STANDARD_B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const BCRYPT_B64 = './ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

function bcryptBase64Encode(bytes: Uint8Array): string {
  let out = '';
  for (const c of Buffer.from(bytes).toString('base64')) {
    if (c !== '=') out += BCRYPT_B64[STANDARD_B64.indexOf(c)];
  }
  return out;
}

function bcryptBase64Decode(s: string): Buffer {
  let std = '';
  for (const c of s) {
    const i = BCRYPT_B64.indexOf(c);
    if (i < 0) throw new Error(`bcrypt salt "${s}": "${c}" is not in bcrypt's base64 alphabet`);
    std += STANDARD_B64[i];
  }
  return Buffer.from(std, 'base64');
}

/**
 * A `$2y$` hash as `htpasswd -B` writes it. `salt` is the 22-character bcrypt-base64 salt
 * (random when omitted); `cost` is log2 of the rounds, 4 (Go's bcrypt.MinCost) keeps tests fast.
 */
export function bcryptHash(
  password: string,
  options: { cost?: number; salt?: string; version?: '2a' | '2b' | '2y' } = {},
): string {
  const cost = options.cost ?? 4;
  if (!Number.isInteger(cost) || cost < 4 || cost > 31) throw new RangeError(`bcrypt cost ${cost}: expected 4..31`);
  const saltText = options.salt ?? bcryptBase64Encode(randomBytes(16));
  if (saltText.length !== 22) throw new RangeError(`bcrypt salt "${saltText}": expected 22 characters`);
  const salt = bcryptBase64Decode(saltText).subarray(0, 16);
  // The key is the password's bytes with their C string terminator, at most 72 bytes ($2b$ semantics).
  const key = Buffer.concat([Buffer.from(password, 'utf8'), Buffer.of(0)]).subarray(0, 72);

  const state = new EksBlowfish();
  state.expandKey(key, salt);
  for (let i = 0; i < 2 ** cost; i++) {
    state.expandKey(key);
    state.expandKey(salt);
  }
  const text = Buffer.from('OrpheanBeholderScryDoubt', 'latin1');
  const words = new Uint32Array(6);
  for (let i = 0; i < 6; i++) words[i] = text.readUInt32BE(i * 4);
  for (let i = 0; i < 64; i++) state.encryptWords(words);
  const out = Buffer.alloc(24);
  for (let i = 0; i < 6; i++) out.writeUInt32BE(words[i]!, i * 4);

  // The salt is re-encoded from its 16 bytes, as every implementation does, so stray low bits
  // in a caller's 22nd character do not survive into the hash.
  const version = options.version ?? '2y';
  return `$${version}$${String(cost).padStart(2, '0')}$${bcryptBase64Encode(salt)}${bcryptBase64Encode(out.subarray(0, 23))}`;
}

/** Checks `password` against a hash made by any bcrypt ($2a$, $2b$, $2y$). */
export function bcryptVerify(password: string, hash: string): boolean {
  const m = /^\$(2[aby])\$(\d\d)\$([./A-Za-z0-9]{22})[./A-Za-z0-9]{31}$/.exec(hash);
  if (!m) return false;
  const again = bcryptHash(password, { cost: Number(m[2]), salt: m[3]!, version: m[1] as '2a' | '2b' | '2y' });
  return again === hash;
}
