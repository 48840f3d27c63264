import type { ReadStream } from 'node:tty';
import type { Password, PasswordProvider } from '../sign/keys/index.ts';
import { UsageError } from './exit-codes.ts';
import type { Io } from './output.ts';

/**
 * Where sigil gets a key password, in order: SIGIL_PASSWORD, then COSIGN_PASSWORD (so CI set
 * up for cosign works unchanged), then a prompt on the terminal. A variable that is set but
 * empty means the empty password, as cosign treats COSIGN_PASSWORD. Unlike cosign, sigil
 * does not read a password from piped stdin: an empty pipe would silently become an empty
 * password on a new key.
 */
export function cliPasswordProvider(io: Io, what = 'private key'): PasswordProvider {
  return async (confirm) => {
    const fromEnv = passwordFromEnv(io.env);
    if (fromEnv !== undefined) return fromEnv;
    const stdin = io.stdin as Partial<ReadStream>;
    if (!stdin.isTTY || typeof stdin.setRawMode !== 'function') {
      throw new UsageError(
        `a password is needed for the ${what}: set SIGIL_PASSWORD or COSIGN_PASSWORD (an empty value means no password), or run in a terminal to be asked`,
      );
    }
    const first = await promptHidden(stdin as ReadStream, io.stderr, `Enter password for ${what}: `);
    if (!confirm) return first;
    const second = await promptHidden(stdin as ReadStream, io.stderr, `Enter password for ${what} again: `);
    if (!first.equals(second)) throw new UsageError('passwords do not match');
    return first;
  };
}

export function passwordFromEnv(env: NodeJS.ProcessEnv): Password | undefined {
  return env.SIGIL_PASSWORD ?? env.COSIGN_PASSWORD;
}

/** Reads one line from a TTY in raw mode, so nothing typed is echoed. */
export function promptHidden(stdin: ReadStream, stderr: NodeJS.WritableStream, prompt: string): Promise<Buffer> {
  stderr.write(prompt);
  return new Promise((resolve, reject) => {
    let typed = '';
    const finish = (error?: Error) => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      stderr.write('\n');
      if (error) reject(error);
      else resolve(Buffer.from(typed, 'utf8'));
    };
    const onData = (chunk: Buffer | string) => {
      for (const ch of typeof chunk === 'string' ? chunk : chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n' || (ch === '\u0004' && typed === '')) return finish();
        if (ch === '\u0003') return finish(new UsageError('password entry interrupted'));
        if (ch === '\u007f' || ch === '\b') typed = Array.from(typed).slice(0, -1).join('');
        else if (ch >= ' ') typed += ch;
      }
    };
    stdin.setRawMode(true);
    stdin.on('data', onData);
    stdin.resume();
  });
}
