import { createHash, createPublicKey, type KeyObject, X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { toTrustMaterial, type TrustMaterial } from '@sigstore/verify';
import { VerifyError } from './errors.ts';

/**
 * Trust material: the public-good trusted root embedded in @sigstore/tuf's seeds (the TUF
 * target cosign and sigstore-js start from, so verification works offline) or, once `sigil
 * initialize` has run, the TUF-updated one it stored (tuf.ts); a custom trusted_root.json for a
 * private Sigstore, and extra PEM CA roots/intermediates (cosign --ca-roots/--ca-intermediates).
 * Loaded once per distinct input and shared by every check.
 */
export const PUBLIC_GOOD_TUF = 'https://tuf-repo-cdn.sigstore.dev';

let publicGood: Record<string, unknown> | undefined;

/** The public-good trusted_root.json shipped in @sigstore/tuf's seeds.json. */
export function embeddedTrustedRoot(): Record<string, unknown> {
  if (!publicGood) {
    const require = createRequire(import.meta.url);
    const seeds = require('@sigstore/tuf/seeds.json') as Record<string, { targets?: Record<string, string> }>;
    const b64 = seeds[PUBLIC_GOOD_TUF]?.targets?.['trusted_root.json'];
    if (!b64) throw new VerifyError('TRUST_ROOT_INVALID', '@sigstore/tuf seeds hold no public-good trusted_root.json');
    publicGood = JSON.parse(Buffer.from(b64, 'base64').toString('utf8')) as Record<string, unknown>;
  }
  return publicGood;
}

/** The file `sigil initialize` stores the TUF-verified trusted root in, inside the TUF cache dir. */
export const TUF_TRUSTED_ROOT_FILE = 'trusted_root.json';

/** cosign's `$TUF_ROOT`, else `$XDG_CACHE_HOME/sigil/tuf`, else `~/.cache/sigil/tuf`. */
export function defaultTufCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.TUF_ROOT) return env.TUF_ROOT;
  return join(env.XDG_CACHE_HOME || join(env.HOME || homedir(), '.cache'), 'sigil', 'tuf');
}

let updated: { dir: string; json: Record<string, unknown> | undefined } | undefined;

/**
 * The trusted root used when none is named: the TUF-updated one in the cache dir when it is
 * there and reads as a trusted root, else the embedded seeds' (what verification used before any
 * `sigil initialize`, and still works offline).
 */
export function defaultTrustedRoot(env: NodeJS.ProcessEnv = process.env): Record<string, unknown> {
  const dir = defaultTufCacheDir(env);
  if (updated?.dir !== dir) {
    const path = join(dir, TUF_TRUSTED_ROOT_FILE);
    let json: Record<string, unknown> | undefined;
    try {
      if (existsSync(path)) json = readTrustedRoot(path);
    } catch {
      json = undefined;
    }
    updated = { dir, json };
  }
  return updated.json ?? embeddedTrustedRoot();
}

/** A trusted_root.json file (protobuf-specs JSON), parsed. */
export function readTrustedRoot(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new VerifyError('TRUST_ROOT_INVALID', `trusted root ${path}: ${(err as Error).message}`, { cause: err });
  }
  return parseTrustedRoot(text, `trusted root ${path}`);
}

/** trusted_root.json text, parsed; `what` names it in errors. */
export function parseTrustedRoot(text: string, what: string): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new VerifyError('TRUST_ROOT_INVALID', `${what}: ${(err as Error).message}`, { cause: err });
  }
  if (
    typeof doc !== 'object' ||
    doc === null ||
    !String((doc as Record<string, unknown>)['mediaType']).includes('trustedroot')
  ) {
    throw new VerifyError('TRUST_ROOT_INVALID', `${what}: not a Sigstore trusted_root.json (mediaType)`);
  }
  return doc as Record<string, unknown>;
}

