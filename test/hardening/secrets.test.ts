/**
 * Secrets never leak (issue 7): every CLI command that touches a password, a registry
 * credential or token, a private key or an identity token runs at the default verbosity, with
 * --verbose and with --quiet, on its succeeding and its failing paths, and its stdout, stderr and
 * every file it left behind (outputs, caches, temporary directory) are searched for each known
 * secret in raw, base64, base64url and URL-encoded form. The servers on the failing paths are
 * the worst kind: they echo the request's Authorization (or the identity token) in their error
 * answers.
 *
 * The only files allowed to hold a secret are the ones whose job it is: the docker config a
 * login writes (registry credentials, base64 as docker stores them) and a cosign `.key` (the
 * encrypted key; never its password nor the decrypted key).
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { copyImage } from '../../src/oci/copy.ts';
import { staticCredentialStore } from '../../src/oci/credentials.ts';
import { openSource, openTarget } from '../../src/oci/source.ts';
import { decryptCosignKey } from '../../src/sign/keys/index.ts';
import type { LoopbackServer } from '../harness/http-server.ts';
import { demoImageLayout } from '../harness/images.ts';
import { startRegistry, type TestRegistry } from '../harness/registry.ts';
import { type HelperFixture, makeHelperFixture } from '../oci/credential-helper-fixture.ts';
import { type SigstoreStack, sigstoreFlags, startSigstoreStack } from '../harness/sigstore-stack.ts';
import { type CliResult, runSigil } from '../helpers/cli.ts';
import {
  type ActionsTokenEndpoint,
  type EchoRegistry,
  startActionsTokenEndpoint,
  startEchoRegistry,
  startRefusingFulcio,
} from './leaky-servers.ts';

/** Characters that make the raw, base64, base64url and URL-encoded forms all differ. */
const secretWord = (label: string): string => `${label}-${randomBytes(12).toString('base64')}+/=&%:!`;
const BASIC_PASSWORD = secretWord('basic-pw');
const TOKEN_PASSWORD = secretWord('token-pw');
const ECHO_PASSWORD = secretWord('echo-pw');
const WRONG_PASSWORD = secretWord('wrong-pw');
const KEY_PASSWORD = secretWord('key-pw');
const WRONG_KEY_PASSWORD = secretWord('wrong-key-pw');
const ACTIONS_REQUEST_TOKEN = `ghs_${randomBytes(24).toString('hex')}`;
const USER = 'sigil';
// Each test runs a group of commands, three times each.
vi.setConfig({ testTimeout: 240_000 });
const EMAIL = 'builder@sigil.test';
const LEVELS = [
  { name: 'default', flags: [] as string[] },
  { name: 'verbose', flags: ['--verbose'] },
  { name: 'quiet', flags: ['--quiet'] },
] as const;

interface Secret {
  name: string;
  value: string;
  /** Files whose purpose is to hold this secret (relative to a run's sandbox); see the header. */
  allowedIn?: RegExp;
}

const CONFIG_FILE = /^docker\/config\.json$/;
const KEY_FILE = /\.key$/;

let basic: TestRegistry;
let token: TestRegistry;
let stack: SigstoreStack;
let echoBasic: EchoRegistry;
let echoBearer: EchoRegistry;
let refusingFulcio: LoopbackServer;
let actions: ActionsTokenEndpoint;
let helpers: HelperFixture;
let work: string;
let layout: string;
const secrets: Secret[] = [];
const mintedTokens: string[] = [];
const malformed: string[] = [];
/** Per command name: runs and secret checks made. */
const tally = new Map<string, { runs: number; checks: number; failing: number }>();
let forms = 0;

const basicImage = () => `${basic.host}/secrets/app:1`;
const tokenImage = () => `${token.host}/secrets/app:1`;
const basicAuth = (password: string) => Buffer.from(`${USER}:${password}`).toString('base64');

function addSecret(name: string, value: string, allowedIn?: RegExp): void {
  secrets.push({ name, value, ...(allowedIn ? { allowedIn } : {}) });
}

/** A PEM, each base64 line of its body, and the DER in one line of base64: all secrets. */
function addPem(name: string, pem: string, allowedIn?: RegExp): void {
  addSecret(name, pem.trim(), allowedIn);
  const body = pem.split('\n').filter((l) => l !== '' && !l.startsWith('-----'));
  body.forEach((line, i) => {
    if (line.length >= 16) addSecret(`${name} line ${i + 1}`, line, allowedIn);
  });
  addSecret(`${name} body`, body.join(''), allowedIn);
}

