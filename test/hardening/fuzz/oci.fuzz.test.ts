/**
 * Hostile references, manifests, indexes and image configs: parseReference, parseManifest (+ the
 * platform selection an index goes through), parseConfig, and resolveImage over a source whose
 * root manifest or config is a mutated one, the whole walk a registry/layout/archive source feeds.
 */
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { afterAll, describe, expect, test } from 'vitest';
import { isFilesystemError } from '../../../src/filesystem/errors.ts';
import { analyzeLayer } from '../../../src/filesystem/layer-analysis.ts';
import type { ContentSource } from '../../../src/oci/content.ts';
import { sha256, verifyBytes } from '../../../src/oci/digest.ts';
import { isOciError, OciError } from '../../../src/oci/errors.ts';
import { resolveImage } from '../../../src/oci/image.ts';
import { type Descriptor, type ManifestBlob, parseConfig, parseManifest } from '../../../src/oci/manifest.ts';
import { MediaType } from '../../../src/oci/media-types.ts';
import { LINUX_AMD64, selectManifest } from '../../../src/oci/platform.ts';
import { parseReference } from '../../../src/oci/reference.ts';
import { tarBytes } from '../../filesystem/layered-image.ts';
import { FuzzFigures, fuzz, mutatedBytes, mutatedJson } from './fuzz-kit.ts';

const figures = new FuzzFigures('oci');
afterAll(() => figures.write());

const enc = (v: unknown) => Buffer.from(JSON.stringify(v));

const layerTar = await tarBytes([{ path: 'etc/os-release', data: 'ID=debian\nVERSION_ID=12\n' }]);
const config = {
  architecture: 'amd64',
  os: 'linux',
  config: { Env: ['PATH=/usr/bin'] },
  rootfs: { type: 'layers', diff_ids: [sha256(layerTar)] },
  history: [{ created: '2024-01-01T00:00:00Z', created_by: 'ADD rootfs' }],
};
const configBytes = enc(config);
const manifest = {
  schemaVersion: 2,
  mediaType: MediaType.OciManifest,
  config: { mediaType: MediaType.OciConfig, digest: sha256(configBytes), size: configBytes.length },
  layers: [{ mediaType: MediaType.OciLayer, digest: sha256(layerTar), size: layerTar.length }],
  annotations: { 'org.opencontainers.image.created': '2024-01-01T00:00:00Z' },
};
const manifestBytes = enc(manifest);
const manifestDesc = { mediaType: MediaType.OciManifest, digest: sha256(manifestBytes), size: manifestBytes.length };
const index = {
  schemaVersion: 2,
  mediaType: MediaType.OciIndex,
  manifests: [
    { ...manifestDesc, platform: { os: 'linux', architecture: 'arm', variant: 'v6' } },
    { ...manifestDesc, platform: { os: 'linux', architecture: 'amd64' } },
    {
      ...manifestDesc,
      platform: { os: 'windows', architecture: 'amd64', 'os.version': '10.0.17763', 'os.features': ['win32k'] },
    },
    {
      ...manifestDesc,
      platform: { os: 'unknown', architecture: 'unknown' },
      annotations: { 'vnd.docker.reference.type': 'attestation-manifest' },
    },
  ],
};

/** The blobs of the sample image, served by digest and checked as any source checks them. */
class MemorySource implements ContentSource {
  readonly description = 'memory source';
  private readonly blobs = new Map<string, Uint8Array>();
  private readonly root: ManifestBlob;
  constructor(root: Uint8Array, rootMediaType: string, blobs: Uint8Array[]) {
    for (const b of [...blobs, root]) this.blobs.set(sha256(b), b);
    this.root = { descriptor: { mediaType: rootMediaType, digest: sha256(root), size: root.length }, bytes: root };
  }
  async resolveRoot(): Promise<ManifestBlob> {
    return this.root;
  }
  private get(desc: Descriptor): Uint8Array {
    const b = this.blobs.get(desc.digest);
    if (b === undefined) throw new OciError('BLOB_UNKNOWN', `${desc.digest} is not in the memory source`);
    verifyBytes(b, desc.digest, desc.digest);
    return b;
  }
  async fetchManifest(desc: Descriptor): Promise<ManifestBlob> {
    return { descriptor: desc, bytes: this.get(desc) };
  }
  async fetchBlob(desc: Descriptor): Promise<Readable> {
    return Readable.from([Buffer.from(this.get(desc))]);
  }
  async close(): Promise<void> {}
}

/** resolveImage, then the first layer's analysis: the path an image's own JSON drives. */
async function resolveAndRead(source: ContentSource): Promise<void> {
  const image = await resolveImage(source);
  for (const layer of image.layers) await analyzeLayer(layer, { wants: () => true });
}

