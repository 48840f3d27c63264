import type { ServerResponse } from 'node:http';

/**
 * Answers with an error body shaped like distribution's (docs/spec/api.md, "Errors"):
 * `{"errors":[{"code":"...","message":"...","detail":...}]}`, so clients under test parse the
 * stand-ins exactly as they parse a real registry.
 */
export function sendDistributionError(
  res: ServerResponse,
  status: number,
  code: string,
  message: string,
  detail?: unknown,
  headers: Record<string, string> = {},
): void {
  const body = Buffer.from(
    JSON.stringify({ errors: [{ code, message, ...(detail === undefined ? {} : { detail }) }] }),
  );
  res.writeHead(status, {
    ...headers,
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': String(body.length),
    'Docker-Distribution-API-Version': 'registry/2.0',
  });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}