function mintToken(email = EMAIL): string {
  const t = stack.mintIdentityToken({ email });
  mintedTokens.push(t);
  return t;
}

/** Every known secret now, including the tokens servers handed out so far. */
function currentSecrets(extra: Secret[]): Secret[] {
  const dynamic: Secret[] = [];
  for (const t of token.issuedTokens?.() ?? []) dynamic.push({ name: 'registry bearer token', value: t });
  for (const t of echoBearer.issuedTokens()) dynamic.push({ name: 'echo registry bearer token', value: t });
  for (const t of malformed) dynamic.push({ name: 'malformed identity token', value: t });
  for (const t of mintedTokens) {
    dynamic.push({ name: 'identity token', value: t });
    dynamic.push({ name: 'identity token signature', value: t.split('.')[2]! });
  }
  return [...secrets, ...dynamic, ...extra];
}

function encodings(value: string): string[] {
  const b = Buffer.from(value, 'utf8');
  const out = new Set([value, b.toString('base64'), b.toString('base64url'), encodeURIComponent(value)]);
  // A PEM or JSON document may carry the value with its newlines escaped.
  if (value.includes('\n')) out.add(JSON.stringify(value).slice(1, -1));
  // Part of a long secret is a leak too (an error body shortened mid-token): its end, and its
  // start unless that is the same for every secret of its kind (a JWT header or JSON, PEM
  // armour, the DER header of a PKCS#8 key).
  if (value.length >= 40) {
    out.add(value.slice(-20));
    if (!/^(eyJ|-----|MI)/.test(value)) out.add(value.slice(0, 24));
  }
  return [...out].filter((f) => f.length >= 12);
}

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) out.push(join(e.parentPath, e.name));
  }
  return out;
}

interface Scenario {
  /** Test title and tally key (the command). */
  command: string;
  title: string;
  args: (dir: string) => string[];
  env?: (dir: string) => NodeJS.ProcessEnv;
  input?: string;
  /** Exit code expected; 0 for succeeding paths. */
  code: number;
  /** Which docker config the run gets (see dockerConfig), or the whole file; 'good' by default. */
  config?: 'good' | 'wrong' | 'none' | (() => Record<string, unknown>);
  /** After the run: secrets that only exist then (a generated key). */
  produced?: (dir: string) => Promise<Secret[]>;
  /** Extra checks on the result, beyond the exit code. */
  check?: (r: CliResult, dir: string) => void | Promise<void>;
}

function dockerConfig(password: 'good' | 'wrong'): string {
  const pw = (p: string) => (password === 'good' ? p : WRONG_PASSWORD);
  return JSON.stringify({
    auths: {
      [basic.host]: { auth: basicAuth(pw(BASIC_PASSWORD)) },
      [token.host]: { auth: basicAuth(pw(TOKEN_PASSWORD)) },
      [echoBasic.host]: { auth: basicAuth(pw(ECHO_PASSWORD)) },
      [echoBearer.host]: { auth: basicAuth(pw(ECHO_PASSWORD)) },
    },
  });
}

let runCounter = 0;

