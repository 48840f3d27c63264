// Copy benchmark: registry -> OCI layout with sigil and with skopeo, same image, same run.
// Reports wall time and peak RSS (GNU time's %M) for each, at two image sizes, so that a
// memory use that grows with the image shows up. Sizes: SIGIL_BENCH_SIZES (MB, comma separated).
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { largeImageLayout } from '../test/harness/images.ts';
import { startRegistry } from '../test/harness/registry.ts';

const root = new URL('..', import.meta.url).pathname;
const sigilBin = join(root, 'bin', 'sigil.js');
const sizesMb = (process.env.SIGIL_BENCH_SIZES ?? '300,600,1200').split(',').map(Number);
const runs = Number(process.env.SIGIL_BENCH_RUNS ?? 3);

interface Sample {
  wall: number;
  rssMb: number;
}

function timed(cmd: string, args: string[]): Sample {
  const r = spawnSync('/usr/bin/time', ['-f', 'SIGIL_TIME %e %M', cmd, ...args], { encoding: 'utf8' });
  const m = /SIGIL_TIME ([\d.]+) (\d+)/.exec(r.stderr);
  if (r.status !== 0 || !m) throw new Error(`${cmd} failed (${r.status}): ${r.stderr.slice(-2000)}`);
  return { wall: Number(m[1]), rssMb: Number(m[2]) / 1024 };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const registry = await startRegistry();
const work = await mkdtemp(join(tmpdir(), 'sigil-bench-'));
const rows: string[] = [];
try {
  for (const mb of sizesMb) {
    process.stderr.write(`building/using the ${mb} MB image...\n`);
    const layout = await largeImageLayout(mb * 1024 * 1024);
    const ref = `${registry.host}/bench/big${mb}:1`;
    const push = timed(process.execPath, [sigilBin, 'copy', '-q', `oci-dir:${layout}`, ref]);
    process.stderr.write(`pushed ${ref} in ${push.wall.toFixed(1)} s\n`);
    const tools: Record<string, (out: string) => Sample> = {
      sigil: (out) => timed(process.execPath, [sigilBin, 'copy', '-q', ref, `oci-dir:${out}:big`]),
      skopeo: (out) => timed('skopeo', ['copy', '-q', '--src-tls-verify=false', `docker://${ref}`, `oci:${out}:big`]),
    };
    const results: Record<string, Sample[]> = { sigil: [], skopeo: [] };
    // Alternate the tools so neither always runs on a warmer page cache.
    for (let i = 0; i < runs; i++) {
      for (const [name, run] of Object.entries(tools)) {
        const out = join(work, `${name}-${mb}-${i}`);
        results[name]!.push(run(out));
        await rm(out, { recursive: true, force: true });
      }
    }
    for (const [name, samples] of Object.entries(results)) {
      const wall = median(samples.map((s) => s.wall));
      const rss = Math.max(...samples.map((s) => s.rssMb));
      rows.push(
        `${String(mb).padStart(5)} MB  ${name.padEnd(7)} wall ${wall.toFixed(2).padStart(6)} s (median of ${runs})  peak RSS ${rss.toFixed(0).padStart(4)} MB`,
      );
    }
  }
} finally {
  await registry.stop();
  await rm(work, { recursive: true, force: true });
}
process.stdout.write(
  `\ncopy registry -> oci-dir (distribution 2.8 on 127.0.0.1, ${runs} runs each)\n${rows.join('\n')}\n`,
);
