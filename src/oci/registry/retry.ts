import { setTimeout as sleep } from 'node:timers/promises';

/** How hard the client retries a request that failed in a way that may pass (429, 5xx, a reset). */
export interface RetryPolicy {
  /** Tries in all, the first included. */
  attempts: number;
  /** Delay before the first retry; it doubles on each one, with jitter. */
  minDelayMs: number;
  maxDelayMs: number;
  /** No retry starts once this much time has passed since the first try. */
  totalMs: number;
}

// Five tries over at most a minute: enough to ride out a registry restart or a rate-limit window
// (Docker Hub's Retry-After is usually seconds), short enough that CI fails in reasonable time.
export const DEFAULT_RETRY_POLICY: RetryPolicy = { attempts: 5, minDelayMs: 250, maxDelayMs: 10_000, totalMs: 60_000 };

export function resolveRetryPolicy(p: Partial<RetryPolicy> = {}): RetryPolicy {
  return { ...DEFAULT_RETRY_POLICY, ...p };
}

/** 429 and 5xx may pass on a later try; 501 Not Implemented never will. */
export function isRetryableStatus(status: number): boolean {
  return status === 429 || (status >= 500 && status <= 599 && status !== 501);
}

const CONNECT_ERRORS = new Set(['ECONNREFUSED', 'UND_ERR_CONNECT_TIMEOUT', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH']);
const TRANSFER_ERRORS = new Set([
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CLOSED',
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
]);

function errorCode(e: unknown): string | undefined {
  for (let cur: unknown = e, depth = 0; cur && depth < 4; cur = (cur as { cause?: unknown }).cause, depth++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string' && (CONNECT_ERRORS.has(code) || TRANSFER_ERRORS.has(code))) return code;
  }
  return undefined;
}

/** The connection could not be made: nothing was sent, so any request may be tried again. */
export function isConnectError(e: unknown): boolean {
  const code = errorCode(e);
  return code !== undefined && CONNECT_ERRORS.has(code);
}

/** A network failure (refused, reset, timed out) rather than an answer or a local fault. */
export function isNetworkError(e: unknown): boolean {
  return errorCode(e) !== undefined;
}

/** `Retry-After` as milliseconds: delta-seconds or an HTTP date (RFC 9110 §10.2.3). */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** One request's retry budget: counts tries and elapsed time, and sleeps between them. */
export class Backoff {
  private readonly policy: RetryPolicy;
  private readonly started = Date.now();
  private tries = 1;

  constructor(policy: RetryPolicy) {
    this.policy = policy;
  }

  /**
   * Wait before the next try and return true, or return false when the budget is spent (by
   * count, or because the wait would end past `totalMs`). A server's Retry-After wins over the
   * computed delay but is still bounded by the total.
   */
  async wait(retryAfterMs: number | undefined, signal?: AbortSignal): Promise<boolean> {
    if (this.tries >= this.policy.attempts) return false;
    const cap = Math.min(this.policy.maxDelayMs, this.policy.minDelayMs * 2 ** (this.tries - 1));
    // Equal jitter: at least half the exponential step, so clients that failed together spread out
    // without any of them retrying at once.
    const delay = retryAfterMs ?? cap / 2 + (Math.random() * cap) / 2;
    if (Date.now() - this.started + delay > this.policy.totalMs) return false;
    this.tries++;
    await sleep(delay, undefined, signal ? { signal } : {});
    return true;
  }

  get attempts(): number {
    return this.tries;
  }
}
