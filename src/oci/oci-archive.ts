import { ArchiveTarget } from './archive-target.ts';
import type { ContentSource, ContentTarget } from './content.ts';
import { openArchiveFiles } from './file-set.ts';
import { LayoutSource, REF_NAME_ANNOTATION, resolveLayoutRoot } from './layout.ts';

function describe(path: string, name: string | undefined): string {
  return `oci-archive ${path}${name === undefined ? '' : `:${name}`}`;
}

/**
 * Read an OCI archive (a tar of an OCI layout, as skopeo's `oci-archive:PATH[:NAME]`) in place:
 * the tar is indexed once and blobs are served as byte ranges of it, never extracted. NAME has
 * the meaning it has for an OCI layout (ref.name annotation, or a digest).
 */
export async function openOciArchiveSource(path: string, name?: string): Promise<ContentSource> {
  const description = describe(path, name);
  const files = await openArchiveFiles(path);
  try {
    return new LayoutSource(description, files, await resolveLayoutRoot(files, name, description));
  } catch (e) {
    await files.close();
    throw e;
  }
}

/**
 * Write an OCI archive holding one image (or index) named NAME. Like skopeo, an existing file
 * at `path` is replaced, but only by commit; an abort leaves it as it was.
 */
export async function openOciArchiveTarget(path: string, name?: string): Promise<ContentTarget> {
  return new ArchiveTarget({
    path,
    description: describe(path, name),
    annotations: name === undefined ? {} : { [REF_NAME_ANNOTATION]: name },
  });
}
