import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { zstdCompressSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MediaType } from '../../src/oci/media-types.ts';
import { buildImage, type Entry, tarBytes } from '../filesystem/layered-image.ts';
import { demoImage, writableCopy } from '../harness/images.ts';
import { startRegistry, type TestRegistry } from '../harness/registry.ts';
import { runSigil } from '../helpers/cli.ts';
import { SBOM_VECTORS } from '../helpers/vectors.ts';
import { cycloneDxProblems, spdxProblems } from '../sbom/validate.ts';
import { REF_NAME_ANNOTATION, writeBlob, writeImageManifest, writeIndexJson } from '../../testdata/oci-layout.ts';

interface SigilJson {
  packages: {
    name: string;
    version: string;
    arch?: string;
    license?: string;
    introducedBy?: string;
    lastChangedBy?: string;
    locations: { path: string; layerDiffId?: string }[];
  }[];
}

const key = (p: { name: string; version: string; arch?: string }) => `${p.name}\t${p.version}\t${p.arch ?? ''}`;

/** The package set dpkg itself reports for an admin dir: the truth, computed without sigil. */
function dpkgQuery(admindir: string): string[] {
  const out = execFileSync(
    'dpkg-query',
    [`--admindir=${admindir}`, '-W', '-f', '${Package}\t${Version}\t${Architecture}\n'],
    {
      encoding: 'utf8',
    },
  );
  return out.trim().split('\n').sort();
}

/** Extract one path of a layer blob with GNU tar (not sigil's reader) into `dir`. */
function extract(blob: string, path: string, dir: string, compression: 'gzip' | 'zstd' | 'none'): void {
  const flag = compression === 'gzip' ? ['-z'] : compression === 'zstd' ? ['--zstd'] : [];
  execFileSync('tar', ['-x', ...flag, '-f', blob, '-C', dir, path]);
}

