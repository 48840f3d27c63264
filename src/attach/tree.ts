/**
 * The graph of things attached to an image: referrers, their referrers, and cosign's legacy
 * `.sig`/`.att`/`.sbom` tags at every level (a referrer or an `.sbom` image can be signed in
 * turn). Built from listAttachments, one subject at a time, breadth first.
 */
import type { Digest } from '../oci/digest.ts';
import type { Descriptor } from '../oci/manifest.ts';
import type { Registry } from '../oci/registry/client.ts';
import { type AttachmentKind, listAttachments } from './discovery.ts';
import { AttachError } from './errors.ts';
import { AttachAnnotation } from './media-types.ts';
import type { TagKind } from './tags.ts';

export interface ReferrerNode {
  /** The referrer manifest (or index). */
  descriptor: Descriptor;
  /** Its artifactType, else its config media type (what the oras tree groups by). */
  artifactType: string;
  kind: AttachmentKind;
  /** A Sigstore bundle (cosign v3's format). */
  bundle: boolean;
  /** A bundle's `dev.sigstore.bundle.predicateType`. */
  predicateType?: string;
  annotations: Record<string, string>;
  /** Layers of the referrer manifest (none for an index). */
  layers: Descriptor[];
  referrers: ReferrerNode[];
  tags: TagNode[];
}

/** One `.sig`/`.att`/`.sbom` image; each layer is one signature, attestation or SBOM. */
export interface TagNode {
  kind: TagKind;
  tag: string;
  manifest: Descriptor;
  layers: Descriptor[];
  /** What is attached to the tag image itself (e.g. a signature of an `.sbom` image). */
  referrers: ReferrerNode[];
  tags: TagNode[];
}

export interface AttachmentTree {
  /** Repository (without registry) the attachments were read from. */
  repository: string;
  subject: Descriptor;
  /** How the subject's referrers were found: the registry's API or the fallback tag index. */
  referrersVia: 'api' | 'tag';
  referrers: ReferrerNode[];
  tags: TagNode[];
  /** True when the depth or node limit cut the walk short; the tree is then a prefix of the whole. */
  truncated: boolean;
}

export interface DiscoverTreeOptions {
  /** Levels below the subject to walk (oras `--depth`); default 8. */
  maxDepth?: number;
  /** Attachments to visit in all (each costs one referrers query and three tag reads); default 500. */
  maxNodes?: number;
  /** Where the `.sig`/`.att`/`.sbom` tags and referrers live if not beside the subject (`COSIGN_REPOSITORY`). */
  repositoryOverride?: string;
  signal?: AbortSignal;
}

// Real graphs are two or three levels deep (image → signature → countersignature); the bounds
// only stop a hostile or looping registry from keeping the walk going.
const DEFAULT_MAX_DEPTH = 8;
const DEFAULT_MAX_NODES = 500;

function resolveOptions(o: DiscoverTreeOptions) {
  const maxDepth = o.maxDepth ?? DEFAULT_MAX_DEPTH;
  const maxNodes = o.maxNodes ?? DEFAULT_MAX_NODES;
  for (const [name, v] of [
    ['maxDepth', maxDepth],
    ['maxNodes', maxNodes],
  ] as const) {
    if (!Number.isSafeInteger(v) || v < 1) {
      throw new AttachError('INVALID_OPTIONS', `${name} must be a positive integer, got ${v}`);
    }
  }
  return { maxDepth, maxNodes };
}

interface Children {
  referrers: ReferrerNode[];
  tags: TagNode[];
}

/**
 * Walks what is attached to `subject`, then what is attached to each of those, down to
 * `maxDepth` levels and at most `maxNodes` attachments. A digest is expanded once: a referrer
 * met again (a cycle, or one manifest referring through two paths) appears as a leaf.
 */
