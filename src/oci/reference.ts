import { type Digest, isDigest } from './digest.ts';
import { OciError } from './errors.ts';

/**
 * A parsed image reference in canonical form. The grammar is docker/distribution's
 * (github.com/distribution/reference, regexp.go); normalisation follows its normalize.go:
 * Docker Hub names get the `docker.io` registry and official images the `library/` prefix.
 */
export interface Reference {
  /** Host[:port] as written, except that the Docker Hub aliases all become `docker.io`. */
  readonly registry: string;
  /** Path inside the registry: `library/alpine`, `o/r`. Always lowercase. */
  readonly repository: string;
  readonly tag?: string;
  readonly digest?: Digest;
  /** `registry/repository`: the name without tag or digest. */
  readonly name: string;
  /** `registry/repository[:tag][@digest]`; parses back to the same fields. */
  toString(): string;
}

export interface ParseReferenceOptions {
  /**
   * Tag to record when the input has neither a tag nor a digest. Unset by default so that callers
   * can tell "alpine" from "alpine:latest"; `referenceTarget` still resolves a bare name to `latest`.
   */
  defaultTag?: string;
}

export const DOCKER_HUB = 'docker.io';
/** Names people write for Docker Hub; normalize.go folds `index.docker.io`, and `registry-1` is its API host. */
const DOCKER_HUB_ALIASES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);
/** The host that actually serves Docker Hub's /v2/ API; `docker.io` itself only redirects. */
const DOCKER_HUB_API = 'registry-1.docker.io';
const OFFICIAL_PREFIX = 'library/';
const DEFAULT_TAG = 'latest';
/** distribution's RepositoryNameTotalLengthMax; since reference v0.6 it bounds the path, not the host. */
const REPOSITORY_MAX = 255;

// Productions of distribution/reference regexp.go.
const PATH_COMPONENT_PAT = '[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*';
const PATH_COMPONENT = new RegExp(`^${PATH_COMPONENT_PAT}$`);
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
// IPv6 only in brackets, without zone identifiers, as distribution allows.
const HOST_AND_PORT = new RegExp(
  `^(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[a-fA-F0-9:]+\\])(?::([0-9]+))?$`,
);
const TAG = /^\w[\w.-]{0,127}$/;
/** A bare 64-hex string is an image ID; distribution refuses it as a name so it is never pulled as `library/<hex>`. */
const IMAGE_ID = /^[a-f0-9]{64}$/;

const TAG_RULE = "at most 128 characters of letters, digits, '_', '.' and '-', not starting with '.' or '-'";
const GRAMMAR = '[registry[:port]/]repository[:tag][@digest]';

class ParsedReference implements Reference {
  readonly registry: string;
  readonly repository: string;
  // `declare`: no own property at all when absent, so `'tag' in ref` and spreads tell the truth.
  declare readonly tag?: string;
  declare readonly digest?: Digest;
  readonly name: string;

  constructor(registry: string, repository: string, tag: string | undefined, digest: Digest | undefined) {
    this.registry = registry;
    this.repository = repository;
    if (tag !== undefined) this.tag = tag;
    if (digest !== undefined) this.digest = digest;
    this.name = `${registry}/${repository}`;
    Object.freeze(this);
  }

  toString(): string {
    return this.name + suffix(this);
  }
}

function suffix(ref: Pick<Reference, 'tag' | 'digest'>): string {
  return (ref.tag !== undefined ? `:${ref.tag}` : '') + (ref.digest !== undefined ? `@${ref.digest}` : '');
}

type Fail = (why: string) => OciError;

function failer(kind: string, input: string): Fail {
  return (why) => new OciError('REFERENCE_INVALID', `invalid ${kind} "${input}": ${why}`);
}

/**
 * Parse `[registry[:port]/]repository[:tag][@digest]`. Both a tag and a digest may be given and
 * both are kept (the digest wins when fetching, see `referenceTarget`).
 */
export function parseReference(input: string, options: ParseReferenceOptions = {}): Reference {
  const fail = failer('reference', input);
  if (input === '') throw fail(`empty; expected ${GRAMMAR}`);
  if (IMAGE_ID.test(input)) {
    throw fail('a 64-character hex string is an image ID, not a repository name; write <name>@sha256:<hex>');
  }

  let rest = input;
  let digest: Digest | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
  }
  // The tag separator is the first ':' after the last '/': a ':' before it belongs to a registry port.
  let tag: string | undefined;
  const colon = rest.indexOf(':', rest.lastIndexOf('/') + 1);
  if (colon >= 0) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }

  const { registry, repository } = splitName(rest, fail);
  if (tag !== undefined) checkTag(tag, fail);
  if (digest !== undefined) checkDigest(digest, fail);
  if (tag === undefined && digest === undefined && options.defaultTag !== undefined) {
    checkTag(options.defaultTag, failer('default tag', options.defaultTag));
    tag = options.defaultTag;
  }
  return new ParsedReference(registry, repository, tag, digest);
}

