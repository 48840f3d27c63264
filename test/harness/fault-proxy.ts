/**
 * An HTTP reverse proxy on 127.0.0.1 in front of a test registry that injects the faults a test
 * selects, to prove that clients retry what may pass and fail cleanly on what will not.
 *
 * Everything is forwarded: method, path, headers (Authorization included) and body. The Host
 * header is rewritten to the upstream's, and absolute `Location`/`Link` URLs that point at the
 * upstream are rewritten to point back at the proxy, so uploads and redirects stay on it.
 *
 * The `fault` function is called once per request and picks one fault (or none):
 * - 'latency:MS': wait MS milliseconds, then forward as usual.
 * - 'status:NNN': answer NNN (500, 502, 503…) with a distribution-style JSON error body, without
 *   forwarding: the upstream never sees the request.
 * - '429:S': answer 429 TOOMANYREQUESTS with `Retry-After: S`, without forwarding.
 * - 'reset': destroy the connection before any response, without forwarding.
 * - 'lost-answer': forward the request, let the registry act on it (a PUT is applied), then
 *   destroy the connection instead of passing the answer on: the client cannot tell whether it
 *   happened.
 * Faults on the response body (the body is read whole first; test bodies are small):
 * - 'flip' (or `true`): the byte in the middle is inverted; status and Content-Length unchanged.
 * - 'truncate': the first half of the body is sent as a complete response with a matching,
 *   smaller Content-Length: a well-formed but short answer.
 * - 'drop-after:N': the headers (with the original Content-Length) and the first N bytes are sent,
 *   then the connection is destroyed: a transfer broken mid-way, for Range resume.
 * Responses without a body (HEAD, 204, 304) pass untouched whatever body fault is selected.
 *
 * `scheduleFaults` builds a `fault` function from rules that match requests by method and path
 * and fire on the first N matches, every k-th one, or always. Every exchange is recorded with the
 * fault actually applied.
 */
import { Agent, type IncomingMessage, type OutgoingHttpHeaders, request, type ServerResponse } from 'node:http';
import { sendDistributionError } from './distribution-errors.ts';
import { serveLoopback } from './http-server.ts';

export type BodyFault = 'flip' | 'truncate' | `drop-after:${number}`;
export type AppliedFault =
  BodyFault | `latency:${number}` | `status:${number}` | `429:${number}` | 'reset' | 'lost-answer';
/** What to do to one request; `false` forwards it untouched, `true` is 'flip'. */
export type Fault = boolean | AppliedFault;

export interface FaultProxyOptions {
  /** Called once per request, before it is forwarded; `req.url` is the path and query. A throw answers 500. */
  fault: (req: IncomingMessage) => Fault;
}

export interface ProxiedExchange {
  method: string;
  url: string;
  /** The status the client saw; 0 when the connection was reset before any answer. */
  status: number;
  /** What was done to the request or its response, if anything. */
  fault?: AppliedFault;
  /** When the request arrived (Date.now()). */
  at: number;
}

export interface FaultProxy {
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** `127.0.0.1:PORT`, for image references. */
  host: string;
  /** Every request answered so far, oldest first. */
  exchanges(): readonly ProxiedExchange[];
  /** The most requests that were open at once (arrived, response not yet finished or closed). */
  maxInFlight(): number;
  stop(): Promise<void>;
}

/** When a rule fires among the requests it matches: the first N, every k-th (k, 2k, …), or all. */
export type Schedule = { first: number } | { every: number } | 'always';

export interface FaultRule {
  match: (method: string, path: string) => boolean;
  fault: AppliedFault;
  schedule: Schedule;
}

/**
 * A `fault` function from rules, each counting its own matching requests (retries included, so
 * a transient schedule lets a retry through). The first rule that matches and fires wins.
 */
export function scheduleFaults(rules: readonly FaultRule[]): (req: IncomingMessage) => Fault {
  const seen = rules.map(() => 0);
  return (req) => {
    const method = req.method ?? '';
    const path = req.url ?? '/';
    let chosen: Fault = false;
    rules.forEach((rule, i) => {
      if (!rule.match(method, path)) return;
      const n = ++seen[i]!;
      const s = rule.schedule;
      const fires = s === 'always' || ('first' in s ? n <= s.first : n % s.every === 0);
      if (fires && chosen === false) chosen = rule.fault;
    });
    return chosen;
  };
}

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

function forwardableHeaders(headers: IncomingMessage['headers']): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
  }
  return out;
}

function readAll(stream: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}

const FAULT_PATTERN = /^(flip|truncate|reset|lost-answer|drop-after:\d+|latency:\d+|status:[1-5]\d\d|429:\d+)$/;

function normalise(f: Fault): AppliedFault | undefined {
  if (f === false) return undefined;
  if (f === true) return 'flip';
  if (typeof f === 'string' && FAULT_PATTERN.test(f)) return f;
  throw new Error(`fault proxy: unknown fault "${String(f)}"`);
}

function isBodyFault(f: AppliedFault | undefined): f is BodyFault {
  return f === 'flip' || f === 'truncate' || (f?.startsWith('drop-after:') ?? false);
}

const STATUS_CODES: Record<number, string> = {
  500: 'UNKNOWN',
  502: 'UNAVAILABLE',
  503: 'UNAVAILABLE',
  504: 'UNAVAILABLE',
};

