import { KeyObject } from 'node:crypto';
import { SignError } from '../errors.ts';
import { type RawSignatureOptions, signBytes, verifyBytes } from '../raw-signature.ts';
import { decodeBase64, encodeBase64 } from './base64.ts';
import { goJsonBytes, goStruct, isJsonObject, parseGoJsonObject } from './go-json.ts';
import { IN_TOTO_PAYLOAD_TYPE } from './in-toto.ts';

/** Media type of a legacy `.att` layer: the blob is a DSSE envelope. */
export const DSSE_MEDIA_TYPE = 'application/vnd.dsse.envelope.v1+json';

export interface EnvelopeSignature {
  /** cosign ≤ 2.x writes `""`; cosign v3 and bundles leave it out. */
  keyid?: string;
  sig: Uint8Array;
}

export interface Envelope {
  payloadType: string;
  /** The raw payload (for cosign, the statement JSON), not base64. */
  payload: Uint8Array;
  signatures: EnvelopeSignature[];
}

const encoder = new TextEncoder();

/**
 * DSSE pre-authentication encoding: "DSSEv1" SP len(type) SP type SP len(payload) SP payload, the
 * lengths being decimal byte counts (UTF-8 for the type). This is what gets signed, not the JSON.
 */
export function pae(payloadType: string, payload: Uint8Array): Uint8Array {
  const type = encoder.encode(payloadType);
  const head = encoder.encode(`DSSEv1 ${type.length} `);
  const mid = encoder.encode(` ${payload.length} `);
  const out = new Uint8Array(head.length + type.length + mid.length + payload.length);
  out.set(head, 0);
  out.set(type, head.length);
  out.set(mid, head.length + type.length);
  out.set(payload, head.length + type.length + mid.length);
  return out;
}

/**
 * Envelope JSON in the shape cosign ≤ 2.x (secure-systems-lab dsse) writes and Rekor hashes for
 * dsse/intoto entries: `{"payloadType","payload","signatures":[{"keyid","sig"}]}`, keyid `""`
 * when there is none, standard base64 with padding.
 */
export function dsseEnvelope(envelope: Envelope): Uint8Array {
  return goJsonBytes(
    goStruct([
      ['payloadType', envelope.payloadType],
      ['payload', encodeBase64(envelope.payload)],
      [
        'signatures',
        envelope.signatures.map((s) =>
          goStruct([
            ['keyid', s.keyid ?? ''],
            ['sig', encodeBase64(s.sig)],
          ]),
        ),
      ],
    ]),
  );
}

/**
 * Parse an envelope in either shape cosign writes (with `keyid: ""` or without keyid, fields in
 * any order). Base64 is accepted in the standard or URL alphabet, as the DSSE library's decoder
 * does. Also accepts the already-parsed object (a bundle's `dsseEnvelope`).
 */
export function parseEnvelope(input: Uint8Array | Record<string, unknown>): Envelope {
  const fail = (why: string, cause?: unknown): SignError =>
    new SignError('ENVELOPE_INVALID', `DSSE envelope: ${why}`, cause === undefined ? undefined : { cause });
  const doc = input instanceof Uint8Array ? parseGoJsonObject(input, fail) : input;
  if (!isJsonObject(doc)) throw fail('expected a JSON object');
  const { payloadType, payload, signatures } = doc;
  if (typeof payloadType !== 'string') throw fail('payloadType is missing');
  if (typeof payload !== 'string') throw fail('payload is missing');
  if (!Array.isArray(signatures)) throw fail('signatures is missing');
  return {
    payloadType,
    payload: decodeBase64(payload, 'DSSE payload', 'ENVELOPE_INVALID', { urlSafe: true }),
    signatures: signatures.map((s: unknown, i): EnvelopeSignature => {
      if (!isJsonObject(s)) throw fail(`signatures[${i}] is not an object`);
      if (typeof s['sig'] !== 'string') throw fail(`signatures[${i}].sig is missing`);
      const keyid = s['keyid'];
      if (keyid !== undefined && keyid !== null && typeof keyid !== 'string')
        throw fail(`signatures[${i}].keyid is not a string`);
      const sig = decodeBase64(s['sig'], `DSSE signatures[${i}].sig`, 'ENVELOPE_INVALID', { urlSafe: true });
      return typeof keyid === 'string' ? { keyid, sig } : { sig };
    }),
  };
}

/** Something that signs bytes: a private key (cosign's algorithm for it), or a remote/KMS signer. */
export type EnvelopeSigner = KeyObject | { sign(data: Uint8Array): Uint8Array | Promise<Uint8Array>; keyid?: string };

/** Sign `payload` into a one-signature envelope: the signature is over PAE(payloadType, payload). */
export async function signEnvelope(
  payload: Uint8Array,
  payloadType: string,
  signer: EnvelopeSigner,
  options: RawSignatureOptions = {},
): Promise<Envelope> {
  const data = pae(payloadType, payload);
  if (signer instanceof KeyObject) {
    return { payloadType, payload, signatures: [{ sig: signBytes(signer, data, options) }] };
  }
  const sig = await signer.sign(data);
  return { payloadType, payload, signatures: [signer.keyid === undefined ? { sig } : { keyid: signer.keyid, sig }] };
}

export interface VerifiedEnvelope {
  /** Indexes into `envelope.signatures` of those that verified (at least one). */
  verified: number[];
}

export interface VerifyEnvelopeOptions extends RawSignatureOptions {
  /** Required payload type; default in-toto, as cosign requires. null accepts any. */
  payloadType?: string | null;
}

/**
 * Check the envelope's signatures over PAE with `key` (public key, or a certificate's). Throws
 * ENVELOPE_INVALID for the wrong payload type and SIGNATURE_INVALID when no signature verifies;
 * otherwise says which ones did (cosign accepts an envelope if any does).
 */
export function verifyEnvelope(
  envelope: Envelope,
  key: KeyObject,
  options: VerifyEnvelopeOptions = {},
): VerifiedEnvelope {
  const wantType = options.payloadType === undefined ? IN_TOTO_PAYLOAD_TYPE : options.payloadType;
  if (wantType !== null && envelope.payloadType !== wantType) {
    throw new SignError('ENVELOPE_INVALID', `DSSE payloadType is "${envelope.payloadType}", expected "${wantType}"`);
  }
  if (envelope.signatures.length === 0) throw new SignError('SIGNATURE_INVALID', 'DSSE envelope has no signatures');
  const data = pae(envelope.payloadType, envelope.payload);
  const verified: number[] = [];
  envelope.signatures.forEach((s, i) => {
    if (verifyBytes(key, data, s.sig, options)) verified.push(i);
  });
  if (verified.length === 0) {
    throw new SignError(
      'SIGNATURE_INVALID',
      `none of the ${envelope.signatures.length} DSSE signature(s) verifies with the given ${key.asymmetricKeyType} key`,
    );
  }
  return { verified };
}
