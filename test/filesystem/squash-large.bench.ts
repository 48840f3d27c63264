/**
 * Time and peak memory of squashing testdata's large image (random-data layers):
 *
 *   node --experimental-transform-types test/filesystem/squash-large.bench.ts [bytes] [concurrency]
 *
 * Kept out of the vitest suite: it measures the process, and a test worker's RSS is not sigil's.
 * The image is built once into testdata/cache by the harness (about 1 s per 300 MB).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { squashImage } from '../../src/filesystem/squash.ts';
import { resolveImage } from '../../src/oci/image.ts';
import { openSource } from '../../src/oci/source.ts';
import { buildLargeImage } from '../../testdata/large-image.ts';
import { largeImageLayout } from '../harness/images.ts';

const bytes = Number(process.argv[2] ?? 300 * 1024 * 1024);
const concurrency = process.argv[3] === undefined ? undefined : Number(process.argv[3]);
// SIGIL_BENCH_GZIP=1: gzip layers (level 1), built into a temp dir each run (about 50 MB/s).
let layoutDir: string;
if (process.env.SIGIL_BENCH_GZIP === '1') {
  layoutDir = await mkdtemp(join(tmpdir(), 'sigil-large-gzip-'));
  await buildLargeImage(layoutDir, bytes, { compression: 'gzip' });
} else {
  layoutDir = await largeImageLayout(bytes);
}
const image = await resolveImage(await openSource(`oci-dir:${layoutDir}`));
const total = image.layers.reduce((n, l) => n + l.size, 0);

let peak = process.memoryUsage().rss;
const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
const rssBefore = process.memoryUsage().rss;
const started = performance.now();
// SIGIL_BENCH_WANT=1: one wanted 12.5 MiB file per layer, read into memory; default none.
const wantOne = process.env.SIGIL_BENCH_WANT === '1';
const r = await squashImage(image, {
  wants: (p) => wantOne && p.endsWith('/blob-0.bin'),
  ...(concurrency === undefined ? {} : { concurrency }),
});
const ms = performance.now() - started;
clearInterval(sampler);
peak = Math.max(peak, process.memoryUsage().rss);
const MiB = 1024 * 1024;
process.stdout.write(
  `${image.layers.length} layers, ${(total / MiB).toFixed(0)} MiB, ${r.tree.size} nodes, ${r.files.length} captured ` +
    `(${(r.files.reduce((n, f) => n + f.bytes.length, 0) / MiB).toFixed(1)} MiB): ` +
    `${ms.toFixed(0)} ms (${(total / MiB / (ms / 1000)).toFixed(0)} MiB/s), RSS before ${(rssBefore / MiB).toFixed(0)} MiB, ` +
    `peak sampled ${(peak / MiB).toFixed(0)} MiB, maxRSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB\n`,
);
if (process.env.SIGIL_BENCH_GZIP === '1') await rm(layoutDir, { recursive: true, force: true });
