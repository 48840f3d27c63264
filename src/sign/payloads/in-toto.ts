import { type Digest, digestAlgorithm, digestHex, isDigest } from '../../oci/digest.ts';
import { SignError } from '../errors.ts';
import { goJsonBytes, goStruct, isJsonObject, parseGoJsonObject } from './go-json.ts';

/** DSSE payloadType of an in-toto statement; cosign rejects envelopes with any other. */
export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';
export const STATEMENT_V01 = 'https://in-toto.io/Statement/v0.1';
export const STATEMENT_V1 = 'https://in-toto.io/Statement/v1';
/** Predicate type of the statement cosign v3 signs for `cosign sign` (cosign:pkg/types/predicate.go). */
export const COSIGN_SIGN_PREDICATE_TYPE = 'https://sigstore.dev/cosign/sign/v1';
export const COSIGN_CUSTOM_PREDICATE_TYPE = 'https://cosign.sigstore.dev/attestation/v1';

/** cosign `attest --type` shorthands (cosign:cmd/cosign/cli/options/predicate.go PredicateTypeMap). */
export const PREDICATE_TYPES: Readonly<Record<string, string>> = Object.freeze({
  custom: COSIGN_CUSTOM_PREDICATE_TYPE,
  slsaprovenance: 'https://slsa.dev/provenance/v0.2',
  slsaprovenance02: 'https://slsa.dev/provenance/v0.2',
  slsaprovenance1: 'https://slsa.dev/provenance/v1',
  spdx: 'https://spdx.dev/Document',
  spdxjson: 'https://spdx.dev/Document',
  cyclonedx: 'https://cyclonedx.org/bom',
  link: 'https://in-toto.io/Link/v1',
  vuln: 'https://cosign.sigstore.dev/attestation/vuln/v1',
  openvex: 'https://openvex.dev/ns',
});

/**
 * The predicate type for a `--type` value: a shorthand from PREDICATE_TYPES, else the value itself
 * if it passes Go's url.ParseRequestURI as cosign requires (an absolute URI with a scheme, or an
 * absolute path; no control characters; no spaces in the authority).
 */
export function predicateTypeFor(type: string): string {
  const known = PREDICATE_TYPES[type];
  if (known !== undefined) return known;
  if (!isRequestUri(type)) {
    throw new SignError(
      'PAYLOAD_INVALID',
      `invalid predicate type "${type}": use one of ${Object.keys(PREDICATE_TYPES).join(', ')} or a URI`,
    );
  }
  return type;
}

function isRequestUri(s: string): boolean {
  // Go's url package refuses any ASCII control byte.
  if (s === '' || [...s].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f)) return false;
  if (s.startsWith('/')) return !s.startsWith('//') || !/\s/.test(authority(s.slice(2)));
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):(.*)$/s.exec(s);
  if (!m) return false;
  const rest = m[2]!;
  if (rest.startsWith('//')) return !/[\s]/.test(authority(rest.slice(2)));
  return true;
}

