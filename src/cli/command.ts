import type { Argv } from 'yargs';
import type { Context, GlobalArgs } from './context.ts';

/** What a command handler gets: its parsed flags plus the shared context. */
export type Handler<A> = (ctx: Context, argv: A & GlobalArgs) => Promise<number | undefined>;

/** Builds the context and records the exit code; supplied by main so commands stay free of process state. */
export interface RunOptions {
  /** The command reads `-o` itself (sbom's `FORMAT[=FILE]` list) rather than as text|json. */
  ownsOutputFlag?: boolean;
}

export type Run = <A>(argv: unknown, handler: Handler<A>, options?: RunOptions) => Promise<void>;

export interface Command {
  register(y: Argv<GlobalArgs>, run: Run): Argv<GlobalArgs>;
}
