import { createHash } from 'node:crypto';
import { bundleFromJSON, bundleToJSON, toDSSEBundle, toMessageSignatureBundle, type Bundle } from '@sigstore/bundle';
import { dsse, pem } from '@sigstore/core';
import type { Signer, Witness } from '@sigstore/sign';
import type { SerializedBundle } from '@sigstore/bundle';
import { SignError } from './errors.ts';

export interface SigningBundleOptions {
  signer: Signer;
  witnesses: Witness[];
  /** `message`: a signature over `data` itself; `dsse`: a DSSE envelope carrying `data`. */
  kind: 'message' | 'dsse';
  data: Buffer;
  /** DSSE payload type, e.g. `application/vnd.in-toto+json` (required for dsse). */
  payloadType?: string;
}

/**
 * Signs and witnesses one artifact into a Sigstore bundle v0.3 (protobuf-specs JSON), as cosign v3
 * writes: a single leaf `certificate` (keyless) or a `publicKey.hint` (key), never a chain.
 *
 * sigstore-js's MessageSignatureBundleBuilder always emits v0.2 with `x509CertificateChain`
 * (bundler/bundle.ts hardcodes certificateChain: true), so this does the builder's three steps
 * itself: sign (the data, or DSSE PAE(type, data)), package with @sigstore/bundle's
 * `toMessageSignatureBundle`/`toDSSEBundle` with `certificateChain: false` (which yields the
 * v0.3 media type), then run the witnesses in parallel on the content and merge what they return.
 * The result is re-read with `bundleFromJSON` so a malformed bundle fails here, not at verify time.
 */
export async function signingBundle(opts: SigningBundleOptions): Promise<SerializedBundle> {
  if (opts.kind === 'dsse' && !opts.payloadType) {
    throw new SignError('INVALID_OPTIONS', 'a DSSE bundle needs a payload type');
  }
  if (opts.kind === 'message' && opts.payloadType !== undefined) {
    throw new SignError('INVALID_OPTIONS', 'a payload type only applies to DSSE bundles');
  }
  const payloadType = opts.payloadType ?? '';
  const toSign = opts.kind === 'dsse' ? dsse.preAuthEncoding(payloadType, opts.data) : opts.data;
  const { signature, key } = await opts.signer.sign(toSign);

  const material = {
    signature,
    certificate: key.$case === 'x509Certificate' ? pem.toDER(key.certificate) : undefined,
    keyHint: key.$case === 'publicKey' ? key.hint : undefined,
    certificateChain: false,
  };
  const bundle: Bundle =
    opts.kind === 'dsse'
      ? toDSSEBundle({ artifact: opts.data, artifactType: payloadType, ...material })
      : toMessageSignatureBundle({ digest: createHash('sha256').update(opts.data).digest(), ...material });

  const publicKey = key.$case === 'x509Certificate' ? key.certificate : key.publicKey;
  const results = await Promise.all(opts.witnesses.map((w) => w.testify(bundle.content, publicKey)));
  bundle.verificationMaterial.tlogEntries = results.flatMap((r) => r.tlogEntries ?? []);
  bundle.verificationMaterial.timestampVerificationData = {
    rfc3161Timestamps: results.flatMap((r) => r.rfc3161Timestamps ?? []),
  };
  const json = bundleToJSON(bundle);
  bundleFromJSON(json);
  return json;
}
