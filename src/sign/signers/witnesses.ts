import { DEFAULT_REKOR_URL, RekorWitness, TSAWitness, type Witness } from '@sigstore/sign';
import { SignError } from '../errors.ts';
import { describeCause } from './keyless-signer.ts';

export interface WitnessOptions {
  /** Rekor v1 base URL; default the public-good instance (cosign's default). */
  rekorUrl?: string;
  /** cosign's `--tlog-upload` (default true); false writes no Rekor entry. */
  tlogUpload?: boolean;
  /** RFC 3161 TSA: base URL or the full `/api/v1/timestamp` endpoint. None: no timestamp. */
  tsaUrl?: string;
  /**
   * Rekor entry kind for DSSE bundles: `dsse` (cosign >= 2.2 and v3) or `intoto` (older cosign).
   * Message signatures are always hashedrekord.
   */
  rekorEntryType?: 'dsse' | 'intoto';
  retry?: number;
  timeout?: number;
}

/** A witness that says which service it asks; `timestampBytes` on a TSA witness stamps any bytes. */
export type NamedWitness = Witness & {
  service: 'REKOR' | 'TSA';
  /** TSA only: an RFC 3161 timestamp (DER, base64) over `data` itself rather than over a signature. */
  timestampBytes?: (data: Buffer) => Promise<string>;
};

/** Runs a witness and turns its failure into a SignError naming the service and URL. */
function named(inner: Witness, code: 'REKOR' | 'TSA', what: string, url: string): NamedWitness {
  const run = async <T>(f: () => Promise<T>): Promise<T> => {
    try {
      return await f();
    } catch (err) {
      throw new SignError(code, `${what} at ${url}: ${describeCause(err)}`, { cause: err });
    }
  };
  return {
    service: code,
    ...(code === 'TSA'
      ? {
          // TSAWitness stamps the signature of what it is given: wrap the bytes as one.
          timestampBytes: async (data: Buffer) => {
            const m = await run(() =>
              inner.testify(
                {
                  $case: 'messageSignature',
                  messageSignature: { signature: data, messageDigest: { algorithm: 0, digest: Buffer.alloc(0) } },
                },
                Buffer.alloc(0) as never,
              ),
            );
            const ts = m.rfc3161Timestamps?.[0]?.signedTimestamp;
            if (ts === undefined) throw new SignError(code, `${what} at ${url}: no timestamp in the answer`);
            return Buffer.from(ts).toString('base64');
          },
        }
      : {}),
    testify: (content, publicKey) => run(() => inner.testify(content, publicKey)),
  };
}

/**
 * The witnesses cosign would use: a Rekor v1 entry unless `tlogUpload` is false, and an RFC 3161
 * timestamp when a TSA URL is given. Both run on the signature after signing.
 */
export function witnesses(opts: WitnessOptions = {}): Witness[] {
  const fetchOptions = {
    ...(opts.retry !== undefined ? { retry: opts.retry } : {}),
    ...(opts.timeout !== undefined ? { timeout: opts.timeout } : {}),
  };
  const out: Witness[] = [];
  if (opts.tlogUpload ?? true) {
    const rekorUrl = (opts.rekorUrl ?? DEFAULT_REKOR_URL).replace(/\/+$/, '');
    const rekor = new RekorWitness({
      rekorBaseURL: rekorUrl,
      majorApiVersion: 1,
      entryType: opts.rekorEntryType ?? 'dsse',
      ...fetchOptions,
    });
    out.push(named(rekor, 'REKOR', 'uploading to the Rekor transparency log', rekorUrl));
  }
  // A Rekor URL with tlogUpload false is ignored, not refused: cosign's --rekor-url always has a
  // value (its default), so refusing would make --tlog-upload=false unusable.
  if (opts.tsaUrl !== undefined) {
    const tsaUrl = opts.tsaUrl.replace(/\/+$/, '');
    out.push(named(new TSAWitness({ tsaBaseURL: tsaUrl, ...fetchOptions }), 'TSA', 'requesting a timestamp', tsaUrl));
  }
  return out;
}