function authority(s: string): string {
  const end = s.search(/[/?#]/);
  return end < 0 ? s : s.slice(0, end);
}

export interface Subject {
  name?: string;
  digest: Record<string, string>;
  /** in-toto v1 ResourceDescriptor annotations (cosign v3 puts `-a` annotations here). */
  annotations?: Record<string, unknown>;
}

export interface Statement {
  _type: typeof STATEMENT_V01 | typeof STATEMENT_V1;
  subject: Subject[];
  predicateType: string;
  /** Absent in cosign v3.0.0–v3.0.4 sign statements. */
  predicate?: unknown;
}

export interface StatementInput {
  subjects: Subject[];
  predicateType: string;
  predicate?: unknown;
  /** `v0.1` is what `cosign attest` generates; `v1` what cosign v3 `sign` and `--statement` users write. */
  version: 'v0.1' | 'v1';
}

/**
 * Statement bytes. v0.1 in encoding/json order (`_type, predicateType, subject, predicate`, as
 * in-toto-golang's structs and real `cosign attest` output); v1 in protojson field order
 * (`_type, subject, predicateType, predicate`, subject `name, digest, annotations`), as cosign v3
 * writes. Verifiers must never depend on these bytes (protojson may add spaces); they are stable
 * so that what sigil signs is reproducible.
 */
export function inTotoStatement(input: StatementInput): Uint8Array {
  if (input.subjects.length === 0)
    throw new SignError('PAYLOAD_INVALID', 'in-toto statement needs at least one subject');
  if (input.predicateType === '') throw new SignError('PAYLOAD_INVALID', 'in-toto statement needs a predicate type');
  const subjects = input.subjects.map((s) =>
    goStruct([
      ['name', s.name],
      ['digest', s.digest],
      ['annotations', s.annotations],
    ]),
  );
  if (input.version === 'v0.1') {
    return goJsonBytes(
      goStruct([
        ['_type', STATEMENT_V01],
        ['predicateType', input.predicateType],
        ['subject', subjects],
        ['predicate', input.predicate],
      ]),
    );
  }
  return goJsonBytes(
    goStruct([
      ['_type', STATEMENT_V1],
      ['subject', subjects],
      ['predicateType', input.predicateType],
      ['predicate', input.predicate],
    ]),
  );
}

/** Subject for an image: `digest: {sha256: hex}`; sha512 digests keep their algorithm name. */
export function imageSubject(digest: Digest, name?: string): Subject {
  if (!isDigest(digest)) throw new SignError('PAYLOAD_INVALID', `subject digest "${digest}" is not <algorithm>:<hex>`);
  return name === undefined
    ? { digest: { [digestAlgorithm(digest)]: digestHex(digest) } }
    : { name, digest: { [digestAlgorithm(digest)]: digestHex(digest) } };
}

export interface CosignSignStatementOptions {
  /**
   * Write `"predicate":{}` (cosign ≥ v3.0.5). cosign v3.0.0–v3.0.4 left it out; pass false to
   * reproduce those bytes.
   */
  emptyPredicate?: boolean;
}

/**
 * The statement cosign v3 signs for `cosign sign` in bundle mode (cosign:cmd/cosign/cli/sign/sign.go
 * signDigestBundle): v1, one subject without name holding the digest and the `-a` annotations
 * (always present, `{}` when none), predicateType https://sigstore.dev/cosign/sign/v1.
 */
export function cosignSignStatement(
  digest: Digest,
  annotations: Record<string, string> = {},
  options: CosignSignStatementOptions = {},
): Uint8Array {
  return inTotoStatement({
    version: 'v1',
    subjects: [{ ...imageSubject(digest), annotations }],
    predicateType: COSIGN_SIGN_PREDICATE_TYPE,
    predicate: (options.emptyPredicate ?? true) ? {} : undefined,
  });
}

/**
 * The `--type custom` predicate: the predicate file's contents as a string plus the signing time
 * as RFC 3339 UTC seconds (Go struct CosignPredicate{Data, Timestamp}).
 */
export function customPredicate(data: string | Uint8Array, time: Date): unknown {
  const text = typeof data === 'string' ? data : new TextDecoder().decode(data);
  return goStruct([
    ['Data', text],
    ['Timestamp', time.toISOString().replace(/\.\d{3}Z$/, 'Z')],
  ]);
}

/**
 * Parse an in-toto statement (v0.1 or v1) and check its shape: `_type`, a non-empty `subject`
 * list whose entries have a string→string `digest`, a non-empty `predicateType`, and a predicate
 * that is an object when present.
 */
export function parseStatement(bytes: Uint8Array): Statement {
  const fail = (why: string, cause?: unknown): SignError =>
    new SignError('PAYLOAD_INVALID', `in-toto statement: ${why}`, cause === undefined ? undefined : { cause });
  const doc = parseGoJsonObject(bytes, fail);
  const type = doc['_type'];
  if (type !== STATEMENT_V01 && type !== STATEMENT_V1) {
    throw fail(`_type is ${JSON.stringify(type)}, expected ${STATEMENT_V01} or ${STATEMENT_V1}`);
  }
  const predicateType = doc['predicateType'];
  if (typeof predicateType !== 'string' || predicateType === '') throw fail('predicateType is missing');
  const rawSubjects = doc['subject'];
  if (!Array.isArray(rawSubjects) || rawSubjects.length === 0) throw fail('subject must be a non-empty list');
  const subject = rawSubjects.map((s: unknown, i): Subject => {
    if (!isJsonObject(s)) throw fail(`subject[${i}] is not an object`);
    const digest = s['digest'];
    if (!isJsonObject(digest) || Object.keys(digest).length === 0) throw fail(`subject[${i}].digest is missing`);
    for (const [alg, hex] of Object.entries(digest)) {
      if (typeof hex !== 'string') throw fail(`subject[${i}].digest.${alg} is not a string`);
    }
    const name = s['name'];
    if (name !== undefined && typeof name !== 'string') throw fail(`subject[${i}].name is not a string`);
    const annotations = s['annotations'];
    if (annotations !== undefined && annotations !== null && !isJsonObject(annotations)) {
      throw fail(`subject[${i}].annotations is not an object`);
    }
    const out: Subject = { digest: digest as Record<string, string> };
    if (name !== undefined) out.name = name;
    if (isJsonObject(annotations)) out.annotations = annotations;
    return out;
  });
  const predicate = doc['predicate'];
  if (predicate !== undefined && predicate !== null && !isJsonObject(predicate))
    throw fail('predicate is not an object');
  const statement: Statement = { _type: type, subject, predicateType };
  if (predicate !== undefined) statement.predicate = predicate;
  return statement;
}

/**
 * cosign's IntotoSubjectClaimVerifier (cosign:pkg/cosign/verifiers.go): the first subject whose
 * `digest.sha256` equals the image digest's hex decides; with `annotations`, each wanted key must
 * equal that subject's annotation (a subset check, as correctAnnotations). Only sha256 is
 * compared, like cosign.
 */
export function statementMatchesDigest(
  statement: Statement,
  digest: Digest,
  annotations?: Record<string, unknown>,
): boolean {
  if (!isDigest(digest) || digestAlgorithm(digest) !== 'sha256') return false;
  const hex = digestHex(digest);
  const subject = statement.subject.find((s) => s.digest['sha256'] === hex);
  if (subject === undefined) return false;
  if (annotations === undefined) return true;
  const have = subject.annotations ?? {};
  return Object.entries(annotations).every(([k, v]) => Object.hasOwn(have, k) && have[k] === v);
}
