import { createHash, type Hash } from 'node:crypto';
import { pipeline, type Readable, Transform, type TransformCallback } from 'node:stream';
import { OciError } from './errors.ts';

/** `algorithm:hex`, e.g. `sha256:9f86…`. Only sha256 and sha512 are produced by registries in practice. */
export type Digest = string;

const DIGEST_RE = /^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;

export function isDigest(s: string): boolean {
  return DIGEST_RE.test(s);
}

export function assertDigest(s: string, what = 'digest'): asserts s is Digest {
  if (!DIGEST_RE.test(s)) {
    throw new OciError('DIGEST_INVALID', `invalid ${what} "${s}": expected sha256:<64 hex> or sha512:<128 hex>`);
  }
}

export function digestAlgorithm(d: Digest): 'sha256' | 'sha512' {
  return d.startsWith('sha512:') ? 'sha512' : 'sha256';
}

export function digestHex(d: Digest): string {
  return d.slice(d.indexOf(':') + 1);
}

export function sha256(data: Uint8Array | string): Digest {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** Digest `data` with the algorithm of `expected` and compare; throws DIGEST_MISMATCH naming `what`. */
export function verifyBytes(data: Uint8Array, expected: Digest, what: string): void {
  const alg = digestAlgorithm(expected);
  const got = `${alg}:${createHash(alg).update(data).digest('hex')}`;
  if (got !== expected) {
    throw new OciError('DIGEST_MISMATCH', `${what}: content digest ${got} does not match expected ${expected}`);
  }
}

export interface VerifyOptions {
  /** Expected size in bytes; -1 or undefined when unknown. */
  size?: number;
  /** Named in error messages: "layer sha256:… from registry 127.0.0.1:5000". */
  what?: string;
  /** Bytes already consumed (Range resume): the hash state to continue from. */
  hash?: Hash;
  offset?: number;
  onProgress?: (bytes: number) => void;
}

/**
 * A pass-through stream that hashes as bytes flow and fails at the end (before signalling
 * completion) on a digest or size mismatch, or early as soon as more bytes than `size` arrive.
 * Consumers therefore never see a successful end for wrong content.
 */
export class DigestVerifier extends Transform {
  readonly expected: Digest;
  readonly hash: Hash;
  bytes: number;
  /** Called with the running byte count as data passes; settable so a consumer can watch a source's stream. */
  onProgress: ((bytes: number) => void) | undefined;
  readonly size: number;
  private readonly what: string;

  constructor(expected: Digest, options: VerifyOptions = {}) {
    super();
    assertDigest(expected);
    this.expected = expected;
    this.hash = options.hash ?? createHash(digestAlgorithm(expected));
    this.bytes = options.offset ?? 0;
    this.size = options.size ?? -1;
    this.what = options.what ?? `blob ${expected}`;
    this.onProgress = options.onProgress;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.size >= 0 && this.bytes > this.size) {
      cb(new OciError('SIZE_MISMATCH', `${this.what}: more than the expected ${this.size} bytes`));
      return;
    }
    this.hash.update(chunk);
    this.onProgress?.(this.bytes);
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    if (this.size >= 0 && this.bytes !== this.size) {
      cb(new OciError('SIZE_MISMATCH', `${this.what}: got ${this.bytes} bytes, expected ${this.size}`));
      return;
    }
    const got = `${digestAlgorithm(this.expected)}:${this.hash.digest('hex')}`;
    if (got !== this.expected) {
      cb(
        new OciError('DIGEST_MISMATCH', `${this.what}: content digest ${got} does not match expected ${this.expected}`),
      );
      return;
    }
    cb();
  }
}

/**
 * `source` checked against `expected` as it flows. A source's blob stream is already a
 * DigestVerifier for the same digest (and fails before it ends on wrong bytes), so it is used as
 * is rather than hashing every byte twice on a copy; anything else gets a verifier after it.
 * Errors of `source` surface on the returned stream.
 */
export function verifiedStream(source: Readable, expected: Digest, options: VerifyOptions = {}): Readable {
  if (
    source instanceof DigestVerifier &&
    source.expected === expected &&
    (options.size === undefined || options.size < 0 || source.size === options.size)
  ) {
    if (options.onProgress) source.onProgress = options.onProgress;
    return source;
  }
  const verifier = new DigestVerifier(expected, options);
  pipeline(source, verifier, () => {
    // A source error reaches the reader through `verifier`, which pipeline destroys with it.
  });
  return verifier;
}
