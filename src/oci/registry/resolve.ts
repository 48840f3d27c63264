import type { Descriptor } from '../manifest.ts';
import { OciError } from '../errors.ts';
import { parseReference, parseRepository, type Reference, referenceTarget } from '../reference.ts';
import { type Registry, registryFor, type RegistryOptions } from './client.ts';

export interface ResolvedReference {
  ref: Reference;
  registry: Registry;
  /** The manifest or index the reference names, from one HEAD (what sign, attach and verify work on). */
  descriptor: Descriptor;
}

/** A registry reference resolved once to the descriptor of what it names; MANIFEST_UNKNOWN when nothing is there. */
export async function resolveReference(
  reference: string,
  options?: RegistryOptions,
  signal?: AbortSignal,
): Promise<ResolvedReference> {
  const ref = parseReference(reference);
  const registry = registryFor(ref.registry, options);
  const descriptor = await registry.headManifest(ref.repository, referenceTarget(ref), signal);
  if (descriptor === undefined) {
    throw new OciError('MANIFEST_UNKNOWN', `${reference}: no such manifest in ${ref.registry}/${ref.repository}`);
  }
  return { ref, registry, descriptor };
}

/** Where attachments are stored: a repository on some registry, with the client for it. */
export interface RepositoryLocation {
  registry: Registry;
  repository: string;
  /** `registry/repository`. */
  name: string;
}

/**
 * The repository attachments of `ref` live in: `override` (cosign's `COSIGN_REPOSITORY`,
 * `registry/repository` on any registry) when given, else the image's own.
 */
export function attachmentRepository(
  ref: Reference,
  registry: Registry,
  override?: string,
  options?: RegistryOptions,
): RepositoryLocation {
  if (!override) return { registry, repository: ref.repository, name: `${ref.registry}/${ref.repository}` };
  const r = parseRepository(override);
  return { registry: registryFor(r.registry, options), repository: r.repository, name: r.name };
}
