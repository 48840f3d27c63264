import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sendDistributionError } from './distribution-errors.ts';

export interface LoopbackServer {
  port: number;
  /** `127.0.0.1:PORT` */
  host: string;
  /** `http://127.0.0.1:PORT` */
  origin: string;
  /** Drops open connections (keep-alive clients would hold close() open) and closes. */
  stop(): Promise<void>;
}

/**
 * An HTTP server on 127.0.0.1 on a port the kernel picks. A handler that throws answers a
 * distribution-style 500 (or drops the connection once headers are out), as a registry would.
 */
export async function serveLoopback(
  handler: (req: IncomingMessage, res: ServerResponse) => void | Promise<void>,
): Promise<LoopbackServer> {
  const server = createServer((req, res) => {
    Promise.resolve()
      .then(() => handler(req, res))
      .catch((err: unknown) => {
        if (!res.headersSent) sendDistributionError(res, 500, 'UNKNOWN', String(err));
        else res.destroy();
      });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    port,
    host: `127.0.0.1:${port}`,
    origin: `http://127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
