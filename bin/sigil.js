#!/usr/bin/env node
// Cache V8's compiled code on disk between runs (Node >= 22.1): sigil is a short-lived CLI
// whose start-up is mostly compiling undici and yargs.
import { spawn } from 'node:child_process';
import { enableCompileCache } from 'node:module';
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';

/**
 * `sbom` walks gigabytes of layers, allocating many short-lived chunks: with V8's default young
 * generation its peak RSS on the 1.6 GB benchmark image was ~300 MB, with 2 MiB semi-spaces ~220 MB
 * at the same speed. V8 reads the size only at start-up, so `sbom` re-runs itself once with the
 * flag (about 40 ms); NODE_OPTIONS or an explicit flag wins, and SIGIL_NO_REEXEC=1 turns it off.
 */
const YOUNG = '--max-semi-space-size=2';
const args = process.argv.slice(2);
const flagged = [...process.execArgv, process.env.NODE_OPTIONS ?? ''].some((a) => a.includes('semi-space'));
if (args[0] === 'sbom' && !flagged && process.env.SIGIL_NO_REEXEC !== '1') {
  const child = spawn(process.execPath, [...process.execArgv, YOUNG, fileURLToPath(import.meta.url), ...args], {
    stdio: 'inherit',
    env: { ...process.env, SIGIL_NO_REEXEC: '1' },
  });
  // The terminal signals both processes; the parent only waits for the child's verdict.
  for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(s, () => child.kill(s));
  child.on('exit', (code, signal) => {
    process.exitCode = signal ? 128 + (constants.signals[signal] ?? 0) : (code ?? 1);
  });
} else {
  enableCompileCache?.();
  const { main } = await import('../dist/cli/main.js');
  process.exitCode = await main(args);
}
