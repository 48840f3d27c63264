import { execFile } from 'node:child_process';
import { createReadStream, existsSync } from 'node:fs';
import { mkdtemp, open, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { gunzipSync, gzipSync } from 'node:zlib';
import { extract } from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { normaliseImageName, openDockerArchiveSource, openDockerArchiveTarget } from '../../src/oci/docker-archive.ts';
import { openLayoutSource } from '../../src/oci/layout.ts';
import { parseManifest } from '../../src/oci/manifest.ts';
import { indexTar } from '../../src/oci/tar-index.ts';
import {
  chunked,
  digestOf,
  expectServes,
  type FixtureImage,
  pushImage,
  randomImage,
  randomIndex,
  readAll,
  writeLegacyDockerArchive,
} from './fixtures/random-image.ts';

const run = promisify(execFile);

let work: string;
let single: FixtureImage;
let multi: FixtureImage;
let plain: FixtureImage;
let sharing: FixtureImage;
let n = 0;
const fresh = (ext = '.tar') => join(work, `case-${n++}${ext}`);

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'sigil-docker-archive-test-'));
  [single, multi, plain] = await Promise.all([randomImage(), randomIndex(), randomImage({ gzip: false, layers: 3 })]);
  // Shares its first layer with `plain`, as two images on one base do.
  sharing = await randomImage({ gzip: false, layers: 1, baseLayers: [plain.images[0]!.layers[0]!] });
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

async function jsonMembers(path: string): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  const ex = extract();
  ex.on('entry', (header, stream, next) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: unknown) => chunks.push(c as Buffer));
    stream.on('end', () => {
      if (header.name.endsWith('.json')) out[header.name] = JSON.parse(Buffer.concat(chunks).toString());
      next();
    });
  });
  await pipeline(createReadStream(path), ex);
  return out;
}

function manifestOf(img: FixtureImage) {
  const parsed = parseManifest(img.root.bytes, img.root.descriptor.mediaType, 'fixture');
  if (parsed.kind !== 'image') throw new Error('not an image');
  return parsed.manifest;
}

describe('docker archive (docker >= 25 format) target and source', () => {
  it('round-trips an image with its manifest digest, named as docker names it', async () => {
    const path = fresh();
    await pushImage(single, await openDockerArchiveTarget(path, 'hop/two:1.0'));
    const files = await jsonMembers(path);
    const m = manifestOf(single);
    expect(files['manifest.json']).toEqual([
      {
        Config: `blobs/sha256/${m.config.digest.slice(7)}`,
        RepoTags: ['hop/two:1.0'],
        Layers: m.layers.map((l) => `blobs/sha256/${l.digest.slice(7)}`),
      },
    ]);
    expect((files['index.json'] as { manifests: unknown[] }).manifests).toEqual([
      {
        ...single.root.descriptor,
        annotations: {
          'io.containerd.image.name': 'docker.io/hop/two:1.0',
          'org.opencontainers.image.ref.name': '1.0',
        },
      },
    ]);
    for (const name of [undefined, 'hop/two:1.0', 'docker.io/hop/two:1.0', single.root.descriptor.digest]) {
      const src = await openDockerArchiveSource(path, name);
      await expectServes(src, single, expect);
      await src.close();
    }
    await expect(openDockerArchiveSource(path, 'hop/three:1.0')).rejects.toMatchObject({
      code: 'MANIFEST_UNKNOWN',
      message: expect.stringContaining('hop/two:1.0'),
    });
  });

  it('round-trips a two-platform index whole, with one manifest.json entry per platform image', async () => {
    const path = fresh();
    await pushImage(multi, await openDockerArchiveTarget(path, 'multi'));
    const entries = (await jsonMembers(path))['manifest.json'] as { Config: string; RepoTags: string[] }[];
    expect(entries.map((e) => e.Config)).toEqual(
      multi.images.map((i) => `blobs/sha256/${i.config.descriptor.digest.slice(7)}`),
    );
    expect(entries.every((e) => e.RepoTags[0] === 'multi:latest')).toBe(true);
    await expectServes(await openDockerArchiveSource(path, 'multi'), multi, expect);
  });

  it('abort leaves no file; a wrong blob fails with DIGEST_MISMATCH and is not in the archive', async () => {
    const path = fresh();
    const target = await openDockerArchiveTarget(path, 'x:1');
    const layer = single.images[0]!.layers[0]!;
    const wrong = Buffer.from(layer.bytes);
    wrong[3]! ^= 1;
    await expect(target.pushBlob(layer.descriptor, async () => chunked(wrong))).rejects.toMatchObject({
      code: 'DIGEST_MISMATCH',
    });
    expect(await target.hasBlob(layer.descriptor)).toBe(false);
    await target.abort();
    expect(existsSync(path)).toBe(false);
    expect((await readdir(work)).filter((f) => /\.(tmp|spool)$/.test(f))).toEqual([]);
  });

  it('writes an archive skopeo reads, and reads back what skopeo copies out of it', async () => {
    const path = fresh();
    await pushImage(single, await openDockerArchiveTarget(path, 'hop/two:1.0'));
    const { stdout } = await run('skopeo', ['inspect', '--config', '--raw', `docker-archive:${path}:hop/two:1.0`]);
    expect(digestOf(Buffer.from(stdout))).toBe(single.images[0]!.config.descriptor.digest);
    // skopeo writes the legacy format; its layers are ours decompressed, so their digests are the diffIDs.
    const legacy = fresh();
    await run('skopeo', ['copy', `docker-archive:${path}`, `docker-archive:${legacy}:again:2`]);
    const image = await readImage(legacy, 'again:2');
    expect(image.layers.map((l) => l.digest)).toEqual(single.images[0]!.layers.map((l) => l.diffId));
  });
});

