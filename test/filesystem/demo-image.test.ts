import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { squashImage } from '../../src/filesystem/squash.ts';
import { resolveImage } from '../../src/oci/image.ts';
import { openSource } from '../../src/oci/source.ts';
import { DEMO_LAYERS, DEMO_PACKAGES } from '../../testdata/build-images.ts';
import { demoImage } from '../harness/images.ts';

function packagesIn(status: Uint8Array): string[] {
  return [
    ...Buffer.from(status)
      .toString()
      .matchAll(/^Package: (\S+)$/gm),
  ].map((m) => m[1]!);
}

describe('squash of the demo image (real Debian packages)', () => {
  it('captures /var/lib/dpkg/status with the two lower layers’ versions as `earlier`', async () => {
    const built = await demoImage();
    const image = await resolveImage(await openSource(`oci-dir:${built.layoutDir}`));
    const wants = (p: string) =>
      p === '/var/lib/dpkg/status' ||
      p === '/etc/os-release' ||
      (p.startsWith('/var/lib/dpkg/info/') && p.endsWith('.list'));
    const r = await squashImage(image, { wants });
    const diffIds = built.layers.map((l) => l.diffId);
    expect(r.layers.map((l) => l.diffId)).toEqual(diffIds);
    expect(r.warnings).toEqual([]);

    const status = r.files.find((f) => f.path === '/var/lib/dpkg/status')!;
    expect(status.layerDiffId).toBe(diffIds[2]);
    expect(packagesIn(status.bytes).sort()).toEqual([...DEMO_PACKAGES].sort());
    expect(status.earlier?.map((e) => e.layerDiffId)).toEqual([diffIds[0], diffIds[1]]);
    expect(packagesIn(status.earlier![0]!.bytes).sort()).toEqual([...DEMO_LAYERS[0]!].sort());
    expect(packagesIn(status.earlier![1]!.bytes).sort()).toEqual([...DEMO_LAYERS[0]!, ...DEMO_LAYERS[1]!].sort());

    // Each package's file list comes from the layer that installed it, with no earlier version.
    const lists = r.files.filter((f) => f.path.endsWith('.list'));
    expect(lists).toHaveLength(DEMO_PACKAGES.length);
    for (const f of lists) {
      const name = f.path.slice('/var/lib/dpkg/info/'.length).replace(/(:amd64)?\.list$/, '');
      expect(f.layerDiffId, name).toBe(diffIds[DEMO_LAYERS.findIndex((l) => l.includes(name))]);
      expect(f.earlier).toBeUndefined();
    }

    // base-files ships /etc/os-release as a symlink to ../usr/lib/os-release; the symlink is wanted,
    // its target is not, so its bytes come from one more pass over layer 0.
    expect(r.tree.get('/etc/os-release')?.type).toBe('symlink');
    expect(r.tree.resolve('/etc/os-release')?.path).toBe('/usr/lib/os-release');
    const osRelease = r.files.find((f) => f.path === '/etc/os-release')!;
    expect(Buffer.from(osRelease.bytes).toString()).toMatch(/^PRETTY_NAME="Debian GNU\/Linux/m);
    expect(osRelease.layerDiffId).toBe(diffIds[0]);

    const mawk = r.tree.get('/usr/bin/mawk')!;
    expect(mawk).toMatchObject({ type: 'file', layerIndex: 2, layerDiffId: diffIds[2] });
    expect(mawk.mode & 0o111).not.toBe(0);

    // The final tree holds exactly the union of the layers' paths (the demo has no whiteouts), as
    // GNU tar lists them.
    const expected = new Set<string>();
    for (const l of built.layers) {
      const blob = join(built.layoutDir, 'blobs', 'sha256', l.descriptor.digest.slice('sha256:'.length));
      for (const name of execFileSync('tar', ['-tzf', blob], { encoding: 'utf8', maxBuffer: 64 << 20 }).split('\n')) {
        const parts = name.split('/').filter((p) => p !== '' && p !== '.');
        for (let i = 1; i <= parts.length; i++) expected.add(`/${parts.slice(0, i).join('/')}`);
      }
    }
    expect(new Set([...r.tree.nodes()].map((n) => n.path))).toEqual(expected);
    expect(r.tree.size).toBe(expected.size);
  });
});
