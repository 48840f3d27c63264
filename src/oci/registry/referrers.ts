import type { Digest } from '../digest.ts';
import { digestAlgorithm, digestHex } from '../digest.ts';
import { OciError } from '../errors.ts';
import { type Descriptor, type ManifestBlob, parseManifest } from '../manifest.ts';
import { MediaType } from '../media-types.ts';
import { repositoryScope } from './auth.ts';
import { discard } from './response-error.ts';
import { header, readBounded, type Transport } from './transport.ts';

export interface ReferrersResult {
  descriptors: Descriptor[];
  /** `api`: the registry's referrers API answered; `tag`: it has none, and the fallback tag index was read. */
  via: 'api' | 'tag';
}

// A referrers index is a manifest: the same cap as for any manifest.
const REFERRERS_SIZE_LIMIT = 4 * 1024 * 1024;

/** The fallback tag for a subject (image spec v1.1, "Referrers Tag Schema"): `<alg>-<hex>`. */
export function referrersTag(subject: Digest): string {
  return `${digestAlgorithm(subject)}-${digestHex(subject)}`;
}

function filterByArtifactType(descs: Descriptor[], artifactType: string | undefined): Descriptor[] {
  return artifactType === undefined ? descs : descs.filter((d) => d.artifactType === artifactType);
}

function indexDescriptors(bytes: Uint8Array, what: string): Descriptor[] {
  const parsed = parseManifest(bytes, MediaType.OciIndex, what);
  if (parsed.kind !== 'index') throw new OciError('MANIFEST_INVALID', `${what}: expected an image index`);
  return parsed.index.manifests;
}

/**
 * `GET /v2/<name>/referrers/<digest>` (distribution spec v1.1, "Listing Referrers"); undefined
 * when the registry answers 404, which the spec reserves for "no referrers API".
 */
export async function fetchReferrers(
  transport: Transport,
  repo: string,
  subject: Digest,
  options: { artifactType?: string; signal?: AbortSignal },
  name: string,
): Promise<ReferrersResult | undefined> {
  const query = options.artifactType ? `?artifactType=${encodeURIComponent(options.artifactType)}` : '';
  const res = await transport.send({
    method: 'GET',
    url: `/v2/${repo}/referrers/${subject}${query}`,
    scopes: [repositoryScope(repo, ['pull'])],
    headers: { accept: MediaType.OciIndex },
    ok: [200, 404],
    signal: options.signal,
  });
  if (res.status === 404) {
    discard(res.body);
    return undefined;
  }
  const what = `referrers of ${name}@${subject}`;
  const descriptors = indexDescriptors(await readBounded(res, REFERRERS_SIZE_LIMIT, what), what);
  // The registry may ignore artifactType; it says it applied it with OCI-Filters-Applied.
  const applied = (header(res.headers, 'oci-filters-applied') ?? '').split(',').map((s) => s.trim());
  return {
    descriptors: applied.includes('artifactType')
      ? descriptors
      : filterByArtifactType(descriptors, options.artifactType),
    via: 'api',
  };
}

/** Referrers from the fallback tag index; a missing tag means none. */
export async function referrersTagFallback(
  getIfExists: (tag: string, signal?: AbortSignal) => Promise<ManifestBlob | undefined>,
  subject: Digest,
  options: { artifactType?: string; signal?: AbortSignal },
): Promise<ReferrersResult> {
  const tag = referrersTag(subject);
  const index = await getIfExists(tag, options.signal);
  if (!index) return { descriptors: [], via: 'tag' };
  const descriptors = indexDescriptors(index.bytes, `referrers tag index ${tag}`);
  return { descriptors: filterByArtifactType(descriptors, options.artifactType), via: 'tag' };
}
