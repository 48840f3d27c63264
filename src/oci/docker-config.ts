/**
 * Docker `config.json` and podman `auth.json`: where they live, how their `auths` keys name a
 * registry, how an entry becomes a Credential, and how the file is rewritten without losing
 * fields this code does not know about.
 *
 * Facts follow docker/cli (`cli/config/configfile/file.go`, `cli/config/credentials/file_store.go`)
 * and containers/image (`pkg/docker/config/config.go`); where they differ, the comment says which.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, readFile, realpath, rename, unlink } from 'node:fs/promises';
import { homedir as osHomedir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import type { Credential } from './credentials.ts';
import { OciError } from './errors.ts';

/** Docker Hub's key in `auths` and the ServerURL docker sends to helpers (docker's `registry.IndexServer`). */
export const DOCKER_HUB_AUTH_KEY = 'https://index.docker.io/v1/';
/** The name references use for Docker Hub; every alias normalises to it. */
export const DOCKER_HUB = 'docker.io';
const DOCKER_HUB_ALIASES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);

/** One `auths` entry. docker writes `auth`; older tools and hand-written files use `username`/`password`. */
export interface AuthEntry {
  auth?: string;
  username?: string;
  password?: string;
  identitytoken?: string;
  registrytoken?: string;
  [other: string]: unknown;
}

/** The credential-related part of a config file, plus the whole parsed object for rewriting. */
export interface AuthConfigFile {
  /** Path shown to users (home shortened to `~`), or `$DOCKER_AUTH_CONFIG`. */
  readonly display: string;
  readonly auths: Record<string, AuthEntry>;
  readonly credHelpers: Record<string, string>;
  readonly credsStore?: string;
  /** The whole file; `auths` inside it is the same object as `auths` above. */
  readonly raw: Record<string, unknown>;
}

/** Where to look for an auth file and how to read it. */
export interface AuthFileLocation {
  readonly path: string;
  readonly display: string;
  /** `~/.dockercfg`: the object itself is the `auths` map (pre-1.7 docker). */
  readonly legacy?: boolean;
}

/**
 * The host a reference or an `auths` key names: scheme and API path dropped, lower-cased, Docker
 * Hub aliases mapped to `docker.io`. Returns undefined for podman's per-repository keys
 * (`quay.io/ns/repo`): those grant access to part of a registry, never the whole of it.
 */
export function registryHost(keyOrUrl: string): string | undefined {
  let rest = keyOrUrl.trim();
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(rest);
  let host: string;
  if (scheme) {
    // docker's ConvertToHostname: a URL key (`https://host/v2/`, legacy `http://host:5000`) is its host.
    rest = rest.slice(scheme[0].length);
    host = rest.split('/', 1)[0] ?? '';
  } else {
    const slash = rest.indexOf('/');
    // Without a scheme a path means a namespace (containers/image), except the API paths some
    // hand-written files carry (`index.docker.io/v1/`).
    if (slash !== -1 && !/^\/(v[12]\/?)?$/.test(rest.slice(slash))) return undefined;
    host = slash === -1 ? rest : rest.slice(0, slash);
  }
  host = host.toLowerCase();
  if (host === '') return undefined;
  return DOCKER_HUB_ALIASES.has(host) ? DOCKER_HUB : host;
}

/** The key `docker login` writes for a host (docker's `getAuthConfigKey`). */
export function authConfigKey(host: string): string {
  return host === DOCKER_HUB ? DOCKER_HUB_AUTH_KEY : host;
}

/**
 * ServerURLs to ask a credential helper for, best first. docker stores Docker Hub under its /v1/
 * URL while podman (containers/image) uses `docker.io`; a helper holds whichever wrote it.
 */
export function helperServerUrls(host: string): string[] {
  return host === DOCKER_HUB ? [DOCKER_HUB_AUTH_KEY, DOCKER_HUB] : [host];
}

/** Keys tried verbatim before scanning every key: what docker and podman write for this host. */
function exactKeys(host: string): string[] {
  return host === DOCKER_HUB ? [DOCKER_HUB_AUTH_KEY, 'docker.io', 'index.docker.io', 'registry-1.docker.io'] : [host];
}

