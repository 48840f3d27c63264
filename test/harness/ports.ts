import { createServer } from 'node:net';

/**
 * A port on 127.0.0.1 that was free a moment ago: the kernel picks it for a listener on port 0,
 * which is then closed. Another process may take it before the caller binds, so callers that
 * start an external server retry on "address already in use" (see startRegistry).
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error('no port assigned for 127.0.0.1:0'))));
    });
  });
}