/** One command at one verbosity in its own sandbox (HOME, caches, TMPDIR, docker config). */
async function runOne(s: Scenario, level: (typeof LEVELS)[number]): Promise<string[]> {
  const dir = join(work, 'runs', `${++runCounter}-${s.command}-${level.name}`);
  for (const d of ['home', 'cache', 'tmp', 'docker', 'out', 'runtime', 'config']) {
    await mkdir(join(dir, d), { recursive: true });
  }
  const config = s.config ?? 'good';
  // A config the scenario hands in may hold any secret: that file is the run's input.
  const given = typeof config === 'function' ? JSON.stringify(config()) : '';
  if (given) {
    await writeFile(join(dir, 'docker', 'config.json'), given);
  } else if (config === 'good' || config === 'wrong') {
    await writeFile(join(dir, 'docker', 'config.json'), dockerConfig(config));
  }
  const env: NodeJS.ProcessEnv = {
    HOME: join(dir, 'home'),
    XDG_CACHE_HOME: join(dir, 'cache'),
    XDG_CONFIG_HOME: join(dir, 'config'),
    XDG_RUNTIME_DIR: join(dir, 'runtime'),
    TUF_ROOT: join(dir, 'cache', 'tuf'),
    TMPDIR: join(dir, 'tmp'),
    DOCKER_CONFIG: join(dir, 'docker'),
    REGISTRY_AUTH_FILE: '',
    DOCKER_AUTH_CONFIG: '',
    SIGSTORE_ID_TOKEN: '',
    ACTIONS_ID_TOKEN_REQUEST_URL: '',
    ACTIONS_ID_TOKEN_REQUEST_TOKEN: '',
    ...s.env?.(dir),
  };
  const r = await runSigil([...level.flags, ...s.args(dir)], {
    env,
    ...(s.input !== undefined ? { input: s.input } : {}),
  });
  const where = `${s.command} (${level.name}) exit ${r.code}\n${r.stderr}`;
  expect(r.code, where).toBe(s.code);
  await s.check?.(r, dir);

  const known = currentSecrets((await s.produced?.(dir)) ?? []);
  const texts: { where: string; file?: string; text: string }[] = [
    { where: 'stdout', text: r.stdout },
    { where: 'stderr', text: r.stderr },
  ];
  for (const f of await filesUnder(dir)) {
    texts.push({ where: relative(dir, f), file: relative(dir, f), text: (await readFile(f)).toString('latin1') });
  }
  const leaks: string[] = [];
  for (const secret of known) {
    const variants = encodings(secret.value);
    forms += variants.length;
    for (const t of texts) {
      if (t.file !== undefined && secret.allowedIn?.test(t.file)) continue;
      if (t.file !== undefined && CONFIG_FILE.test(t.file) && given.includes(secret.value)) continue;
      for (const v of variants) {
        if (t.text.includes(v)) leaks.push(`${secret.name} in ${t.where} (${level.name}, form ${variants.indexOf(v)})`);
      }
    }
  }
  const entry = tally.get(s.command) ?? { runs: 0, checks: 0, failing: 0 };
  entry.runs++;
  entry.checks += known.length;
  if (s.code !== 0) entry.failing++;
  tally.set(s.command, entry);
  return leaks;
}

/** All three verbosity levels at once: each run has its own sandbox. */
async function scenario(s: Scenario): Promise<void> {
  const leaks = (await Promise.all(LEVELS.map((l) => runOne(s, l)))).flat();
  expect(leaks).toEqual([]);
}

beforeAll(async () => {
  work = join(tmpdir(), `sigil-secrets-${randomBytes(4).toString('hex')}`);
  await mkdir(work, { recursive: true });
  [basic, token, stack, echoBasic, echoBearer, refusingFulcio, layout] = await Promise.all([
    startRegistry({ auth: 'basic', username: USER, password: BASIC_PASSWORD }),
    startRegistry({ auth: 'token', username: USER, password: TOKEN_PASSWORD }),
    startSigstoreStack(),
    startEchoRegistry('basic'),
    startEchoRegistry('bearer'),
    startRefusingFulcio(),
    demoImageLayout(),
  ]);
  helpers = await makeHelperFixture();
  actions = await startActionsTokenEndpoint(ACTIONS_REQUEST_TOKEN, () => mintToken('actions@sigil.test'));
  const credentials = staticCredentialStore({
    [basic.host]: { username: USER, password: BASIC_PASSWORD },
    [token.host]: { username: USER, password: TOKEN_PASSWORD },
  });
  for (const ref of [basicImage(), tokenImage()]) {
    await copyImage(await openSource(`oci-dir:${layout}:demo`), await openTarget(ref, { credentials }));
  }

  // The shared key pair, made by the CLI as a user would.
  await mkdir(join(work, 'keys'), { recursive: true });
  const gen = await runSigil(['generate-key-pair', '--output-key-prefix', join(work, 'keys', 'cosign')], {
    env: { COSIGN_PASSWORD: KEY_PASSWORD },
  });
  expect(gen.code, gen.stderr).toBe(0);
  const encrypted = await readFile(join(work, 'keys', 'cosign.key'), 'utf8');
  const decrypted = decryptCosignKey(encrypted, Buffer.from(KEY_PASSWORD)).export({
    type: 'pkcs8',
    format: 'pem',
  }) as string;
  // An unencrypted key to import, and a damaged copy of it.
  const plain = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({
    type: 'pkcs8',
    format: 'pem',
  }) as string;
  await writeFile(join(work, 'keys', 'import.pem'), plain);
  const lines = plain.trim().split('\n');
  const damaged = [...lines.slice(0, 2), lines[2]!.replace(/[A-Za-z]/g, '!'), ...lines.slice(3)].join('\n');
  await writeFile(join(work, 'keys', 'damaged.pem'), damaged);
  await writeFile(join(work, 'trusted_root.json'), JSON.stringify(stack.trustedRoot()));
  await writeFile(join(work, 'blob.txt'), 'a release artefact\n');
  await writeFile(join(work, 'predicate.json'), JSON.stringify({ builder: { id: 'https://ci.sigil.test' } }));

  for (const [name, password] of [
    ['basic registry password', BASIC_PASSWORD],
    ['token registry password', TOKEN_PASSWORD],
    ['echo registry password', ECHO_PASSWORD],
    ['wrong registry password', WRONG_PASSWORD],
  ] as const) {
    // docker keeps `user:password` as base64 in config.json (which, `user:` being 6 bytes,
    // holds the password's own base64 too): keeping them is that file's job.
    addSecret(name, password, CONFIG_FILE);
    addSecret(`${name}, base64 user:password`, basicAuth(password), CONFIG_FILE);
  }
  addSecret('key password', KEY_PASSWORD);
  addSecret('wrong key password', WRONG_KEY_PASSWORD);
  addPem('encrypted private key', encrypted, KEY_FILE);
  addPem('decrypted private key (PKCS#8)', decrypted);
  addPem('imported private key', plain);
  addSecret('GitHub Actions request token', ACTIONS_REQUEST_TOKEN);
}, 180_000);

