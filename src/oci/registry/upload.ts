import { Readable } from 'node:stream';
import type { Digest } from '../digest.ts';
import { verifiedStream } from '../digest.ts';
import { OciError } from '../errors.ts';
import type { Descriptor } from '../manifest.ts';
import { repositoryScope } from './auth.ts';
import { discard, redactUrl } from './response-error.ts';
import { Backoff } from './retry.ts';
import { header, isTemporary, retryAfterOf, type Transport } from './transport.ts';

export interface UploadSettings {
  chunkSize: number;
  chunkThreshold: number;
  /** For messages: `blob sha256:… to host/repo`. */
  what: string;
  /** Another repository of the same registry that may hold the blob. */
  mountFrom?: string;
  onProgress?: (bytes: number) => void;
  signal?: AbortSignal;
}

/**
 * Uploads one blob (distribution spec v1.1, "Pushing blobs"). Each try opens a new upload
 * session and re-opens the content, since a session's state after a failure is unknown; tries
 * are bounded by the transport's retry policy.
 */
export async function uploadBlob(
  t: Transport,
  repo: string,
  desc: Descriptor,
  open: () => Promise<Readable>,
  s: UploadSettings,
): Promise<void> {
  const backoff = new Backoff(t.retryPolicy);
  for (;;) {
    try {
      await uploadOnce(t, repo, desc, open, s);
      return;
    } catch (e) {
      if (s.signal?.aborted || !isTemporary(e) || !(await backoff.wait(retryAfterOf(e), s.signal))) throw e;
    }
  }
}

async function uploadOnce(
  t: Transport,
  repo: string,
  desc: Descriptor,
  open: () => Promise<Readable>,
  s: UploadSettings,
): Promise<void> {
  const push = repositoryScope(repo, ['pull', 'push']);
  let location: string | undefined;
  let base: URL;
  if (s.mountFrom) {
    // 201: mounted, done. 202: the registry could not mount (no such blob there, or no access)
    // and opened an ordinary upload session instead, which we use.
    const res = await t.send({
      method: 'POST',
      url: `/v2/${repo}/blobs/uploads/?mount=${encodeURIComponent(desc.digest)}&from=${encodeURIComponent(s.mountFrom)}`,
      scopes: [push, repositoryScope(s.mountFrom, ['pull'])],
      ok: [201, 202],
      // Opening a session twice only leaves an unused one, which registries expire.
      retry: true,
      signal: s.signal,
    });
    discard(res.body);
    if (res.status === 201) {
      s.onProgress?.(desc.size);
      return;
    }
    location = header(res.headers, 'location');
    base = res.url;
  } else {
    const res = await t.send({
      method: 'POST',
      url: `/v2/${repo}/blobs/uploads/`,
      scopes: [push],
      ok: [202],
      retry: true,
      signal: s.signal,
    });
    discard(res.body);
    location = header(res.headers, 'location');
    base = res.url;
  }
  if (!location) {
    throw new OciError('REGISTRY_ERROR', `${s.what}: the registry opened an upload without a Location`);
  }
  const session = new URL(location, base);
  if (desc.size > s.chunkThreshold) await uploadChunked(t, session, desc, open, s, push);
  else await uploadMonolithic(t, session, desc, open, s, push);
}

/** The upload URL with `digest=` added; its own query (`_state`, signatures) is kept as sent. */
function withDigest(url: URL, digest: Digest): string {
  const href = url.href.replace(/#.*$/, '');
  return `${href}${url.search ? '&' : '?'}digest=${encodeURIComponent(digest)}`;
}

/** The content as read from `open()`, checked against `desc` as it passes, with progress. */
async function verifiedContent(open: () => Promise<Readable>, desc: Descriptor, s: UploadSettings): Promise<Readable> {
  return verifiedStream(await open(), desc.digest, {
    size: desc.size,
    what: s.what,
    ...(s.onProgress ? { onProgress: s.onProgress } : {}),
  });
}

/** POST then one PUT streaming the whole blob. */
async function uploadMonolithic(
  t: Transport,
  session: URL,
  desc: Descriptor,
  open: () => Promise<Readable>,
  s: UploadSettings,
  scope: string,
): Promise<void> {
  const res = await t.send({
    method: 'PUT',
    url: withDigest(session, desc.digest),
    scopes: [scope],
    headers: { 'content-type': 'application/octet-stream', 'content-length': String(desc.size) },
    body: () => verifiedContent(open, desc, s),
    ok: [201],
    // The session may be consumed by a failed PUT; uploadBlob retries with a new one.
    retry: false,
    signal: s.signal,
  });
  discard(res.body);
}

/**
 * PATCH chunks of `chunkSize` (the last may be shorter), then a PUT with the digest. The
 * content is read once and only one chunk is held in memory.
 */
async function uploadChunked(
  t: Transport,
  session: URL,
  desc: Descriptor,
  open: () => Promise<Readable>,
  s: UploadSettings,
  scope: string,
): Promise<void> {
  let location = session;
  let offset = 0;
  const chunk = Buffer.allocUnsafe(Math.min(s.chunkSize, Math.max(desc.size, 1)));
  let filled = 0;
  const send = async (): Promise<void> => {
    const res = await t.send({
      method: 'PATCH',
      url: location.href,
      scopes: [scope],
      headers: {
        'content-type': 'application/octet-stream',
        // distribution spec: `Content-Range: <start>-<end>`, inclusive, without a unit.
        'content-range': `${offset}-${offset + filled - 1}`,
        'content-length': String(filled),
      },
      body: chunk.subarray(0, filled),
      ok: [202],
      signal: s.signal,
    });
    discard(res.body);
    const next = header(res.headers, 'location');
    if (!next)
      throw new OciError('REGISTRY_ERROR', `${s.what}: PATCH ${redactUrl(location)} answered without a Location`);
    location = new URL(next, res.url);
    offset += filled;
    s.onProgress?.(offset);
    filled = 0;
  };
  const content = await verifiedContent(open, desc, { ...s, onProgress: undefined });
  try {
    for await (const data of content as AsyncIterable<Buffer>) {
      let pos = 0;
      while (pos < data.length) {
        const n = data.copy(chunk, filled, pos);
        filled += n;
        pos += n;
        if (filled === chunk.length) await send();
      }
    }
  } finally {
    content.destroy();
  }
  if (filled > 0) await send();
  const res = await t.send({
    method: 'PUT',
    url: withDigest(location, desc.digest),
    scopes: [scope],
    headers: { 'content-length': '0' },
    ok: [201],
    retry: false,
    signal: s.signal,
  });
  discard(res.body);
}