describe('references', () => {
  test('parseReference: arbitrary strings and mutated references', async () => {
    const valid = [
      'alpine',
      'docker.io/library/alpine:3.19',
      '127.0.0.1:5000/team/app:v1.2.3',
      `ghcr.io/a/b/c@sha256:${'ab'.repeat(32)}`,
      `[::1]:5000/x:tag@sha512:${'cd'.repeat(64)}`,
      'localhost/x_y__z---w.v:latest',
    ];
    const input = fc.oneof(
      fc.string({ maxLength: 300 }),
      fc.string({ unit: 'binary', maxLength: 300 }),
      fc
        .constantFrom(...valid)
        .chain((v) => mutatedBytes(Buffer.from(v)).map((b) => Buffer.from(b).toString('latin1'))),
      fc
        .array(fc.constantFrom('a', '/', ':', '@', '.', '-', '_', '__', '[', ']', 'sha256', '0', '9'), {
          maxLength: 80,
        })
        .map((parts) => parts.join('')),
      fc.integer({ min: 256, max: 100_000 }).map((n) => `${'a'.repeat(n)}:${'t'.repeat(n)}`),
    );
    await fuzz(
      figures,
      'parseReference',
      input,
      (s) => {
        const ref = parseReference(s);
        // What parses prints back to something that parses to the same thing.
        expect(parseReference(ref.toString()).toString()).toBe(ref.toString());
      },
      { numRuns: 800 },
    );
  });
});

describe('manifests and indexes', () => {
  test('parseManifest + selectManifest on mutated image manifests and indexes', async () => {
    const input = fc.oneof(
      fc.tuple(mutatedJson(manifest), fc.constantFrom(undefined, MediaType.OciManifest, MediaType.OciIndex)),
      fc.tuple(mutatedJson(index), fc.constantFrom(undefined, MediaType.OciIndex, MediaType.DockerManifestList)),
      fc.tuple(fc.uint8Array({ maxLength: 200 }), fc.constant(undefined)),
      fc.tuple(
        fc.jsonValue({ maxDepth: 4 }).map((v) => enc(v)),
        fc.constant(undefined),
      ),
    );
    await fuzz(
      figures,
      'parseManifest + selectManifest',
      input,
      ([bytes, mt]) => {
        const parsed = parseManifest(bytes, mt, 'fuzz');
        if (parsed.kind === 'index') {
          selectManifest(parsed.index, LINUX_AMD64, 'fuzz');
          selectManifest(parsed.index, { os: 'linux', architecture: 'arm', variant: 'v7' }, 'fuzz');
        }
      },
      { numRuns: 560 },
    );
  });

  test('parseConfig on mutated image configs', async () => {
    await fuzz(figures, 'parseConfig', mutatedJson(config), (bytes) => parseConfig(bytes, 'fuzz'), { numRuns: 480 });
  });

  test('resolveImage + layer read over a mutated root manifest, index or config', async () => {
    const input = fc.oneof(
      mutatedJson(manifest).map((m) => new MemorySource(m, MediaType.OciManifest, [configBytes, layerTar])),
      mutatedJson(index).map((i) => new MemorySource(i, MediaType.OciIndex, [manifestBytes, configBytes, layerTar])),
      mutatedJson(config).map((c) => {
        const m = enc({ ...manifest, config: { ...manifest.config, digest: sha256(c), size: c.length } });
        return new MemorySource(m, MediaType.OciManifest, [c, layerTar]);
      }),
    );
    await fuzz(figures, 'resolveImage (manifest, index, config)', input, resolveAndRead, {
      numRuns: 320,
      typed: (e) => isOciError(e) || isFilesystemError(e),
    });
  });
});

describe('regressions', () => {
  test('an index entry whose platform is not an object with os and architecture strings is MANIFEST_INVALID', () => {
    for (const platform of [null, 'linux/amd64', {}, { os: 'linux' }, { os: 1, architecture: 'amd64' }]) {
      const bytes = enc({ ...index, manifests: [{ ...manifestDesc, platform }] });
      const pick = () => {
        const parsed = parseManifest(bytes, undefined, 'idx');
        if (parsed.kind === 'index') selectManifest(parsed.index, LINUX_AMD64, 'idx');
      };
      // Before the fix: TypeError "Cannot read properties of null (reading 'os')" in normalizePlatform.
      expect(pick).toThrow(expect.objectContaining({ code: 'MANIFEST_INVALID' }));
    }
  });

  test('an image config whose diff_ids are not digests is MANIFEST_INVALID, not a crash at the layer cache', () => {
    for (const diffIds of [[5], [null], ['latest'], [{}]]) {
      const bytes = enc({ ...config, rootfs: { type: 'layers', diff_ids: diffIds } });
      expect(() => parseConfig(bytes, 'cfg')).toThrow(expect.objectContaining({ code: 'MANIFEST_INVALID' }));
    }
  });
});