afterAll(async () => {
  const rows = [...tally.entries()].sort(([a], [b]) => a.localeCompare(b));
  const runs = rows.reduce((n, [, e]) => n + e.runs, 0);
  const checks = rows.reduce((n, [, e]) => n + e.checks, 0);
  const failing = rows.reduce((n, [, e]) => n + e.failing, 0);
  if (runs > 0) {
    console.log(
      `secrets: ${rows.length} commands, ${runs} runs (${failing} on failing paths) x secrets = ${checks} checks` +
        ` (${forms} encoded forms searched in stdout, stderr and every file left), 0 leaks\n` +
        rows.map(([c, e]) => `  ${c}: ${e.runs} runs, ${e.checks} checks`).join('\n'),
    );
  }
  await Promise.all([
    basic?.stop(),
    token?.stop(),
    stack?.stop(),
    echoBasic?.stop(),
    echoBearer?.stop(),
    refusingFulcio?.stop(),
    actions?.stop(),
    helpers?.cleanup(),
  ]);
  if (work) await rm(work, { recursive: true, force: true });
});

const keyFile = () => join(work, 'keys', 'cosign.key');
const pubFile = () => join(work, 'keys', 'cosign.pub');
const withKeyPassword = () => ({ COSIGN_PASSWORD: KEY_PASSWORD });
const verifyIdentity = () => [
  '--certificate-identity',
  EMAIL,
  '--certificate-oidc-issuer',
  stack.defaultIssuer,
  '--trusted-root',
  join(work, 'trusted_root.json'),
];