async function readImage(path: string, name?: string) {
  const src = await openDockerArchiveSource(path, name);
  const root = await src.resolveRoot();
  const parsed = parseManifest(root.bytes, root.descriptor.mediaType, 'read');
  if (parsed.kind !== 'image') throw new Error('expected an image manifest');
  const blobs = [parsed.manifest.config, ...parsed.manifest.layers];
  const bytes = await Promise.all(blobs.map(async (d) => readAll(await src.fetchBlob(d))));
  await src.close();
  return {
    root,
    manifest: parsed.manifest,
    layers: parsed.manifest.layers,
    config: bytes[0]!,
    layerBytes: bytes.slice(1),
  };
}

describe('docker archive, legacy format (docker save before 25)', () => {
  it("synthesises an OCI manifest whose layer digests are the config's diff_ids, every blob verified", async () => {
    const path = fresh();
    await writeLegacyDockerArchive(path, [
      { img: plain, tags: ['alpine:3.20'] },
      { img: sharing, tags: ['localhost:5000/team/app:1', 'app:latest'] },
    ]);
    const image = await readImage(path, 'alpine:3.20');
    const fixture = plain.images[0]!;
    expect(image.manifest.config).toEqual({
      mediaType: 'application/vnd.oci.image.config.v1+json',
      digest: fixture.config.descriptor.digest,
      size: fixture.config.bytes.length,
    });
    expect(image.layers.map((l) => l.digest)).toEqual(fixture.layers.map((l) => l.diffId));
    expect(image.layers.every((l) => l.mediaType === 'application/vnd.oci.image.layer.v1.tar')).toBe(true);
    expect(image.layerBytes).toEqual(fixture.layers.map((l) => l.tar));
    expect(image.root.descriptor.digest).toBe(digestOf(image.root.bytes));

    // The second image's first layer is a symlink to the first image's copy; tags are matched normalised.
    const second = await readImage(path, 'docker.io/library/app');
    expect(second.layers.map((l) => l.digest)).toEqual(sharing.images[0]!.layers.map((l) => l.diffId));
    expect(second.layerBytes[0]).toEqual(plain.images[0]!.layers[0]!.tar);
    expect((await readImage(path, '@1')).root.descriptor.digest).toBe(second.root.descriptor.digest);
    await expect(openDockerArchiveSource(path)).rejects.toMatchObject({
      code: 'SOURCE_INVALID',
      message: expect.stringMatching(/alpine:3\.20.*localhost:5000\/team\/app:1 app:latest/),
    });
  });

  it('gives a gzip-compressed layer file the gzip media type and its own digest', async () => {
    const path = fresh();
    await writeLegacyDockerArchive(path, [{ img: plain, tags: ['gz:1'] }], { gzipLayers: true });
    const image = await readImage(path);
    const fixture = plain.images[0]!;
    expect(image.layers.map((l) => l.mediaType)).toEqual(
      fixture.layers.map(() => 'application/vnd.oci.image.layer.v1.tar+gzip'),
    );
    expect(image.layers.map((l) => l.digest)).toEqual(fixture.layers.map((l) => digestOf(gzipSync(l.tar))));
  });

  it('fails the read of a layer whose bytes do not match its diff_id with DIGEST_MISMATCH naming it', async () => {
    const path = fresh();
    await writeLegacyDockerArchive(path, [{ img: plain, tags: ['bad:1'] }]);
    const layer = plain.images[0]!.layers[1]!;
    // Members keep the order they were written in: the second layer.tar is layer 1.
    const target = [...(await indexTar(path)).values()].filter((m) => m.name.endsWith('/layer.tar'))[1]!;
    expect(target.size).toBe(layer.tar.length);
    const fh = await open(path, 'r+');
    await fh.write(Buffer.from('corrupt'), 0, 7, target.offset + 600);
    await fh.close();
    const src = await openDockerArchiveSource(path);
    const root = await src.resolveRoot();
    const parsed = parseManifest(root.bytes, root.descriptor.mediaType, 'x');
    const desc = parsed.kind === 'image' ? parsed.manifest.layers[1]! : undefined;
    expect(desc?.digest).toBe(layer.diffId);
    await expect(readAll(await src.fetchBlob(desc!))).rejects.toMatchObject({
      code: 'DIGEST_MISMATCH',
      message: expect.stringContaining(layer.diffId),
    });
  });

  it('rejects an archive whose config and manifest.json disagree on the layer count', async () => {
    const path = fresh();
    const broken: FixtureImage = {
      ...plain,
      images: [{ ...plain.images[0]!, layers: plain.images[0]!.layers.slice(0, 2) }],
    };
    await writeLegacyDockerArchive(path, [{ img: broken, tags: ['short:1'] }]);
    await expect(openDockerArchiveSource(path)).rejects.toMatchObject({ code: 'ARCHIVE_INVALID' });
  });

  it('agrees with skopeo on the legacy archive: same layer digests, config and layer contents', async () => {
    const path = fresh();
    await writeLegacyDockerArchive(path, [{ img: plain, tags: ['plain:1'] }]);
    const ours = await readImage(path);
    // skopeo's own view of a docker-archive names each layer by its diffID, as ours does.
    const { stdout } = await run('skopeo', ['inspect', '--raw', `docker-archive:${path}`]);
    const raw = JSON.parse(stdout) as { config: { digest: string }; layers: { digest: string }[] };
    expect(raw.layers.map((l) => l.digest)).toEqual(ours.layers.map((l) => l.digest));
    expect(raw.config.digest).toBe(ours.manifest.config.digest);
    // Copied out by skopeo (which gzips layers for oci:), the layers decompress to our bytes.
    const layout = join(work, `layout-${n++}`);
    await run('skopeo', ['copy', `docker-archive:${path}`, `oci:${layout}:p`]);
    const src = await openLayoutSource(layout, 'p');
    const theirs = parseManifest((await src.resolveRoot()).bytes, undefined, 'skopeo');
    if (theirs.kind !== 'image') throw new Error('expected an image');
    const unpacked = await Promise.all(
      theirs.manifest.layers.map(async (l) => gunzipSync(await readAll(await src.fetchBlob(l)))),
    );
    expect(unpacked).toEqual(ours.layerBytes);
  });
});

describe('image name normalisation', () => {
  it('spells names as docker does', () => {
    expect(normaliseImageName('alpine')).toBe('docker.io/library/alpine:latest');
    expect(normaliseImageName('hop/two:1.0')).toBe('docker.io/hop/two:1.0');
    expect(normaliseImageName('localhost:5000/x')).toBe('localhost:5000/x:latest');
    expect(normaliseImageName('index.docker.io/library/a:1')).toBe('docker.io/library/a:1');
    expect(() => normaliseImageName('a@sha256:00')).toThrow(/by tag/);
  });
});
