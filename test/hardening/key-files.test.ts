/**
 * Files holding secrets (cosign private keys, the docker config a login writes) are 0600 even
 * under umask 000, and never exist with wider permissions on the way: the CLI runs under
 * strace, and every file it creates or re-moded where the secret goes is checked, temporary
 * names included.
 */
import { execFileSync, spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRegistry, type TestRegistry } from '../harness/registry.ts';
import { type CliResult, SIGIL_BIN } from '../helpers/cli.ts';

const PASSWORD = 'key-files-passphrase-3e1';

/** strace installed and allowed to trace here (a container may forbid ptrace). */
function hasStrace(): boolean {
  try {
    execFileSync('strace', ['-f', '-o', '/dev/null', 'true'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
const STRACE = hasStrace();

let work: string;
let registry: TestRegistry;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'sigil-key-files-'));
  registry = await startRegistry({ auth: 'basic' });
  const plain = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' });
  await writeFile(join(work, 'plain.pem'), plain);
}, 60_000);
afterAll(async () => {
  await registry?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

interface Traced extends CliResult {
  /** strace lines (without the pid) for calls naming a path under `dir`, or [] without strace. */
  calls: string[];
}

/** Runs the CLI under `umask 000` (and strace, when present), as `sh -c` would start it. */
function runPermissive(args: string[], dir: string, env: NodeJS.ProcessEnv, input = ''): Promise<Traced> {
  const trace = join(dir, '..', `${Date.now()}-${Math.random().toString(16).slice(2)}.strace`);
  const node = [process.execPath, SIGIL_BIN, ...args];
  const traced = STRACE
    ? [
        'strace',
        '-f',
        '-qq',
        '-e',
        'trace=open,openat,creat,chmod,fchmodat,mkdir,mkdirat,rename,link',
        '-o',
        trace,
        ...node,
      ]
    : node;
  const quoted = traced.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', `umask 000; exec ${quoted}`], {
      env: { ...process.env, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const finish = async () => {
        let calls: string[] = [];
        if (STRACE) {
          calls = (await readFile(trace, 'utf8'))
            .split('\n')
            .filter((l) => l.includes(`"${dir}/`))
            .map((l) => l.replace(/^\d+\s+/, ''));
          await rm(trace, { force: true });
        }
        return { code: code ?? -1, stdout, stderr, calls };
      };
      finish().then(resolve, reject);
    });
    child.stdin.end(input);
  });
}

/** Every creating open or chmod of a path matching `secret` (the file or its temporary name): mode 0600 or narrower. */
function expectPrivateAtEveryStep(calls: string[], secret: RegExp): void {
  if (!STRACE) return;
  const touching = calls.filter((c) => {
    const path = /"([^"]+)"/.exec(c)?.[1] ?? '';
    return secret.test(path.slice(path.lastIndexOf('/') + 1));
  });
  const creates = touching.filter((c) => /O_CREAT/.test(c) || /^(creat|chmod|fchmodat)\(/.test(c));
  // At least the temporary file was created: the check saw the write happen.
  expect(creates.length, touching.join('\n')).toBeGreaterThan(0);
  for (const c of creates) {
    const mode = /, (0[0-7]{3,4})\)/.exec(c)?.[1];
    expect(mode, c).toBeDefined();
    expect(Number.parseInt(mode!, 8) & 0o077, `group/other bits in ${c}`).toBe(0);
  }
}

const modeOf = async (path: string) => (await stat(path)).mode & 0o777;

describe('files holding secrets under umask 000', () => {
  it('generate-key-pair: .key 0600 from creation; .pub 0644', async () => {
    const dir = join(work, 'gen');
    await mkdir(dir);
    const r = await runPermissive(['generate-key-pair', '--output-key-prefix', join(dir, 'cosign')], dir, {
      COSIGN_PASSWORD: PASSWORD,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(await modeOf(join(dir, 'cosign.key'))).toBe(0o600);
    expect(await modeOf(join(dir, 'cosign.pub'))).toBe(0o644);
    expectPrivateAtEveryStep(r.calls, /^\.?cosign\.key(\..*\.tmp)?$/);
  });

  it('generate-key-pair --force over a world-readable key: the new key is 0600', async () => {
    const dir = join(work, 'force');
    await mkdir(dir);
    await writeFile(join(dir, 'cosign.key'), 'old');
    await writeFile(join(dir, 'cosign.pub'), 'old');
    await chmod(join(dir, 'cosign.key'), 0o666);
    const r = await runPermissive(['generate-key-pair', '--force', '--output-key-prefix', join(dir, 'cosign')], dir, {
      COSIGN_PASSWORD: PASSWORD,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(await readFile(join(dir, 'cosign.key'), 'utf8')).toContain('ENCRYPTED');
    expect(await modeOf(join(dir, 'cosign.key'))).toBe(0o600);
    expectPrivateAtEveryStep(r.calls, /^\.?cosign\.key(\..*\.tmp)?$/);
  });

  it('import-key-pair: .key 0600 from creation', async () => {
    const dir = join(work, 'import');
    await mkdir(dir);
    const r = await runPermissive(
      ['import-key-pair', '--key', join(work, 'plain.pem'), '--output-key-prefix', join(dir, 'imported')],
      dir,
      { COSIGN_PASSWORD: PASSWORD },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(await modeOf(join(dir, 'imported.key'))).toBe(0o600);
    expectPrivateAtEveryStep(r.calls, /^\.?imported\.key(\..*\.tmp)?$/);
  });

  it('login: the docker config holding the credentials is 0600 in a 0700 directory', async () => {
    const dir = join(work, 'login');
    await mkdir(dir);
    const config = join(dir, 'docker');
    const r = await runPermissive(
      ['login', registry.host, '-u', registry.username!, '--password-stdin'],
      dir,
      { DOCKER_CONFIG: config, HOME: dir },
      `${registry.password}\n`,
    );
    expect(r.code, r.stderr).toBe(0);
    expect(await modeOf(join(config, 'config.json'))).toBe(0o600);
    expect(await modeOf(config)).toBe(0o700);
    expectPrivateAtEveryStep(r.calls, /^\.?config\.json(\..*\.tmp)?$/);
  });
});
