/**
 * Checks of a test registry's state made directly over HTTP (plain fetch, none of sigil's
 * code), for tests that injure traffic and must prove nothing was left half-written.
 */

const ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

interface Descriptor {
  mediaType?: string;
  digest: string;
  size?: number;
}

interface ManifestDoc {
  mediaType?: string;
  config?: Descriptor;
  layers?: Descriptor[];
  manifests?: Descriptor[];
}

export interface RegistrySnapshot {
  /** repository -> tag -> manifest digest */
  tags: Map<string, Map<string, string>>;
  /** Manifests and blobs checked. */
  checked: number;
}

async function json<T>(url: string, headers: Record<string, string> = {}): Promise<{ body: T; digest: string }> {
  const res = await fetch(url, { headers });
  if (res.status !== 200) throw new Error(`GET ${url}: ${res.status}`);
  return { body: (await res.json()) as T, digest: res.headers.get('docker-content-digest') ?? '' };
}

async function exists(url: string, headers: Record<string, string> = {}): Promise<boolean> {
  const res = await fetch(url, { method: 'HEAD', headers });
  if (res.status === 200) return true;
  if (res.status === 404) return false;
  throw new Error(`HEAD ${url}: ${res.status}`);
}

/** Every repository and tag of the registry (`_catalog`, then each tag list). */
export async function registryTags(registryUrl: string): Promise<Map<string, Map<string, string>>> {
  const { body: catalog } = await json<{ repositories: string[] | null }>(`${registryUrl}/v2/_catalog?n=1000`);
  const out = new Map<string, Map<string, string>>();
  for (const repo of catalog.repositories ?? []) {
    // A repository holding only blobs (an upload whose manifest never came, as after a failed
    // copy) is in the catalog, but distribution answers its tag list 404 NAME_UNKNOWN.
    const res = await fetch(`${registryUrl}/v2/${repo}/tags/list`);
    if (res.status !== 200 && res.status !== 404)
      throw new Error(`GET ${registryUrl}/v2/${repo}/tags/list: ${res.status}`);
    const body = res.status === 200 ? ((await res.json()) as { tags: string[] | null }) : { tags: [] };
    const tags = new Map<string, string>();
    for (const tag of body.tags ?? []) {
      const { digest } = await json<ManifestDoc>(`${registryUrl}/v2/${repo}/manifests/${tag}`, { accept: ACCEPT });
      tags.set(tag, digest);
    }
    out.set(repo, tags);
  }
  return out;
}

/**
 * Throws, listing every problem, unless every tag in every repository points at a manifest whose
 * config, layers and child manifests (recursively) all exist in that repository.
 */
export async function assertRegistryConsistent(registryUrl: string): Promise<RegistrySnapshot> {
  const tags = await registryTags(registryUrl);
  const problems: string[] = [];
  let checked = 0;
  for (const [repo, byTag] of tags) {
    const seen = new Set<string>();
    const checkManifest = async (reference: string, via: string): Promise<void> => {
      if (seen.has(reference)) return;
      seen.add(reference);
      const res = await fetch(`${registryUrl}/v2/${repo}/manifests/${reference}`, { headers: { accept: ACCEPT } });
      checked++;
      if (res.status !== 200) {
        problems.push(`${repo}:${via}: manifest ${reference} is missing (${res.status})`);
        return;
      }
      const doc = (await res.json()) as ManifestDoc;
      for (const blob of [...(doc.config ? [doc.config] : []), ...(doc.layers ?? [])]) {
        checked++;
        if (!(await exists(`${registryUrl}/v2/${repo}/blobs/${blob.digest}`))) {
          problems.push(`${repo}:${via}: blob ${blob.digest} of manifest ${reference} is missing`);
        }
      }
      for (const child of doc.manifests ?? []) await checkManifest(child.digest, `${via} > ${child.digest}`);
    };
    for (const [tag, digest] of byTag) await checkManifest(digest, tag);
  }
  if (problems.length > 0) throw new Error(`registry ${registryUrl} is inconsistent:\n${problems.join('\n')}`);
  return { tags, checked };
}

/** The manifests listed by the referrers fallback tag index (`sha256-<hex>`) of `subject`; [] when absent. */
export async function fallbackIndexEntries(registryUrl: string, repo: string, subject: string): Promise<string[]> {
  const tag = subject.replace(':', '-');
  const res = await fetch(`${registryUrl}/v2/${repo}/manifests/${tag}`, { headers: { accept: ACCEPT } });
  if (res.status === 404) return [];
  if (res.status !== 200) throw new Error(`GET ${repo}:${tag}: ${res.status}`);
  return ((await res.json()) as ManifestDoc).manifests?.map((m) => m.digest) ?? [];
}

/** The layers of a cosign `.sig`/`.att` tag image; [] when absent. */
export async function tagImageLayers(registryUrl: string, repo: string, tag: string): Promise<string[]> {
  const res = await fetch(`${registryUrl}/v2/${repo}/manifests/${tag}`, { headers: { accept: ACCEPT } });
  if (res.status === 404) return [];
  if (res.status !== 200) throw new Error(`GET ${repo}:${tag}: ${res.status}`);
  return ((await res.json()) as ManifestDoc).layers?.map((m) => m.digest) ?? [];
}
