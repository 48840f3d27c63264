import { createHash, createPublicKey } from 'node:crypto';
import { VerifyError } from '../errors.ts';

/**
 * A tlog entry in the bundle's JSON form (protobuf-specs TransparencyLogEntry): what @sigstore/bundle's
 * bundleFromJSON reads. Legacy entries only have an inclusion promise (the SET), no proof.
 */
export interface SerializedTlogEntry {
  logIndex: string;
  logId: { keyId: string };
  kindVersion: { kind: string; version: string };
  integratedTime: string;
  inclusionPromise: { signedEntryTimestamp: string };
  canonicalizedBody: string;
}

export interface LegacyTlogEntry {
  entry: SerializedTlogEntry;
  /** The decoded canonical body (hashedrekord / intoto / dsse). */
  body: Record<string, unknown>;
}

const HEX = /^[0-9a-f]+$/i;

/**
 * The `dev.sigstore.cosign/bundle` annotation (cosign's RekorBundle:
 * `{"SignedEntryTimestamp","Payload":{"body","integratedTime","logIndex","logID"}}`) as a bundle
 * tlog entry, the mapping of cosign's RekorBundleFromProtoTlogEntry run backwards
 * (cosign-formats.md §7.2): logId.keyId = the bytes of the hex logID, kindVersion read from the
 * body. The body string is kept as given: the SET signs exactly it.
 */
export function tlogEntryFromRekorBundle(annotation: string): LegacyTlogEntry {
  const fail = (why: string, cause?: unknown): VerifyError =>
    new VerifyError('EVIDENCE_INVALID', `Rekor bundle annotation: ${why}`, cause === undefined ? undefined : { cause });
  let doc: unknown;
  try {
    doc = JSON.parse(annotation);
  } catch (err) {
    throw fail('not JSON', err);
  }
  if (!isObject(doc)) throw fail('expected a JSON object');
  const set = doc['SignedEntryTimestamp'];
  const payload = doc['Payload'];
  if (typeof set !== 'string' || set === '') throw fail('SignedEntryTimestamp is missing');
  if (!isObject(payload)) throw fail('Payload is missing');
  const { body, integratedTime, logIndex, logID } = payload;
  if (typeof body !== 'string' || body === '') throw fail('Payload.body is missing');
  if (!Number.isSafeInteger(integratedTime)) throw fail('Payload.integratedTime is not an integer');
  if (!Number.isSafeInteger(logIndex)) throw fail('Payload.logIndex is not an integer');
  if (typeof logID !== 'string' || !HEX.test(logID) || logID.length % 2 !== 0) throw fail('Payload.logID is not hex');
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(body, 'base64').toString('utf8'));
  } catch (err) {
    throw fail('Payload.body is not base64 JSON', err);
  }
  if (!isObject(decoded) || typeof decoded['kind'] !== 'string' || typeof decoded['apiVersion'] !== 'string') {
    throw fail('Payload.body has no kind/apiVersion');
  }
  return {
    entry: {
      logIndex: String(logIndex),
      logId: { keyId: Buffer.from(logID, 'hex').toString('base64') },
      kindVersion: { kind: decoded['kind'], version: decoded['apiVersion'] },
      integratedTime: String(integratedTime),
      inclusionPromise: { signedEntryTimestamp: set },
      canonicalizedBody: body,
    },
    body: decoded,
  };
}

/**
 * The public key a Rekor body names, as a bundle key hint (base64 sha256 of the SPKI DER, what
 * cosign v3 writes for `--key` bundles). Only a hint: the verifier picks the key it trusts. None
 * when the body holds a certificate or nothing readable.
 */
export function keyHintFromRekorBody(body: Record<string, unknown>): string | undefined {
  const spec = body['spec'];
  if (!isObject(spec)) return undefined;
  let b64: unknown;
  const sig = spec['signature'];
  if (isObject(sig) && isObject(sig['publicKey']))
    b64 = sig['publicKey']['content']; // hashedrekord
  else if (typeof spec['publicKey'] === 'string')
    b64 = spec['publicKey']; // intoto
  else if (Array.isArray(spec['signatures']) && isObject(spec['signatures'][0]))
    b64 = spec['signatures'][0]['verifier']; // dsse
  if (typeof b64 !== 'string') return undefined;
  const pem = Buffer.from(b64, 'base64').toString('utf8');
  if (!pem.includes('PUBLIC KEY-----')) return undefined;
  try {
    const der = createPublicKey(pem).export({ type: 'spki', format: 'der' });
    return createHash('sha256').update(der).digest('base64');
  } catch {
    return undefined;
  }
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
