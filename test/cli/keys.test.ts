import { createPublicKey, sign, verify } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import type { ReadStream } from 'node:tty';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.ts';
import type { Io } from '../../src/cli/output.ts';
import { cliPasswordProvider, promptHidden } from '../../src/cli/password.ts';
import { decryptCosignKey, parseEncryptedCosignKey } from '../../src/sign/keys/index.ts';
import { VECTORS_DIR } from '../helpers/vectors.ts';

const KEYFILES = join(VECTORS_DIR, 'cosign', 'keyfiles');
const SECRET = 'correct horse battery staple';

/** Runs sigil in-process through the real entry point (src/cli/main.ts), with its own streams and env. */
async function sigil(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  stdin: NodeJS.ReadableStream = new PassThrough(),
): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const out = new PassThrough().on('data', (d: Buffer) => (stdout += d.toString()));
  const err = new PassThrough().on('data', (d: Buffer) => (stderr += d.toString()));
  const io: Io = { stdout: out, stderr: err, stdin, env };
  const code = await main(args, io);
  return { code, stdout, stderr };
}

const tmp = () => mkdtempSync(join(tmpdir(), 'sigil-cli-keys-'));

describe('sigil generate-key-pair', () => {
  it('writes cosign.key (0600, N=65536) and cosign.pub under the prefix, names them, never shows the password', async () => {
    const dir = tmp();
    const prefix = join(dir, 'cosign');
    const r = await sigil(['generate-key-pair', '--output-key-prefix', prefix], { COSIGN_PASSWORD: SECRET });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe(`Private key written to ${prefix}.key\nPublic key written to ${prefix}.pub\n`);
    expect(statSync(`${prefix}.key`).mode & 0o777).toBe(0o600);
    const pem = readFileSync(`${prefix}.key`, 'utf8');
    expect(parseEncryptedCosignKey(pem).scryptN).toBe(65536);
    const key = decryptCosignKey(pem, SECRET);
    const sig = sign('sha256', Buffer.from('m'), key);
    expect(verify('sha256', Buffer.from('m'), createPublicKey(readFileSync(`${prefix}.pub`)), sig)).toBe(true);
    expect(r.stdout + r.stderr).not.toContain(SECRET);

    // A second run refuses to overwrite, before asking for a password; --force overwrites.
    const again = await sigil(['generate-key-pair', '--output-key-prefix', prefix], {});
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`${prefix}.key already exists`);
    expect(readFileSync(`${prefix}.key`, 'utf8')).toBe(pem);
    const forced = await sigil(['generate-key-pair', '--output-key-prefix', prefix, '--force', '-o', 'json'], {
      SIGIL_PASSWORD: '',
      COSIGN_PASSWORD: SECRET,
    });
    expect(forced.code).toBe(0);
    expect(JSON.parse(forced.stdout)).toEqual({ privateKey: `${prefix}.key`, publicKey: `${prefix}.pub` });
    // SIGIL_PASSWORD wins, and set-but-empty is the empty password.
    decryptCosignKey(readFileSync(`${prefix}.key`), '');
  });

  it('without a password source and no terminal it is a usage error (exit 2) and writes nothing', async () => {
    const dir = tmp();
    const r = await sigil(['generate-key-pair', '--output-key-prefix', join(dir, 'k')], {});
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/SIGIL_PASSWORD or COSIGN_PASSWORD/);
    expect(() => statSync(join(dir, 'k.key'))).toThrow();
  });
});

describe('sigil import-key-pair', () => {
  it('re-encrypts an EC PRIVATE KEY as import-cosign.key/.pub by default naming', async () => {
    const dir = tmp();
    const source = decryptCosignKey(readFileSync(join(KEYFILES, 'sigstore-label-hello.key')), 'hello');
    writeFileSync(join(dir, 'plain.pem'), source.export({ type: 'sec1', format: 'pem' }));
    const prefix = join(dir, 'import-cosign');
    const r = await sigil(['import-key-pair', '--key', join(dir, 'plain.pem'), '--output-key-prefix', prefix], {
      COSIGN_PASSWORD: SECRET,
    });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`Private key written to ${prefix}.key`);
    expect(readFileSync(`${prefix}.pub`, 'utf8')).toBe(
      readFileSync(join(KEYFILES, 'sigstore-label-hello.pub'), 'utf8'),
    );
    expect(readFileSync(`${prefix}.key`, 'utf8')).toMatch(/^-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----/);
    decryptCosignKey(readFileSync(`${prefix}.key`), SECRET);
  });

  it('refuses an already-encrypted cosign key (exit 2, named)', async () => {
    const dir = tmp();
    const r = await sigil(
      ['import-key-pair', '--key', join(KEYFILES, 'sigstore-label-hello.key'), '--output-key-prefix', join(dir, 'x')],
      { COSIGN_PASSWORD: SECRET },
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/sigstore-label-hello\.key: unsupported PEM type "ENCRYPTED SIGSTORE PRIVATE KEY"/);
  });
});

