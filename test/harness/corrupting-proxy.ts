/**
 * An HTTP reverse proxy on 127.0.0.1 in front of a test registry that damages the responses a
 * test selects, to prove that clients detect wrong bytes (DIGEST_MISMATCH, SIZE_MISMATCH) and
 * retry or resume with Range.
 *
 * Everything is forwarded: method, path, headers (Authorization included) and body. The Host
 * header is rewritten to the upstream's, and absolute `Location`/`Link` URLs that point at the
 * upstream are rewritten to point back at the proxy, so uploads and redirects stay on it.
 *
 * For a selected response, the body is read whole (test bodies are small) and then:
 * - 'flip' (or `true`): the byte in the middle is inverted; status and Content-Length unchanged.
 * - 'truncate': the first half of the body is sent as a complete response with a matching,
 *   smaller Content-Length: a well-formed but short answer.
 * - 'drop-after:N': the headers (with the original Content-Length) and the first N bytes are sent,
 *   then the connection is destroyed: a transfer broken mid-way, for Range resume.
 * Responses without a body (HEAD, 204, 304) pass untouched whatever is selected.
 */
import { Agent, type IncomingMessage, type OutgoingHttpHeaders, request, type ServerResponse } from 'node:http';
import { serveLoopback } from './http-server.ts';

export type Corruption = boolean | 'flip' | 'truncate' | `drop-after:${number}`;

export interface CorruptingProxyOptions {
  /** Called once per request, before it is forwarded; `req.url` is the path and query. */
  corrupt: (req: IncomingMessage) => Corruption;
}

export interface ProxiedExchange {
  method: string;
  url: string;
  status: number;
  /** What was done to the response, if anything. */
  corruption?: 'flip' | 'truncate' | `drop-after:${number}`;
}

export interface CorruptingProxy {
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** `127.0.0.1:PORT`, for image references. */
  host: string;
  /** Every request answered so far, oldest first. */
  exchanges(): readonly ProxiedExchange[];
  stop(): Promise<void>;
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

function normalise(c: Corruption): ProxiedExchange['corruption'] {
  if (c === false) return undefined;
  if (c === true) return 'flip';
  if (c === 'flip' || c === 'truncate' || /^drop-after:\d+$/.test(c)) return c;
  throw new Error(`corrupting proxy: unknown corruption "${String(c)}"`);
}

export async function startCorruptingProxy(
  upstream: string,
  options: CorruptingProxyOptions,
): Promise<CorruptingProxy> {
  const upstreamUrl = new URL(upstream);
  if (upstreamUrl.protocol !== 'http:') throw new Error(`corrupting proxy: upstream ${upstream} must be http://`);
  const upstreamOrigin = upstreamUrl.origin;
  const agent = new Agent({ keepAlive: true });
  const exchanges: ProxiedExchange[] = [];
  let selfOrigin = '';

  const rewriteUrls = (value: string): string => value.split(upstreamOrigin).join(selfOrigin);

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    let corruption: ProxiedExchange['corruption'];
    try {
      corruption = normalise(options.corrupt(req));
    } catch (err) {
      // A broken selector must fail the test's request, not pass it through unharmed.
      const body = JSON.stringify({ errors: [{ code: 'UNKNOWN', message: `proxy: ${String(err)}` }] });
      res.writeHead(500, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) });
      res.end(body);
      return;
    }
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
        const hasBody = req.method !== 'HEAD' && status !== 204 && status !== 304;
        const applied = hasBody ? corruption : undefined;
        exchanges.push({
          method: req.method ?? '',
          url: req.url ?? '',
          status,
          ...(applied ? { corruption: applied } : {}),
        });
        if (!applied) {
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
      const body = JSON.stringify({
        errors: [{ code: 'UNKNOWN', message: `proxy: upstream ${upstreamOrigin}: ${err.message}` }],
      });
      res.writeHead(502, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) });
      res.end(body);
    });
    req.pipe(upstreamReq);
  };

  const server = await serveLoopback(handle);
  selfOrigin = server.origin;
  return {
    url: server.origin,
    host: server.host,
    exchanges: () => exchanges,
    stop: async () => {
      await server.stop();
      agent.destroy();
    },
  };
}
