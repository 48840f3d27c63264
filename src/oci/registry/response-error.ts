import type { Readable } from 'node:stream';
import { OciError, type OciErrorCode } from '../errors.ts';

/** An error body larger than this is cut: it is for a message, and a hostile server could send gigabytes. */
export const ERROR_BODY_LIMIT = 64 * 1024;

/** Query parameters that only say what was asked for; every other value is replaced (upload `_state`, signed storage URLs). */
const HARMLESS_PARAMS = new Set(['digest', 'n', 'last', 'mount', 'from', 'artifactType', 'service', 'scope']);

/** A URL safe for messages and logs: no user info, and query values that could be secrets replaced. */
export function redactUrl(url: string | URL): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return '<invalid URL>';
  }
  u.username = '';
  u.password = '';
  for (const key of [...new Set(u.searchParams.keys())]) {
    if (!HARMLESS_PARAMS.has(key)) u.searchParams.set(key, 'REDACTED');
  }
  return u.toString();
}

interface RegistryErrorEntry {
  code?: unknown;
  message?: unknown;
  detail?: unknown;
}

/** Registry error codes (distribution spec v1.1, "Error Codes") that sigil callers branch on. */
const CODE_MAP: Record<string, OciErrorCode> = {
  MANIFEST_UNKNOWN: 'MANIFEST_UNKNOWN',
  BLOB_UNKNOWN: 'BLOB_UNKNOWN',
  NAME_UNKNOWN: 'NAME_UNKNOWN',
  NAME_INVALID: 'NAME_INVALID',
  DENIED: 'DENIED',
  UNAUTHORIZED: 'UNAUTHORIZED',
  TOOMANYREQUESTS: 'TOO_MANY_REQUESTS',
  MANIFEST_INVALID: 'MANIFEST_INVALID',
  MANIFEST_BLOB_UNKNOWN: 'MANIFEST_INVALID',
  DIGEST_INVALID: 'DIGEST_MISMATCH',
  SIZE_INVALID: 'SIZE_MISMATCH',
  UNSUPPORTED: 'UNSUPPORTED_MEDIA_TYPE',
};

/**
 * Lets go of a body we do not need: a small rest is drained so the keep-alive connection can
 * be reused, a large one is dropped with its connection. An undici body destroyed without a
 * listener would raise "Request aborted" as an uncaught error, hence the no-op listener.
 */
export function discard(body: Readable | null | undefined): void {
  if (!body) return;
  body.on('error', () => {});
  const dump = (body as { dump?: (o: { limit: number }) => Promise<void> }).dump;
  if (typeof dump === 'function') dump.call(body, { limit: ERROR_BODY_LIMIT }).catch(() => {});
  else body.destroy();
}

/** Reads at most `limit` bytes of a body, then drops the rest of it. */
export async function readLimited(body: Readable | null | undefined, limit = ERROR_BODY_LIMIT): Promise<Buffer> {
  if (!body) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      const take = Math.min(chunk.length, limit - total);
      if (take > 0) chunks.push(chunk.subarray(0, take));
      total += take;
      if (total >= limit) break;
    }
  } catch {
    // A body cut short still leaves a status to report.
  } finally {
    discard(body);
  }
  return Buffer.concat(chunks);
}

export interface FailedResponse {
  method: string;
  url: string | URL;
  status: number;
  body?: Readable | null;
  /** Added to the message, e.g. the login hint for a 401. */
  hint?: string;
  /** What the request was for, put first: `getting a token for ghcr.io`. */
  context?: string;
  /**
   * What the request carried that must never be shown (its Authorization, the password): a
   * server may quote the request in its error, and the message ends up in CI logs.
   */
  secrets?: readonly string[];
}

/** Secrets shorter than this are not searched for: they would blank out ordinary words. */
const MIN_SECRET_LENGTH = 4;

/** `text` with every secret, as is, JSON-escaped or URL-encoded, replaced by REDACTED. */
export function redactSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) {
    if (secret.length < MIN_SECRET_LENGTH) continue;
    for (const form of new Set([secret, JSON.stringify(secret).slice(1, -1), encodeURIComponent(secret)])) {
      out = out.split(form).join('REDACTED');
    }
  }
  return out;
}

function statusCode(status: number, registryCodes: readonly string[]): OciErrorCode {
  for (const c of registryCodes) {
    const mapped = CODE_MAP[c];
    if (mapped) return mapped;
  }
  if (status === 401) return 'UNAUTHORIZED';
  if (status === 403) return 'DENIED';
  if (status === 429) return 'TOO_MANY_REQUESTS';
  return 'REGISTRY_ERROR';
}

/**
 * Turns a registry's error response into an OciError whose message says the method, the
 * redacted URL, the status and what the registry said. HEAD answers carry no body, so for
 * them the status alone speaks.
 */
export async function responseError(r: FailedResponse): Promise<OciError> {
  const body = r.method === 'HEAD' ? Buffer.alloc(0) : await readLimited(r.body);
  // Before parsing and shortening: a secret cut in half would no longer be recognised.
  const raw = r.secrets?.length ? Buffer.from(redactSecrets(body.toString('utf8'), r.secrets)) : body;
  if (r.method === 'HEAD') discard(r.body);
  const entries = parseErrors(raw);
  const registryCodes = entries.map((e) => String(e.code ?? 'UNKNOWN'));
  const said = entries.length
    ? entries
        .map((e) => {
          const msg = typeof e.message === 'string' && e.message ? `: ${e.message}` : '';
          const detail = describeDetail(e.detail);
          return `${String(e.code ?? 'UNKNOWN')}${msg}${detail}`;
        })
        .join('; ')
    : plainText(raw);
  const where = `${r.context ? `${r.context}: ` : ''}${r.method} ${redactUrl(r.url)}`;
  const status = `${r.status} ${statusText(r.status)}`.trim();
  const message = `${where}: ${status}${r.hint ? `; ${r.hint}` : ''}${said ? ` (registry said: ${said})` : ''}`;
  return new OciError(statusCode(r.status, registryCodes), message, {
    status: r.status,
    registryCodes,
    registryDetails: entries.map((e) => e.detail),
  });
}

function parseErrors(raw: Buffer): RegistryErrorEntry[] {
  if (raw.length === 0) return [];
  try {
    const doc = JSON.parse(raw.toString('utf8')) as { errors?: unknown };
    if (Array.isArray(doc.errors)) {
      return doc.errors.filter((e): e is RegistryErrorEntry => typeof e === 'object' && e !== null);
    }
  } catch {
    // Not JSON: a proxy's HTML page or plain text; shown as text below.
  }
  return [];
}

function describeDetail(detail: unknown): string {
  if (detail === undefined || detail === null || detail === '') return '';
  const s = typeof detail === 'string' ? detail : JSON.stringify(detail);
  return ` [${s.length > 200 ? `${s.slice(0, 200)}…` : s}]`;
}

function plainText(raw: Buffer): string {
  const s = raw.toString('utf8').replace(/\s+/g, ' ').trim();
  if (!s || s.startsWith('<')) return '';
  return s.length > 200 ? `${s.slice(0, 200)}…` : s;
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Payload Too Large',
  416: 'Range Not Satisfiable',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

function statusText(status: number): string {
  return STATUS_TEXT[status] ?? '';
}
