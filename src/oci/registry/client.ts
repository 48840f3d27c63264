import { Readable } from 'node:stream';
import { pipeline } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { PushBlobOptions } from '../content.ts';
import type { CredentialStore } from '../credentials.ts';
import {
  assertDigest,
  type Digest,
  DigestVerifier,
  digestAlgorithm,
  isDigest,
  sha256,
  verifyBytes,
} from '../digest.ts';
import { OciError } from '../errors.ts';
import { type Descriptor, type ManifestBlob, manifestMediaType } from '../manifest.ts';
import { MANIFEST_ACCEPT } from '../media-types.ts';
import { repositoryScope } from './auth.ts';
import { fetchReferrers, type ReferrersResult, referrersTagFallback } from './referrers.ts';
import { discard } from './response-error.ts';
import { Backoff, isNetworkError, resolveRetryPolicy, type RetryPolicy } from './retry.ts';
import { header, markExhausted, type RegistryResponse, Transport } from './transport.ts';
import { RequestCount, type RequestEvent } from './request-count.ts';
import { uploadBlob } from './upload.ts';

export interface RegistryOptions {
  credentials?: CredentialStore;
  /** `true`: plain HTTP to every registry (`--plain-http`); a list of hosts: to those (`--insecure-registry`). Loopback always may. */
  insecure?: boolean | readonly string[];
  userAgent?: string;
  retry?: Partial<RetryPolicy>;
  /** Bytes per PATCH of a chunked upload. */
  chunkSize?: number;
  /** Blobs larger than this are uploaded in chunks, others in one streamed PUT. */
  chunkThreshold?: number;
  /** Defaults to one keep-alive Agent shared by the process. */
  dispatcher?: Dispatcher;
  /** Called once per HTTP request sent (every try counts); `Registry.requests` counts them too. */
  onRequest?: (e: RequestEvent) => void;
}

/** What a manifest PUT told: the digest, and the subject the registry says it indexed. */
export interface PutManifestResult {
  digest: Digest;
  /**
   * The `OCI-Subject` answer header (distribution spec v1.1, "Pushing Manifests with Subject"):
   * a registry with the referrers API sends it when it processed the manifest's subject; its
   * absence tells the client to maintain the fallback tag index itself.
   */
  subject?: Digest;
}

/**
 * containerd's limit for a manifest (remotes/docker/fetcher.go, maxManifestSize): a manifest
 * is buffered to be verified and parsed, so a hostile registry must not make it gigabytes.
 */
export const MANIFEST_SIZE_LIMIT = 4 * 1024 * 1024;
/** A tag list page; ten thousand long tags fit easily. */
const TAG_PAGE_LIMIT = 16 * 1024 * 1024;
// 16 MiB chunks above 64 MiB: big enough that per-request overhead is small, small enough that
// one buffered chunk per upload in flight stays cheap.
const DEFAULT_CHUNK_SIZE = 16 * 1024 * 1024;
const DEFAULT_CHUNK_THRESHOLD = 64 * 1024 * 1024;

export interface ListTagsOptions {
  /** `n`: tags per page; the registry may return fewer. */
  pageSize?: number;
  signal?: AbortSignal;
}

export interface ReferrersOptions {
  artifactType?: string;
  signal?: AbortSignal;
}

/**
 * A client for one registry host (OCI distribution spec v1.1). Repositories are arguments, so
 * one client, with its tokens and connections, serves every repository of the host.
 */
export class Registry {
  /** The registry as written in references (`docker.io`, `127.0.0.1:5000`). */
  readonly host: string;
  private readonly transport: Transport;
  private readonly chunkSize: number;
  private readonly chunkThreshold: number;
  /** Every HTTP request this client sent, by method. */
  readonly requests = new RequestCount();

