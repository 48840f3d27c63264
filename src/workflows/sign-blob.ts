/**
 * `sign-blob` and `attest-blob`: sign a file (not an image) into a Sigstore bundle v0.3, as
 * cosign v3 writes with `--bundle` (its `--new-bundle-format` defaults to true there:
 * cosign:cmd/cosign/cli/options/signblob.go). sign-blob signs the bytes themselves (a message
 * signature over sha256(blob)); attest-blob signs an in-toto statement about the blob in a DSSE
 * envelope (cosign:cmd/cosign/cli/attest/attest_blob.go).
 */
import { createHash } from 'node:crypto';
import { basename } from 'node:path';
import type { SerializedBundle } from '@sigstore/bundle';
import type { Signer, Witness } from '@sigstore/sign';
import { signingBundle } from '../sign/bundle-builder.ts';
import { SignError } from '../sign/errors.ts';
import { IN_TOTO_PAYLOAD_TYPE, inTotoStatement } from '../sign/payloads/in-toto.ts';

export interface SignBlobOptions {
  signer: Signer;
  /** Rekor and TSA witnesses; none means no transparency log (`--tlog-upload=false`). */
  witnesses?: Witness[];
}

export interface AttestBlobOptions extends SignBlobOptions {
  predicateType: string;
  /** The predicate JSON value (for `--type custom`, cosign's `{Data, Timestamp}` wrapper). */
  predicate: unknown;
  /**
   * Subject name: cosign uses the file's base name (`path.Base(artifactPath)`), so a path given
   * here is reduced to its last element.
   */
  name: string;
}

export interface SignedBlob {
  bundle: SerializedBundle;
  /** Standard base64 of the raw signature, as cosign's `--output-signature` writes it. */
  signature: string;
  /** Keyless: the Fulcio leaf certificate as PEM (what `--output-certificate` writes). */
  certificate?: string;
  /** sha256 of the blob, hex. */
  sha256: string;
  tlog?: { logIndex: string };
}

export interface AttestedBlob extends SignedBlob {
  /** The in-toto statement that was signed (the DSSE payload). */
  statement: Uint8Array;
}

function pem(base64Der: string): string {
  const lines = base64Der.match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`;
}

function describeBundle(bundle: SerializedBundle, blob: Uint8Array): Omit<SignedBlob, 'bundle'> {
  const signature = bundle.messageSignature?.signature ?? bundle.dsseEnvelope?.signatures[0]?.sig;
  if (signature === undefined) throw new SignError('SIGNATURE_INVALID', 'the bundle holds no signature');
  const cert = bundle.verificationMaterial.certificate?.rawBytes;
  const entry = bundle.verificationMaterial.tlogEntries?.[0];
  return {
    signature,
    ...(cert !== undefined ? { certificate: pem(cert) } : {}),
    sha256: createHash('sha256').update(blob).digest('hex'),
    ...(entry ? { tlog: { logIndex: entry.logIndex } } : {}),
  };
}

/** A message-signature bundle over `blob` (what `cosign sign-blob --bundle` writes in v3). */
export async function signBlob(blob: Uint8Array, options: SignBlobOptions): Promise<SignedBlob> {
  const bundle = await signingBundle({
    signer: options.signer,
    witnesses: options.witnesses ?? [],
    kind: 'message',
    data: Buffer.from(blob),
  });
  return { bundle, ...describeBundle(bundle, blob) };
}

/**
 * A DSSE bundle around an in-toto v0.1 statement (the version cosign's generator writes) whose
 * one subject is `{name: basename, digest: {sha256: hex(blob)}}`.
 */
export async function attestBlob(blob: Uint8Array, options: AttestBlobOptions): Promise<AttestedBlob> {
  if (options.predicateType === '') throw new SignError('INVALID_OPTIONS', 'attest-blob needs a predicate type');
  const name = basename(options.name);
  if (name === '') throw new SignError('INVALID_OPTIONS', 'attest-blob needs a subject name (the file name)');
  const statement = inTotoStatement({
    version: 'v0.1',
    subjects: [{ name, digest: { sha256: createHash('sha256').update(blob).digest('hex') } }],
    predicateType: options.predicateType,
    predicate: options.predicate,
  });
  const bundle = await signingBundle({
    signer: options.signer,
    witnesses: options.witnesses ?? [],
    kind: 'dsse',
    data: Buffer.from(statement),
    payloadType: IN_TOTO_PAYLOAD_TYPE,
  });
  return { bundle, statement, ...describeBundle(bundle, blob) };
}