export async function startFaultProxy(upstream: string, options: FaultProxyOptions): Promise<FaultProxy> {
  const upstreamUrl = new URL(upstream);
  if (upstreamUrl.protocol !== 'http:') throw new Error(`fault proxy: upstream ${upstream} must be http://`);
  const upstreamOrigin = upstreamUrl.origin;
  const agent = new Agent({ keepAlive: true });
  const exchanges: ProxiedExchange[] = [];
  let selfOrigin = '';

  const rewriteUrls = (value: string): string => value.split(upstreamOrigin).join(selfOrigin);
  const arrived = new WeakMap<IncomingMessage, number>();
  const record = (req: IncomingMessage, status: number, fault: AppliedFault | undefined): void => {
    const at = arrived.get(req) ?? Date.now();
    exchanges.push({ method: req.method ?? '', url: req.url ?? '', status, ...(fault ? { fault } : {}), at });
  };

  const forward = (req: IncomingMessage, res: ServerResponse, fault: AppliedFault | undefined): void => {
    const upstreamReq = request(
      `${upstreamOrigin}${req.url ?? '/'}`,
      { method: req.method, headers: { ...forwardableHeaders(req.headers), host: upstreamUrl.host }, agent },
      (upstreamRes) => {
        const headers = forwardableHeaders(upstreamRes.headers);
        for (const name of ['location', 'link', 'content-location']) {
          const v = headers[name];
          if (typeof v === 'string') headers[name] = rewriteUrls(v);
        }
        const status = upstreamRes.statusCode ?? 502;
        if (fault === 'lost-answer') {
          record(req, 0, fault);
          upstreamRes.resume();
          upstreamRes.on('end', () => res.socket?.destroy());
          return;
        }
        const hasBody = req.method !== 'HEAD' && status !== 204 && status !== 304;
        const applied = hasBody || !isBodyFault(fault) ? fault : undefined;
        record(req, status, applied);
        if (!isBodyFault(applied)) {
          res.writeHead(status, upstreamRes.statusMessage, headers);
          upstreamRes.pipe(res);
          return;
        }
        readAll(upstreamRes).then(
          (body) => {
            if (applied === 'flip') {
              if (body.length > 0) {
                const i = Math.floor(body.length / 2);
                body[i] = body[i]! ^ 0xff;
              }
              res.writeHead(status, upstreamRes.statusMessage, { ...headers, 'content-length': String(body.length) });
              res.end(body);
            } else if (applied === 'truncate') {
              const short = body.subarray(0, Math.floor(body.length / 2));
              res.writeHead(status, upstreamRes.statusMessage, { ...headers, 'content-length': String(short.length) });
              res.end(short);
            } else {
              const n = Number(applied.slice('drop-after:'.length));
              res.writeHead(status, upstreamRes.statusMessage, { ...headers, 'content-length': String(body.length) });
              // Flush the headers and N bytes before destroying, so the client sees exactly them.
              res.write(body.subarray(0, Math.min(n, body.length)), () => res.socket?.destroy());
            }
          },
          () => res.socket?.destroy(),
        );
      },
    );
    upstreamReq.on('error', (err) => {
      if (res.headersSent) {
        res.socket?.destroy();
        return;
      }
      sendDistributionError(res, 502, 'UNKNOWN', `proxy: upstream ${upstreamOrigin}: ${err.message}`);
    });
    req.pipe(upstreamReq);
  };

  let inFlight = 0;
  let maxInFlight = 0;
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    arrived.set(req, Date.now());
    maxInFlight = Math.max(maxInFlight, ++inFlight);
    res.once('close', () => inFlight--);
    let fault: AppliedFault | undefined;
    try {
      fault = normalise(options.fault(req));
    } catch (err) {
      // A broken selector must fail the test's request, not pass it through unharmed.
      record(req, 500, undefined);
      sendDistributionError(res, 500, 'UNKNOWN', `proxy: ${String(err)}`);
      return;
    }
    if (fault === 'reset') {
      record(req, 0, fault);
      req.socket.destroy();
      return;
    }
    if (fault?.startsWith('status:')) {
      const status = Number(fault.slice('status:'.length));
      record(req, status, fault);
      req.resume();
      sendDistributionError(res, status, STATUS_CODES[status] ?? 'UNKNOWN', `injected fault: ${status}`);
      return;
    }
    if (fault?.startsWith('429:')) {
      const seconds = fault.slice('429:'.length);
      record(req, 429, fault);
      req.resume();
      sendDistributionError(res, 429, 'TOOMANYREQUESTS', 'injected fault: too many requests', undefined, {
        'Retry-After': seconds,
      });
      return;
    }
    if (fault?.startsWith('latency:')) {
      setTimeout(() => forward(req, res, fault), Number(fault.slice('latency:'.length)));
      return;
    }
    forward(req, res, fault);
  };

  const server = await serveLoopback(handle);
  selfOrigin = server.origin;
  return {
    url: server.origin,
    host: server.host,
    exchanges: () => exchanges,
    maxInFlight: () => maxInFlight,
    stop: async () => {
      await server.stop();
      agent.destroy();
    },
  };
}
