/**
 * TEST STAND-IN, not a registry to run anything on: a small in-memory server speaking the OCI
 * distribution spec v1.1 on 127.0.0.1, for what Debian's distribution 2.8 lacks, above all the
 * referrers API (`GET /v2/<name>/referrers/<digest>`) and the `OCI-Subject` answer to a push.
 * Use the real registry (./registry.ts) for everything else.
 *
 * It behaves like a registry where a client could tell: digests are verified on upload (400
 * DIGEST_INVALID), manifests must reference blobs and manifests the repository holds (400
 * MANIFEST_BLOB_UNKNOWN; a `subject` need not exist, spec v1.1 "Pushing Manifests with Subject"),
 * blobs belong to repositories (cross-repository mount with `mount=&from=`), tags list paginates
 * with `n`/`last` and a `Link` header, errors have distribution's JSON shape.
 *
 * `referrersApi: false` makes the referrers endpoint answer 404, like a registry without it, so a
 * test can run the same assertions against both (the fallback tag scheme then applies).
 */
import { createHash, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendDistributionError } from './distribution-errors.ts';
import { serveLoopback } from './http-server.ts';

const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';

// distribution spec v1.1, "Pulling manifests": path components and tags.
const NAME_RE = /^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$/;
const TAG_RE = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
const DIGEST_RE = /^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;
/** As distribution's default limit on a manifest PUT body. */
const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

interface StoredManifest {
  bytes: Buffer;
  mediaType: string;
  json: Record<string, unknown>;
}

interface Repository {
  blobs: Set<string>;
  manifests: Map<string, StoredManifest>;
  tags: Map<string, string>;
}

interface Upload {
  repo: string;
  chunks: Buffer[];
  size: number;
}

export interface ReferrersRegistryOptions {
  /** Serve the referrers API (default true); false answers it 404 like a pre-1.1 registry. */
  referrersApi?: boolean;
}

export interface ReferrersRegistry {
  /** `127.0.0.1:PORT` */
  host: string;
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** Every request answered, `METHOD path?query`, oldest first: lets tests see which API a client used. */
  requests(): readonly string[];
  stop(): Promise<void>;
}

function digestOf(data: Buffer, algorithm: 'sha256' | 'sha512' = 'sha256'): string {
  return `${algorithm}:${createHash(algorithm).update(data).digest('hex')}`;
}