/** What @sigstore/verify verifies against, from a parsed trusted root. */
export function trustMaterialOf(json: Record<string, unknown>): TrustMaterial {
  try {
    return toTrustMaterial(TrustedRoot.fromJSON(json));
  } catch (err) {
    throw new VerifyError('TRUST_ROOT_INVALID', `trusted root: ${(err as Error).message}`, { cause: err });
  }
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]+?-----END CERTIFICATE-----/g;

function pemFile(path: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new VerifyError('TRUST_ROOT_INVALID', `${path}: ${(err as Error).message}`, { cause: err });
  }
  const pems = text.match(PEM_CERT) ?? [];
  if (pems.length === 0) throw new VerifyError('TRUST_ROOT_INVALID', `${path}: no PEM certificate`);
  return pems;
}

/**
 * A trusted root whose certificate authorities are the given PEM roots, each with every given
 * intermediate (a chain is found among them), valid forever: cosign --ca-roots has no windows.
 */
export function rootWithCustomCAs(base: Record<string, unknown>, caRoots: string, caIntermediates?: string) {
  const intermediates = caIntermediates ? pemFile(caIntermediates) : [];
  const cas = pemFile(caRoots).map((root) => ({
    subject: { organization: 'custom', commonName: 'custom' },
    uri: `file://${caRoots}`,
    certChain: {
      certificates: [...intermediates, root].map((p) => ({ rawBytes: new X509Certificate(p).raw.toString('base64') })),
    },
    validFor: { start: '1970-01-01T00:00:00Z' },
  }));
  return { ...base, certificateAuthorities: cas };
}

export interface TrustOptions {
  trustedRoot?: string;
  caRoots?: string;
  caIntermediates?: string;
}

const cache = new Map<string, { json: Record<string, unknown>; material: TrustMaterial }>();

/** Forgets every loaded trusted root (tests; a long-lived process after `updateTrustedRoot`). */
export function resetTrustCache(): void {
  updated = undefined;
  cache.clear();
}

/** The trust material for a keyless authority (cached by its inputs). */
export function loadTrust(o: TrustOptions): { json: Record<string, unknown>; material: TrustMaterial } {
  // The default root depends on where the TUF cache is, so that is part of the key.
  const root = o.trustedRoot ? ['file', o.trustedRoot] : ['default', defaultTufCacheDir()];
  const key = JSON.stringify([...root, o.caRoots ?? '', o.caIntermediates ?? '']);
  let hit = cache.get(key);
  if (!hit) {
    let json = o.trustedRoot ? readTrustedRoot(o.trustedRoot) : defaultTrustedRoot();
    if (o.caRoots) json = rootWithCustomCAs(json, o.caRoots, o.caIntermediates);
    hit = { json, material: trustMaterialOf(json) };
    cache.set(key, hit);
  }
  return hit;
}

/**
 * Trust material for a key authority: the key answers for every hint (legacy layers carry none,
 * cosign v3 bundles carry the SPKI digest; `--key` decides either way), the logs and TSAs of the
 * trusted root witness it.
 */
export function keyTrust(publicKey: KeyObject, trustedRoot?: string): TrustMaterial {
  const base = loadTrust(trustedRoot ? { trustedRoot } : {}).material;
  return { ...base, publicKey: () => ({ publicKey, validFor: () => true }) };
}

/** Hex sha256 of a key's SPKI DER: how keys are named in reports. */
export function keyFingerprint(key: KeyObject): string {
  return createHash('sha256')
    .update(key.export({ type: 'spki', format: 'der' }))
    .digest('hex');
}

/** A PEM public key file or PEM text (cosign .pub) as a KeyObject. */
export function readPublicKey(pemOrPath: string): KeyObject {
  const text = pemOrPath.includes('-----BEGIN') ? pemOrPath : readFileSync(pemOrPath, 'utf8');
  try {
    return createPublicKey(text);
  } catch (err) {
    throw new VerifyError('TRUST_ROOT_INVALID', `public key: ${(err as Error).message}`, { cause: err });
  }
}
