/**
 * Repository names and image globs, exactly as shared/POLICY.md §2.1 defines them: both the
 * reference and the glob are normalised the same way (Docker Hub defaults, lower-cased host), and
 * a glob matches the whole normalised `registry/path`, never a tag or digest.
 */
import { basename } from 'node:path';

export interface NormalisedName {
  /** `registry/path`, e.g. `docker.io/library/nginx`; `local/<dir>` for layouts. */
  name: string;
  registry: string;
  repository: string;
  tag?: string;
  digest?: string;
}

const DOCKER_HUB_ALIASES = new Set(['index.docker.io', 'registry-1.docker.io', 'docker.io']);

/**
 * Rule 1, plus `local`: the pseudo-registry of OCI layouts (rule 6), so `local/app` globs and
 * `--scope local/app` mean the layout, never Docker Hub's `local` user.
 */
function isRegistrySegment(segment: string): boolean {
  return segment.includes('.') || segment.includes(':') || segment === 'localhost' || segment === 'local';
}

/** Rules 1–4 of §2.1 on a `registry/path` or bare `path` string (no tag or digest). */
function normalisePath(path: string): { registry: string; repository: string } {
  const slash = path.indexOf('/');
  const first = slash < 0 ? path : path.slice(0, slash);
  let registry: string;
  let repository: string;
  if (slash >= 0 && isRegistrySegment(first)) {
    registry = first.toLowerCase();
    repository = path.slice(slash + 1);
  } else {
    registry = 'docker.io';
    repository = path;
  }
  if (DOCKER_HUB_ALIASES.has(registry)) registry = 'docker.io';
  if (registry === 'docker.io' && !repository.includes('/') && !repository.includes('**')) {
    repository = `library/${repository}`;
  }
  return { registry, repository };
}

/**
 * The normalised repository name of an image reference. `oci-dir:`/`oci-archive:` sources match
 * as `local/<base name>` unless `scope` names the repository they stand for (notation's --scope).
 */
export function normaliseReference(reference: string, scope?: string): NormalisedName {
  const layout = /^(oci-dir|oci-archive|oci-layout):(.+)$/.exec(reference);
  if (layout || scope !== undefined) {
    const base = scope ?? `local/${basename(layout![2]!.replace(/:[^/:]*$/, '').replace(/\/+$/, ''))}`;
    const n = normaliseReference(base);
    return { ...n, tag: undefined, digest: undefined };
  }
  let rest = reference;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }
  const { registry, repository } = normalisePath(rest);
  const out: NormalisedName = { name: `${registry}/${repository}`, registry, repository };
  if (tag !== undefined) out.tag = tag;
  if (digest !== undefined) out.digest = digest;
  return out;
}

export interface CompiledGlob {
  /** As written in the policy. */
  pattern: string;
  /** After normalisation: what is matched. */
  expanded: string;
  /** The glob named no registry and got `docker.io` (lint prints the expansion). */
  registryImplied: boolean;
  /** `**` next to something other than `/` or an end (`ghcr.io/acme**`): lint warns. */
  doubleStarInsideSegment: boolean;
  matches(name: string): boolean;
}

export class GlobError extends Error {}

/** Parse and normalise a glob; throws GlobError with the §2.1 message for anything invalid. */
export function compileGlob(pattern: string): CompiledGlob {
  if (pattern === '*') {
    throw new GlobError(
      'glob "*": write `**` for every image, or `docker.io/library/*` for Docker Hub official images',
    );
  }
  if (pattern === '**') {
    return {
      pattern,
      expanded: '**',
      registryImplied: false,
      doubleStarInsideSegment: false,
      matches: () => true,
    };
  }
  if (pattern === '') throw new GlobError('glob is empty');
  const bad = /[?[\]{}@]/.exec(pattern);
  if (bad) throw new GlobError(`glob "${pattern}": "${bad[0]}" is not allowed (only a-z 0-9 . _ - / : and *)`);
  const slash = pattern.indexOf('/');
  const first = slash < 0 ? pattern : pattern.slice(0, slash);
  const hasRegistry = slash >= 0 && isRegistrySegment(first);
  const pathPart = hasRegistry ? pattern.slice(slash + 1) : pattern;
  if (pathPart.includes(':')) {
    throw new GlobError(`glob "${pattern}": globs match repositories; tags and digests are never part of the match`);
  }
  const { registry, repository } = normalisePath(pattern);
  const expanded = `${registry}/${repository}`;
  const invalid = /[^a-z0-9._\-/:*]/.exec(expanded);
  if (invalid) {
    throw new GlobError(`glob "${pattern}": "${invalid[0]}" is not allowed (only a-z 0-9 . _ - / : and *)`);
  }
  if (/\*{3,}/.test(expanded)) throw new GlobError(`glob "${pattern}": "***" is not a pattern; use * or **`);
  if (repository === '' || expanded.includes('//') || expanded.endsWith('/')) {
    throw new GlobError(`glob "${pattern}": empty path segment`);
  }
  let source = '^';
  for (let i = 0; i < expanded.length; i++) {
    const c = expanded[i]!;
    if (c === '*') {
      if (expanded[i + 1] === '*') {
        source += '.*';
        i++;
      } else {
        source += '[^/]*';
      }
    } else {
      source += c.replace(/[.\-/]/g, (m) => `\\${m}`);
    }
  }
  const re = new RegExp(`${source}$`);
  const doubleStarInsideSegment = /[^/]\*\*|\*\*[^/]/.test(expanded);
  return {
    pattern,
    expanded,
    registryImplied: !hasRegistry,
    doubleStarInsideSegment,
    matches: (name) => re.test(name),
  };
}
