import type { ContentSource, ContentTarget } from './content.ts';
import { openDockerArchiveSource, openDockerArchiveTarget } from './docker-archive.ts';
import { OciError } from './errors.ts';
import { openLayoutSource, openLayoutTarget } from './layout.ts';
import { openOciArchiveSource, openOciArchiveTarget } from './oci-archive.ts';
import { parseReference, type Reference, referenceTarget } from './reference.ts';
import type { RegistryOptions } from './registry/source.ts';

/**
 * Where an image lives, as syft and skopeo spell it: `registry:REF` (or a bare reference),
 * `oci-dir:PATH[:NAME]` (`oci:` as skopeo), `oci-archive:PATH[:NAME]`, `docker-archive:PATH[:NAME]`.
 */
export type ImageLocation =
  | { kind: 'registry'; reference: Reference }
  | { kind: 'oci-dir' | 'oci-archive' | 'docker-archive'; path: string; name?: string };

const PREFIXES: Record<string, ImageLocation['kind']> = {
  'registry:': 'registry',
  'docker:': 'registry',
  'oci-dir:': 'oci-dir',
  'oci:': 'oci-dir',
  'oci-archive:': 'oci-archive',
  'docker-archive:': 'docker-archive',
};

export function parseImageLocation(spec: string): ImageLocation {
  for (const [prefix, kind] of Object.entries(PREFIXES)) {
    if (!spec.startsWith(prefix)) continue;
    const rest = spec.slice(prefix.length);
    // skopeo writes its registry transport `docker://REF`.
    if (kind === 'registry') return { kind, reference: parseReference(rest.replace(/^\/\//, '')) };
    if (rest === '') throw new OciError('SOURCE_INVALID', `"${spec}": ${prefix} needs a path, as in ${prefix}./image`);
    // As skopeo: the path ends at the first ':'; what follows names the image inside.
    const colon = rest.indexOf(':');
    const path = colon < 0 ? rest : rest.slice(0, colon);
    const name = colon < 0 ? undefined : rest.slice(colon + 1);
    if (name === '') throw new OciError('SOURCE_INVALID', `"${spec}": empty image name after the path`);
    return name === undefined ? { kind, path } : { kind, path, name };
  }
  return { kind: 'registry', reference: parseReference(spec) };
}

export function formatImageLocation(loc: ImageLocation): string {
  if (loc.kind === 'registry') return loc.reference.toString();
  return `${loc.kind}:${loc.path}${loc.name === undefined ? '' : `:${loc.name}`}`;
}

export type SourceOptions = RegistryOptions;

export async function openSource(spec: string | ImageLocation, options: SourceOptions = {}): Promise<ContentSource> {
  const loc = typeof spec === 'string' ? parseImageLocation(spec) : spec;
  switch (loc.kind) {
    case 'registry': {
      // The registry client (undici) loads only when a registry is named: a CLI run on a
      // layout or archive starts without it.
      const { openRegistrySource } = await import('./registry/source.ts');
      return openRegistrySource(
        loc.reference.registry,
        loc.reference.repository,
        referenceTarget(loc.reference),
        options,
      );
    }
    case 'oci-dir':
      return openLayoutSource(loc.path, loc.name);
    case 'oci-archive':
      return openOciArchiveSource(loc.path, loc.name);
    case 'docker-archive':
      return openDockerArchiveSource(loc.path, loc.name);
  }
}

export async function openTarget(spec: string | ImageLocation, options: SourceOptions = {}): Promise<ContentTarget> {
  const loc = typeof spec === 'string' ? parseImageLocation(spec) : spec;
  switch (loc.kind) {
    case 'registry': {
      const { openRegistryTarget } = await import('./registry/source.ts');
      if (loc.reference.digest && !loc.reference.tag) {
        // Pushing "by digest" only makes sense when the content has that digest; copy checks it.
        return openRegistryTarget(loc.reference.registry, loc.reference.repository, undefined, options);
      }
      return openRegistryTarget(
        loc.reference.registry,
        loc.reference.repository,
        loc.reference.tag ?? 'latest',
        options,
      );
    }
    case 'oci-dir':
      return openLayoutTarget(loc.path, loc.name);
    case 'oci-archive':
      return openOciArchiveTarget(loc.path, loc.name);
    case 'docker-archive':
      return openDockerArchiveTarget(loc.path, loc.name);
  }
}
