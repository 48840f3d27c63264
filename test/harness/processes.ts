/**
 * Servers the harness starts outside this process (docker-registry), and the guarantee that
 * none outlives the test run: each is spawned under `setpriv --pdeathsig SIGKILL`, so the kernel
 * kills it when the spawning vitest worker dies however it dies (even SIGKILL, where no handler
 * runs), and an `exit` handler kills what is left and removes their temporary directories on a
 * normal exit. vitest ends its fork workers without running `exit` handlers, so temporary
 * directories also record their owner's pid, and those of dead owners are swept by the next
 * harness to make one.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const SETPRIV = '/usr/bin/setpriv';

const live = new Set<ChildProcess>();
const tempDirs = new Set<string>();
let exitHandlerInstalled = false;

function installExitHandler(): void {
  if (exitHandlerInstalled) return;
  exitHandlerInstalled = true;
  process.on('exit', () => {
    for (const child of live) child.kill('SIGKILL');
    for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  });
}

/** Spawns `command` with stdin closed and stdout/stderr piped, tracked until it exits. */
export function spawnTracked(command: string, args: readonly string[]): ChildProcess {
  installExitHandler();
  const [file, argv] = existsSync(SETPRIV)
    ? [SETPRIV, ['--pdeathsig', 'SIGKILL', '--', command, ...args]]
    : [command, [...args]];
  const child = spawn(file, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  child.once('exit', () => live.delete(child));
  child.once('error', () => live.delete(child));
  return child;
}

/** Kills `child` (SIGTERM, then SIGKILL after `graceMs`) and resolves once it has exited. */
export async function stopTracked(child: ChildProcess, graceMs = 2000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

const OWNER_FILE = '.sigil-owner-pid';
const swept = new Set<string>();

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes `<tmpdir>/<prefix>*` directories left by harness processes that are gone. */
export function sweepStaleTempDirs(prefix: string): void {
  for (const name of readdirSync(tmpdir())) {
    if (!name.startsWith(prefix)) continue;
    const dir = join(tmpdir(), name);
    let owner: number;
    try {
      owner = Number(readFileSync(join(dir, OWNER_FILE), 'utf8'));
    } catch {
      continue; // Not ours, or still being created.
    }
    if (Number.isInteger(owner) && owner > 0 && !isAlive(owner)) rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * A new directory `<tmpdir>/<prefix>XXXXXX`, removed at exit if its owner has not removed it
 * (then call untrackTempDir), and swept by a later run if this process dies first.
 */
export async function makeTempDir(prefix: string): Promise<string> {
  if (!swept.has(prefix)) {
    swept.add(prefix);
    sweepStaleTempDirs(prefix);
  }
  const dir = await mkdtemp(join(tmpdir(), prefix));
  await writeFile(join(dir, OWNER_FILE), String(process.pid));
  trackTempDir(dir);
  return dir;
}

/** Registers a temporary directory to remove at exit if its owner has not removed it by then. */
export function trackTempDir(dir: string): void {
  installExitHandler();
  tempDirs.add(dir);
}

export function untrackTempDir(dir: string): void {
  tempDirs.delete(dir);
}