function readBody(req: IncomingMessage, limit = Number.POSITIVE_INFINITY): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= limit) chunks.push(c);
    });
    req.on('end', () => resolve(size > limit ? undefined : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** The descriptors a manifest requires to be present in its repository (not its subject). */
function references(json: Record<string, unknown>): { blobs: string[]; manifests: string[] } {
  const digests = (v: unknown): string[] =>
    Array.isArray(v)
      ? v.flatMap((d) =>
          d && typeof d === 'object' && typeof (d as { digest?: unknown }).digest === 'string'
            ? [(d as { digest: string }).digest]
            : [],
        )
      : [];
  const config = json['config'] as { digest?: unknown } | undefined;
  return {
    blobs: [
      ...(typeof config?.digest === 'string' ? [config.digest] : []),
      ...digests(json['layers']),
      ...digests(json['blobs']),
    ],
    manifests: digests(json['manifests']),
  };
}

export async function startReferrersRegistry(options: ReferrersRegistryOptions = {}): Promise<ReferrersRegistry> {
  const referrersApi = options.referrersApi ?? true;
  const content = new Map<string, Buffer>();
  const repos = new Map<string, Repository>();
  const uploads = new Map<string, Upload>();
  const log: string[] = [];

  const repo = (name: string, create: boolean): Repository | undefined => {
    let r = repos.get(name);
    if (!r && create) {
      r = { blobs: new Set(), manifests: new Map(), tags: new Map() };
      repos.set(name, r);
    }
    return r;
  };

  const send = (res: ServerResponse, status: number, headers: Record<string, string>, body?: Buffer): void => {
    res.writeHead(status, {
      'Docker-Distribution-API-Version': 'registry/2.0',
      ...headers,
      'Content-Length': String(body?.length ?? 0),
    });
    res.end(res.req.method === 'HEAD' ? undefined : body);
  };

  const sendJson = (res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void =>
    send(res, status, { 'Content-Type': 'application/json', ...headers }, Buffer.from(JSON.stringify(value)));

  const uploadLocation = (name: string, id: string): string => `/v2/${name}/blobs/uploads/${id}`;

  /** Stores `data` as blob `expected` of `name`, or answers 400 DIGEST_INVALID. */
  const commitBlob = (res: ServerResponse, name: string, data: Buffer, expected: string | null): void => {
    if (!expected || !DIGEST_RE.test(expected)) {
      sendDistributionError(res, 400, 'DIGEST_INVALID', 'provided digest did not match uploaded content', {
        digest: expected,
      });
      return;
    }
    const actual = digestOf(data, expected.startsWith('sha512:') ? 'sha512' : 'sha256');
    if (actual !== expected) {
      sendDistributionError(res, 400, 'DIGEST_INVALID', 'provided digest did not match uploaded content', {
        expected,
        actual,
      });
      return;
    }
    content.set(expected, data);
    repo(name, true)!.blobs.add(expected);
    send(res, 201, { Location: `/v2/${name}/blobs/${expected}`, 'Docker-Content-Digest': expected });
  };

  const handleBlob = (req: IncomingMessage, res: ServerResponse, name: string, digest: string): void => {
    const r = repo(name, false);
    if (req.method === 'DELETE') {
      if (!r?.blobs.delete(digest)) {
        sendDistributionError(res, 404, 'BLOB_UNKNOWN', 'blob unknown to registry', { digest });
        return;
      }
      send(res, 202, {});
      return;
    }
    const data = r?.blobs.has(digest) ? content.get(digest) : undefined;
    if (!data) {
      sendDistributionError(res, 404, 'BLOB_UNKNOWN', 'blob unknown to registry', { digest });
      return;
    }
    const headers = {
      'Content-Type': 'application/octet-stream',
      'Docker-Content-Digest': digest,
      'Accept-Ranges': 'bytes',
    };
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    if (range) {
      const start = Number(range[1]);
      const end = range[2] ? Math.min(Number(range[2]), data.length - 1) : data.length - 1;
      if (start >= data.length || start > end) {
        send(res, 416, { 'Content-Range': `bytes */${data.length}` });
        return;
      }
      send(
        res,
        206,
        { ...headers, 'Content-Range': `bytes ${start}-${end}/${data.length}` },
        data.subarray(start, end + 1),
      );
      return;
    }
    send(res, 200, headers, data);
  };

  const handleUploads = async (
    req: IncomingMessage,
    res: ServerResponse,
    name: string,
    id: string,
    query: URLSearchParams,
  ): Promise<void> => {
    if (id === '') {
      if (req.method !== 'POST') {
        sendDistributionError(res, 405, 'UNSUPPORTED', `${req.method} on an upload collection`);
        return;
      }
      const mount = query.get('mount');
      const from = query.get('from');
      if (mount && from) {
        const source = repo(from, false);
        if (source?.blobs.has(mount) && content.has(mount)) {
          await readBody(req);
          repo(name, true)!.blobs.add(mount);
          send(res, 201, { Location: `/v2/${name}/blobs/${mount}`, 'Docker-Content-Digest': mount });
          return;
        }
        // Spec: a mount the registry cannot do falls back to an ordinary upload session.
      }
      const body = (await readBody(req))!;
      const digest = query.get('digest');
      if (digest !== null) {
        commitBlob(res, name, body, digest);
        return;
      }
      const uuid = randomUUID();
      uploads.set(uuid, { repo: name, chunks: body.length ? [body] : [], size: body.length });
      send(res, 202, {
        Location: uploadLocation(name, uuid),
        Range: `0-${Math.max(body.length - 1, 0)}`,
        'Docker-Upload-UUID': uuid,
      });
      return;
    }
    const upload = uploads.get(id);
    if (!upload || upload.repo !== name) {
      await readBody(req);
      sendDistributionError(res, 404, 'BLOB_UPLOAD_UNKNOWN', 'blob upload unknown to registry', { uuid: id });
      return;
    }
    const status = (code: number): void =>
      send(res, code, {
        Location: uploadLocation(name, id),
        Range: `0-${Math.max(upload.size - 1, 0)}`,
        'Docker-Upload-UUID': id,
      });
    switch (req.method) {
      case 'GET':
        status(204);
        return;
      case 'DELETE':
        uploads.delete(id);
        send(res, 204, {});
        return;
      case 'PATCH':
      case 'PUT': {
        const body = (await readBody(req))!;
        const contentRange = req.headers['content-range'];
        if (contentRange && body.length > 0) {
          // Spec: chunks must arrive in order; a Content-Range not starting at the current end is 416.
          const m = /^(\d+)-(\d+)$/.exec(contentRange);
          if (!m || Number(m[1]) !== upload.size || Number(m[2]) - Number(m[1]) + 1 !== body.length) {
            status(416);
            return;
          }
        }
        if (body.length) {
          upload.chunks.push(body);
          upload.size += body.length;
        }
        if (req.method === 'PATCH') {
          status(202);
          return;
        }
        uploads.delete(id);
        commitBlob(res, name, Buffer.concat(upload.chunks), query.get('digest'));
        return;
      }
      default:
        sendDistributionError(res, 405, 'UNSUPPORTED', `${req.method} on an upload`);
    }
  };

  const handleManifest = async (
    req: IncomingMessage,
    res: ServerResponse,
    name: string,
    reference: string,
  ): Promise<void> => {
    const isDigest = DIGEST_RE.test(reference);
    if (!isDigest && !TAG_RE.test(reference)) {
      await readBody(req);
      sendDistributionError(
        res,
        400,
        reference.includes(':') ? 'DIGEST_INVALID' : 'TAG_INVALID',
        `invalid reference "${reference}"`,
      );
      return;
    }
    const r = repo(name, false);
    switch (req.method) {
      case 'GET':
      case 'HEAD': {
        const digest = isDigest ? reference : r?.tags.get(reference);
        const m = digest ? r?.manifests.get(digest) : undefined;
        if (!digest || !m) {
          sendDistributionError(res, 404, 'MANIFEST_UNKNOWN', 'manifest unknown', { name, reference });
          return;
        }
        send(res, 200, { 'Content-Type': m.mediaType, 'Docker-Content-Digest': digest }, m.bytes);
        return;
      }
      case 'DELETE': {
        if (!isDigest) {
          // Spec v1.1: deleting by tag removes the tag only.
          if (!r?.tags.delete(reference)) {
            sendDistributionError(res, 404, 'MANIFEST_UNKNOWN', 'manifest unknown', { name, reference });
            return;
          }
          send(res, 202, {});
          return;
        }
        if (!r?.manifests.delete(reference)) {
          sendDistributionError(res, 404, 'MANIFEST_UNKNOWN', 'manifest unknown', { name, reference });
          return;
        }
        for (const [tag, d] of r.tags) if (d === reference) r.tags.delete(tag);
        send(res, 202, {});
        return;
      }
      case 'PUT': {
        const bytes = await readBody(req, MAX_MANIFEST_BYTES);
        if (!bytes) {
          sendDistributionError(res, 413, 'SIZE_INVALID', `manifest larger than ${MAX_MANIFEST_BYTES} bytes`);
          return;
        }
        let json: Record<string, unknown>;
        try {
          const parsed: unknown = JSON.parse(bytes.toString('utf8'));
          if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not a JSON object');
          json = parsed as Record<string, unknown>;
        } catch (err) {
          sendDistributionError(res, 400, 'MANIFEST_INVALID', 'manifest invalid', String(err));
          return;
        }
        const mediaType = (req.headers['content-type'] ?? '').split(';')[0]!.trim() || String(json['mediaType'] ?? '');
        if (![OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST].includes(mediaType)) {
          sendDistributionError(res, 400, 'MANIFEST_INVALID', `unsupported manifest media type "${mediaType}"`);
          return;
        }
        if (typeof json['mediaType'] === 'string' && json['mediaType'] !== mediaType) {
          sendDistributionError(
            res,
            400,
            'MANIFEST_INVALID',
            `mediaType "${json['mediaType']}" differs from Content-Type "${mediaType}"`,
          );
          return;
        }
        const digest = isDigest ? reference : digestOf(bytes);
        if (isDigest && digestOf(bytes, reference.startsWith('sha512:') ? 'sha512' : 'sha256') !== reference) {
          sendDistributionError(res, 400, 'DIGEST_INVALID', 'provided digest did not match uploaded content', {
            expected: reference,
            actual: digestOf(bytes),
          });
          return;
        }
        const target = repo(name, true)!;
        const refs = references(json);
        const missingBlob = refs.blobs.find((d) => !target.blobs.has(d));
        const missingManifest = refs.manifests.find((d) => !target.manifests.has(d));
        if (missingBlob || missingManifest) {
          sendDistributionError(res, 400, 'MANIFEST_BLOB_UNKNOWN', 'blob unknown to registry', {
            digest: missingBlob ?? missingManifest,
          });
          return;
        }
        target.manifests.set(digest, { bytes, mediaType, json });
        if (!isDigest) target.tags.set(reference, digest);
        const subject = (json['subject'] as { digest?: unknown } | undefined)?.digest;
        send(res, 201, {
          Location: `/v2/${name}/manifests/${digest}`,
          'Docker-Content-Digest': digest,
          ...(typeof subject === 'string' && referrersApi ? { 'OCI-Subject': subject } : {}),
        });
        return;
      }
      default:
        sendDistributionError(res, 405, 'UNSUPPORTED', `${req.method} on a manifest`);
    }
  };

  const handleTags = (res: ServerResponse, name: string, query: URLSearchParams): void => {
    const r = repo(name, false);
    if (!r) {
      sendDistributionError(res, 404, 'NAME_UNKNOWN', 'repository name not known to registry', { name });
      return;
    }
    const last = query.get('last');
    const nParam = query.get('n');
    let tags = [...r.tags.keys()].sort();
    if (last !== null) tags = tags.filter((t) => t > last);
    const headers: Record<string, string> = {};
    if (nParam !== null) {
      const n = Number(nParam);
      if (!Number.isInteger(n) || n < 0) {
        sendDistributionError(res, 400, 'PAGINATION_NUMBER_INVALID', `invalid number of results requested: ${nParam}`);
        return;
      }
      if (tags.length > n) {
        tags = tags.slice(0, n);
        const next = new URLSearchParams({ n: String(n), last: tags[tags.length - 1] ?? '' });
        headers['Link'] = `</v2/${name}/tags/list?${next}>; rel="next"`;
      }
    }
    sendJson(res, 200, { name, tags }, headers);
  };

  const handleReferrers = (res: ServerResponse, name: string, digest: string, query: URLSearchParams): void => {
    if (!DIGEST_RE.test(digest)) {
      sendDistributionError(res, 400, 'DIGEST_INVALID', `invalid digest "${digest}"`);
      return;
    }
    const artifactType = query.get('artifactType');
    const manifests: Record<string, unknown>[] = [];
    for (const [d, m] of repo(name, false)?.manifests ?? []) {
      if ((m.json['subject'] as { digest?: unknown } | undefined)?.digest !== digest) continue;
      // Spec v1.1 "Listing Referrers": artifactType, else an image manifest's config.mediaType.
      const type =
        (typeof m.json['artifactType'] === 'string' ? m.json['artifactType'] : undefined) ??
        (m.mediaType === OCI_MANIFEST
          ? (m.json['config'] as { mediaType?: string } | undefined)?.mediaType
          : undefined);
      if (artifactType !== null && type !== artifactType) continue;
      manifests.push({
        mediaType: m.mediaType,
        digest: d,
        size: m.bytes.length,
        ...(type ? { artifactType: type } : {}),
        ...(m.json['annotations'] ? { annotations: m.json['annotations'] } : {}),
      });
    }
    const body = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests }));
    send(
      res,
      200,
      { 'Content-Type': OCI_INDEX, ...(artifactType !== null ? { 'OCI-Filters-Applied': 'artifactType' } : {}) },
      body,
    );
  };

  const route = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://stand-in');
    const path = url.pathname;
    if (path === '/v2/' || path === '/v2') {
      sendJson(res, 200, {});
      return;
    }
    const m =
      /^\/v2\/(.+?)\/(blobs\/uploads\/?(.*)|blobs\/([^/]+)|manifests\/([^/]+)|tags\/list|referrers\/([^/]+))$/.exec(
        path,
      );
    if (!m) {
      await readBody(req);
      sendDistributionError(res, 404, 'NOT_FOUND', `no route for ${req.method} ${path}`);
      return;
    }
    const name = m[1]!;
    if (!NAME_RE.test(name)) {
      await readBody(req);
      sendDistributionError(res, 400, 'NAME_INVALID', 'invalid repository name', { name });
      return;
    }
    if (m[2]!.startsWith('blobs/uploads')) await handleUploads(req, res, name, m[3] ?? '', url.searchParams);
    else if (m[4] !== undefined) handleBlob(req, res, name, m[4]);
    else if (m[5] !== undefined) await handleManifest(req, res, name, m[5]);
    else if (m[2] === 'tags/list') handleTags(res, name, url.searchParams);
    else if (m[6] !== undefined && referrersApi && req.method === 'GET')
      handleReferrers(res, name, m[6], url.searchParams);
    else sendDistributionError(res, 404, 'NOT_FOUND', `no route for ${req.method} ${path}`);
  };

  const server = await serveLoopback((req, res) => {
    log.push(`${req.method} ${req.url}`);
    return route(req, res);
  });
  return {
    host: server.host,
    url: server.origin,
    requests: () => log,
    stop: server.stop,
  };
}
