/**
 * The demo image's wanted files as catalogers receive them: read through the project's
 * digest-checked OCI layout source and squashed by src/filesystem (top layer wins, lower
 * versions in `earlier`).
 */
import type { CatalogFile } from '../../src/catalog/cataloger.ts';
import { squashImage } from '../../src/filesystem/index.ts';
import { resolveImage } from '../../src/oci/image.ts';
import { openSource } from '../../src/oci/source.ts';
import type { BuiltImage } from '../../testdata/build-images.ts';
import { demoImage } from '../harness/images.ts';

export interface DemoFiles {
  image: BuiltImage;
  files: CatalogFile[];
  /** Regular files of the final filesystem. */
  allPaths: Set<string>;
  resolvePath: (path: string) => string | undefined;
}

export async function readDemoFiles(wants: (path: string) => boolean): Promise<DemoFiles> {
  const image = await demoImage();
  const source = await openSource(`oci-dir:${image.layoutDir}:demo`);
  try {
    const { tree, files } = await squashImage(await resolveImage(source), { wants });
    const allPaths = new Set<string>();
    for (const node of tree.files()) allPaths.add(node.path);
    return { image, files, allPaths, resolvePath: (path) => tree.resolve(path)?.path };
  } finally {
    await source.close();
  }
}
