// Writes docs/reference.md from the CLI's own yargs definitions: every command and subcommand
// with its positionals and flags (type, default, alias, choices), the global flags, the
// environment variables sigil reads and the exit codes.
// `npm run reference` (node --experimental-transform-types scripts/reference.ts) rewrites the
// file; test/docs/reference.test.ts fails when the committed one differs from what this renders.
//
// The commands are registered on a recorder standing in for yargs: it keeps what each
// `.command()`, `.option()`, `.positional()` and `.example()` call says, and runs each builder
// on a recorder of its own, so subcommands nest as they do under yargs.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { format, resolveConfig } from 'prettier';
import type { Argv } from 'yargs';
import type { Run } from '../src/cli/command.ts';
import type { GlobalArgs } from '../src/cli/context.ts';
import { ExitCode } from '../src/cli/exit-codes.ts';
import { COMMANDS, globalOptions } from '../src/cli/main.ts';

export interface OptionDoc {
  name: string;
  type: string;
  aliases: string[];
  default?: unknown;
  choices?: readonly unknown[];
  repeatable: boolean;
  required: boolean;
  describe: string;
}

export interface CommandDoc {
  /** Words from `sigil` on: `['attach', 'sbom']`. */
  path: string[];
  /** yargs' command string: `sbom <image>`. */
  usage: string;
  describe: string;
  positionals: OptionDoc[];
  options: OptionDoc[];
  examples: [string, string][];
  subcommands: CommandDoc[];
}

type Spec = {
  type?: string;
  alias?: string | readonly string[];
  default?: unknown;
  choices?: readonly unknown[];
  array?: boolean;
  demandOption?: boolean | string;
  describe?: string;
  description?: string;
};

function optionDoc(name: string, spec: Spec = {}): OptionDoc {
  const aliases = spec.alias === undefined ? [] : typeof spec.alias === 'string' ? [spec.alias] : [...spec.alias];
  return {
    name,
    type: spec.type ?? 'string',
    aliases,
    ...(spec.default !== undefined ? { default: spec.default } : {}),
    ...(spec.choices ? { choices: spec.choices } : {}),
    repeatable: spec.array === true,
    required: spec.demandOption !== undefined && spec.demandOption !== false,
    describe: spec.describe ?? spec.description ?? '',
  };
}

/** A stand-in for yargs' Argv that records definitions; any other call is accepted and ignored. */
function recorder(into: CommandDoc): Argv<GlobalArgs> {
  const proxy: Argv<GlobalArgs> = new Proxy({} as Argv<GlobalArgs>, {
    get(_target, prop) {
      switch (prop) {
        case 'option':
        case 'options':
          return (name: string | Record<string, Spec>, spec?: Spec) => {
            if (typeof name === 'string') into.options.push(optionDoc(name, spec));
            else for (const [k, v] of Object.entries(name)) into.options.push(optionDoc(k, v));
            return proxy;
          };
        case 'positional':
          return (name: string, spec?: Spec) => {
            into.positionals.push(optionDoc(name, spec));
            return proxy;
          };
        case 'hide':
          // Hidden from --help (e.g. sign's image-only flags on sign-blob): left out here as well.
          return (name: string) => {
            into.options = into.options.filter((o) => o.name !== name);
            return proxy;
          };
        case 'example':
          return (cmd: string, what: string) => {
            into.examples.push([cmd, what]);
            return proxy;
          };
        case 'command':
          return (usage: string | readonly string[], describe: string, builder?: unknown) => {
            const first = typeof usage === 'string' ? usage : usage[0]!;
            const child: CommandDoc = {
              path: [...into.path, first.split(' ')[0]!],
              usage: first,
              describe,
              positionals: [],
              options: [],
              examples: [],
              subcommands: [],
            };
            if (typeof builder === 'function') (builder as (y: Argv<GlobalArgs>) => unknown)(recorder(child));
            else if (builder && typeof builder === 'object')
              for (const [k, v] of Object.entries(builder as Record<string, Spec>)) child.options.push(optionDoc(k, v));
            into.subcommands.push(child);
            return proxy;
          };
        case 'then':
          return undefined;
        default:
          return () => proxy;
      }
    },
  });
  return proxy;
}

const noRun: Run = () => Promise.resolve();

