import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { mkdtemp, open, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { createGzip } from 'node:zlib';
import { extract, pack } from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLayoutTarget } from '../../src/oci/layout.ts';
import { openOciArchiveSource, openOciArchiveTarget } from '../../src/oci/oci-archive.ts';
import { indexTar } from '../../src/oci/tar-index.ts';
import {
  chunked,
  digestOf,
  expectServes,
  type FixtureImage,
  hexOf,
  pushImage,
  randomImage,
  randomIndex,
  readAll,
} from './fixtures/random-image.ts';

const run = promisify(execFile);

let work: string;
let single: FixtureImage;
let multi: FixtureImage;
let n = 0;
const fresh = (ext = '.tar') => join(work, `case-${n++}${ext}`);

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'sigil-oci-archive-test-'));
  [single, multi] = await Promise.all([randomImage({ layers: 3 }), randomIndex()]);
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

/** Members of a tar as tar-stream (not the code under test) reads them. */
async function members(path: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  const ex = extract();
  ex.on('entry', (header, stream, next) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: unknown) => chunks.push(c as Buffer));
    stream.on('end', () => {
      out.set(header.name, Buffer.concat(chunks));
      next();
    });
  });
  await pipeline(createReadStream(path), ex);
  return out;
}

async function strays(): Promise<string[]> {
  return (await readdir(work)).filter((f) => /\.(tmp|spool)$|\.sigil-archive-/.test(f));
}

describe('OCI archive target and source', () => {
  it('round-trips a single image; the file appears only at commit and is a valid tar', async () => {
    const path = fresh();
    const target = await openOciArchiveTarget(path, 'app');
    for (const b of single.blobs) await target.pushBlob(b.descriptor, async () => Readable.from([b.bytes]));
    expect(existsSync(path)).toBe(false);
    await target.commit(single.root);
    const tar = await members(path);
    expect(JSON.parse(tar.get('oci-layout')!.toString())).toEqual({ imageLayoutVersion: '1.0.0' });
    expect(JSON.parse(tar.get('index.json')!.toString()).manifests).toEqual([
      { ...single.root.descriptor, annotations: { 'org.opencontainers.image.ref.name': 'app' } },
    ]);
    for (const b of single.blobs) expect(tar.get(`blobs/sha256/${hexOf(b.descriptor.digest)}`)).toEqual(b.bytes);
    await expectServes(await openOciArchiveSource(path, 'app'), single, expect);
    expect(await strays()).toEqual([]);
  });

  it('round-trips a two-platform index pushed with every blob in flight at once (spooling path)', async () => {
    const path = fresh();
    await pushImage(multi, await openOciArchiveTarget(path, 'multi'));
    const src = await openOciArchiveSource(path);
    await expectServes(src, multi, expect);
    await src.close();
    expect(await strays()).toEqual([]);
  });

  it('a pushBlob with wrong bytes mid-archive is cut out: DIGEST_MISMATCH, the rest commits, nothing references it', async () => {
    const path = fresh();
    const target = await openOciArchiveTarget(path, 'app');
    const [config, l0, l1, l2] = single.blobs as [
      (typeof single.blobs)[0],
      (typeof single.blobs)[0],
      (typeof single.blobs)[0],
      (typeof single.blobs)[0],
    ];
    await target.pushBlob(config.descriptor, async () => Readable.from([config.bytes]));
    const wrong = Buffer.from(l0.bytes);
    wrong[wrong.length - 5]! ^= 0x55;
    await expect(target.pushBlob(l0.descriptor, async () => chunked(wrong))).rejects.toMatchObject({
      code: 'DIGEST_MISMATCH',
      message: expect.stringContaining(l0.descriptor.digest),
    });
    expect(await target.hasBlob(l0.descriptor)).toBe(false);
    await target.pushBlob(l1.descriptor, async () => chunked(l1.bytes));
    await target.pushBlob(l2.descriptor, async () => chunked(l2.bytes));
    await expect(target.commit(single.root)).rejects.toMatchObject({ code: 'BLOB_UNKNOWN' });
    expect(existsSync(path)).toBe(false);
    await target.pushBlob(l0.descriptor, async () => chunked(l0.bytes));
    // A failed blob right before commit: its bytes must not linger past the end of the archive.
    const junk = randomBytes(20_000);
    const bogus = { mediaType: 'application/octet-stream', digest: digestOf(randomBytes(8)), size: junk.length };
    await expect(target.pushBlob(bogus, async () => chunked(junk))).rejects.toMatchObject({
      code: 'DIGEST_MISMATCH',
    });
    await target.commit(single.root);
    expect((await readFile(path)).includes(junk.subarray(10_000, 10_256))).toBe(false);
    const tar = await members(path);
    expect(tar.get(`blobs/sha256/${hexOf(l0.descriptor.digest)}`)).toEqual(l0.bytes);
    await expectServes(await openOciArchiveSource(path), single, expect);
  });

  it('abort leaves no file and never touches an existing file at the path', async () => {
    const path = fresh();
    const target = await openOciArchiveTarget(path, 'app');
    await Promise.all(single.blobs.map((b) => target.pushBlob(b.descriptor, async () => chunked(b.bytes))));
    // All pushed at once: one streamed into the tar, the others spooled beside it.
    expect((await strays()).some((f) => f.endsWith('.spool'))).toBe(true);
    await target.abort();
    expect(existsSync(path)).toBe(false);
    expect(await strays()).toEqual([]);

    await writeFile(path, 'previous archive');
    const again = await openOciArchiveTarget(path, 'app');
    for (const b of single.blobs) await again.pushBlob(b.descriptor, async () => chunked(b.bytes));
    await again.abort();
    expect(await readFile(path, 'utf8')).toBe('previous archive');
    expect(await strays()).toEqual([]);
  });

  it('fails a read of a blob corrupted inside the archive with DIGEST_MISMATCH naming the digest', async () => {
    const path = fresh();
    await pushImage(single, await openOciArchiveTarget(path));
    const layer = single.images[0]!.layers[2]!;
    const member = (await indexTar(path)).get(`blobs/sha256/${hexOf(layer.descriptor.digest)}`)!;
    const fh = await open(path, 'r+');
    await fh.write(Buffer.from([0x00, 0x01, 0x02]), 0, 3, member.offset + 20);
    await fh.close();
    const src = await openOciArchiveSource(path);
    await expect(readAll(await src.fetchBlob(layer.descriptor))).rejects.toMatchObject({
      code: 'DIGEST_MISMATCH',
      message: expect.stringContaining(layer.descriptor.digest),
    });
    // The other blobs are unaffected: ranges are independent.
    await expect(readAll(await src.fetchBlob(single.images[0]!.config.descriptor))).resolves.toBeDefined();
  });

  it('reads a gzip-compressed archive and removes its temporary copy on close', async () => {
    const path = fresh();
    await pushImage(multi, await openOciArchiveTarget(path, 'multi'));
    const gz = fresh('.tar.gz');
    await pipeline(createReadStream(path), createGzip(), createWriteStream(gz));
    const src = await openOciArchiveSource(gz, 'multi');
    await expectServes(src, multi, expect);
    expect((await readdir(work)).some((f) => f.startsWith('.sigil-archive-'))).toBe(true);
    await src.close();
    expect(await strays()).toEqual([]);
  });

  it('interoperates with skopeo in both directions', async () => {
    const ours = fresh();
    await pushImage(multi, await openOciArchiveTarget(ours, 'multi'));
    const { stdout } = await run('skopeo', ['inspect', '--raw', `oci-archive:${ours}:multi`]);
    expect(stdout).toBe(Buffer.from(multi.root.bytes).toString());
    const { stdout: tarList } = await run('tar', ['-tf', ours]);
    expect(tarList).toContain('index.json');

    const layout = join(work, `layout-${n++}`);
    await pushImage(single, await openLayoutTarget(layout, 'one'));
    const theirs = fresh();
    await run('skopeo', ['copy', '--preserve-digests', `oci:${layout}:one`, `oci-archive:${theirs}:copied`]);
    await expectServes(await openOciArchiveSource(theirs, 'copied'), single, expect);
  });
});