/** Keys of `record` that name `host`: exact forms first, then any key that normalises to it. */
export function keysForHost(record: Record<string, unknown>, host: string): string[] {
  const keys = exactKeys(host).filter((k) => Object.hasOwn(record, k));
  for (const k of Object.keys(record)) {
    if (!keys.includes(k) && registryHost(k) === host) keys.push(k);
  }
  return keys;
}

/** The `credHelpers` entry for a host, if any (docker keys it like `auths`; podman by host). */
export function credHelperFor(file: AuthConfigFile, host: string): string | undefined {
  const key = keysForHost(file.credHelpers, host)[0];
  return key === undefined ? undefined : file.credHelpers[key];
}

/** The first entry for `host` that holds a credential (docker writes empty `{}` markers when a helper holds the secret). */
export function findAuthEntry(file: AuthConfigFile, host: string): { key: string; credential: Credential } | undefined {
  for (const key of keysForHost(file.auths, host)) {
    const entry = file.auths[key];
    if (entry === undefined) continue;
    const credential = decodeAuthEntry(entry, key, file.display);
    if (credential) return { key, credential };
  }
  return undefined;
}

/** Whether an entry carries any secret or user name (as opposed to a helper's `{}` marker). */
export function entryHasCredential(entry: AuthEntry): boolean {
  return [entry.auth, entry.username, entry.password, entry.identitytoken, entry.registrytoken].some(
    (v) => typeof v === 'string' && v !== '',
  );
}

/**
 * An `auths` entry as a Credential. `auth` is base64 `user:password`, split at the first ':' since
 * passwords (and tokens) may contain ':'; docker trims NUL padding from the password. The entry's
 * content never appears in the error, only where it is.
 */
export function decodeAuthEntry(entry: AuthEntry, key: string, display: string): Credential | undefined {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
    throw new OciError('CREDENTIALS', `${display}: auths["${key}"] must be an object; fix or remove it`);
  }
  const credential: Credential = {};
  if (typeof entry.auth === 'string' && entry.auth !== '') {
    const decoded = decodeBase64(entry.auth);
    const colon = decoded?.indexOf(':') ?? -1;
    if (decoded === undefined || colon <= 0) {
      throw new OciError(
        'CREDENTIALS',
        `${display}: auths["${key}"].auth is not base64 of "user:password"; run "docker login" again or remove the entry`,
      );
    }
    credential.username = decoded.slice(0, colon);
    credential.password = decoded.slice(colon + 1).replace(/^\0+|\0+$/g, '');
  } else {
    if (typeof entry.username === 'string' && entry.username !== '') credential.username = entry.username;
    if (typeof entry.password === 'string' && entry.password !== '') credential.password = entry.password;
  }
  // docker login stores the identity token beside an `auth` of "user:" (empty password).
  if (credential.password === '') delete credential.password;
  if (typeof entry.identitytoken === 'string' && entry.identitytoken !== '') {
    credential.identityToken = entry.identitytoken;
  }
  if (typeof entry.registrytoken === 'string' && entry.registrytoken !== '') {
    credential.registryToken = entry.registrytoken;
  }
  if (
    credential.password === undefined &&
    credential.identityToken === undefined &&
    credential.registryToken === undefined
  ) {
    // A user name alone cannot authenticate; treat it like docker's empty marker.
    return undefined;
  }
  return credential;
}

function decodeBase64(text: string): string | undefined {
  const trimmed = text.trim();
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(trimmed) || trimmed.length % 4 === 1) return undefined;
  return Buffer.from(trimmed, 'base64').toString('utf8');
}

/**
 * Auth files in lookup order (for reading). An explicit `authFile` is the only file, as skopeo's
 * and podman's `--authfile`. Otherwise: `$REGISTRY_AUTH_FILE`, then podman's per-session file
 * (`$XDG_RUNTIME_DIR/containers/auth.json`, or `/run/containers/<uid>/auth.json` on Linux without
 * XDG_RUNTIME_DIR), `$XDG_CONFIG_HOME/containers/auth.json`, docker's config.json, `~/.dockercfg`.
 * containers/image reads only `$REGISTRY_AUTH_FILE` when podman passes it as `--authfile`; here it
 * only comes first, so an ambient podman setting does not hide `docker login` credentials.
 */
