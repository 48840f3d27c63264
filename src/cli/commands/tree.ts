import type { Descriptor, Platform } from '../../oci/manifest.ts';
import type { Reference } from '../../oci/reference.ts';
import type { Registry } from '../../oci/registry/client.ts';
import type { RepositoryLocation } from '../../oci/registry/resolve.ts';
import type { Command } from '../command.ts';
import type { Context } from '../context.ts';
import { ExitCode, UsageError } from '../exit-codes.ts';

/** An image reference resolved once to the digest everything below is keyed by. */
export interface ResolvedImage {
  ref: Reference;
  registry: Registry;
  /** `registry/repository` as cosign prints it (Docker Hub as `index.docker.io`). */
  repositoryName: string;
  /** What the reference names (an index stays an index). */
  root: Descriptor;
  /** `root`, or with a platform the index child for it. */
  subject: Descriptor;
  /** Where its attachments live: beside it, or in `COSIGN_REPOSITORY`. */
  store: RepositoryLocation;
}

/**
 * Tag → digest, as cosign does before deriving any attachment name. With `platform` and an
 * index, the matching child manifest (never a BuildKit attestation manifest) becomes the subject.
 */
export async function resolveImage(ctx: Context, image: string, platform?: Platform): Promise<ResolvedImage> {
  const [{ attachmentRepository, resolveReference }, { OciError }, { dockerReferenceOf }, { parseReference }] =
    await Promise.all([
      import('../../oci/registry/resolve.ts'),
      import('../../oci/errors.ts'),
      import('../../sign/payloads/simple-signing.ts'),
      import('../../oci/reference.ts'),
    ]);
  const { ref, registry, descriptor: root } = await resolveReference(image, ctx.registry, ctx.signal);
  let subject = root;
  if (platform) {
    const [{ isIndexMediaType }, { parseManifest }, { platformMatches, formatPlatform }] = await Promise.all([
      import('../../oci/media-types.ts'),
      import('../../oci/manifest.ts'),
      import('../../oci/platform.ts'),
    ]);
    if (isIndexMediaType(root.mediaType)) {
      const blob = await registry.getManifest(ref.repository, root.digest, ctx.signal);
      const parsed = parseManifest(blob.bytes, blob.descriptor.mediaType, `index ${image}`);
      const child =
        parsed.kind === 'index'
          ? parsed.index.manifests.find(
              (d) =>
                d.platform !== undefined &&
                d.annotations?.['vnd.docker.reference.type'] !== 'attestation-manifest' &&
                platformMatches(platform, d.platform),
            )
          : undefined;
      if (!child) {
        throw new OciError('PLATFORM_NOT_FOUND', `${image}: the index has no image for ${formatPlatform(platform)}`);
      }
      subject = { mediaType: child.mediaType, digest: child.digest, size: child.size };
    } else {
      ctx.out.info(`${image} is a single image, not an index: --platform ignored`);
    }
  }
  const repositoryName = dockerReferenceOf(ref);
  const store = attachmentRepository(ref, registry, ctx.signatureRepository, ctx.registry);
  // Names as cosign prints them (Docker Hub as index.docker.io).
  const storeName = ctx.signatureRepository ? dockerReferenceOf(parseReference(store.name)) : repositoryName;
  return { ref, registry, repositoryName, root, subject, store: { ...store, name: storeName } };
}

interface TreeArgs {
  image: string;
  depth?: number;
}

export const treeCommand: Command = {
  register: (y, run) =>
    y.command(
      'tree <image>',
      'Show what is attached to an image: referrers (and theirs, recursively) and .sig/.att/.sbom tags',
      (c) =>
        c
          .positional('image', { type: 'string', demandOption: true, describe: 'image reference' })
          .option('depth', { type: 'number', describe: 'levels of referrers to show (default 8)' })
          .example('$0 tree 127.0.0.1:5000/app:1.0', 'as oras discover -o tree, plus cosign tags')
          .example('$0 tree -o json registry.example/app@sha256:…', 'nested referrers[] and tags[]'),
      (argv) =>
        run<TreeArgs>(argv, async (ctx, a) => {
          if (a.depth !== undefined && (!Number.isSafeInteger(a.depth) || a.depth < 1)) {
            throw new UsageError(`--depth ${a.depth}: expected a whole number of at least 1`);
          }
          const { discoverTree, renderTree, treeJson } = await import('../../attach/tree.ts');
          const img = await resolveImage(ctx, a.image);
          const tree = await discoverTree(img.store.registry, img.store.repository, img.root, {
            ...(a.depth !== undefined ? { maxDepth: a.depth } : {}),
            signal: ctx.signal,
          });
          ctx.out.result(
            treeJson(tree, img.store.name),
            renderTree(tree, { repositoryName: img.store.name, reference: a.image }),
          );
          return ExitCode.Ok;
        }),
    ),
};

const TRIANGULATE_TYPES = ['signature', 'attestation', 'sbom', 'digest'] as const;
type TriangulateType = (typeof TRIANGULATE_TYPES)[number];

/** What `cosign triangulate --type T` prints (cosign:cmd/cosign/cli/triangulate/triangulate.go). */
export function triangulated(repositoryName: string, digest: Descriptor['digest'], type: TriangulateType): string {
  const [alg, hex] = digest.split(':') as [string, string];
  if (type === 'digest') return `${repositoryName}@${digest}`;
  const suffix = type === 'signature' ? 'sig' : type === 'attestation' ? 'att' : 'sbom';
  return `${repositoryName}:${alg}-${hex}.${suffix}`;
}

export const triangulateCommand: Command = {
  register: (y, run) =>
    y.command(
      'triangulate <image>',
      'Print where cosign keeps the signatures (or attestations, SBOM) of an image: <repo>:sha256-<hex>.sig',
      (c) =>
        c
          .positional('image', { type: 'string', demandOption: true, describe: 'image reference' })
          .option('type', {
            type: 'string',
            choices: TRIANGULATE_TYPES,
            default: 'signature',
            describe: 'signature (.sig), attestation (.att), sbom (.sbom) or digest (<repo>@sha256:…)',
          })
          .example('$0 triangulate 127.0.0.1:5000/app:1.0', '127.0.0.1:5000/app:sha256-….sig'),
      (argv) =>
        run<{ image: string; type: TriangulateType }>(argv, async (ctx, a) => {
          const img = await resolveImage(ctx, a.image);
          const out = triangulated(a.type === 'digest' ? img.repositoryName : img.store.name, img.root.digest, a.type);
          ctx.out.result({ type: a.type, reference: out, digest: img.root.digest }, out);
          return ExitCode.Ok;
        }),
    ),
};