describe('registry credentials', () => {
  it('login: basic and token registries, right and wrong passwords', async () => {
    for (const [reg, password] of [
      [basic, BASIC_PASSWORD],
      [token, TOKEN_PASSWORD],
    ] as const) {
      await scenario({
        command: 'login',
        title: 'ok',
        config: 'none',
        args: () => ['login', reg.host, '-u', USER, '--password-stdin'],
        input: `${password}\n`,
        code: 0,
        check: async (_r, dir) => {
          const stored = await readFile(join(dir, 'docker', 'config.json'), 'utf8');
          expect(stored).toContain(basicAuth(password));
        },
      });
      await scenario({
        command: 'login',
        title: 'wrong password',
        config: 'none',
        args: () => ['login', reg.host, '-u', USER, '--password-stdin'],
        input: `${WRONG_PASSWORD}\n`,
        code: 3,
      });
    }
    // --password on the command line: warned about, still never printed.
    await scenario({
      command: 'login',
      title: '--password',
      config: 'none',
      args: () => ['login', basic.host, '-u', USER, '--password', BASIC_PASSWORD],
      code: 0,
    });
    await scenario({ command: 'logout', title: 'ok', args: () => ['logout', basic.host], code: 0 });

    // Credential helpers: a working one (login stores there, digest reads from it) and one that
    // fails echoing its input, which for `store` holds the password.
    await scenario({
      command: 'login',
      title: 'into a credsStore helper',
      config: () => ({ credsStore: 'sigiltest' }),
      args: () => ['login', basic.host, '-u', USER, '--password-stdin'],
      input: `${BASIC_PASSWORD}\n`,
      env: () => helpers.env(),
      code: 0,
    });
    expect(Object.values(await helpers.entries()).map((e) => e.Secret)).toContain(BASIC_PASSWORD);
    await scenario({
      command: 'digest',
      title: 'credentials from a credHelpers helper',
      config: () => ({ credHelpers: { [basic.host]: 'sigiltest' } }),
      args: () => ['digest', basicImage()],
      env: () => helpers.env(),
      code: 0,
    });
    await scenario({
      command: 'login',
      title: 'a helper that fails and echoes the secret',
      config: () => ({ credsStore: 'sigilbroken' }),
      args: () => ['login', basic.host, '-u', USER, '--password-stdin'],
      input: `${BASIC_PASSWORD}\n`,
      env: () => helpers.env(),
      code: 3,
    });
  });

  it('copy, digest, manifest, tags: with the right credentials, wrong ones, and registries that echo them', async () => {
    await scenario({
      command: 'copy',
      title: 'layout to basic registry',
      // One repository per run: the three levels run at once.
      args: (dir) => ['copy', `oci-dir:${layout}:demo`, `${basic.host}/secrets/pushed-${basename(dir)}:1`],
      code: 0,
    });
    await scenario({
      command: 'copy',
      title: 'basic registry to token registry',
      args: (dir) => ['copy', basicImage(), `${token.host}/secrets/copied-${basename(dir)}:1`],
      code: 0,
    });
    await scenario({
      command: 'copy',
      title: 'wrong credentials',
      config: 'wrong',
      args: () => ['copy', `oci-dir:${layout}:demo`, `${basic.host}/secrets/denied:1`],
      code: 3,
    });
    await scenario({
      command: 'copy',
      title: 'wrong credentials, token registry',
      config: 'wrong',
      args: () => ['copy', tokenImage(), `oci-dir:${join(work, 'never')}:x`],
      code: 3,
    });
    await scenario({ command: 'digest', title: 'token', args: () => ['digest', tokenImage()], code: 0 });
    await scenario({ command: 'manifest', title: 'basic', args: () => ['manifest', basicImage()], code: 0 });
    await scenario({ command: 'tags', title: 'token', args: () => ['tags', `${token.host}/secrets/app`], code: 0 });
    // docker's other credential kinds: an identitytoken (OAuth2 refresh token, exchanged by a
    // POST) and a registrytoken (a bearer token sent as is).
    const offline = await fetch(
      `${token.tokenRealm}?service=${encodeURIComponent('sigil-test-registry')}&scope=repository:secrets/app:pull&offline_token=true`,
      { headers: { authorization: `Basic ${basicAuth(TOKEN_PASSWORD)}` } },
    );
    const { refresh_token: refresh, token: access } = (await offline.json()) as {
      refresh_token: string;
      token: string;
    };
    expect(token.issuedTokens!()).toContain(refresh);
    await scenario({
      command: 'digest',
      title: 'identitytoken',
      config: () => ({ auths: { [token.host]: { identitytoken: refresh } } }),
      args: () => ['digest', tokenImage()],
      code: 0,
    });
    await scenario({
      command: 'digest',
      title: 'registrytoken',
      config: () => ({ auths: { [token.host]: { registrytoken: access } } }),
      args: () => ['digest', tokenImage()],
      code: 0,
    });
    const echoRefresh = `refresh-${randomBytes(24).toString('base64url')}`;
    addSecret('echo registry identitytoken', echoRefresh);
    for (const [repo, code] of [
      ['t401/app', 3],
      ['e500/app', 1],
    ] as const) {
      await scenario({
        command: 'digest',
        title: `identitytoken, echo ${repo}`,
        config: () => ({ auths: { [echoBearer.host]: { identitytoken: echoRefresh } } }),
        args: () => ['digest', `${echoBearer.host}/${repo}:1`],
        code,
      });
    }
    const before = [echoBasic.authorizedRequests(), echoBearer.authorizedRequests()];
    for (const [reg, repo, code] of [
      [echoBasic, 'e500/app', 1],
      [echoBasic, 'e401/app', 3],
      [echoBearer, 'e500/app', 1],
      [echoBearer, 'e401/app', 3],
      [echoBearer, 't401/app', 3],
    ] as const) {
      await scenario({
        command: 'digest',
        title: `echo ${repo}`,
        args: () => ['digest', `${reg.host}/${repo}:1`],
        code,
      });
    }
    await scenario({
      command: 'copy',
      title: 'to an echoing registry',
      args: () => ['copy', `oci-dir:${layout}:demo`, `${echoBasic.host}/e500/app:1`],
      code: 1,
    });
    // The echo servers did get the credentials: what they sent back is what was searched for.
    expect(echoBasic.authorizedRequests()).toBeGreaterThan(before[0]!);
    expect(echoBearer.authorizedRequests()).toBeGreaterThan(before[1]!);
    expect(echoBearer.issuedTokens().length).toBeGreaterThan(0);
  });

  it('sbom of a private image writes no credential into its output or the layer cache', async () => {
    await scenario({
      command: 'sbom',
      title: 'basic',
      args: (dir) => ['sbom', '-o', `spdx-json=${join(dir, 'out', 'sbom.json')}`, basicImage()],
      code: 0,
    });
    await scenario({
      command: 'sbom',
      title: '--attest with a key',
      args: () => ['sbom', '--attest', '--key', keyFile(), '--tlog-upload=false', '-o', 'json', tokenImage()],
      env: withKeyPassword,
      code: 0,
    });
    await scenario({
      command: 'sbom',
      title: 'token, explicit cache dir',
      args: (dir) => ['sbom', '--cache-dir', join(dir, 'cache', 'layers'), '-o', 'json', tokenImage()],
      code: 0,
    });
  });
});