  constructor(host: string, options: RegistryOptions = {}) {
    const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
    const chunkThreshold = options.chunkThreshold ?? DEFAULT_CHUNK_THRESHOLD;
    if (!Number.isSafeInteger(chunkSize) || chunkSize <= 0) {
      throw new OciError('INVALID_OPTIONS', `chunkSize must be a positive integer, got ${chunkSize}`);
    }
    if (!Number.isSafeInteger(chunkThreshold) || chunkThreshold < 0) {
      throw new OciError('INVALID_OPTIONS', `chunkThreshold must be a non-negative integer, got ${chunkThreshold}`);
    }
    this.transport = new Transport(host, {
      ...(options.credentials ? { credentials: options.credentials } : {}),
      ...(options.insecure !== undefined ? { insecure: options.insecure } : {}),
      ...(options.userAgent ? { userAgent: options.userAgent } : {}),
      ...(options.dispatcher ? { dispatcher: options.dispatcher } : {}),
      onRequest: (e) => {
        this.requests.add(e);
        options.onRequest?.(e);
      },
      retry: resolveRetryPolicy(options.retry),
    });
    this.host = this.transport.registry;
    this.chunkSize = chunkSize;
    this.chunkThreshold = chunkThreshold;
  }

  /** The API base, e.g. `https://registry-1.docker.io`. */
  get url(): string {
    return this.transport.origin.origin;
  }

  /** Checks that the registry speaks /v2/ and that our credentials (if any) are accepted. */
  async ping(signal?: AbortSignal): Promise<void> {
    const res = await this.transport.send({ method: 'GET', url: '/v2/', scopes: [], ok: [200], signal });
    discard(res.body);
  }

  /** A manifest by tag or digest, its bytes checked against the digest asked for (or the one the registry states). */
  async getManifest(repo: string, reference: string, signal?: AbortSignal): Promise<ManifestBlob> {
    const what = `manifest ${this.host}/${repo}${isDigest(reference) ? '@' : ':'}${reference}`;
    const { res, bytes } = await this.transport.sendBounded(
      {
        method: 'GET',
        url: manifestPath(repo, reference),
        scopes: [repositoryScope(repo, ['pull'])],
        headers: { accept: MANIFEST_ACCEPT },
        ok: [200],
        signal,
      },
      MANIFEST_SIZE_LIMIT,
      what,
    );
    const digest = checkManifestDigest(bytes, reference, header(res.headers, 'docker-content-digest'), what);
    return {
      descriptor: { mediaType: manifestMediaType(bytes, contentType(res)), digest, size: bytes.byteLength },
      bytes,
    };
  }

  /** The manifest's descriptor without its body, or undefined when the registry has no such manifest. */
  async headManifest(repo: string, reference: string, signal?: AbortSignal): Promise<Descriptor | undefined> {
    const res = await this.transport.send({
      method: 'HEAD',
      url: manifestPath(repo, reference),
      scopes: [repositoryScope(repo, ['pull'])],
      headers: { accept: MANIFEST_ACCEPT },
      ok: [200, 404],
      signal,
    });
    discard(res.body);
    if (res.status === 404) return undefined;
    const stated = header(res.headers, 'docker-content-digest');
    const digest = isDigest(reference) ? reference : stated;
    const size = Number(header(res.headers, 'content-length'));
    const mediaType = contentType(res);
    if (digest && isDigest(digest) && (!stated || stated === digest) && Number.isSafeInteger(size) && mediaType) {
      return { mediaType, digest, size };
    }
    // Registries need not send Docker-Content-Digest; then only the body tells.
    return (await this.getManifest(repo, reference, signal)).descriptor;
  }

  /** Stores a manifest under a tag or its digest; returns its digest. */
  async putManifest(
    repo: string,
    reference: string,
    bytes: Uint8Array,
    mediaType: string,
    signal?: AbortSignal,
  ): Promise<Digest> {
    return (await this.pushManifest(repo, reference, bytes, mediaType, signal)).digest;
  }

  /** {@link putManifest}, also returning the `OCI-Subject` the registry answered with. */
  async pushManifest(
    repo: string,
    reference: string,
    bytes: Uint8Array,
    mediaType: string,
    signal?: AbortSignal,
  ): Promise<PutManifestResult> {
    const what = `manifest ${this.host}/${repo}${isDigest(reference) ? '@' : ':'}${reference}`;
    let digest: Digest;
    if (isDigest(reference)) {
      verifyBytes(bytes, reference, what);
      digest = reference;
    } else {
      digest = sha256(bytes);
    }
    const res = await this.transport.send({
      method: 'PUT',
      url: manifestPath(repo, reference),
      scopes: [repositoryScope(repo, ['pull', 'push'])],
      headers: { 'content-type': mediaType },
      body: bytes,
      ok: [201],
      signal,
    });
    discard(res.body);
    const stated = header(res.headers, 'docker-content-digest');
    if (stated && isDigest(stated) && digestAlgorithm(stated) === digestAlgorithm(digest) && stated !== digest) {
      throw new OciError(
        'DIGEST_MISMATCH',
        `${what}: the registry stored it as ${stated}, but its digest is ${digest}`,
      );
    }
    const subject = header(res.headers, 'oci-subject')?.trim();
    return { digest, ...(subject && isDigest(subject) ? { subject } : {}) };
  }