/** A repository name without tag or digest, as `sigil tags <repo>` takes it. */
export function parseRepository(input: string): { registry: string; repository: string; name: string } {
  const fail = failer('repository', input);
  if (input === '') throw fail('empty; expected [registry[:port]/]repository');
  const at = input.indexOf('@');
  if (at >= 0) throw fail(`a repository name has no digest; remove "${input.slice(at)}"`);
  const colon = input.indexOf(':', input.lastIndexOf('/') + 1);
  if (colon >= 0) throw fail(`a repository name has no tag; remove "${input.slice(colon)}"`);
  const { registry, repository } = splitName(input, fail);
  return { registry, repository, name: `${registry}/${repository}` };
}

/** What goes in `/v2/<name>/manifests/<here>`: the digest when pinned, else the tag, else `latest`. */
export function referenceTarget(ref: Reference): string {
  return ref.digest ?? ref.tag ?? DEFAULT_TAG;
}

/** The short form people type: `alpine:3.19`, `o/r:t` on Docker Hub; other registries stay in full. */
export function familiarString(ref: Reference): string {
  if (ref.registry !== DOCKER_HUB) return ref.toString();
  // As normalize.go's familiarizeName: strip `library/` only when nothing nested follows it.
  const rest = ref.repository.slice(OFFICIAL_PREFIX.length);
  const path = ref.repository.startsWith(OFFICIAL_PREFIX) && !rest.includes('/') ? rest : ref.repository;
  return path + suffix(ref);
}

/** The same reference pinned to `digest`; a tag is kept (distribution's WithDigest does the same). */
export function withDigest(ref: Reference, digest: Digest): Reference {
  checkDigest(digest, failer('digest for', ref.toString()));
  return new ParsedReference(ref.registry, ref.repository, ref.tag, digest);
}

/** The same reference with `tag`; a digest is kept (distribution's WithTag does the same). */
export function withTag(ref: Reference, tag: string): Reference {
  checkTag(tag, failer('tag for', ref.toString()));
  return new ParsedReference(ref.registry, ref.repository, tag, ref.digest);
}

/** The host to send /v2/ requests to. */
export function registryApiHost(registry: string): string {
  return DOCKER_HUB_ALIASES.has(registry.toLowerCase()) ? DOCKER_HUB_API : registry;
}

function splitName(name: string, fail: Fail): { registry: string; repository: string } {
  const slash = name.indexOf('/');
  const first = slash >= 0 ? name.slice(0, slash) : '';
  // normalize.go: the first component is a registry only if it could not be a repository
  // component (has '.' or ':') or is the reserved `localhost`. distribution also takes an
  // uppercase first component as a host; we do not, since "Foo/bar" is far more often a
  // mistyped Docker Hub name than a dot-less host, and we say so instead of dialling "Foo".
  const hasRegistry = slash >= 0 && (first.includes('.') || first.includes(':') || first === 'localhost');
  let registry = hasRegistry ? first : DOCKER_HUB;
  let path = hasRegistry ? name.slice(slash + 1) : name;

  if (hasRegistry) {
    const m = HOST_AND_PORT.exec(registry);
    if (!m) {
      throw fail(`registry "${registry}" is not a valid host[:port] (hostname, IPv4 address or [IPv6] address)`);
    }
    if (m[1] !== undefined && Number(m[1]) > 65535) throw fail(`registry "${registry}": port ${m[1]} is out of range`);
    if (DOCKER_HUB_ALIASES.has(registry.toLowerCase())) registry = DOCKER_HUB;
  }

  if (path === '') throw fail('repository name is empty');
  const components = path.split('/');
  const bad = components.find((c) => !PATH_COMPONENT.test(c));
  if (bad !== undefined) {
    if (path !== path.toLowerCase() && components.every((c) => PATH_COMPONENT.test(c.toLowerCase()))) {
      throw fail(`repository "${path}" must be lowercase`);
    }
    throw fail(
      `repository "${path}": component "${bad}" is invalid; each '/'-separated component must match ${PATH_COMPONENT_PAT}`,
    );
  }

  if (registry === DOCKER_HUB && components.length === 1) path = OFFICIAL_PREFIX + path;
  if (path.length > REPOSITORY_MAX) {
    throw fail(`repository name is longer than ${REPOSITORY_MAX} characters (${path.length})`);
  }
  return { registry, repository: path };
}

function checkTag(tag: string, fail: Fail): void {
  if (!TAG.test(tag)) throw fail(`tag "${tag}" is invalid: ${TAG_RULE}`);
}

function checkDigest(digest: string, fail: Fail): asserts digest is Digest {
  if (!isDigest(digest)) throw fail(`digest "${digest}" must be sha256:<64 hex> or sha512:<128 hex>, lowercase`);
}
