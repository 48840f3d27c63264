import { type Digest, isDigest } from '../../oci/digest.ts';
import { DOCKER_HUB, type Reference, parseReference } from '../../oci/reference.ts';
import { SignError } from '../errors.ts';
import { goField, goJsonBytes, goStruct, isJsonObject, parseGoJsonObject } from './go-json.ts';

/** `critical.type` of every cosign signature payload; readers reject any other value. */
export const SIMPLE_SIGNING_TYPE = 'cosign container image signature';
/** Media type of a `.sig` layer holding a simple-signing payload. */
export const SIMPLE_SIGNING_MEDIA_TYPE = 'application/vnd.dev.cosign.simplesigning.v1+json';

export interface SimpleSigningPayload {
  /** Repository the signature was made for, without tag or digest (cosign: `index.docker.io/library/alpine`). */
  dockerReference: string;
  manifestDigest: Digest;
  /**
   * `optional`: cosign's `-a key=value` annotations (strings), or other tools' extras (skopeo's
   * `creator`, `timestamp`). null when the payload says `"optional":null`.
   */
  annotations: Record<string, unknown> | null;
}

export interface SimpleSigningInput {
  dockerReference: string;
  manifestDigest: Digest;
  annotations?: Record<string, unknown> | null;
}

/**
 * The payload bytes cosign signs for `cosign sign` in the tag scheme: Go json.Marshal of
 * sigstore's payload.SimpleContainerImage (sigstore:pkg/signature/payload/payload.go), so key order
 * critical{identity, image, type}, optional; `optional` null without annotations, annotation keys
 * sorted, Go's HTML-safe escaping.
 */
export function simpleSigningPayload(input: SimpleSigningInput): Uint8Array {
  if (!isDigest(input.manifestDigest)) {
    throw new SignError('PAYLOAD_INVALID', `manifest digest "${input.manifestDigest}" is not <algorithm>:<hex>`);
  }
  const annotations = input.annotations;
  // cosign passes a nil map when there are no -a flags; an empty map would marshal as {}.
  return goJsonBytes(
    goStruct([
      [
        'critical',
        goStruct([
          ['identity', goStruct([['docker-reference', input.dockerReference]])],
          ['image', goStruct([['docker-manifest-digest', input.manifestDigest]])],
          ['type', SIMPLE_SIGNING_TYPE],
        ]),
      ],
      ['optional', annotations === undefined ? null : annotations],
    ]),
  );
}

/**
 * Parse a simple-signing payload as cosign's reader does: keys matched case-insensitively (Go's
 * decoder; the spec's own example writes `Docker-manifest-digest`), unknown keys ignored, `type`
 * must be the cosign type, and reference@digest must form a valid digest reference.
 */
export function parseSimpleSigningPayload(bytes: Uint8Array): SimpleSigningPayload {
  const fail = (why: string, cause?: unknown): SignError =>
    new SignError('PAYLOAD_INVALID', `simple-signing payload: ${why}`, cause === undefined ? undefined : { cause });
  const doc = parseGoJsonObject(bytes, fail);
  const critical = objectField(doc, 'critical', fail);
  const type = stringField(critical, 'type', fail);
  if (type !== SIMPLE_SIGNING_TYPE) throw fail(`critical.type is "${type}", expected "${SIMPLE_SIGNING_TYPE}"`);
  const dockerReference = stringField(objectField(critical, 'identity', fail), 'docker-reference', fail);
  const manifestDigest = stringField(objectField(critical, 'image', fail), 'docker-manifest-digest', fail);
  try {
    // cosign rebuilds "<docker-reference>@<digest>" with name.NewDigest and fails if it does not parse.
    parseReference(`${dockerReference}@${manifestDigest}`);
  } catch (err) {
    throw fail(`"${dockerReference}@${manifestDigest}" is not a digest reference`, err);
  }
  const optional = goField(doc, 'optional');
  if (optional !== undefined && optional !== null && !isJsonObject(optional)) throw fail('optional is not an object');
  return { dockerReference, manifestDigest, annotations: optional ?? null };
}

/**
 * `docker-reference` for an image, as cosign writes it: go-containerregistry's
 * Repository.Name(), registry + "/" + repository with no tag or digest, where Docker Hub is
 * `index.docker.io` (ggcr's DefaultRegistry) and official images carry `library/`.
 */
export function dockerReferenceOf(ref: Reference): string {
  const registry = ref.registry === DOCKER_HUB ? 'index.docker.io' : ref.registry;
  return `${registry}/${ref.repository}`;
}

type Fail = (why: string, cause?: unknown) => SignError;

function objectField(obj: Record<string, unknown>, name: string, fail: Fail): Record<string, unknown> {
  const v = goField(obj, name);
  if (!isJsonObject(v)) throw fail(`${name} is ${v === undefined ? 'missing' : 'not an object'}`);
  return v;
}

function stringField(obj: Record<string, unknown>, name: string, fail: Fail): string {
  const v = goField(obj, name);
  // Go leaves a missing field as ""; only a wrong JSON type is a decode error. "" then fails later checks.
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') throw fail(`${name} is not a string`);
  return v;
}
