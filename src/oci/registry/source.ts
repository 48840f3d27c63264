import type { Readable } from 'node:stream';
import type { ContentSource, ContentTarget, PushBlobOptions } from '../content.ts';
import { isDigest } from '../digest.ts';
import { type Descriptor, type ManifestBlob, verifyManifestBytes } from '../manifest.ts';
import { registryFor, type RegistryOptions } from './client.ts';

export type { RegistryOptions } from './client.ts';

/** Reads an image (or any artifact) from `registry/repository` named by a tag or digest. */
export function openRegistrySource(
  registry: string,
  repository: string,
  reference: string,
  options?: RegistryOptions,
): ContentSource {
  const client = registryFor(registry, options);
  const name = `${registry}/${repository}`;
  return {
    description: `registry ${name}${isDigest(reference) ? '@' : ':'}${reference}`,
    origin: { registry, repository },
    resolveRoot: (signal) => client.getManifest(repository, reference, signal),
    async fetchManifest(desc: Descriptor, signal?: AbortSignal): Promise<ManifestBlob> {
      const got = await client.getManifest(repository, desc.digest, signal);
      verifyManifestBytes(got.bytes, desc, `manifest ${name}@${desc.digest}`);
      // The caller's descriptor (platform, annotations) describes these very bytes.
      return { descriptor: desc, bytes: got.bytes };
    },
    fetchBlob: (desc, signal) => client.getBlob(repository, desc, signal),
    close: async () => {
      // Connections belong to the process-wide pool and tokens to the shared client.
    },
  };
}

/**
 * Writes to `registry/repository`. Blobs and child manifests go by digest; only `commit`
 * tags the root (or, without a tag, stores it by digest), so a failed copy leaves no tag.
 */
export function openRegistryTarget(
  registry: string,
  repository: string,
  tag: string | undefined,
  options?: RegistryOptions,
): ContentTarget {
  const client = registryFor(registry, options);
  const name = `${registry}/${repository}`;
  return {
    description: `registry ${name}${tag ? `:${tag}` : ''}`,
    hasBlob: (desc, signal) => client.blobExists(repository, desc.digest, ['pull', 'push'], signal),
    pushBlob: (desc: Descriptor, open: () => Promise<Readable>, opts?: PushBlobOptions) =>
      client.pushBlob(repository, desc, open, opts),
    async pushManifest(manifest: ManifestBlob, signal?: AbortSignal): Promise<void> {
      const d = manifest.descriptor;
      const existing = await client.headManifest(repository, d.digest, signal);
      if (existing) return;
      await client.putManifest(repository, d.digest, manifest.bytes, d.mediaType, signal);
    },
    async commit(root: ManifestBlob, signal?: AbortSignal): Promise<void> {
      const d = root.descriptor;
      await client.putManifest(repository, tag ?? d.digest, root.bytes, d.mediaType, signal);
    },
    abort: async () => {
      // Everything pushed is content-addressed and may be shared with other images in the
      // repository; deleting it could break them, and the registry's GC collects orphans.
    },
  };
}
