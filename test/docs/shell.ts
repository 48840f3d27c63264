/**
 * What the docs tests share: fenced blocks read out of a Markdown file, bash scripts run as a
 * reader or a CI runner would run them, and a PATH on which `sigil` is this checkout's
 * bin/sigil.js and `node` is the Node 24 running the tests.
 */
import { execFileSync, spawn } from 'node:child_process';
import { cp, mkdir, symlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SIGIL_BIN } from '../helpers/cli.ts';

export interface ShellResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The ```sh blocks between `<!-- NAME -->` and `<!-- /NAME -->`, in order, verbatim. */
export function fencedBlocks(markdown: string, marker: string): string[] {
  const start = markdown.indexOf(`<!-- ${marker} -->`);
  const end = markdown.indexOf(`<!-- /${marker} -->`);
  if (start < 0 || end < start) throw new Error(`no <!-- ${marker} --> ... <!-- /${marker} --> section`);
  const section = markdown.slice(start, end);
  return [...section.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
}

/**
 * Runs `script` with `bash -euo pipefail` (and -x, so a failure's log shows the command);
 * `flags` replaces `-euxo pipefail`, e.g. with GitHub's `-exo pipefail` for workflow steps.
 */
export function runBash(
  script: string,
  options: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs?: number; flags?: string[] },
): Promise<ShellResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [...(options.flags ?? ['-euxo', 'pipefail']), '-c', script], {
      cwd: options.cwd,
      env: options.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: options.timeoutMs ?? 120_000,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : -1), stdout, stderr }));
  });
}

/** The directory of the Node binary running the tests (Node 24), for the front of PATH. */
export const NODE_DIR = dirname(process.execPath);

/**
 * A PATH with `sigil` (a link to this checkout's bin/sigil.js, as `npm install -g .` makes)
 * and Node 24 in front of the test process's PATH.
 */
export async function sigilPath(work: string): Promise<string> {
  const bin = join(work, 'bin');
  await mkdir(bin, { recursive: true });
  await symlink(SIGIL_BIN, join(bin, 'sigil'));
  return pathWith(bin);
}

/** `bin`, then the Node that runs the tests, in front of the test process's PATH. */
function pathWith(bin: string): string {
  return [bin, NODE_DIR, process.env.PATH ?? '/usr/bin:/bin'].join(':');
}

/** Environment for the scripts: the caller's `vars` over a copy of this process's environment. */
export function scriptEnv(vars: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  // Sigil's own variables from the developer's shell must not leak into what the docs prove.
  for (const k of ['SIGIL_PASSWORD', 'COSIGN_PASSWORD', 'COSIGN_REPOSITORY', 'SIGSTORE_ID_TOKEN', 'REGISTRY_AUTH_FILE'])
    delete env[k];
  for (const k of Object.keys(env)) if (k.startsWith('ACTIONS_ID_TOKEN_') || k.startsWith('npm_')) delete env[k];
  // A guard, not a setting the docs rely on: whatever tried to leave the machine would meet a
  // closed loopback port instead (Node's fetch honours these with NODE_USE_ENV_PROXY).
  const guard = {
    NODE_USE_ENV_PROXY: '1',
    HTTP_PROXY: 'http://127.0.0.1:9',
    HTTPS_PROXY: 'http://127.0.0.1:9',
    NO_PROXY: '127.0.0.1',
  };
  return { ...env, ...guard, ...vars };
}

/**
 * npm installing from its cache only, into `prefix`, whose bin comes first on PATH (then the
 * Node that runs the tests): where the docs' `npm ci` / `npm install -g .` lines run.
 */
export function offlineNpmEnv(prefix: string): Record<string, string> {
  return {
    PATH: pathWith(join(prefix, 'bin')),
    npm_config_prefix: prefix,
    npm_config_offline: 'true',
    npm_config_audit: 'false',
    npm_config_fund: 'false',
    npm_config_update_notifier: 'false',
  };
}

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** This checkout's files as a fresh clone would have them (tracked and new, not ignored), without node_modules. */
export async function copyCheckout(to: string): Promise<void> {
  const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: ROOT,
    encoding: 'utf8',
  })
    .split('\0')
    .filter((f) => f !== '' && f !== 'node_modules' && !f.startsWith('node_modules/'));
  for (const f of files) {
    await mkdir(join(to, f, '..'), { recursive: true });
    await cp(join(ROOT, f), join(to, f), { dereference: false }).catch((e: NodeJS.ErrnoException) => {
      // A file deleted in the work tree but not yet in the index: a clone would not have it either.
      if (e.code !== 'ENOENT') throw e;
    });
  }
}