describe('keys', () => {
  it('generate-key-pair, import-key-pair, public-key: the password and the key never shown', async () => {
    const generated = async (dir: string, prefix: string): Promise<Secret[]> => {
      const pem = await readFile(join(dir, 'out', `${prefix}.key`), 'utf8');
      const found: Secret[] = [];
      const key = decryptCosignKey(pem, Buffer.from(KEY_PASSWORD));
      const pkcs8 = key.export({ type: 'pkcs8', format: 'pem' }) as string;
      for (const l of pkcs8.split('\n').filter((x) => x && !x.startsWith('-----'))) {
        found.push({ name: `${prefix} decrypted key line`, value: l });
      }
      for (const l of pem.split('\n').filter((x) => x.length >= 16 && !x.startsWith('-----'))) {
        found.push({ name: `${prefix} encrypted key line`, value: l, allowedIn: KEY_FILE });
      }
      return found;
    };
    await scenario({
      command: 'generate-key-pair',
      title: 'ok',
      args: (dir) => ['generate-key-pair', '--output-key-prefix', join(dir, 'out', 'gen')],
      env: withKeyPassword,
      code: 0,
      produced: (dir) => generated(dir, 'gen'),
    });
    await scenario({
      command: 'generate-key-pair',
      title: 'no password source',
      args: (dir) => ['generate-key-pair', '--output-key-prefix', join(dir, 'out', 'gen')],
      code: 2,
    });
    await scenario({
      command: 'import-key-pair',
      title: 'ok',
      args: (dir) => [
        'import-key-pair',
        '--key',
        join(work, 'keys', 'import.pem'),
        '--output-key-prefix',
        join(dir, 'out', 'imp'),
      ],
      env: withKeyPassword,
      code: 0,
      produced: (dir) => generated(dir, 'imp'),
    });
    await scenario({
      command: 'import-key-pair',
      title: 'damaged key',
      args: (dir) => [
        'import-key-pair',
        '--key',
        join(work, 'keys', 'damaged.pem'),
        '--output-key-prefix',
        join(dir, 'out', 'imp'),
      ],
      env: withKeyPassword,
      code: 2,
    });
    await scenario({
      command: 'public-key',
      title: 'ok',
      args: () => ['public-key', '--key', keyFile()],
      env: withKeyPassword,
      code: 0,
    });
    await scenario({
      command: 'public-key',
      title: 'wrong password',
      args: () => ['public-key', '--key', keyFile()],
      env: () => ({ COSIGN_PASSWORD: WRONG_KEY_PASSWORD }),
      code: 3,
    });
    await scenario({
      command: 'public-key',
      title: 'an unencrypted key is not a cosign key',
      args: () => ['public-key', '--key', join(work, 'keys', 'import.pem')],
      env: withKeyPassword,
      code: 2,
    });
  });
});