describe('sigil public-key', () => {
  it('prints the .pub of a real cosign key, or writes --outfile', async () => {
    const r = await sigil(['public-key', '--key', join(KEYFILES, 'cosign-label-hello.key')], {
      COSIGN_PASSWORD: 'hello',
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(readFileSync(join(KEYFILES, 'cosign-label-hello.pub'), 'utf8'));
    const dir = tmp();
    const w = await sigil(
      ['public-key', '--key', join(KEYFILES, 'cosign-label-hello.key'), '--outfile', join(dir, 'out.pub')],
      { COSIGN_PASSWORD: 'hello' },
    );
    expect(w.code).toBe(0);
    expect(w.stderr).toBe(`Public key written to ${join(dir, 'out.pub')}\n`);
    expect(readFileSync(join(dir, 'out.pub'), 'utf8')).toBe(r.stdout);
  });

  it('a wrong password fails without echoing it; the SEC1 negative key fails as cosign does', async () => {
    const dir = tmp();
    copyFileSync(join(KEYFILES, 'cosign-label-hello.key'), join(dir, 'k.key'));
    const wrong = await sigil(['public-key', '--key', join(dir, 'k.key')], { COSIGN_PASSWORD: SECRET });
    expect(wrong.code).toBe(3);
    expect(wrong.stderr).toMatch(/k\.key: the password does not decrypt it/);
    expect(wrong.stdout + wrong.stderr).not.toContain(SECRET);
    const negative = await sigil(['public-key', '--key', join(KEYFILES, 'negative-cosign-label-sec1-hello.key')], {
      COSIGN_PASSWORD: 'hello',
    });
    expect(negative.code).toBe(2);
    expect(negative.stderr).toMatch(/PKCS#8/);
  });
});

/** A stand-in terminal: a real stream with the TTY raw-mode switch recorded. */
function fakeTty(): ReadStream & { rawModes: boolean[] } {
  const s = new PassThrough() as unknown as ReadStream & { rawModes: boolean[] };
  s.rawModes = [];
  Object.assign(s, {
    isTTY: true,
    setRawMode(mode: boolean) {
      s.rawModes.push(mode);
      return s;
    },
  });
  return s;
}

describe('terminal password prompt', () => {
  it('reads in raw mode (no echo), handles backspace, and asks twice for new keys', async () => {
    const stdin = fakeTty();
    let prompts = '';
    const stderr = new PassThrough().on('data', (d: Buffer) => (prompts += d.toString()));
    const io: Io = { stdin, stderr, stdout: new PassThrough(), env: {} };
    const pending = cliPasswordProvider(io)(true);
    stdin.write('hunter3\u007f2\r');
    await new Promise((r) => setImmediate(r));
    stdin.write('hunter2\n');
    expect(Buffer.from(await pending).toString()).toBe('hunter2');
    expect(stdin.rawModes).toEqual([true, false, true, false]);
    expect(prompts).toBe('Enter password for private key: \nEnter password for private key again: \n');
    expect(prompts).not.toContain('hunter');
  });

  it('mismatched confirmation and Ctrl-C are errors', async () => {
    const stdin = fakeTty();
    const io: Io = { stdin, stderr: new PassThrough(), stdout: new PassThrough(), env: {} };
    const pending = cliPasswordProvider(io)(true);
    stdin.write('a\r');
    await new Promise((r) => setImmediate(r));
    stdin.write('b\r');
    await expect(pending).rejects.toThrow('passwords do not match');
    const interrupted = promptHidden(stdin, new PassThrough(), 'pw: ');
    stdin.write('abc\u0003');
    await expect(interrupted).rejects.toThrow(/interrupted/);
  });
});