describe('sigil sbom', () => {
  let registry: TestRegistry;
  let work: string;
  let env: NodeJS.ProcessEnv;
  let demoLayout: string;
  let purged: string;
  let purgeLayerDigest: string;

  beforeAll(async () => {
    registry = await startRegistry();
    work = await mkdtemp(join(tmpdir(), 'sigil-sbom-'));
    env = { DOCKER_CONFIG: join(work, 'docker'), XDG_CACHE_HOME: join(work, 'cache'), SOURCE_DATE_EPOCH: '1700000000' };
    const demo = await demoImage();
    demoLayout = demo.layoutDir;

    // A derived image: demo + a zstd layer that purges mawk and libzstd1 (files whited out,
    // database rewritten without them) and makes /usr/share/doc opaque keeping one file,
    // + an uncompressed layer labelled as gzip (magic bytes must win).
    purged = await writableCopy(demoLayout);
    const top = demo.layers.at(-1)!;
    const topBlob = join(demoLayout, 'blobs/sha256', top.descriptor.digest.slice(7));
    const scratch = join(work, 'scratch');
    await mkdir(scratch);
    extract(topBlob, 'var/lib/dpkg/status', scratch, 'gzip');
    extract(topBlob, 'var/lib/dpkg/info/mawk.list', scratch, 'gzip');
    const status = await readFile(join(scratch, 'var/lib/dpkg/status'), 'utf8');
    const kept = status
      .split(/\n\n+/)
      .filter((s) => s.trim() && !/^Package: (mawk|libzstd1)$/m.test(s))
      .join('\n\n');
    const mawkFiles = (await readFile(join(scratch, 'var/lib/dpkg/info/mawk.list'), 'utf8'))
      .split('\n')
      .filter((p) => /^\/usr\/bin\/|^\/usr\/share\/man\//.test(p));
    const whiteout = (p: string): Entry => {
      const i = p.lastIndexOf('/');
      return { path: `${p.slice(1, i)}/.wh.${p.slice(i + 1)}`, data: '' };
    };
    const purge: Entry[] = [
      { path: 'var/lib/dpkg/status', data: `${kept}\n` },
      ...mawkFiles.map(whiteout),
      whiteout('/var/lib/dpkg/info/mawk.list'),
      whiteout('/var/lib/dpkg/info/libzstd1:amd64.list'),
      { path: 'usr/share/doc/.wh..wh..opq', data: '' },
      { path: 'usr/share/doc/README', data: 'docs were removed\n' },
    ];
    const extra: Entry[] = [{ path: 'etc/motd', data: 'hello\n' }];
    const purgeTar = await tarBytes(purge);
    const extraTar = await tarBytes(extra);
    const zstdBlob = await writeBlob(purged, zstdCompressSync(purgeTar));
    const plainBlob = await writeBlob(purged, extraTar);
    purgeLayerDigest = zstdBlob.digest;
    const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
    const layers = [
      ...demo.layers.map((l) => ({ descriptor: l.descriptor, diffId: l.diffId })),
      { descriptor: { mediaType: MediaType.OciLayerZstd, ...zstdBlob }, diffId: sha(purgeTar) },
      { descriptor: { mediaType: MediaType.OciLayerGzip, ...plainBlob }, diffId: sha(extraTar) },
    ];
    const written = await writeImageManifest(
      purged,
      { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) } },
      layers,
    );
    await writeIndexJson(purged, [{ ...written.manifest, annotations: { [REF_NAME_ANNOTATION]: 'purged' } }]);
    await rm(scratch, { recursive: true });
  });

  afterAll(async () => {
    await registry?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('reports exactly what dpkg-query reports for the final filesystem of the demo image', async () => {
    const demo = await demoImage();
    const root = join(work, 'demo-root');
    await mkdir(root, { recursive: true });
    // No whiteouts in the demo image: extracting the layers in order with GNU tar is its final filesystem.
    for (const l of demo.layers)
      execFileSync('tar', ['-xzf', join(demoLayout, 'blobs/sha256', l.descriptor.digest.slice(7)), '-C', root]);
    const truth = dpkgQuery(join(root, 'var/lib/dpkg'));
    expect(truth.length).toBe(8);

    const r = await runSigil(['sbom', '-o', 'json', `oci-dir:${demoLayout}`], { env });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/8 packages \(8 deb\) in 3 layers/);
    const packages = (JSON.parse(r.stdout) as SigilJson).packages;
    expect(packages.map(key).sort()).toEqual(truth);
    // /usr/share/doc/libgcc-s1 is a symlink to gcc-12-base: the copyright it leads to applies.
    const license = (name: string) => packages.find((p) => p.name === name)?.license;
    expect(license('libgcc-s1')).toMatch(/GPL-3.0-or-later/);
    expect(license('libgcc-s1')).toBe(license('gcc-12-base'));
    expect(license('zlib1g')).toBe('Zlib');
  });

  it('drops purged packages, honours whiteouts, an opaque directory, zstd and mislabelled uncompressed layers', async () => {
    const r = await runSigil(['sbom', '-o', 'json', '--no-cache', `oci-dir:${purged}:purged`], { env });
    expect(r.stderr).not.toMatch(/warning/);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as SigilJson;
    const names = doc.packages.map((p) => p.name).sort();
    expect(names).toEqual(['base-files', 'gcc-12-base', 'libc6', 'libgcc-s1', 'netbase', 'zlib1g']);
    // Truth: dpkg-query over the database of the layer that rewrote it, extracted by GNU tar.
    const admin = join(work, 'purged-admin');
    await mkdir(admin, { recursive: true });
    extract(join(purged, 'blobs/sha256', purgeLayerDigest.slice(7)), 'var/lib/dpkg/status', admin, 'zstd');
    expect(doc.packages.map(key).sort()).toEqual(dpkgQuery(join(admin, 'var/lib/dpkg')));
    const libc = doc.packages.find((p) => p.name === 'libc6')!;
    const demo = await demoImage();
    expect(libc.introducedBy).toBe(demo.layers[1]!.diffId);
  });

  it('--scope all-layers also reports packages a later layer removed, with the layers they were in', async () => {
    const demo = await demoImage();
    const r = await runSigil(['sbom', '-o', 'json', '--scope', 'all-layers', `oci-dir:${purged}:purged`], { env });
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as SigilJson;
    expect(doc.packages.map((p) => p.name).sort()).toEqual([
      'base-files',
      'gcc-12-base',
      'libc6',
      'libgcc-s1',
      'libzstd1',
      'mawk',
      'netbase',
      'zlib1g',
    ]);
    const mawk = doc.packages.find((p) => p.name === 'mawk')!;
    const top = demo.layers.at(-1)!.diffId;
    expect(mawk.introducedBy).toBe(top);
    expect(mawk.lastChangedBy).toBe(top);
    // base-files is in every layer's rewrite of the database: one package, a location per layer.
    const baseFiles = doc.packages.find((p) => p.name === 'base-files')!;
    const layersOfBase = new Set(
      baseFiles.locations.filter((l) => l.path === '/var/lib/dpkg/status').map((l) => l.layerDiffId),
    );
    expect(layersOfBase.size).toBe(4);
    expect(baseFiles.introducedBy).toBe(demo.layers[0]!.diffId);
  });

  it('gives identical package lists from registry, OCI layout, OCI archive and docker archive', async () => {
    const ref = `${registry.host}/sbom/demo:1`;
    const archive = join(work, 'demo.tar');
    const ociArchive = join(work, 'demo-oci.tar');
    for (const dst of [ref, `docker-archive:${archive}:sbom/demo:1`, `oci-archive:${ociArchive}:demo`]) {
      expect((await runSigil(['copy', '-q', `oci-dir:${demoLayout}`, dst], { env })).code).toBe(0);
    }
    const outputs = [];
    for (const src of [`oci-dir:${demoLayout}`, ref, `docker-archive:${archive}`, `oci-archive:${ociArchive}`]) {
      const r = await runSigil(['sbom', '-o', 'json', src], { env });
      expect(r.code).toBe(0);
      outputs.push(JSON.stringify((JSON.parse(r.stdout) as SigilJson).packages));
    }
    expect(new Set(outputs).size).toBe(1);
  });

  it('writes SPDX 2.3 and CycloneDX 1.6/1.7 in one pass, valid against their schemas, byte-identical when repeated', async () => {
    const files = ['a.spdx.json', 'a.cdx.json', 'a.cdx17.json'].map((f) => join(work, f));
    const args = [
      'sbom',
      `-o`,
      `spdx-json=${files[0]}`,
      '-o',
      `cyclonedx-json=${files[1]}`,
      '-o',
      `cyclonedx-json@1.7=${files[2]}`,
    ];
    const first = await runSigil([...args, `oci-dir:${demoLayout}`], { env });
    expect(first.code).toBe(0);
    const [spdx, cdx, cdx17] = await Promise.all(files.map((f) => readFile(f, 'utf8')));
    expect(spdxProblems(spdx!)).toEqual([]);
    expect(await cycloneDxProblems(cdx!, '1.6')).toEqual([]);
    expect(await cycloneDxProblems(cdx17!, '1.7')).toEqual([]);
    expect((JSON.parse(spdx!) as { packages: unknown[] }).packages.length).toBe(9); // 8 debs + the image
    const second = await runSigil([...args, `oci-dir:${demoLayout}`], { env });
    expect(second.code).toBe(0);
    expect(await readFile(files[0]!, 'utf8')).toBe(spdx);
    expect(await readFile(files[1]!, 'utf8')).toBe(cdx);
  });

  it('--files adds the files packages own to SPDX, still schema-valid, each contained by its owner', async () => {
    const r = await runSigil(['sbom', '--files', '-o', 'spdx-json', `oci-dir:${demoLayout}`], { env });
    expect(r.code).toBe(0);
    expect(spdxProblems(r.stdout)).toEqual([]);
    const doc = JSON.parse(r.stdout) as {
      files: { fileName: string; SPDXID: string; checksums: { algorithm: string; checksumValue: string }[] }[];
      relationships: { spdxElementId: string; relationshipType: string; relatedSpdxElement: string }[];
    };
    expect(doc.files.length).toBeGreaterThan(300);
    expect(doc.files.map((f) => f.fileName)).toEqual(
      expect.arrayContaining([expect.stringMatching(/usr\/bin\/mawk$/)]),
    );
    const contained = new Set(
      doc.relationships.filter((x) => x.relationshipType === 'CONTAINS').map((x) => x.relatedSpdxElement),
    );
    expect(doc.files.every((f) => contained.has(f.SPDXID))).toBe(true);
    // Checksums are of the real content: compare with the file GNU tar extracts from the layers.
    const root = join(work, 'files-root');
    await mkdir(root, { recursive: true });
    for (const l of (await demoImage()).layers) {
      execFileSync('tar', ['-xzf', join(demoLayout, 'blobs/sha256', l.descriptor.digest.slice(7)), '-C', root]);
    }
    const mawkBytes = await readFile(join(root, 'usr/bin/mawk'));
    const mawk = doc.files.find((f) => f.fileName.endsWith('usr/bin/mawk'))!;
    expect(mawk.checksums).toEqual([
      { algorithm: 'SHA1', checksumValue: createHash('sha1').update(mawkBytes).digest('hex') },
      { algorithm: 'SHA256', checksumValue: createHash('sha256').update(mawkBytes).digest('hex') },
    ]);
    const without = await runSigil(['sbom', '-o', 'spdx-json', `oci-dir:${demoLayout}`], { env });
    expect((JSON.parse(without.stdout) as { files?: unknown[] }).files ?? []).toHaveLength(0);
  });

  it('--exclude leaves paths out: no copyrights under /usr/share/doc, no packages without the dpkg database', async () => {
    const docs = await runSigil(['sbom', '-o', 'json', '--exclude', '/usr/share/doc', `oci-dir:${demoLayout}`], {
      env,
    });
    expect(docs.code).toBe(0);
    const pkgs = (JSON.parse(docs.stdout) as SigilJson).packages;
    expect(pkgs).toHaveLength(8);
    expect(pkgs.every((p) => p.license === undefined)).toBe(true);
    const db = await runSigil(['sbom', '-o', 'json', '--exclude', '/var/lib/dpkg/', `oci-dir:${demoLayout}`], { env });
    expect((JSON.parse(db.stdout) as SigilJson).packages).toHaveLength(0);
  });

  it('an unknown format is a usage error listing the formats', async () => {
    const r = await runSigil(['sbom', '-o', 'spdx-yaml', `oci-dir:${demoLayout}`], { env });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/spdx-json, cyclonedx-json/);
  });
});

