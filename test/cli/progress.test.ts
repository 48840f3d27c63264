import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoImageLayout } from '../harness/images.ts';
import { runSigil, SIGIL_BIN } from '../helpers/cli.ts';

describe('progress on stderr (copy, sbom)', () => {
  let work: string;
  let layout: string;
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'sigil-progress-'));
    layout = await demoImageLayout();
  });
  afterAll(() => rm(work, { recursive: true, force: true }));

  it('draws a redrawn status line when stderr is a terminal', () => {
    // script(1) runs the command on a pseudo-terminal, as a person's shell would.
    const cmd = `'${process.execPath}' '${SIGIL_BIN}' copy 'oci-dir:${layout}:demo' 'oci-dir:${join(work, 'tty')}:x'`;
    const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    // The redraw sequence: carriage return, then ANSI "erase line" (ESC [ 2 K).
    expect(r.stdout).toContain('\r\x1b[2K');
    expect(r.stdout).toMatch(/\d+\/4 blobs, [\d.]+ [kM]?B \/ [\d.]+ MB/);
    expect(r.stdout).toMatch(/Copied .* 4 blobs/);
  });

  it('sbom draws layers and bytes on a terminal, then one summary line with packages per ecosystem', () => {
    const cmd = `'${process.execPath}' '${SIGIL_BIN}' sbom --no-cache -o 'json=${join(work, 'sbom.json')}' 'oci-dir:${layout}:demo'`;
    const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('\r\x1b[2K');
    expect(r.stdout).toMatch(/layers [0-3]\/3, [\d.]+ [kM]?B read/);
    expect(r.stdout).toMatch(/sha256:[0-9a-f]{64}: \d+ packages \(\d+ deb\) in 3 layers, \d+ files, [\d.]+ s; wrote /);
  });

  it('sbom is silent on a pipe with --quiet, and prints no escape codes without it', async () => {
    const quiet = await runSigil(['sbom', '-q', '--no-cache', `oci-dir:${layout}:demo`]);
    expect(quiet.code).toBe(0);
    expect(quiet.stderr).toBe('');
    const plain = await runSigil(['sbom', '--no-cache', `oci-dir:${layout}:demo`]);
    expect(plain.stderr).not.toContain('\x1b');
    expect(plain.stderr).toMatch(/^sha256:[0-9a-f]{64}: \d+ packages/);
  });

  it('prints no escape codes when stderr is not a terminal (CI logs)', async () => {
    const r = await runSigil(['copy', `oci-dir:${layout}:demo`, `oci-dir:${join(work, 'pipe')}:x`]);
    expect(r.code).toBe(0);
    expect(r.stderr).not.toContain('\x1b');
    expect(r.stderr).toMatch(/^Copied .*\n$/);
  });

  it('--quiet prints nothing on stderr, and the digest on stdout', async () => {
    const r = await runSigil(['copy', '-q', `oci-dir:${layout}:demo`, `oci-dir:${join(work, 'quiet')}:x`]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toMatch(/^sha256:[0-9a-f]{64}$/);
  });
});