export async function discoverTree(
  registry: Registry,
  repo: string,
  subject: Descriptor,
  options: DiscoverTreeOptions = {},
): Promise<AttachmentTree> {
  const { maxDepth, maxNodes } = resolveOptions(options);
  const listOptions = {
    ...(options.repositoryOverride ? { repositoryOverride: options.repositoryOverride } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  };
  const expanded = new Set<Digest>();
  let visited = 0;
  let truncated = false;
  let referrersVia: 'api' | 'tag' = 'tag';

  const childrenOf = async (digest: Digest, depth: number): Promise<Children> => {
    const out: Children = { referrers: [], tags: [] };
    if (expanded.has(digest)) return out;
    expanded.add(digest);
    const list = await listAttachments(registry, repo, digest, listOptions);
    if (depth === 1) referrersVia = list.referrersVia;
    const pending: { digest: Digest; into: Children }[] = [];
    for (const a of list.attachments) {
      if (visited >= maxNodes) {
        truncated = true;
        break;
      }
      if (a.scheme === 'referrers') {
        visited++;
        const node: ReferrerNode = {
          descriptor: a.manifest,
          artifactType: a.artifactType ?? a.manifest.mediaType,
          kind: a.kind,
          bundle: a.bundle,
          ...(a.bundle && a.annotations[AttachAnnotation.BundlePredicateType]
            ? { predicateType: a.annotations[AttachAnnotation.BundlePredicateType] }
            : {}),
          annotations: a.annotations,
          layers: a.layers.map((l) => l.descriptor),
          referrers: [],
          tags: [],
        };
        out.referrers.push(node);
        pending.push({ digest: a.manifest.digest, into: node });
        continue;
      }
      // Tag scheme: one attachment per layer; gather the layers of each tag into one node.
      const existing = out.tags.find((t) => t.tag === a.tag);
      const layer = a.layers[0]?.descriptor;
      if (existing) {
        if (layer) existing.layers.push(layer);
        continue;
      }
      visited++;
      const node: TagNode = {
        kind: a.kind as TagKind,
        tag: a.tag ?? '',
        manifest: a.manifest,
        layers: layer ? [layer] : [],
        referrers: [],
        tags: [],
      };
      out.tags.push(node);
      pending.push({ digest: a.manifest.digest, into: node });
    }
    out.referrers.sort(byTypeThenDigest);
    if (depth >= maxDepth) {
      // Whether anything lies below is unknown without asking; say the walk stopped if it could go on.
      if (pending.length > 0) truncated = true;
      return out;
    }
    for (const p of pending) {
      const below = await childrenOf(p.digest, depth + 1);
      p.into.referrers = below.referrers;
      p.into.tags = below.tags;
    }
    return out;
  };

  const top = await childrenOf(subject.digest, 1);
  return {
    repository: options.repositoryOverride ?? repo,
    subject,
    referrersVia,
    referrers: top.referrers,
    tags: top.tags,
    truncated,
  };
}

function byTypeThenDigest(a: ReferrerNode, b: ReferrerNode): number {
  if (a.artifactType !== b.artifactType) return a.artifactType < b.artifactType ? -1 : 1;
  return a.descriptor.digest < b.descriptor.digest ? -1 : a.descriptor.digest > b.descriptor.digest ? 1 : 0;
}

/** Every referrer and tag image in the tree, depth first. */
export function* walkTree(
  t: Pick<AttachmentTree, 'referrers' | 'tags'>,
): Generator<{ node: ReferrerNode | TagNode; depth: number }> {
  function* go(c: Children, depth: number): Generator<{ node: ReferrerNode | TagNode; depth: number }> {
    for (const r of c.referrers) {
      yield { node: r, depth };
      yield* go(r, depth + 1);
    }
    for (const tg of c.tags) {
      yield { node: tg, depth };
      yield* go(tg, depth + 1);
    }
  }
  yield* go(t, 1);
}

// ---------------------------------------------------------------------------------------------
// Text rendering

/** A node of the printed tree (oras internal/tree: a value and children). */
interface PrintNode {
  value: string;
  children: PrintNode[];
}

const TAG_TITLE: Readonly<Record<TagKind, string>> = {
  signature: '🔐 Signatures for an image tag',
  attestation: '💾 Attestations for an image tag',
  sbom: '📦 SBOMs for an image tag',
};

function child(parent: PrintNode, value: string): PrintNode {
  const existing = parent.children.find((c) => c.value === value);
  if (existing) return existing;
  const n: PrintNode = { value, children: [] };
  parent.children.push(n);
  return n;
}

function addChildren(parent: PrintNode, c: Children, repoName: string): void {
  // As `oras discover --format tree`: referrers grouped under their artifactType, then digest.
  for (const r of c.referrers) {
    const group = child(parent, r.artifactType);
    const label = r.predicateType ? `${r.descriptor.digest} (${r.predicateType})` : r.descriptor.digest;
    const node = child(group, label);
    addChildren(node, r, repoName);
  }
  // As `cosign tree`: one branch per attachment tag, a 🍒 per layer.
  for (const t of c.tags) {
    const n = t.layers.length;
    const node = child(parent, `${TAG_TITLE[t.kind]}: ${repoName}:${t.tag} (${n} ${n === 1 ? 'layer' : 'layers'})`);
    for (const l of t.layers) child(node, `🍒 ${l.digest}`);
    addChildren(node, t, repoName);
  }
}

function printTree(root: PrintNode): string {
  const lines: string[] = [];
  const go = (n: PrintNode, prefix: string, first: string): void => {
    lines.push(first + n.value);
    n.children.forEach((c, i) => {
      const last = i === n.children.length - 1;
      go(c, prefix + (last ? '    ' : '│   '), prefix + (last ? '└── ' : '├── '));
    });
  };
  go(root, '', '');
  return `${lines.join('\n')}\n`;
}

export interface RenderTreeOptions {
  /** `registry/repository` of the attachments, as printed before `@digest` and `:tag`. */
  repositoryName: string;
  /** The image as the user wrote it, for the heading. */
  reference: string;
}

/**
 * The tree as text: cosign's heading line, then the oras-style tree rooted at
 * `<registry/repository>@<digest>`, referrers grouped by artifactType (a bundle's digest is
 * followed by its predicate type, which cosign v3 uses in place of the artifactType), and the
 * legacy tags with their layers as cosign tree prints them. Box drawing as oras' printer.
 */
export function renderTree(t: AttachmentTree, o: RenderTreeOptions): string {
  const root: PrintNode = { value: `${o.repositoryName}@${t.subject.digest}`, children: [] };
  addChildren(root, t, o.repositoryName);
  let text = `📦 Supply Chain Security Related artifacts for an image: ${o.reference}\n${printTree(root)}`;
  if (t.referrers.length === 0 && t.tags.length === 0) text += 'No referrers and no .sig/.att/.sbom tags found\n';
  if (t.truncated) text += '… more attachments not shown: depth or count limit reached\n';
  return text;
}

// ---------------------------------------------------------------------------------------------
// JSON

export interface TreeJsonNode {
  reference: string;
  mediaType: string;
  digest: Digest;
  size: number;
  artifactType?: string;
  kind?: AttachmentKind;
  bundle?: boolean;
  predicateType?: string;
  annotations?: Record<string, string>;
  referrers: TreeJsonNode[];
  tags: TreeJsonTag[];
}

export interface TreeJsonTag {
  kind: TagKind;
  reference: string;
  tag: string;
  digest: Digest;
  mediaType: string;
  size: number;
  layers: { mediaType: string; digest: Digest; size: number; annotations?: Record<string, string> }[];
  referrers: TreeJsonNode[];
  tags: TreeJsonTag[];
}

/**
 * The nested structure for `-o json`: the subject node as `oras discover --format json` writes
 * it (reference, mediaType, digest, size, referrers[] recursively), with `tags[]` beside
 * `referrers[]` at every level for the legacy scheme, plus `referrersVia` and `truncated` at the top.
 */
export function treeJson(
  t: AttachmentTree,
  repositoryName: string,
): TreeJsonNode & { referrersVia: 'api' | 'tag'; truncated: boolean } {
  const refNode = (r: ReferrerNode): TreeJsonNode => ({
    reference: `${repositoryName}@${r.descriptor.digest}`,
    mediaType: r.descriptor.mediaType,
    digest: r.descriptor.digest,
    size: r.descriptor.size,
    artifactType: r.artifactType,
    kind: r.kind,
    bundle: r.bundle,
    ...(r.predicateType ? { predicateType: r.predicateType } : {}),
    ...(Object.keys(r.annotations).length > 0 ? { annotations: r.annotations } : {}),
    referrers: r.referrers.map(refNode),
    tags: r.tags.map(tagNode),
  });
  const tagNode = (tg: TagNode): TreeJsonTag => ({
    kind: tg.kind,
    reference: `${repositoryName}:${tg.tag}`,
    tag: tg.tag,
    digest: tg.manifest.digest,
    mediaType: tg.manifest.mediaType,
    size: tg.manifest.size,
    layers: tg.layers.map((l) => ({
      mediaType: l.mediaType,
      digest: l.digest,
      size: l.size,
      ...(l.annotations && Object.keys(l.annotations).length > 0 ? { annotations: l.annotations } : {}),
    })),
    referrers: tg.referrers.map(refNode),
    tags: tg.tags.map(tagNode),
  });
  return {
    reference: `${repositoryName}@${t.subject.digest}`,
    mediaType: t.subject.mediaType,
    digest: t.subject.digest,
    size: t.subject.size,
    referrersVia: t.referrersVia,
    truncated: t.truncated,
    referrers: t.referrers.map(refNode),
    tags: t.tags.map(tagNode),
  };
}
