/**
 * Registry credentials: the shape the registry client consumes. The implementation (docker
 * config.json, credential helpers, podman auth.json, login/logout) lives in this file too.
 */
import { eraseFromCredentialHelper, getFromCredentialHelper, storeInCredentialHelper } from './credential-helpers.ts';
import {
  type AuthConfigFile,
  authConfigKey,
  authFileLocations,
  credHelperFor,
  displayPath,
  dockerConfigPath,
  entryHasCredential,
  findAuthEntry,
  helperServerUrls,
  homedirOf,
  keysForHost,
  parseDockerAuthConfigEnv,
  readAuthFile,
  readDockerConfigForUpdate,
  registryHost,
  writeAuthFileAtomic,
} from './docker-config.ts';
import { OciError } from './errors.ts';

export interface Credential {
  username?: string;
  password?: string;
  /** An OAuth2 refresh token (docker's `identitytoken`), exchanged at the token endpoint. */
  identityToken?: string;
  /** A bearer token to send as is (docker's `registrytoken`). */
  registryToken?: string;
}

export interface CredentialStore {
  /** Credentials for a registry host as it appears in references (`docker.io`, `127.0.0.1:5000`), if any. */
  get(registry: string): Promise<Credential | undefined>;
}

export interface DefaultCredentialStoreOptions {
  /** Environment to read (HOME, DOCKER_CONFIG, REGISTRY_AUTH_FILE, XDG_*, PATH for helpers). Defaults to process.env. */
  env?: NodeJS.ProcessEnv;
  /** Home directory; defaults to env.HOME, then the OS's. */
  homedir?: string;
  /** Read only this auth file (like `--authfile`); no other file or env variable is consulted. */
  authFile?: string;
}

/**
 * Credentials as docker, podman, crane and cosign users have configured them. Sources, first hit
 * wins: `$DOCKER_AUTH_CONFIG`, `$REGISTRY_AUTH_FILE`, podman's auth.json files, docker's
 * config.json, `~/.dockercfg` (see authFileLocations). Within one file, as docker's
 * `GetCredentialsStore`: a `credHelpers` entry for the registry decides alone; else `credsStore`;
 * else `auths`. Unlike docker, an `auths` entry is still used when the credsStore has nothing for
 * the registry, since tools that write config.json by hand (CI logins, Kubernetes pull secrets)
 * leave docker's credsStore line in place.
 *
 * Entries match the registry's host and port exactly, as docker's GetAuthConfig and
 * go-containerregistry's keychain do: one for `127.0.0.1` or `127.0.0.1:5001` is never sent to
 * `127.0.0.1:5000` (a URL key such as `http://127.0.0.1:5000/v2/` names that host:port).
 *
 * Files are read at each `get`, so a `docker login` made meanwhile is seen; callers cache the result.
 */
export function defaultCredentialStore(options: DefaultCredentialStoreOptions = {}): CredentialStore {
  const env = options.env ?? process.env;
  const homedir = options.homedir ?? homedirOf(env);
  return {
    async get(registry: string): Promise<Credential | undefined> {
      const host = hostOf(registry);
      if (!options.authFile && env.DOCKER_AUTH_CONFIG) {
        const hit = findAuthEntry(parseDockerAuthConfigEnv(env.DOCKER_AUTH_CONFIG), host);
        if (hit) return hit.credential;
      }
      const locations = authFileLocations({
        env,
        homedir,
        ...(options.authFile ? { authFile: options.authFile } : {}),
      });
      for (const location of locations) {
        const file = await readAuthFile(location);
        if (!file) continue;
        const credential = await lookupInFile(file, host, env);
        if (credential) return credential;
      }
      return undefined;
    },
  };
}

async function lookupInFile(
  file: AuthConfigFile,
  host: string,
  env: NodeJS.ProcessEnv,
): Promise<Credential | undefined> {
  const helper = credHelperFor(file, host);
  if (helper !== undefined) {
    return getFromHelper(helper, host, { env, source: `credHelpers in ${file.display}` });
  }
  if (file.credsStore) {
    const credential = await getFromHelper(file.credsStore, host, { env, source: `credsStore in ${file.display}` });
    if (credential) return credential;
  }
  return findAuthEntry(file, host)?.credential;
}

async function getFromHelper(
  helper: string,
  host: string,
  options: { env: NodeJS.ProcessEnv; source: string },
): Promise<Credential | undefined> {
  for (const serverUrl of helperServerUrls(host)) {
    const credential = await getFromCredentialHelper(helper, serverUrl, options);
    if (credential) return credential;
  }
  return undefined;
}

export interface LoginOptions {
  env?: NodeJS.ProcessEnv;
  homedir?: string;
  /** The docker config.json to update; defaults to `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`. */
  configPath?: string;
}

