import type { Writable } from 'node:stream';
import { SigilError } from '../errors.ts';

export type OutputFormat = 'text' | 'json';

/** Where a command writes: results to stdout, status and errors to stderr. */
export interface Io {
  stdout: Writable & { isTTY?: boolean };
  stderr: Writable & { isTTY?: boolean };
  stdin: NodeJS.ReadableStream;
  env: NodeJS.ProcessEnv;
}

export interface GlobalFlags {
  output: OutputFormat;
  verbose: boolean;
  quiet: boolean;
}

export class Printer {
  constructor(
    private readonly io: Io,
    private readonly flags: GlobalFlags,
  ) {}

  get format(): OutputFormat {
    return this.flags.output;
  }

  /** A command's result: `text` for people, `json` (pretty, one document) for programs. */
  result(json: unknown, text: string): void {
    if (this.flags.output === 'json') this.io.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
    else if (text !== '') this.io.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  }

  raw(bytes: Uint8Array | string): void {
    this.io.stdout.write(bytes);
  }

  /** Status for people; dropped with --quiet. */
  info(line: string): void {
    if (!this.flags.quiet) this.io.stderr.write(`${line}\n`);
  }

  debug(line: string): void {
    if (this.flags.verbose) this.io.stderr.write(`${line}\n`);
  }

  /** One line for a user's mistake or an operational failure; the stack only with --verbose. */
  error(e: unknown): void {
    const code = e instanceof SigilError ? ` [${e.code}]` : '';
    const message = e instanceof Error ? e.message : String(e);
    this.io.stderr.write(`sigil: error${code}: ${message}\n`);
    if (this.flags.verbose && e instanceof Error) {
      this.io.stderr.write(`${e.stack ?? ''}\n`);
      let cause = e.cause;
      while (cause instanceof Error) {
        this.io.stderr.write(`caused by: ${cause.stack ?? cause.message}\n`);
        cause = cause.cause;
      }
    }
  }
}