export function collectCommands(): { globals: OptionDoc[]; commands: CommandDoc[] } {
  const root: CommandDoc = {
    path: [],
    usage: '',
    describe: '',
    positionals: [],
    options: [],
    examples: [],
    subcommands: [],
  };
  globalOptions(recorder(root));
  const globals = root.options.splice(0);
  for (const c of COMMANDS) c.register(recorder(root), noRun);
  return { globals, commands: root.subcommands };
}

/** Every environment variable sigil reads, and what for. test/docs/reference.test.ts checks src/ reads no other. */
export const ENVIRONMENT: [string, string][] = [
  ['SIGIL_PASSWORD', 'password of a cosign private key (`--key`), read first; set but empty means no password'],
  [
    'COSIGN_PASSWORD',
    'the same, read when `SIGIL_PASSWORD` is unset (as cosign reads it); else a prompt on a terminal',
  ],
  ['SIGSTORE_ID_TOKEN', 'keyless signing: the OIDC identity token, when `--identity-token` is not given'],
  [
    'ACTIONS_ID_TOKEN_REQUEST_URL',
    'keyless signing in GitHub Actions: where to ask for a token (audience `sigstore`); set by the runner with `permissions: id-token: write`',
  ],
  ['ACTIONS_ID_TOKEN_REQUEST_TOKEN', 'the bearer token for that request, set by the runner with it'],
  [
    'COSIGN_REPOSITORY',
    '`registry/repository` where signatures, attestations and SBOMs are written and looked for instead of beside the image',
  ],
  ['DOCKER_AUTH_CONFIG', 'registry credentials as a docker `config.json` document in the variable itself, read first'],
  ['REGISTRY_AUTH_FILE', 'podman/skopeo `auth.json` with registry credentials, read before the default files'],
  ['XDG_RUNTIME_DIR', 'podman credentials in `$XDG_RUNTIME_DIR/containers/auth.json`'],
  ['XDG_CONFIG_HOME', 'podman credentials in `$XDG_CONFIG_HOME/containers/auth.json` (default `~/.config`)'],
  ['DOCKER_CONFIG', "directory of docker's `config.json` (default `~/.docker`)"],
  ['HOME', 'home directory for the default credential, cache and TUF locations'],
  ['PATH', 'where `docker-credential-*` helpers named by `credsStore`/`credHelpers` are found'],
  ['XDG_CACHE_HOME', 'SBOM cache in `$XDG_CACHE_HOME/sigil` (default `~/.cache/sigil`); TUF data below it'],
  ['TUF_ROOT', '`sigil initialize` stores the updated trusted root here; verification prefers it'],
  [
    'SOURCE_DATE_EPOCH',
    '`sbom`: seconds since the epoch for the document time; with it the SBOM is byte-for-byte reproducible',
  ],
  ['UV_THREADPOOL_SIZE', "Node's thread pool size (default 4); layers inflated at once in `sbom` follow it"],
];

/** What each exit code means; collectCommands' caller checks every ExitCode has one. */
const EXIT_CODES: Record<number, string> = {
  [ExitCode.Ok]: 'success; `verify --policy`: every image allowed',
  [ExitCode.Failure]:
    'failure: registry, network or I/O; `verify`: no signature passed the checks; `verify --policy`: an image denied',
  [ExitCode.Usage]:
    'usage: bad flag, reference or source, unreadable key or password mismatch, invalid policy or trusted root',
  [ExitCode.Auth]: 'authentication or authorisation failed (`UNAUTHORIZED`, `DENIED`, key password, identity token)',
  [ExitCode.NotFound]: 'not found: image, tag, blob, platform or attachment',
  [ExitCode.Integrity]: 'integrity: content does not match its digest or size (`DIGEST_MISMATCH`, `DIFFID_MISMATCH`)',
};

const code = (s: string) => (s.includes('`') ? `\`\` ${s} \`\`` : `\`${s}\``);
const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n+/g, ' ');

function flagName(o: OptionDoc, positional: boolean): string {
  if (positional) return code(o.repeatable ? `${o.name}...` : o.name);
  return [`--${o.name}`, ...o.aliases.map((a) => (a.length === 1 ? `-${a}` : `--${a}`))].map(code).join(', ');
}

function typeOf(o: OptionDoc): string {
  const base = o.choices ? o.choices.map((c) => code(String(c))).join(' \\| ') : o.type;
  return o.repeatable ? `${base}, repeatable` : base;
}