export function authFileLocations(options: {
  env: NodeJS.ProcessEnv;
  homedir: string;
  authFile?: string;
}): AuthFileLocation[] {
  const { env, homedir } = options;
  const at = (path: string, legacy = false): AuthFileLocation => ({
    path,
    display: displayPath(path, homedir),
    legacy,
  });
  if (options.authFile) return [at(options.authFile)];
  const locations: AuthFileLocation[] = [];
  if (env.REGISTRY_AUTH_FILE) locations.push(at(env.REGISTRY_AUTH_FILE));
  if (env.XDG_RUNTIME_DIR) {
    locations.push(at(join(env.XDG_RUNTIME_DIR, 'containers', 'auth.json')));
  } else if (process.platform === 'linux' && typeof process.getuid === 'function') {
    locations.push(at(`/run/containers/${process.getuid()}/auth.json`));
  }
  locations.push(at(join(env.XDG_CONFIG_HOME || join(homedir, '.config'), 'containers', 'auth.json')));
  locations.push(at(dockerConfigPath(env, homedir)));
  locations.push(at(join(homedir, '.dockercfg'), true));
  return locations;
}

/** `$DOCKER_CONFIG/config.json` (DOCKER_CONFIG names a directory), else `~/.docker/config.json`. */
export function dockerConfigPath(env: NodeJS.ProcessEnv, homedir: string): string {
  return join(env.DOCKER_CONFIG || join(homedir, '.docker'), 'config.json');
}

/** The home directory for an env: its HOME (so tests and callers can redirect it), else the OS's. */
export function homedirOf(env: NodeJS.ProcessEnv): string {
  return env.HOME || osHomedir();
}

export function displayPath(path: string, homedir: string): string {
  return homedir && path.startsWith(`${homedir}/`) ? `~${path.slice(homedir.length)}` : path;
}

/** Reads and interprets an auth file; undefined when it does not exist. */
export async function readAuthFile(location: AuthFileLocation): Promise<AuthConfigFile | undefined> {
  let text: string;
  try {
    text = await readFile(location.path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new OciError(
      'CREDENTIALS',
      `${location.display}: cannot read (${(e as NodeJS.ErrnoException).code ?? 'error'}); fix its permissions or remove it`,
      { cause: e },
    );
  }
  return parseAuthFile(text, location.display, location.legacy);
}

/**
 * Parses a config/auth file. Never quotes the file's content in an error: it holds secrets, and
 * V8's JSON.parse messages quote the text around the fault, so the position is found here.
 */
export function parseAuthFile(text: string, display: string, legacy = false): AuthConfigFile {
  const raw = parseJsonObject(text, display);
  let auths: unknown = legacy ? raw : raw.auths;
  if (auths === undefined || auths === null) {
    auths = {};
    if (!legacy) raw.auths = auths;
  }
  if (!isPlainObject(auths)) {
    throw new OciError('CREDENTIALS', `${display}: "auths" must be an object; fix or remove it`);
  }
  const credHelpers = legacy ? {} : (raw.credHelpers ?? {});
  if (!isPlainObject(credHelpers) || !Object.values(credHelpers).every((h) => typeof h === 'string')) {
    throw new OciError('CREDENTIALS', `${display}: "credHelpers" must map registries to helper names; fix it`);
  }
  const credsStore = legacy ? undefined : raw.credsStore;
  if (credsStore !== undefined && typeof credsStore !== 'string') {
    throw new OciError('CREDENTIALS', `${display}: "credsStore" must be a helper name; fix it`);
  }
  return {
    display,
    auths: auths as Record<string, AuthEntry>,
    credHelpers: credHelpers as Record<string, string>,
    ...(credsStore ? { credsStore } : {}),
    raw,
  };
}

/** `DOCKER_AUTH_CONFIG` (docker 28+): a config.json-shaped JSON document in the environment. */
export function parseDockerAuthConfigEnv(value: string): AuthConfigFile {
  const file = parseAuthFile(value, '$DOCKER_AUTH_CONFIG');
  // docker rejects anything but `auths`; helpers named in an env var would run programs.
  return { display: file.display, auths: file.auths, credHelpers: {}, raw: file.raw };
}

function parseJsonObject(text: string, display: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    const { line, column } = lineColumn(text, jsonErrorOffset(text));
    throw new OciError(
      'CREDENTIALS',
      `${display}: invalid JSON at line ${line} column ${column}; fix or remove it`,
      // The cause is dropped on purpose: its message quotes the file (and so the secrets in it).
      { cause: new Error('JSON.parse failed') },
    );
  }
  if (!isPlainObject(value)) {
    throw new OciError('CREDENTIALS', `${display}: expected a JSON object; fix or remove it`);
  }
  return value;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function lineColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return { line, column: offset - (before.lastIndexOf('\n') + 1) + 1 };
}

