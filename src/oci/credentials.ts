/**
 * Registry credentials: the shape the registry client consumes. The implementation (docker
 * config.json, credential helpers, podman auth.json, login/logout) lives in this file too.
 */
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