function defaultOf(o: OptionDoc): string {
  if (o.required) return 'required';
  if (o.default === undefined) return '';
  if (Array.isArray(o.default) && o.default.length === 0) return '';
  return code(typeof o.default === 'string' ? o.default : JSON.stringify(o.default));
}

function table(rows: OptionDoc[], positional: boolean): string[] {
  const head = positional ? '| argument | type | default | description |' : '| flag | type | default | description |';
  return [
    head,
    '| --- | --- | --- | --- |',
    ...rows.map((o) => `| ${flagName(o, positional)} | ${typeOf(o)} | ${defaultOf(o)} | ${cell(o.describe)} |`),
  ];
}

function anchor(c: CommandDoc): string {
  return `sigil-${c.path.join('-')}`;
}

function renderCommand(c: CommandDoc, lines: string[], level: number): void {
  lines.push(`${'#'.repeat(level)} sigil ${c.path.join(' ')}`, '');
  const usage = [...c.path.slice(0, -1), c.usage].join(' ');
  const sub = c.subcommands.length > 0 ? ' <command>' : '';
  lines.push('```', `sigil ${usage}${sub}${c.options.length > 0 ? ' [flags]' : ''}`, '```', '');
  if (c.describe) lines.push(`${c.describe}.`.replace(/\.\.$/, '.'), '');
  if (c.positionals.length > 0) lines.push(...table(c.positionals, true), '');
  if (c.options.length > 0) lines.push(...table(c.options, false), '');
  if (c.examples.length > 0) {
    lines.push('Examples:', '', '```sh');
    for (const [cmd, what] of c.examples) lines.push(`${cmd.replace(/\$0/g, 'sigil')}   # ${what}`);
    lines.push('```', '');
  }
  for (const s of c.subcommands) renderCommand(s, lines, Math.min(level + 1, 4));
}

function walk(cs: CommandDoc[]): CommandDoc[] {
  return cs.flatMap((c) => [c, ...walk(c.subcommands)]);
}

/** The Markdown, formatted by prettier as `npm run lint` expects of every file. */
export async function renderReference(): Promise<string> {
  const { globals, commands } = collectCommands();
  for (const value of Object.values(ExitCode)) {
    if (EXIT_CODES[value] === undefined)
      throw new Error(`exit code ${value} has no description in scripts/reference.ts`);
  }
  const lines: string[] = [
    '# sigil command reference',
    '',
    '<!-- Generated by `npm run reference` (scripts/reference.ts) from the yargs definitions in src/cli/; do not edit by hand. -->',
    '',
    'Every command and subcommand with its arguments and flags, the flags every command takes, the',
    'environment variables sigil reads and its exit codes. `sigil COMMAND --help` prints the same per command.',
    '',
    '## Commands',
    '',
    ...walk(commands).map(
      (c) => `${'  '.repeat(c.path.length - 1)}- [\`sigil ${c.path.join(' ')}\`](#${anchor(c)}): ${cell(c.describe)}`,
    ),
    '',
    '## Global flags',
    '',
    'Accepted by every command, before or after it; also `-h, --help` and `-V, --version`.',
    '',
    ...table(globals, false),
    '',
  ];
  for (const c of commands) renderCommand(c, lines, 3);
  lines.push(
    '## Environment variables',
    '',
    '| variable | read for |',
    '| --- | --- |',
    ...ENVIRONMENT.map(([name, what]) => `| \`${name}\` | ${cell(what)} |`),
    '',
    '## Exit codes',
    '',
    '| code | meaning |',
    '| --- | --- |',
    ...Object.values(ExitCode).map((v) => `| ${v} | ${cell(EXIT_CODES[v]!)} |`),
    '',
    'Errors print one line, `sigil: error [CODE]: what failed, where, what to do`; `--verbose` adds the stack and causes.',
    '',
  );
  const options = (await resolveConfig(REFERENCE_FILE)) ?? {};
  return format(lines.join('\n'), { ...options, filepath: REFERENCE_FILE });
}

export const REFERENCE_FILE = fileURLToPath(new URL('../docs/reference.md', import.meta.url));

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(REFERENCE_FILE, await renderReference());
  console.log(`wrote ${REFERENCE_FILE}`);
}