  /** Deletes a manifest by digest (registries refuse deleting by tag, and a tag delete would hide which content went). */
  async deleteManifest(repo: string, digest: Digest, signal?: AbortSignal): Promise<void> {
    assertDigest(digest, 'manifest digest to delete');
    const res = await this.transport.send({
      method: 'DELETE',
      url: manifestPath(repo, digest),
      scopes: [repositoryScope(repo, ['delete'])],
      ok: [202, 200],
      signal,
    });
    discard(res.body);
  }

  async hasBlob(repo: string, digest: Digest, signal?: AbortSignal): Promise<boolean> {
    return this.blobExists(repo, digest, ['pull'], signal);
  }

  /** @internal with the actions of the operation it is part of, so a push needs one token. */
  async blobExists(repo: string, digest: Digest, actions: readonly string[], signal?: AbortSignal): Promise<boolean> {
    assertDigest(digest, 'blob digest');
    const res = await this.transport.send({
      method: 'HEAD',
      url: `/v2/${repo}/blobs/${digest}`,
      scopes: [repositoryScope(repo, actions)],
      ok: [200, 404],
      signal,
    });
    discard(res.body);
    return res.status === 200;
  }

  /**
   * A blob's bytes as a stream, checked against `desc` as they flow (the stream errors with
   * DIGEST_MISMATCH or SIZE_MISMATCH before it would end). A connection lost mid-body is
   * resumed with `Range: bytes=N-`, continuing the same hash, a bounded number of times.
   */
  async getBlob(repo: string, desc: Descriptor, signal?: AbortSignal): Promise<Readable> {
    assertDigest(desc.digest, 'blob digest');
    const what = `blob ${desc.digest} from ${this.host}/${repo}`;
    const first = await this.openBlob(repo, desc.digest, 0, signal);
    const policy = this.transport.retryPolicy;
    const reopen = (offset: number) => this.openBlob(repo, desc.digest, offset, signal);
    const verifier = new DigestVerifier(desc.digest, { size: desc.size, what });
    pipeline(Readable.from(resumingBody(first, desc.size, reopen, policy, what, signal)), verifier, () => {
      // Errors reach the consumer through `verifier`, which pipeline destroys with them.
    });
    return verifier;
  }

  private async openBlob(
    repo: string,
    digest: Digest,
    offset: number,
    signal?: AbortSignal,
  ): Promise<RegistryResponse> {
    return this.transport.send({
      method: 'GET',
      url: `/v2/${repo}/blobs/${digest}`,
      scopes: [repositoryScope(repo, ['pull'])],
      headers: offset > 0 ? { range: `bytes=${offset}-` } : {},
      ok: offset > 0 ? [200, 206] : [200],
      signal,
    });
  }

  /**
   * Uploads a blob unless the repository has it: a cross-repository mount when `mountFrom`
   * names another repository of this registry, else one streamed PUT, or PATCH chunks above
   * the chunk threshold. Bytes are checked against `desc` as they are sent; a failed upload is
   * restarted (re-opening the content) within the retry policy.
   */
  async pushBlob(
    repo: string,
    desc: Descriptor,
    open: () => Promise<Readable>,
    options: PushBlobOptions = {},
  ): Promise<void> {
    assertDigest(desc.digest, 'blob digest');
    const signal = options.signal;
    if (await this.blobExists(repo, desc.digest, ['pull', 'push'], signal)) {
      options.onProgress?.(desc.size);
      return;
    }
    const from = options.mountFrom;
    const mountFrom =
      from && from.repository !== repo && sameRegistry(from.registry, this.host) ? from.repository : undefined;
    await uploadBlob(this.transport, repo, desc, open, {
      chunkSize: this.chunkSize,
      chunkThreshold: this.chunkThreshold,
      what: `blob ${desc.digest} to ${this.host}/${repo}`,
      ...(mountFrom ? { mountFrom } : {}),
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      ...(signal ? { signal } : {}),
    });
  }

