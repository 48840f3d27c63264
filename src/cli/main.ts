import { policyCommand } from './commands/policy.ts';
import yargs, { type Argv } from 'yargs';
import type { Command, Run } from './command.ts';
import { attachCommand } from './commands/attach.ts';
import { copyCommand } from './commands/copy.ts';
import { downloadCommand } from './commands/download.ts';
import { configCommand, digestCommand, manifestCommand } from './commands/inspect.ts';
import { initializeCommand } from './commands/initialize.ts';
import { keysCommand } from './commands/keys.ts';
import { loginCommand, logoutCommand } from './commands/login.ts';
import { sbomCommand } from './commands/sbom.ts';
import { attestCommand, signCommand } from './commands/sign.ts';
import { attestBlobCommand, signBlobCommand } from './commands/sign-blob.ts';
import { tagsCommand } from './commands/tags.ts';
import { treeCommand, triangulateCommand } from './commands/tree.ts';
import { signBundleCommand, verifyBundleCommand } from './commands/conformance.ts';
import { verifyBlobCliCommand } from './commands/verify-blob.ts';
import { verifyAttestationCommand, verifyCommand } from './commands/verify.ts';
import { type GlobalArgs, makeContext, VERSION } from './context.ts';
import { ExitCode, exitCodeFor } from './exit-codes.ts';
import { type Io, Printer } from './output.ts';

/** Every top-level command, in `sigil --help` order (scripts/reference.ts documents them from here). */
export const COMMANDS: Command[] = [
  digestCommand,
  manifestCommand,
  configCommand,
  tagsCommand,
  copyCommand,
  sbomCommand,
  signCommand,
  attestCommand,
  signBlobCommand,
  attestBlobCommand,
  verifyCommand,
  verifyAttestationCommand,
  initializeCommand,
  attachCommand,
  treeCommand,
  triangulateCommand,
  downloadCommand,
  keysCommand,
  loginCommand,
  logoutCommand,
  policyCommand,
  verifyBlobCliCommand,
  signBundleCommand,
  verifyBundleCommand,
];

const EPILOGUE = `Exit codes:
  0  success
  1  failure (registry, network, I/O)
  2  usage error: bad flag, reference or source
  3  authentication or authorisation failed
  4  not found: image, tag, blob or platform
  5  integrity: content does not match its digest or size

Environment:
  DOCKER_CONFIG        directory holding config.json with registry credentials
  REGISTRY_AUTH_FILE   podman/skopeo auth.json, read before docker's config`;

/** Runs sigil with `args`; returns the exit code rather than exiting, so tests and embedders can call it. */
export async function main(args: string[], io: Io = processIo()): Promise<number> {
  const controller = new AbortController();
  const onSignal = () => controller.abort(new Error('interrupted'));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let exitCode: number = ExitCode.Ok;
  let failed = false;

  const run: Run = async (argv, handler, options) => {
    // With exitProcess(false) yargs still calls the handler after a failed validation.
    if (failed) return;
    const global = argv as GlobalArgs;
    let out = new Printer(io, { output: 'text', verbose: global.verbose, quiet: global.quiet });
    try {
      const ctx = makeContext(global, io, controller.signal, options);
      out = ctx.out;
      exitCode = (await handler(ctx, argv as never)) ?? ExitCode.Ok;
    } catch (e) {
      out.error(e);
      exitCode = exitCodeFor(e);
    }
  };

  let parser: Argv<GlobalArgs> = globalOptions(
    yargs()
      .scriptName('sigil')
      .usage(
        '$0 <command> [options]\n\nContainer supply-chain security: copy, inspect, SBOM, sign and verify OCI images.',
      ),
  )
    // yargs' conflicts() counts a defaulted boolean as given, so check the pair by hand.
    .check((argv) => {
      if (argv.verbose && argv.quiet) throw new Error('use --verbose or --quiet, not both');
      return true;
    }) as unknown as Argv<GlobalArgs>;
  for (const c of COMMANDS) parser = c.register(parser, run);
  parser = parser
    .demandCommand(1, 'name a command; see sigil --help')
    .strict()
    .recommendCommands()
    .version(VERSION)
    .alias('h', 'help')
    .alias('V', 'version')
    .epilogue(EPILOGUE)
    .wrap(Math.min(110, process.stdout.columns ?? 100))
    .exitProcess(false)
    // Handlers catch their own errors in `run`, so whatever reaches here is a usage mistake.
    .fail((msg, err) => {
      // With exitProcess(false) yargs goes on validating after a failure: the first message is the one to act on.
      if (failed) return;
      failed = true;
      io.stderr.write(`sigil: error: ${msg ?? err?.message}\nRun "sigil --help" for usage.\n`);
    });

  skipHelpCache(parser);
  try {
    await parser.parseAsync(args, {}, (_err, _argv, output) => {
      if (output) io.stdout.write(output.endsWith('\n') ? output : `${output}\n`);
    });
  } catch (e) {
    // yargs can trip over its own state after a reported usage failure; that failure is the answer.
    if (failed) return ExitCode.Usage;
    new Printer(io, { output: 'text', verbose: args.includes('-v') || args.includes('--verbose'), quiet: false }).error(
      e,
    );
    return exitCodeFor(e);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  return failed ? ExitCode.Usage : exitCode;
}

/** The flags every command takes (GlobalArgs). */
export function globalOptions<T>(y: Argv<T>) {
  return (
    y
      // One flag, two meanings, as users of syft and crane expect: `-o text|json` for results, and
      // for `sbom` the repeatable syft form `-o FORMAT[=FILE]`. makeContext checks which applies.
      .option('output', {
        alias: 'o',
        type: 'string',
        array: true,
        // One value per -o: without this an array flag swallows the positional arguments after it.
        nargs: 1,
        default: [] as string[],
        describe: 'result format on stdout: text or json (sbom: FORMAT[=FILE], repeatable)',
        global: true,
      })
      .option('verbose', {
        alias: 'v',
        type: 'boolean',
        default: false,
        describe: 'more detail; stack traces on errors',
        global: true,
      })
      .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'no status on stderr', global: true })
      .option('insecure-registry', {
        type: 'string',
        array: true,
        // One value per -o: without this an array flag swallows the positional arguments after it.
        nargs: 1,
        default: [] as string[],
        describe: 'registry host that may be reached over plain HTTP (repeatable); loopback hosts always may',
        global: true,
      })
      .option('plain-http', {
        type: 'boolean',
        default: false,
        describe: 'use plain HTTP for every registry',
        global: true,
      })
      .option('authfile', {
        type: 'string',
        describe: 'credentials file (docker config.json or podman auth.json format)',
        global: true,
      })
  );
}

/**
 * yargs renders the whole help text each time a command's handler starts (usage's
 * `cacheHelpMessage`, kept for a later `showHelp()`): 40-65 ms of string-width on every run,
 * for a text sigil never shows once a handler runs (its errors are one line). `--help` and
 * usage errors still render help when asked. Internal API: absent, nothing is changed.
 */
function skipHelpCache(parser: Argv<GlobalArgs>): void {
  type Internals = { getInternalMethods?: () => { getUsageInstance?: () => { cacheHelpMessage?: () => void } } };
  const usage = (parser as unknown as Internals).getInternalMethods?.().getUsageInstance?.();
  if (typeof usage?.cacheHelpMessage === 'function') usage.cacheHelpMessage = () => {};
}

function processIo(): Io {
  return { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env };
}
