import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLayoutSource, openLayoutTarget } from '../../src/oci/layout.ts';
import {
  expectServes,
  type FixtureImage,
  hexOf,
  pushImage,
  randomImage,
  randomIndex,
  readAll,
  writeLayoutByHand,
} from './fixtures/random-image.ts';

const run = promisify(execFile);
const REF = 'org.opencontainers.image.ref.name';

let work: string;
let single: FixtureImage;
let multi: FixtureImage;
let n = 0;
const fresh = () => join(work, `case-${n++}`);

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'sigil-layout-test-'));
  [single, multi] = await Promise.all([randomImage(), randomIndex()]);
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

async function tempFilesUnder(dir: string): Promise<string[]> {
  const all = await readdir(dir, { recursive: true });
  return all.filter((f) => f.includes('.tmp'));
}

describe('OCI layout target and source', () => {
  it('round-trips a single image: same manifest bytes and digest, every blob verified', async () => {
    const dir = fresh();
    await pushImage(single, await openLayoutTarget(dir, 'app'));
    const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8'));
    expect(index.manifests).toEqual([{ ...single.root.descriptor, annotations: { [REF]: 'app' } }]);
    expect(JSON.parse(await readFile(join(dir, 'oci-layout'), 'utf8'))).toEqual({ imageLayoutVersion: '1.0.0' });
    const src = await openLayoutSource(dir, 'app');
    await expectServes(src, single, expect);
    await src.close();
    expect(await tempFilesUnder(dir)).toEqual([]);
  });

  it('round-trips a two-platform index whole', async () => {
    const dir = fresh();
    await pushImage(multi, await openLayoutTarget(dir, 'multi'));
    const src = await openLayoutSource(dir);
    await expectServes(src, multi, expect);
    expect((await src.resolveRoot()).descriptor.mediaType).toBe('application/vnd.oci.image.index.v1+json');
  });

  it('reads a layout written by hand, picking by name or digest, and lists the names when none is given', async () => {
    const dir = fresh();
    await writeLayoutByHand(dir, [
      { img: single, name: 'one' },
      { img: multi, name: 'two' },
    ]);
    await expect(openLayoutSource(dir)).rejects.toMatchObject({
      code: 'SOURCE_INVALID',
      message: expect.stringMatching(/2 images.*one, two/),
    });
    await expect(openLayoutSource(dir, 'three')).rejects.toMatchObject({
      code: 'MANIFEST_UNKNOWN',
      message: expect.stringContaining('one, two'),
    });
    expect((await (await openLayoutSource(dir, 'one')).resolveRoot()).descriptor.digest).toBe(
      single.root.descriptor.digest,
    );
    await expectServes(await openLayoutSource(dir, 'two'), multi, expect);
    // A digest picks an entry, or a manifest that is only a blob (an index child).
    const byDigest = await openLayoutSource(dir, multi.root.descriptor.digest);
    expect((await byDigest.resolveRoot()).descriptor.digest).toBe(multi.root.descriptor.digest);
    const child = multi.children[1]!;
    const childSrc = await openLayoutSource(dir, `@${child.descriptor.digest}`);
    expect(Buffer.from((await childSrc.resolveRoot()).bytes)).toEqual(Buffer.from(child.bytes));
  });

  it('fails a read of a blob corrupted on disk with DIGEST_MISMATCH naming the digest', async () => {
    const dir = fresh();
    await writeLayoutByHand(dir, [{ img: single, name: 'app' }]);
    const layer = single.images[0]!.layers[1]!;
    const file = join(dir, 'blobs', 'sha256', hexOf(layer.descriptor.digest));
    const bytes = await readFile(file);
    bytes[bytes.length >> 1]! ^= 0xff;
    await writeFile(file, bytes);
    const src = await openLayoutSource(dir, 'app');
    await expect(readAll(await src.fetchBlob(layer.descriptor))).rejects.toMatchObject({
      code: 'DIGEST_MISMATCH',
      message: expect.stringContaining(layer.descriptor.digest),
    });
    // A corrupted manifest is refused before it is returned.
    const mfile = join(dir, 'blobs', 'sha256', hexOf(single.root.descriptor.digest));
    await writeFile(mfile, Buffer.from(single.root.bytes).toString().replace('"layers"', '"Layers"'));
    await expect(src.resolveRoot()).rejects.toMatchObject({ code: 'DIGEST_MISMATCH' });
  });

  it('reports a missing blob as BLOB_UNKNOWN naming the digest and the path', async () => {
    const dir = fresh();
    await writeLayoutByHand(dir, [{ img: single }]);
    const layer = single.images[0]!.layers[0]!;
    const file = join(dir, 'blobs', 'sha256', hexOf(layer.descriptor.digest));
    await rm(file);
    const src = await openLayoutSource(dir);
    const err = await src.fetchBlob(layer.descriptor).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'BLOB_UNKNOWN', message: expect.stringContaining(layer.descriptor.digest) });
    expect((err as Error).message).toContain(file);
  });

  it('refuses a directory that is not a layout, to read and to write', async () => {
    const dir = fresh();
    await mkdir(dir);
    await writeFile(join(dir, 'notes.txt'), 'hi');
    await expect(openLayoutSource(dir)).rejects.toMatchObject({ code: 'LAYOUT_INVALID' });
    await expect(openLayoutTarget(dir, 'x')).rejects.toMatchObject({ code: 'LAYOUT_INVALID' });
    await expect(openLayoutSource(join(dir, 'absent'))).rejects.toMatchObject({ code: 'SOURCE_INVALID' });
  });

  it('abort of a new layout removes the directory', async () => {
    const dir = fresh();
    const target = await openLayoutTarget(dir, 'app');
    const config = single.images[0]!.config;
    await target.pushBlob(config.descriptor, async () => Readable.from([config.bytes]));
    expect(existsSync(join(dir, 'blobs', 'sha256', hexOf(config.descriptor.digest)))).toBe(true);
    await target.abort();
    expect(existsSync(dir)).toBe(false);
  });

  it('abort on an existing layout leaves its index.json untouched; its blobs are harmless', async () => {
    const dir = fresh();
    await pushImage(single, await openLayoutTarget(dir, 'app'));
    const before = await readFile(join(dir, 'index.json'));
    const target = await openLayoutTarget(dir, 'other');
    for (const b of multi.blobs) await target.pushBlob(b.descriptor, async () => Readable.from([b.bytes]));
    await target.abort();
    expect(await readFile(join(dir, 'index.json'))).toEqual(before);
    expect(await tempFilesUnder(dir)).toEqual([]);
    await expectServes(await openLayoutSource(dir, 'app'), single, expect);
  });

  it('a pushBlob with wrong bytes fails with DIGEST_MISMATCH and leaves nothing behind', async () => {
    const dir = fresh();
    const target = await openLayoutTarget(dir, 'app');
    const layer = single.images[0]!.layers[0]!;
    const wrong = Buffer.from(layer.bytes);
    wrong[10]! ^= 1;
    await expect(target.pushBlob(layer.descriptor, async () => Readable.from([wrong]))).rejects.toMatchObject({
      code: 'DIGEST_MISMATCH',
      message: expect.stringContaining(layer.descriptor.digest),
    });
    expect(await target.hasBlob(layer.descriptor)).toBe(false);
    expect(await tempFilesUnder(dir)).toEqual([]);
    expect(existsSync(join(dir, 'index.json'))).toBe(false);
    // Committing a root whose layer is missing publishes nothing.
    for (const b of single.blobs.filter((b) => b !== layer)) {
      await target.pushBlob(b.descriptor, async () => Readable.from([b.bytes]));
    }
    await expect(target.commit(single.root)).rejects.toMatchObject({
      code: 'BLOB_UNKNOWN',
      message: expect.stringContaining(layer.descriptor.digest),
    });
    expect(existsSync(join(dir, 'index.json'))).toBe(false);
    await target.abort();
    expect(existsSync(dir)).toBe(false);
  });

  it('commit moves a name to the new image and keeps other names', async () => {
    const dir = fresh();
    await pushImage(single, await openLayoutTarget(dir, 'a'));
    await pushImage(multi, await openLayoutTarget(dir, 'b'));
    const other = await randomImage({ layers: 1 });
    await pushImage(other, await openLayoutTarget(dir, 'a'));
    const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8'));
    expect(
      index.manifests.map((d: { digest: string; annotations: Record<string, string> }) => [
        d.annotations[REF],
        d.digest,
      ]),
    ).toEqual([
      ['b', multi.root.descriptor.digest],
      ['a', other.root.descriptor.digest],
    ]);
  });

  it('interoperates with skopeo in both directions', async () => {
    const ours = fresh();
    await pushImage(multi, await openLayoutTarget(ours, 'multi'));
    const { stdout } = await run('skopeo', ['inspect', '--raw', `oci:${ours}:multi`]);
    expect(stdout).toBe(Buffer.from(multi.root.bytes).toString());
    const theirs = fresh();
    await run('skopeo', ['copy', '--all', '--preserve-digests', `oci:${ours}:multi`, `oci:${theirs}:copied`]);
    await expectServes(await openLayoutSource(theirs, 'copied'), multi, expect);
  });
});
