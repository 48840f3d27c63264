/**
 * The docker-credential-helpers protocol (docker/docker-credential-helpers `client/client.go`):
 * run `docker-credential-<name> <action>`, the server URL (get, erase) or a JSON
 * `{"ServerURL","Username","Secret"}` (store) on stdin; `get` prints the same JSON on stdout.
 * A helper reports a missing entry by printing "credentials not found in native keychain" and
 * exiting non-zero. Username `<token>` means the Secret is an identity (refresh) token.
 *
 * Secrets travel only over the pipes: never in argv, never in an error message.
 */
import { spawn } from 'node:child_process';
import type { Credential } from './credentials.ts';
import { OciError } from './errors.ts';

/** docker's `tokenUsername` (cli/config/credentials/native_store.go). */
export const IDENTITY_TOKEN_USERNAME = '<token>';

export interface CredentialHelperOptions {
  /** Environment of the helper; its PATH finds the program. Defaults to process.env. */
  env?: NodeJS.ProcessEnv;
  /** Where the helper was configured, for error messages (`credHelpers in ~/.docker/config.json`). */
  source?: string;
}

export interface HelperCredentials {
  ServerURL: string;
  Username: string;
  Secret: string;
}

/** The helper's stored credential for `serverUrl`, or undefined when it has none. */
export async function getFromCredentialHelper(
  helper: string,
  serverUrl: string,
  options: CredentialHelperOptions = {},
): Promise<Credential | undefined> {
  const result = await runHelper(helper, 'get', serverUrl, options);
  if (result.code !== 0) {
    if (isNotFound(result)) return undefined;
    throw helperFailure(helper, 'get', serverUrl, result, options);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(result.stdout);
  } catch {
    // The output is not quoted: it may be a secret printed in some other shape.
    throw new OciError(
      'CREDENTIALS',
      `${program(helper)} get ${serverUrl}${from(options)}: output is not JSON {"Username","Secret"}`,
    );
  }
  if (typeof parsed !== 'object' || parsed === null) {
    throw new OciError(
      'CREDENTIALS',
      `${program(helper)} get ${serverUrl}${from(options)}: output is not a JSON object`,
    );
  }
  const { Username, Secret } = parsed as Record<string, unknown>;
  if (typeof Secret !== 'string' || Secret === '') return undefined;
  if (Username === IDENTITY_TOKEN_USERNAME) return { identityToken: Secret };
  return { ...(typeof Username === 'string' && Username !== '' ? { username: Username } : {}), password: Secret };
}

/** Stores credentials in the helper (`docker login` with a credsStore or credHelpers entry). */
export async function storeInCredentialHelper(
  helper: string,
  credentials: HelperCredentials,
  options: CredentialHelperOptions = {},
): Promise<void> {
  const result = await runHelper(helper, 'store', JSON.stringify(credentials), options);
  if (result.code !== 0) {
    throw helperFailure(helper, 'store', credentials.ServerURL, result, options, credentials.Secret);
  }
}

/** Erases the helper's entry; false when it had none. */
export async function eraseFromCredentialHelper(
  helper: string,
  serverUrl: string,
  options: CredentialHelperOptions = {},
): Promise<boolean> {
  const result = await runHelper(helper, 'erase', serverUrl, options);
  if (result.code === 0) return true;
  if (isNotFound(result)) return false;
  throw helperFailure(helper, 'erase', serverUrl, result, options);
}

interface HelperResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

// Helpers print a few hundred bytes; the cap only stops a runaway program from filling memory.
const MAX_OUTPUT = 1 << 20;

function program(helper: string): string {
  return `docker-credential-${helper}`;
}

function from(options: CredentialHelperOptions): string {
  return options.source ? ` (${options.source})` : '';
}

async function runHelper(
  helper: string,
  action: 'get' | 'store' | 'erase',
  input: string,
  options: CredentialHelperOptions,
): Promise<HelperResult> {
  // A helper name is a suffix, never a path: a config file must not point at arbitrary programs.
  if (helper === '' || /[/\\]/.test(helper)) {
    throw new OciError(
      'CREDENTIALS',
      `credential helper name "${helper}"${from(options)} is not a program suffix; fix the configuration`,
    );
  }
  const name = program(helper);
  return new Promise<HelperResult>((resolve, reject) => {
    // With `env` given, Node looks the program up on env.PATH, so callers and tests choose the helper.
    const child = spawn(name, [action], { env: options.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let size = 0;
    const collect = (into: Buffer[]) => (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_OUTPUT) into.push(chunk);
    };
    child.stdout.on('data', collect(stdout));
    child.stderr.on('data', collect(stderr));
    child.on('error', (e: NodeJS.ErrnoException) => {
      const hint =
        e.code === 'ENOENT'
          ? `not found on PATH; install it or remove it from the configuration`
          : `could not be started (${e.code ?? e.message})`;
      reject(new OciError('CREDENTIALS', `credential helper ${name}${from(options)} ${hint}`, { cause: e }));
    });
    // A helper that exits without reading stdin makes the write fail with EPIPE; its exit status tells more.
    child.stdin.on('error', () => {});
    child.on('close', (code, signal) => {
      resolve({
        code,
        signal,
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
      });
    });
    child.stdin.end(input);
  });
}

/**
 * docker compares the trimmed stdout with the exact message; some helpers (and shell wrappers)
 * print it to stderr or with a prefix, so a contained, case-insensitive match is accepted.
 */
function isNotFound(result: HelperResult): boolean {
  return /credentials not found/i.test(result.stdout) || /credentials not found/i.test(result.stderr);
}

function helperFailure(
  helper: string,
  action: string,
  serverUrl: string,
  result: HelperResult,
  options: CredentialHelperOptions,
  secret?: string,
): OciError {
  const status = result.code !== null ? `exit ${result.code}` : `killed by ${result.signal}`;
  let output = result.stdout.trim() || result.stderr.trim();
  // A helper could echo what it was given; a secret must not reach a terminal or CI log through us.
  // Redacted before truncating, so a cut cannot leave part of it behind.
  if (secret) output = output.split(secret).join('<redacted>');
  output = output.slice(0, 500);
  return new OciError(
    'CREDENTIALS',
    `${program(helper)} ${action} ${serverUrl}${from(options)}: ${status}${output ? `: ${output}` : ''}`,
  );
}