  /**
   * Uploads a blob without first asking whether the registry has it: for content just made
   * (a signature bundle, a regenerated config), where the HEAD would only cost a round trip.
   * Uploading a blob the registry already has is harmless: it stores the same bytes.
   */
  async pushNewBlob(
    repo: string,
    desc: Descriptor,
    open: () => Promise<Readable>,
    options: PushBlobOptions = {},
  ): Promise<void> {
    assertDigest(desc.digest, 'blob digest');
    await uploadBlob(this.transport, repo, desc, open, {
      chunkSize: this.chunkSize,
      chunkThreshold: this.chunkThreshold,
      what: `blob ${desc.digest} to ${this.host}/${repo}`,
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
  }

  /** Tags of a repository, page by page following `Link: <…>; rel="next"` (distribution spec, "Listing Tags"). */
  async *listTags(repo: string, options: ListTagsOptions = {}): AsyncIterable<string> {
    let next: string | undefined = `/v2/${repo}/tags/list${options.pageSize ? `?n=${options.pageSize}` : ''}`;
    const seen = new Set<string>();
    while (next) {
      if (seen.has(next)) {
        throw new OciError(
          'REGISTRY_ERROR',
          `${this.host}/${repo}: tag list pagination loops back to a page already read`,
        );
      }
      seen.add(next);
      const { res, bytes: raw } = await this.transport.sendBounded(
        { method: 'GET', url: next, scopes: [repositoryScope(repo, ['pull'])], ok: [200], signal: options.signal },
        TAG_PAGE_LIMIT,
        `tag list of ${this.host}/${repo}`,
      );
      let doc: { tags?: unknown };
      try {
        doc = JSON.parse(Buffer.from(raw).toString('utf8')) as { tags?: unknown };
      } catch (e) {
        throw new OciError('REGISTRY_ERROR', `${this.host}/${repo}: the tag list is not JSON`, { cause: e });
      }
      // distribution answers `"tags": null` for a repository whose tags were all deleted.
      const tags = doc.tags ?? [];
      if (!Array.isArray(tags) || tags.some((t) => typeof t !== 'string')) {
        throw new OciError('REGISTRY_ERROR', `${this.host}/${repo}: the tag list's "tags" is not a list of strings`);
      }
      yield* tags as string[];
      const link = nextLink(header(res.headers, 'link'));
      next = link ? new URL(link, res.url).toString() : undefined;
    }
  }

  async tags(repo: string, options: ListTagsOptions = {}): Promise<string[]> {
    const out: string[] = [];
    for await (const t of this.listTags(repo, options)) out.push(t);
    return out;
  }

  /**
   * Manifests whose `subject` is `digest`: from the referrers API when the registry has it,
   * else from the `<alg>-<hex>` tag index that pushers maintain (image spec v1.1, "Referrers
   * Tag Schema"); no such tag means no referrers.
   */
  async referrers(repo: string, digest: Digest, options: ReferrersOptions = {}): Promise<ReferrersResult> {
    assertDigest(digest, 'subject digest');
    const fromApi = await fetchReferrers(this.transport, repo, digest, options, `${this.host}/${repo}`);
    if (fromApi) return fromApi;
    return referrersTagFallback((tag, signal) => this.getManifestIfExists(repo, tag, signal), digest, options);
  }

  private async getManifestIfExists(
    repo: string,
    reference: string,
    signal?: AbortSignal,
  ): Promise<ManifestBlob | undefined> {
    try {
      return await this.getManifest(repo, reference, signal);
    } catch (e) {
      if (e instanceof OciError && (e.code === 'MANIFEST_UNKNOWN' || e.code === 'NAME_UNKNOWN' || e.status === 404)) {
        return undefined;
      }
      throw e;
    }
  }
}

const registries = new WeakMap<object, Map<string, Registry>>();
const NO_OPTIONS = {};

/**
 * The shared client for a host: callers passing the same options object (or none) get the
 * same Registry, so a copy between two repositories of one registry reuses tokens and connections.
 */
export function registryFor(host: string, options?: RegistryOptions): Registry {
  const key = options ?? NO_OPTIONS;
  let byHost = registries.get(key);
  if (!byHost) {
    byHost = new Map();
    registries.set(key, byHost);
  }
  let r = byHost.get(host);
  if (!r) {
    r = new Registry(host, options);
    byHost.set(host, r);
  }
  return r;
}

function manifestPath(repo: string, reference: string): string {
  return `/v2/${repo}/manifests/${reference}`;
}

function contentType(res: RegistryResponse): string | undefined {
  return header(res.headers, 'content-type')?.split(';')[0]?.trim() || undefined;
}

function sameRegistry(a: string, b: string): boolean {
  const norm = (h: string) => h.replace(/^https?:\/\//i, '').toLowerCase();
  return norm(a) === norm(b);
}

/**
 * The digest of manifest bytes fetched by `reference`: a digest reference must match the
 * bytes; for a tag, the digest is computed from the bytes, and a `Docker-Content-Digest` that
 * disagrees means the registry (or something between) is not serving what it claims.
 */
function checkManifestDigest(bytes: Uint8Array, reference: string, stated: string | undefined, what: string): Digest {
  if (isDigest(reference)) {
    verifyBytes(bytes, reference, what);
    return reference;
  }
  const digest = sha256(bytes);
  if (stated !== undefined && stated !== '') {
    if (!isDigest(stated)) {
      throw new OciError('DIGEST_MISMATCH', `${what}: the registry states digest "${stated}", which is not a digest`);
    }
    if (digestAlgorithm(stated) === 'sha256') {
      if (stated !== digest) {
        throw new OciError(
          'DIGEST_MISMATCH',
          `${what}: content digest ${digest} does not match the registry's Docker-Content-Digest ${stated}`,
        );
      }
    } else {
      verifyBytes(bytes, stated, what);
    }
  }
  return digest;
}

/** `<url>; rel="next"` from a Link header (RFC 8288), as distribution paginates. */
export function nextLink(link: string | undefined): string | undefined {
  if (!link) return undefined;
  for (const part of link.split(/,(?=\s*<)/)) {
    const m = /^\s*<([^>]*)>(.*)$/.exec(part);
    if (m && /;\s*rel="?next"?/i.test(m[2] ?? '')) return m[1];
  }
  return undefined;
}

/**
 * The body of a blob response, continued with Range requests when the connection drops (or
 * the body ends short of `size`). Bounded by the retry policy.
 */
async function* resumingBody(
  first: RegistryResponse,
  size: number,
  reopen: (offset: number) => Promise<RegistryResponse>,
  policy: RetryPolicy,
  what: string,
  signal: AbortSignal | undefined,
): AsyncGenerator<Buffer> {
  let res = first;
  let offset = 0;
  const backoff = new Backoff(policy);
  try {
    for (;;) {
      // A server that ignores Range answers 200 with the whole blob: skip what we have.
      let skip = res.status === 200 ? offset : 0;
      if (res.status === 206) {
        const start = /^bytes (\d+)-/.exec(header(res.headers, 'content-range') ?? '')?.[1];
        if (start === undefined || Number(start) !== offset) {
          throw new OciError(
            'REGISTRY_ERROR',
            `${what}: asked for bytes from ${offset}, the registry answered ${header(res.headers, 'content-range') ?? 'no Content-Range'}`,
          );
        }
      }
      let failure: unknown;
      try {
        for await (const chunk of res.body as AsyncIterable<Buffer>) {
          let c = chunk;
          if (skip > 0) {
            const drop = Math.min(skip, c.length);
            skip -= drop;
            c = c.subarray(drop);
            if (c.length === 0) continue;
          }
          offset += c.length;
          yield c;
        }
      } catch (e) {
        failure = e;
      }
      const short = size >= 0 && offset < size;
      if (failure === undefined && !short) return;
      if (signal?.aborted) throw signal.reason ?? failure;
      if (failure !== undefined && !isNetworkError(failure)) throw failure;
      if (!(await backoff.wait(undefined, signal))) {
        // Spent: an upload streaming this blob must not start it all over again.
        throw markExhausted(
          new OciError(
            'NETWORK',
            `${what}: the transfer broke off at byte ${offset}${size >= 0 ? ` of ${size}` : ''} and resuming failed after ${backoff.attempts} tries${failure ? `: ${(failure as Error).message}` : ''}`,
            { cause: failure },
          ),
        );
      }
      discard(res.body);
      res = await reopen(offset);
    }
  } finally {
    discard(res.body);
  }
}