/**
 * The offset of the first JSON syntax error in `text` (RFC 8259), or text.length when the fault
 * is a premature end. Only called after JSON.parse failed, so it need not be fast.
 */
export function jsonErrorOffset(text: string): number {
  let i = 0;
  class Fault {
    constructor(readonly at: number) {}
  }
  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i] as string)) i++;
  };
  const expect = (c: string) => {
    if (text[i] !== c) throw new Fault(i);
    i++;
  };
  const string = () => {
    expect('"');
    for (;;) {
      if (i >= text.length) throw new Fault(i);
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return;
      }
      if (c < 0x20) throw new Fault(i);
      if (c === 0x5c) {
        i++;
        const e = text[i];
        if (e === 'u') {
          // As V8: the fault is the first character that is not a hex digit.
          for (let k = 1; k <= 4; k++) if (!/[0-9a-fA-F]/.test(text[i + k] ?? '')) throw new Fault(i + k);
          i += 5;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) i++;
        else throw new Fault(i);
      } else i++;
    }
  };
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      ws();
      if (text[i] === '}') {
        i++;
        return;
      }
      for (;;) {
        ws();
        string();
        ws();
        expect(':');
        value();
        ws();
        if (text[i] === ',') i++;
        else return expect('}');
      }
    }
    if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') {
        i++;
        return;
      }
      for (;;) {
        value();
        ws();
        if (text[i] === ',') i++;
        else return expect(']');
      }
    }
    if (c === '"') return string();
    for (const word of ['true', 'false', 'null']) {
      if (c !== word[0]) continue;
      // The fault is the first character that leaves the word, as V8 reports it.
      for (const w of word) expect(w);
      return;
    }
    number();
  };
  const digits = () => {
    if (!/[0-9]/.test(text[i] ?? '')) throw new Fault(i);
    while (/[0-9]/.test(text[i] ?? '')) i++;
  };
  const number = () => {
    if (text[i] === '-') i++;
    if (text[i] === '0') i++;
    else digits();
    if (text[i] === '.') {
      i++;
      digits();
    }
    if (text[i] === 'e' || text[i] === 'E') {
      i++;
      if (text[i] === '+' || text[i] === '-') i++;
      digits();
    }
  };
  try {
    value();
    ws();
    return i < text.length ? i : text.length;
  } catch (e) {
    if (e instanceof Fault) return e.at;
    throw e;
  }
}

/** Reads a docker config.json for rewriting; an absent file is an empty one. */
export async function readDockerConfigForUpdate(path: string, homedir: string): Promise<AuthConfigFile> {
  const file = await readAuthFile({ path, display: displayPath(path, homedir) });
  return file ?? parseAuthFile('{}', displayPath(path, homedir));
}

/**
 * Rewrites a config file as docker's `ConfigFile.Save` does: directory created 0700, a temp file
 * beside the target renamed over it (so readers never see half a file), through a symlinked
 * config.json to its target. The mode is always 0600: the file may hold passwords.
 */
export async function writeAuthFileAtomic(path: string, raw: Record<string, unknown>): Promise<void> {
  let target = path;
  try {
    target = await realpath(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const dir = dirname(target);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const temp = join(dir, `.${basename(target)}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(temp, 'wx', 0o600);
  try {
    try {
      // Tab indentation as docker writes it, so diffs against docker-written files stay small.
      await handle.writeFile(JSON.stringify(raw, null, '\t'));
      await handle.sync();
    } finally {
      await handle.close();
    }
    await chmod(temp, 0o600);
    await rename(temp, target);
  } catch (e) {
    await unlink(temp).catch(() => {});
    throw e;
  }
}