describe('sigil sbom on real rpm and apk databases', () => {
  const vector = (p: string) => join(SBOM_VECTORS, p);
  const expectedRows = async (folder: string) =>
    (await readFile(vector(`${folder}/expected.tsv`), 'utf8')).trim().split('\n').length - 1;

  it.each([
    {
      folder: 'rpm-sqlite-amazonlinux2023',
      db: 'rpmdb.sqlite',
      at: 'var/lib/rpm/rpmdb.sqlite',
      osRelease: 'NAME="Amazon Linux"\nID="amzn"\nVERSION_ID="2023"\n',
      type: 'rpm',
    },
    {
      folder: 'apk-alpine-3.16-python',
      db: 'lib/apk/db/installed',
      at: 'lib/apk/db/installed',
      osRelease: 'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.16.3\n',
      type: 'apk',
    },
  ])(
    '$folder: every package of expected.tsv, with the distro in the purls',
    async ({ folder, db, at, osRelease, type }) => {
      const built = await buildImage([
        { entries: [{ path: 'etc/os-release', data: osRelease }] },
        { entries: [{ path: at, data: await readFile(vector(`${folder}/${db}`)) }], compression: 'zstd' },
      ]);
      try {
        const r = await runSigil(['sbom', '-o', 'json', '--no-cache', `oci-dir:${built.dir}`]);
        expect(r.code).toBe(0);
        const doc = JSON.parse(r.stdout) as { packages: { type: string; purl: string }[] };
        const ofType = doc.packages.filter((p) => p.type === type);
        expect(ofType.length).toBe(await expectedRows(folder));
        const distro = type === 'rpm' ? 'distro=amzn-2023' : 'distro=alpine-3.16.3';
        expect(ofType.every((p) => p.purl.includes(distro))).toBe(true);
      } finally {
        await rm(built.dir, { recursive: true, force: true });
      }
    },
  );
});
