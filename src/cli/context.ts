import { chainCredentialStores, defaultCredentialStore } from '../oci/credentials.ts';
import type { Platform } from '../oci/manifest.ts';
import { parsePlatform } from '../oci/platform.ts';
import { parseRepository } from '../oci/reference.ts';
import type { RegistryOptions } from '../oci/registry/source.ts';
import type { RunOptions } from './command.ts';
import { UsageError } from './exit-codes.ts';
import { type GlobalFlags, type Io, type OutputFormat, Printer } from './output.ts';

/** Flags every command accepts, as yargs hands them over. */
export interface GlobalArgs {
  output: string[];
  verbose: boolean;
  quiet: boolean;
  'insecure-registry': string[];
  'plain-http': boolean;
  authfile?: string;
}

export interface Context {
  io: Io;
  out: Printer;
  registry: RegistryOptions;
  signal: AbortSignal;
  /**
   * `COSIGN_REPOSITORY`: where signatures, attestations and SBOMs are written and looked for,
   * instead of beside the image (`registry/repository`, any registry), as cosign reads it.
   */
  signatureRepository?: string;
}

export function makeContext(argv: GlobalArgs, io: Io, signal: AbortSignal, options: RunOptions = {}): Context {
  const flags: GlobalFlags = { output: resultFormat(argv.output, options), verbose: argv.verbose, quiet: argv.quiet };
  return {
    io,
    out: new Printer(io, flags),
    registry: registryOptions(argv, io.env),
    signal,
    ...signatureRepository(io.env),
  };
}

function signatureRepository(env: NodeJS.ProcessEnv): { signatureRepository?: string } {
  const value = env.COSIGN_REPOSITORY?.trim();
  if (!value) return {};
  try {
    return { signatureRepository: parseRepository(value).name };
  } catch (e) {
    throw new UsageError(`COSIGN_REPOSITORY: ${(e as Error).message}`);
  }
}

function resultFormat(values: readonly string[], options: RunOptions): OutputFormat {
  if (options.ownsOutputFlag) return 'text';
  if (values.length > 1)
    throw new UsageError(`-o/--output given ${values.length} times; this command takes one: text or json`);
  const value = values[0] ?? 'text';
  if (value !== 'text' && value !== 'json') throw new UsageError(`-o/--output "${value}": expected text or json`);
  return value;
}

function registryOptions(argv: GlobalArgs, env: NodeJS.ProcessEnv): RegistryOptions {
  const credentials = chainCredentialStores(
    defaultCredentialStore({ env, ...(argv.authfile ? { authFile: argv.authfile } : {}) }),
  );
  // --plain-http speaks HTTP to every registry this command names, as oras does; without it
  // only loopback hosts and those listed by --insecure-registry may use plain HTTP.
  const insecure = argv['plain-http'] ? true : argv['insecure-registry'];
  return { credentials, insecure, userAgent: `sigil/${VERSION}` };
}

export function platformOption(value: string | undefined): Platform | undefined {
  return value === undefined ? undefined : parsePlatform(value);
}

export const VERSION: string = await readVersion();

async function readVersion(): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  // src/cli/ and dist/cli/ both sit two levels below package.json.
  const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}
