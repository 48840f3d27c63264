import type { Method } from './transport.ts';

/** One HTTP request as sent to the registry: every try, redirect hop and `/v2/` probe is one. */
export interface RequestEvent {
  method: Method;
  url: URL;
}

/**
 * Requests a client sent, by method. Every attempt counts (a retried GET is two), because the
 * number is for judging what a command costs a registry (rate limits count attempts too).
 * Token requests to an auth realm are not registry requests and are not counted.
 */
export class RequestCount {
  total = 0;
  readonly byMethod: Partial<Record<Method, number>> = {};

  add(e: RequestEvent): void {
    this.total++;
    this.byMethod[e.method] = (this.byMethod[e.method] ?? 0) + 1;
  }

  /** `7 (HEAD 2, POST 1, PUT 3, GET 1)`. */
  toString(): string {
    const parts = Object.entries(this.byMethod).map(([m, n]) => `${m} ${n}`);
    return `${this.total}${parts.length > 0 ? ` (${parts.join(', ')})` : ''}`;
  }
}
