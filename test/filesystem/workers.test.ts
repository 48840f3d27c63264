import { describe, expect, it } from 'vitest';
import { squashImage } from '../../src/filesystem/squash.ts';
import { createSelection, type SelectorSpec } from '../../src/sbom/selector.ts';
import { demoImage } from '../harness/images.ts';
import { resolveImage } from '../../src/oci/image.ts';
import { openSource } from '../../src/oci/source.ts';
import { buildImage, dir, file } from './layered-image.ts';

const spec: SelectorSpec = { catalogers: ['dpkg', 'go-binary'], exclude: [] };
const selector = { module: new URL('../../src/sbom/selector.ts', import.meta.url).href, spec };
const selection = createSelection(spec);

/** Everything but functions: what the two paths must agree on. */
function plain(r: Awaited<ReturnType<typeof squashImage>>) {
  return {
    nodes: [...r.tree.nodes()].map((n) => [n.path, n.type, n.size, n.layerDiffId]),
    files: r.files.map((f) => [f.path, Buffer.from(f.bytes).toString('base64'), f.layerDiffId]),
    extracts: r.extracts,
    warnings: r.warnings,
  };
}

describe('squash in worker threads', () => {
  it('gives exactly what the in-thread walk gives, on the demo image of real Debian packages', async () => {
    const image = await resolveImage(await openSource(`oci-dir:${(await demoImage()).layoutDir}:demo`));
    const inThread = await squashImage(image, { ...selection, workers: 0, workerSelector: selector });
    const inWorkers = await squashImage(image, { ...selection, workers: 2, workerSelector: selector });
    expect(inThread.files.length).toBeGreaterThan(3);
    expect(plain(inWorkers)).toEqual(plain(inThread));
  }, 60_000);

  it('a corrupt layer fails with LAYER_CORRUPT naming the layer, and the pool shuts down', async () => {
    const built = await buildImage([
      { entries: [dir('etc'), file('etc/a', 'x'.repeat(100_000))] },
      {
        entries: [file('etc/b', 'y'.repeat(200_000))],
        compression: 'none',
        mangleTar: (t) => t.subarray(0, 50_000),
      },
    ]);
    await expect(
      squashImage(built.image, { ...selection, workers: 2, workerSelector: selector }),
    ).rejects.toMatchObject({ code: 'LAYER_CORRUPT', message: expect.stringContaining(built.digests[1]!) });
  }, 60_000);
});