describe('tar index', () => {
  it('finds member offsets through pax long names, GNU long names, links and directories', async () => {
    const long = `${'deep/'.repeat(30)}file.txt`;
    const p = pack();
    const path = fresh();
    const done = pipeline(p, createWriteStream(path));
    p.entry({ name: 'dir/', type: 'directory' });
    p.entry({ name: long }, 'long name content');
    p.entry({ name: './dir/plain.txt' }, 'plain');
    p.entry({ name: 'dir/link', type: 'symlink', linkname: 'plain.txt' });
    p.entry({ name: 'hard', type: 'link', linkname: 'dir/plain.txt' });
    p.entry({ name: 'empty.txt' }, '');
    p.finalize();
    await done;
    const index = await indexTar(path);
    expect([...index.keys()]).toEqual(['dir', long, 'dir/plain.txt', 'dir/link', 'hard', 'empty.txt']);
    const bytes = await readFile(path);
    const content = (name: string) => {
      const m = index.get(name)!;
      return bytes.subarray(m.offset, m.offset + m.size).toString();
    };
    expect(content(long)).toBe('long name content');
    expect(content('dir/plain.txt')).toBe('plain');
    expect(index.get('dir/link')).toMatchObject({ type: 'symlink', linkname: 'plain.txt' });
    expect(index.get('hard')).toMatchObject({ type: 'hardlink', linkname: 'dir/plain.txt' });

    // GNU tar's own long-name form (././@LongLink), as written by `tar --format=gnu`.
    const gnuDir = join(work, `gnu-${n++}`);
    const gnuName = `${'x'.repeat(120)}.txt`;
    await run('mkdir', ['-p', gnuDir]);
    await writeFile(join(gnuDir, gnuName), 'gnu long');
    const gnuTar = fresh();
    await run('tar', ['--format=gnu', '-cf', gnuTar, '-C', gnuDir, gnuName]);
    const gnu = await indexTar(gnuTar);
    const m = gnu.get(gnuName)!;
    expect((await readFile(gnuTar)).subarray(m.offset, m.offset + m.size).toString()).toBe('gnu long');
  });

  it('rejects a file that is not a tar', async () => {
    const path = fresh();
    await writeFile(path, Buffer.alloc(2048, 0x41));
    await expect(indexTar(path)).rejects.toMatchObject({ code: 'ARCHIVE_INVALID' });
    await expect(openOciArchiveSource(path)).rejects.toMatchObject({ code: 'ARCHIVE_INVALID' });
  });
});