describe('signing and verifying', () => {
  it('sign with a key, keyless (flag, SIGSTORE_ID_TOKEN, GitHub Actions), and their failures', async () => {
    await scenario({
      command: 'sign',
      title: 'key, token registry',
      args: () => ['sign', '--key', keyFile(), '--tlog-upload=false', tokenImage()],
      env: withKeyPassword,
      code: 0,
    });
    await scenario({
      command: 'sign',
      title: 'key, wrong password',
      args: () => ['sign', '--key', keyFile(), '--tlog-upload=false', tokenImage()],
      env: () => ({ COSIGN_PASSWORD: WRONG_KEY_PASSWORD }),
      code: 3,
    });
    await scenario({
      command: 'sign',
      title: 'keyless --identity-token',
      args: () => ['sign', '--identity-token', mintToken(), ...sigstoreFlags(stack), basicImage()],
      code: 0,
    });
    await scenario({
      command: 'sign',
      title: 'keyless SIGSTORE_ID_TOKEN',
      args: () => ['sign', ...sigstoreFlags(stack), '--attach', 'tag', basicImage()],
      env: () => ({ SIGSTORE_ID_TOKEN: mintToken() }),
      code: 0,
    });
    await scenario({
      command: 'sign',
      title: 'keyless GitHub Actions',
      args: () => ['sign', ...sigstoreFlags(stack), basicImage()],
      env: () => ({ ACTIONS_ID_TOKEN_REQUEST_URL: actions.url, ACTIONS_ID_TOKEN_REQUEST_TOKEN: ACTIONS_REQUEST_TOKEN }),
      code: 0,
    });
    await scenario({
      command: 'sign',
      title: 'GitHub Actions endpoint refuses',
      args: () => ['sign', ...sigstoreFlags(stack), basicImage()],
      env: () => ({
        ACTIONS_ID_TOKEN_REQUEST_URL: actions.refusingUrl,
        ACTIONS_ID_TOKEN_REQUEST_TOKEN: ACTIONS_REQUEST_TOKEN,
      }),
      code: 3,
    });
    await scenario({
      command: 'sign',
      title: 'Fulcio refuses the identity token and quotes it',
      args: () => [
        'sign',
        '--identity-token',
        mintToken(),
        '--fulcio-url',
        refusingFulcio.origin,
        '--rekor-url',
        stack.rekorUrl,
        basicImage(),
      ],
      code: 1,
    });
    await scenario({
      command: 'sign',
      title: 'keyless to a registry that echoes credentials',
      args: () => ['sign', '--identity-token', mintToken(), ...sigstoreFlags(stack), `${echoBasic.host}/e500/app:1`],
      code: 1,
    });
  });

  it('attest, sign-blob, attest-blob', async () => {
    await scenario({
      command: 'attest',
      title: 'key',
      args: () => [
        'attest',
        '--key',
        keyFile(),
        '--tlog-upload=false',
        '--type',
        'slsaprovenance1',
        '--predicate',
        join(work, 'predicate.json'),
        tokenImage(),
      ],
      env: withKeyPassword,
      code: 0,
    });
    await scenario({
      command: 'attest',
      title: 'keyless',
      args: () => [
        'attest',
        '--identity-token',
        mintToken(),
        ...sigstoreFlags(stack),
        '--type',
        'slsaprovenance1',
        '--predicate',
        join(work, 'predicate.json'),
        basicImage(),
      ],
      code: 0,
    });
    await scenario({
      command: 'sign-blob',
      title: 'key',
      args: (dir) => [
        'sign-blob',
        '--key',
        keyFile(),
        '--tlog-upload=false',
        '--bundle',
        join(dir, 'out', 'blob.sigstore.json'),
        join(work, 'blob.txt'),
      ],
      env: withKeyPassword,
      code: 0,
    });
    await scenario({
      command: 'sign-blob',
      title: 'keyless',
      args: (dir) => [
        'sign-blob',
        '--identity-token',
        mintToken(),
        ...sigstoreFlags(stack),
        '--bundle',
        join(dir, 'out', 'blob.sigstore.json'),
        join(work, 'blob.txt'),
      ],
      code: 0,
    });
    await scenario({
      command: 'sign-blob',
      title: 'Fulcio refuses',
      args: (dir) => [
        'sign-blob',
        '--identity-token',
        mintToken(),
        '--fulcio-url',
        refusingFulcio.origin,
        '--bundle',
        join(dir, 'out', 'blob.sigstore.json'),
        join(work, 'blob.txt'),
      ],
      code: 1,
    });
    await scenario({
      command: 'sign-blob',
      title: 'a malformed identity token',
      args: (dir) => {
        const bad = `not-a-jwt-${randomBytes(24).toString('base64url')}`;
        malformed.push(bad);
        return ['sign-blob', '--identity-token', bad, '--bundle', join(dir, 'out', 'b.json'), join(work, 'blob.txt')];
      },
      code: 3,
    });
    await scenario({
      command: 'attest-blob',
      title: 'key',
      args: (dir) => [
        'attest-blob',
        '--key',
        keyFile(),
        '--tlog-upload=false',
        '--type',
        'slsaprovenance1',
        '--predicate',
        join(work, 'predicate.json'),
        '--bundle',
        join(dir, 'out', 'att.sigstore.json'),
        join(work, 'blob.txt'),
      ],
      env: withKeyPassword,
      code: 0,
    });
  });

  it('verify, verify-attestation, verify-blob, tree, triangulate, download on private registries', async () => {
    await scenario({
      command: 'verify',
      title: 'key',
      args: () => ['verify', '--key', pubFile(), '--insecure-ignore-tlog', tokenImage()],
      code: 0,
    });
    await scenario({
      command: 'verify',
      title: 'keyless',
      args: () => ['verify', ...verifyIdentity(), basicImage()],
      code: 0,
    });
    await scenario({
      command: 'verify',
      title: 'wrong credentials',
      config: 'wrong',
      args: () => ['verify', '--key', pubFile(), '--insecure-ignore-tlog', tokenImage()],
      code: 3,
    });
    await scenario({
      command: 'verify',
      title: 'echoing registry',
      args: () => ['verify', '--key', pubFile(), `${echoBearer.host}/e500/app:1`],
      code: 1,
    });
    await scenario({
      command: 'verify-attestation',
      title: 'key',
      args: () => [
        'verify-attestation',
        '--key',
        pubFile(),
        '--insecure-ignore-tlog',
        '--type',
        'slsaprovenance1',
        tokenImage(),
      ],
      code: 0,
    });
    await scenario({ command: 'tree', title: 'token', args: () => ['tree', tokenImage()], code: 0 });
    await scenario({ command: 'triangulate', title: 'basic', args: () => ['triangulate', basicImage()], code: 0 });
    await scenario({
      command: 'download',
      title: 'signature',
      args: () => ['download', 'signature', basicImage()],
      code: 0,
    });
    await scenario({
      command: 'download',
      title: 'attestation',
      args: () => ['download', 'attestation', tokenImage()],
      code: 0,
    });
    // Policy mode, with --save-evidence: the evidence folder is one more place a secret must not reach.
    const policies = join(work, 'policies');
    await mkdir(policies, { recursive: true });
    await writeFile(join(policies, 'cosign.pub'), await readFile(pubFile()));
    await writeFile(join(policies, 'trusted_root.json'), JSON.stringify(stack.trustedRoot()));
    await writeFile(
      join(policies, 'secrets.yaml'),
      `apiVersion: sigil.dev/v1
kind: Policy
metadata:
  name: token-registry
spec:
  images:
    - glob: ${token.host}/**
  authorities:
    - name: ci-key
      key:
        path: cosign.pub
      tlog: ignore
---
apiVersion: sigil.dev/v1
kind: Policy
metadata:
  name: basic-registry
spec:
  images:
    - glob: ${basic.host}/**
  authorities:
    - name: builder
      keyless:
        trustedRoot: trusted_root.json
        identities:
          - issuer: ${stack.defaultIssuer}
            subject: ${EMAIL}
`,
    );
    for (const [config, code] of [
      ['good', 0],
      ['wrong', 2],
    ] as const) {
      await scenario({
        command: 'verify --policy',
        title: `${config} credentials`,
        config,
        args: (dir) => [
          'verify',
          '--policy',
          policies,
          '--save-evidence',
          join(dir, 'out', 'evidence'),
          tokenImage(),
          basicImage(),
        ],
        code,
        // The evidence folder was written, so the search below did cover it.
        check: async (_r, dir) => {
          if (code === 0) expect((await filesUnder(join(dir, 'out', 'evidence'))).length).toBeGreaterThan(2);
        },
      });
    }
    const bundle = join(work, 'blob.sigstore.json');
    const signed = await runSigil(
      ['sign-blob', '--key', keyFile(), '--tlog-upload=false', '--bundle', bundle, join(work, 'blob.txt')],
      { env: withKeyPassword() },
    );
    expect(signed.code, signed.stderr).toBe(0);
    await scenario({
      command: 'verify-blob',
      title: 'key',
      args: () => [
        'verify-blob',
        '--key',
        pubFile(),
        '--insecure-ignore-tlog',
        '--bundle',
        bundle,
        join(work, 'blob.txt'),
      ],
      code: 0,
    });
  });
});