/**
 * Stores credentials as `docker login` does (after the caller has checked them against the
 * registry): in the credential helper the config names for this registry (`credHelpers`, else
 * `credsStore`), leaving docker's empty `auths` marker; otherwise as base64 `auth` in config.json,
 * under `https://index.docker.io/v1/` for Docker Hub and the host otherwise. Every other field of
 * the file is kept. Returns the file written or the helper program used.
 */
export async function login(
  registry: string,
  credential: { username: string; password: string },
  options: LoginOptions = {},
): Promise<string> {
  const host = hostOf(registry);
  if (!credential.username || !credential.password) {
    throw new OciError('INVALID_OPTIONS', `login ${host}: username and password are both required`);
  }
  // Basic auth (RFC 7617 §2) splits user-id and password at the first ':'.
  if (credential.username.includes(':')) {
    throw new OciError('INVALID_OPTIONS', `login ${host}: a username cannot contain ':'`);
  }
  const { env, homedir, path } = resolveConfig(options);
  const file = await readDockerConfigForUpdate(path, homedir);
  const key = authConfigKey(host);
  const helper = credHelperFor(file, host) ?? file.credsStore;
  if (helper) {
    const source = `${credHelperFor(file, host) !== undefined ? 'credHelpers' : 'credsStore'} in ${file.display}`;
    await storeInCredentialHelper(
      helper,
      { ServerURL: key, Username: credential.username, Secret: credential.password },
      { env, source },
    );
    // docker's nativeStore.Store writes the entry without secrets, so `docker logout` and tools
    // listing logins see it; a plaintext secret left there from before goes away with it.
    file.auths[key] = {};
    await writeAuthFileAtomic(path, file.raw);
    return `docker-credential-${helper}`;
  }
  file.auths[key] = { auth: Buffer.from(`${credential.username}:${credential.password}`).toString('base64') };
  await writeAuthFileAtomic(path, file.raw);
  return path;
}

/**
 * Removes credentials as `docker logout` does: erases the helper's entry and every `auths` key
 * naming the registry (docker also tries the `http://` and `https://` forms of older files).
 * True when a credential was removed.
 */
export async function logout(registry: string, options: LoginOptions = {}): Promise<boolean> {
  const host = hostOf(registry);
  const { env, homedir, path } = resolveConfig(options);
  const file = await readAuthFile({ path, display: displayPath(path, homedir) });
  if (!file) return false;
  let removed = false;
  const helper = credHelperFor(file, host) ?? file.credsStore;
  if (helper) {
    const source = `${credHelperFor(file, host) !== undefined ? 'credHelpers' : 'credsStore'} in ${file.display}`;
    removed = await eraseFromCredentialHelper(helper, authConfigKey(host), { env, source });
  }
  const keys = keysForHost(file.auths, host);
  for (const key of keys) {
    const entry = file.auths[key];
    if (entry && entryHasCredential(entry)) removed = true;
    delete file.auths[key];
  }
  if (keys.length > 0) await writeAuthFileAtomic(path, file.raw);
  return removed;
}

function resolveConfig(options: LoginOptions): { env: NodeJS.ProcessEnv; homedir: string; path: string } {
  const env = options.env ?? process.env;
  const homedir = options.homedir ?? homedirOf(env);
  return { env, homedir, path: options.configPath ?? dockerConfigPath(env, homedir) };
}

/** Fixed credentials, keyed by registry in any form docker accepts (`docker.io`, `https://index.docker.io/v1/`, `host:port`). */
export function staticCredentialStore(map: Record<string, Credential>): CredentialStore {
  const byHost = new Map<string, Credential>();
  for (const [key, credential] of Object.entries(map)) {
    const host = registryHost(key);
    if (host === undefined) {
      throw new OciError('INVALID_OPTIONS', `credentials for "${key}": expected a registry host[:port]`);
    }
    byHost.set(host, { ...credential });
  }
  return {
    async get(registry: string): Promise<Credential | undefined> {
      const credential = byHost.get(hostOf(registry));
      return credential ? { ...credential } : undefined;
    },
  };
}

/** The first store that has credentials for a registry answers; an error from any store is not swallowed. */
export function chainCredentialStores(...stores: CredentialStore[]): CredentialStore {
  return {
    async get(registry: string): Promise<Credential | undefined> {
      for (const store of stores) {
        const credential = await store.get(registry);
        if (credential) return credential;
      }
      return undefined;
    },
  };
}

function hostOf(registry: string): string {
  const host = registryHost(registry);
  if (host === undefined) {
    throw new OciError('INVALID_OPTIONS', `"${registry}" is not a registry host[:port]; credentials are per registry`);
  }
  return host;
}
