/**
 * Real registries for tests: Debian's /usr/bin/docker-registry (CNCF distribution 2.8) on
 * 127.0.0.1 with a free port, a temporary filesystem store and its own config, in one of three
 * auth modes:
 * - `none`: anonymous push and pull;
 * - `basic`: htpasswd (bcrypt, hashed by ./bcrypt.ts), challenge `Basic realm="sigil-test"`;
 * - `token`: `auth: token` with ./token-issuer.ts as the realm, challenge
 *   `Bearer realm="http://127.0.0.1:P/token",service="sigil-test-registry"`.
 * Each instance is independent; stop() kills it and removes its directory, and ./processes.ts
 * makes sure none outlives the test run.
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { bcryptHash } from './bcrypt.ts';
import { freePort } from './ports.ts';
import { makeTempDir, spawnTracked, stopTracked, untrackTempDir } from './processes.ts';
import { startTokenIssuer, type TokenGrant, type TokenIssuer } from './token-issuer.ts';

export const REGISTRY_BINARY = '/usr/bin/docker-registry';
export const BASIC_REALM = 'sigil-test';
export const TOKEN_SERVICE = 'sigil-test-registry';

export interface TestRegistry {
  /** `127.0.0.1:PORT`, as it appears in image references. */
  host: string;
  /** `http://127.0.0.1:PORT` */
  url: string;
  mode: 'none' | 'basic' | 'token';
  /** For basic and token modes. */
  username?: string;
  password?: string;
  /** Token mode: how many tokens the issuer handed out (lets tests check caching). */
  tokenRequests?: () => number;
  /** Token mode: every grant (subject, requested and granted scopes), oldest first. */
  tokenGrants?: () => readonly TokenGrant[];
  /** Token mode: every access and refresh token the issuer handed out, oldest first. */
  issuedTokens?: () => readonly string[];
  /** Token mode: the issuer's endpoint, the challenge's realm. */
  tokenRealm?: string;
  /** The registry's own log (stderr and stdout), for a failing test's message. */
  log(): string;
  stop(): Promise<void>;
}

export interface StartRegistryOptions {
  auth?: 'none' | 'basic' | 'token';
  /** Defaults: `sigil` / `sigil-test-password`. */
  username?: string;
  password?: string;
  /** Token mode: what the issuer gives a request without credentials; see token-issuer.ts. Default 'deny'. */
  anonymous?: 'deny' | 'pull';
  /** Token mode: how tokens name their signing key; both are accepted by distribution 2.8. Default 'kid'. */
  keyHeader?: 'kid' | 'x5c';
}

const STARTUP_TIMEOUT_MS = 15_000;
const PORT_ATTEMPTS = 5;
const LOG_LIMIT = 64 * 1024;

function configYaml(root: string, port: number, auth: string): string {
  // JSON strings are valid YAML scalars, so paths need no further quoting rules.
  return `version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: ${JSON.stringify(join(root, 'data'))}
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:${port}
  secret: ${randomBytes(16).toString('hex')}
  headers:
    X-Content-Type-Options: [nosniff]
${auth}`;
}

/** The status of `GET url`, or undefined when nothing answers yet. */
function probe(url: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    const req = request(url, { agent: false, timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
    req.end();
  });
}

/** Waits until GET /v2/ answers 200 or 401; rejects with the log if the process exits first. */
async function waitReady(child: ChildProcess, url: string, log: () => string): Promise<void> {
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  let exited = false;
  child.once('exit', () => {
    exited = true;
  });
  while (Date.now() < deadline) {
    if (exited || child.exitCode !== null) {
      throw new Error(
        `docker-registry exited with ${child.exitCode ?? child.signalCode} before serving ${url}:\n${log()}`,
      );
    }
    const status = await probe(`${url}/v2/`);
    if (status === 200 || status === 401) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`docker-registry did not answer ${url}/v2/ within ${STARTUP_TIMEOUT_MS} ms:\n${log()}`);
}

export async function startRegistry(options: StartRegistryOptions = {}): Promise<TestRegistry> {
  const mode = options.auth ?? 'none';
  const username = options.username ?? 'sigil';
  const password = options.password ?? 'sigil-test-password';
  const root = await makeTempDir('sigil-registry-');

  let issuer: TokenIssuer | undefined;
  const cleanup = async (): Promise<void> => {
    await issuer?.stop();
    await rm(root, { recursive: true, force: true });
    untrackTempDir(root);
  };

  try {
    let auth = '';
    if (mode === 'basic') {
      const htpasswd = join(root, 'htpasswd');
      await writeFile(htpasswd, `${username}:${bcryptHash(password)}\n`);
      auth = `auth:\n  htpasswd:\n    realm: ${BASIC_REALM}\n    path: ${JSON.stringify(htpasswd)}\n`;
    } else if (mode === 'token') {
      // The bundle lives in the registry's own directory, so nothing outlasts stop().
      const rootCertBundle = join(root, 'token-issuer.pem');
      issuer = await startTokenIssuer({
        username,
        password,
        service: TOKEN_SERVICE,
        anonymous: options.anonymous ?? 'deny',
        keyHeader: options.keyHeader ?? 'kid',
      });
      await writeFile(rootCertBundle, issuer.rootCertBundlePem);
      auth = `auth:
  token:
    realm: ${JSON.stringify(issuer.realm)}
    service: ${TOKEN_SERVICE}
    issuer: ${issuer.issuer}
    rootcertbundle: ${JSON.stringify(rootCertBundle)}
`;
    }

    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const configPath = join(root, 'config.yml');
      await writeFile(configPath, configYaml(root, port, auth));
      const child = spawnTracked(REGISTRY_BINARY, ['serve', configPath]);
      let output = '';
      const append = (chunk: Buffer): void => {
        output = (output + chunk.toString('utf8')).slice(-LOG_LIMIT);
      };
      child.stdout?.on('data', append);
      child.stderr?.on('data', append);
      const url = `http://127.0.0.1:${port}`;
      try {
        await waitReady(child, url, () => output);
      } catch (err) {
        await stopTracked(child);
        // Another process took the port between freePort() and the registry's bind.
        if (attempt < PORT_ATTEMPTS && /address already in use/.test(output)) continue;
        throw err;
      }
      const activeIssuer = issuer;
      return {
        host: `127.0.0.1:${port}`,
        url,
        mode,
        ...(mode === 'none' ? {} : { username, password }),
        ...(activeIssuer
          ? {
              tokenRequests: () => activeIssuer.tokenRequests(),
              tokenGrants: () => activeIssuer.grants(),
              issuedTokens: () => activeIssuer.issuedTokens(),
              tokenRealm: activeIssuer.realm,
            }
          : {}),
        log: () => output,
        stop: async () => {
          await stopTracked(child);
          await cleanup();
        },
      };
    }
  } catch (err) {
    await cleanup();
    throw err;
  }
}
