/**
 * The demo image's wanted files, read without src/filesystem (being written concurrently): each
 * layer streamed through the project's digest-checked OCI layout source, gunzipped, walked with
 * tar-stream. The top layer's copy of a path wins and lower copies become `earlier`, oldest first,
 * as CapturedFile promises. The demo image has no whiteouts (testdata/README.md), so none are handled.
 */
import { createGunzip } from 'node:zlib';
import * as tar from 'tar-stream';
import type { CatalogFile } from '../../src/catalog/cataloger.ts';
import type { Digest } from '../../src/oci/digest.ts';
import { resolveImage } from '../../src/oci/image.ts';
import { openSource } from '../../src/oci/source.ts';
import type { BuiltImage } from '../../testdata/build-images.ts';
import { demoImage } from '../harness/images.ts';

export interface DemoFiles {
  image: BuiltImage;
  files: CatalogFile[];
  /** Regular files of the final filesystem. */
  allPaths: Set<string>;
  /** Symlinks of the final filesystem: path → target as stored. */
  symlinks: Map<string, string>;
}

export async function readDemoFiles(wants: (path: string) => boolean): Promise<DemoFiles> {
  const image = await demoImage();
  const source = await openSource(`oci-dir:${image.layoutDir}:demo`);
  const versions = new Map<string, { layerDiffId: Digest; bytes: Uint8Array }[]>();
  const allPaths = new Set<string>();
  const symlinks = new Map<string, string>();
  try {
    const resolved = await resolveImage(source);
    for (const layer of resolved.layers) {
      const extract = tar.extract();
      (await layer.open()).pipe(createGunzip()).pipe(extract);
      for await (const entry of extract) {
        const path = `/${entry.header.name.replace(/^\.?\/+/, '').replace(/\/+$/, '')}`;
        const type = entry.header.type;
        if (type === 'file') {
          allPaths.add(path);
          symlinks.delete(path);
          if (wants(path)) {
            const chunks: Buffer[] = [];
            for await (const c of entry) chunks.push(c as Buffer);
            const list = versions.get(path) ?? [];
            list.push({ layerDiffId: layer.diffId, bytes: Buffer.concat(chunks) });
            versions.set(path, list);
            continue;
          }
        } else if (type === 'symlink') {
          symlinks.set(path, entry.header.linkname ?? '');
          allPaths.delete(path);
        }
        entry.resume();
      }
    }
  } finally {
    await source.close();
  }
  const files: CatalogFile[] = [...versions.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([path, vs]) => {
      const top = vs.at(-1)!;
      const file: CatalogFile = { path, bytes: top.bytes, layerDiffId: top.layerDiffId };
      if (vs.length > 1) file.earlier = vs.slice(0, -1);
      return file;
    });
  return { image, files, allPaths, symlinks };
}
