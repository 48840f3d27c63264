/**
 * The Go binary cataloger on real binaries: Debian 12's go-md2man (GOPATH-mode build info, the
 * shared vector), a module-mode binary built here by Debian's Go 1.19 toolchain with vendored real
 * modules (truth: that toolchain's own `go version -m`), and a non-Go ELF (coreutils' true).
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import type { CatalogResult } from '../../../src/catalog/cataloger.ts';
import { goBinaryCataloger } from '../../../src/catalog/go/cataloger.ts';
import type { Digest } from '../../../src/oci/digest.ts';
import { debToLayerEntries, fetchDebs, type LayerEntry } from '../../../testdata/debs.ts';
import { goModuleBinary, type GoTestBinary } from '../../../testdata/go-binaries.ts';
import { SBOM_VECTORS } from '../../helpers/vectors.ts';

const LAYER = `sha256:${'60'.repeat(32)}` as Digest;
const VECTOR = join(SBOM_VECTORS, 'go-buildinfo');

/** Stream a file through the cataloger's extractor in `chunk`-byte pieces, as the layer walk does. */
function extract(path: string, data: Buffer, mode = 0o755, chunk = 64 * 1024): Uint8Array | undefined {
  const ex = goBinaryCataloger.extractor!;
  const header = { path, mode, size: data.length };
  if (!ex.wants(header)) return undefined;
  const sink = ex.start(header);
  for (let o = 0; o < data.length; o += chunk) if (!sink.write(data.subarray(o, o + chunk))) break;
  return sink.end();
}

function catalog(path: string, data: Buffer): CatalogResult {
  const bytes = extract(path, data);
  const extracts = bytes === undefined ? [] : [{ path, bytes, layerDiffId: LAYER }];
  return goBinaryCataloger.catalog({ files: [], allPaths: new Set(), extracts }) as CatalogResult;
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const fileOf = (entries: LayerEntry[], path: string) => entries.find((e) => e.path === path && e.type === 'file');

let md2man: Buffer;
let trueBin: LayerEntry | undefined;
let built: GoTestBinary;

beforeAll(async () => {
  const [md2manDeb, coreutilsDeb] = await fetchDebs(['go-md2man', 'coreutils']);
  // The vector README gives the .deb's and the binary's sha256: the bytes are the vector's.
  expect(sha256(await readFile(md2manDeb!))).toBe('e07d592f8ac3814dcb81e9b7ca55d717cc8159c324a642e63a479167b2efdc48');
  md2man = fileOf((await debToLayerEntries(md2manDeb!)).entries, 'usr/bin/go-md2man')!.data!;
  expect(sha256(md2man)).toBe('3cfd67a3910ce1e9b26b7aa839be55c7e8c25c8a91135c38e3d80f2a07522531');
  const coreutils = (await debToLayerEntries(coreutilsDeb!)).entries;
  // bookworm's coreutils ships /bin/true (merged /usr comes from usrmerge, not the package).
  trueBin = fileOf(coreutils, 'bin/true') ?? fileOf(coreutils, 'usr/bin/true');
  built = await goModuleBinary();
}, 180_000);

describe('go-md2man from Debian 12 (GOPATH mode)', () => {
  test('matches expected.tsv: main module by path, no version, arch, Go version, zero deps', async () => {
    const tsv = (await readFile(join(VECTOR, 'expected.tsv'), 'utf8')).trim().split('\n');
    const cols = tsv[0]!.split('\t');
    const rows = tsv.slice(1).map((l) => Object.fromEntries(l.split('\t').map((v, i) => [cols[i], v])));
    expect(rows).toHaveLength(1);
    const row = rows[0]!;
    const r = catalog(`/${row.binary}`, md2man);
    expect(r.warnings).toEqual([]);
    const main = r.packages.find((p) => p.name === row.name)!;
    expect(main).toBeDefined();
    // No version recorded: syft writes `(devel)` (createMainModuleFromPath), so do we.
    expect(row.version).toBe('');
    expect(main.version).toBe('(devel)');
    expect(main.purl).toBe('pkg:golang/github.com/cpuguy83/go-md2man/v2@(devel)');
    expect(main.arch).toBe(row.arch);
    expect(main.metadata?.goVersion).toBe(row.go_version);
    expect(main.locations).toEqual([{ path: '/usr/bin/go-md2man', layerDiffId: LAYER }]);
    const deps = r.packages.filter((p) => p.name !== 'stdlib' && p !== main);
    expect(deps.length).toBe(Number(row.deps));
    const stdlib = r.packages.find((p) => p.name === 'stdlib')!;
    expect(stdlib).toMatchObject({ version: 'go1.18.3', purl: 'pkg:golang/stdlib@1.18.3', license: 'BSD-3-Clause' });
    expect(main.dependsOn).toEqual([stdlib.id]);
  });

  test('build settings match the vector decoder, quoted CGO flags unquoted', async () => {
    const text = await readFile(join(VECTOR, 'buildinfo.txt'), 'utf8');
    const main = catalog('/usr/bin/go-md2man', md2man).packages.find((p) => p.name !== 'stdlib')!;
    const want: Record<string, string> = {};
    for (const line of text.split('\n')) {
      const m = /^build\t([^=]+)=(.*)$/.exec(line);
      if (m) want[`build:${m[1]}`] = m[2]!.startsWith('"') ? (JSON.parse(m[2]!) as string) : m[2]!;
    }
    expect(Object.keys(want).length).toBe(9);
    for (const [k, v] of Object.entries(want)) expect(main.metadata?.[k]).toBe(v);
  });

  test('keeps only the build info: a few hundred bytes of a 1.8 MB binary', () => {
    const bytes = extract('/usr/bin/go-md2man', md2man)!;
    expect(bytes.length).toBeLessThan(1024);
    expect(Buffer.from(bytes.subarray(0, 14)).toString('latin1')).toBe('\xff Go buildinf:');
  });
});

/** `go version -m` output, read with its own little parser: the truth for the built binary. */
function versionM(text: string) {
  const lines = text.split('\n');
  const goVersion = lines[0]!.split(': ')[1]!;
  const fields = lines
    .slice(1)
    .map((l) => l.replace(/^\t/, '').split('\t'))
    .filter((f) => f[0] !== '' && f[0] !== undefined);
  const deps: { path: string; version: string }[] = [];
  let main: { path: string; version: string } | undefined;
  const settings: Record<string, string> = {};
  for (const f of fields) {
    if (f[0] === 'mod') main = { path: f[1]!, version: f[2]! };
    if (f[0] === 'dep') deps.push({ path: f[1]!, version: f[2]! });
    if (f[0] === '=>') deps[deps.length - 1] = { path: f[1]!, version: f[2]! };
    if (f[0] === 'build') {
      const eq = f[1]!.indexOf('=');
      settings[f[1]!.slice(0, eq)] = f[1]!.slice(eq + 1);
    }
  }
  return { goVersion, main: main!, deps, settings };
}

describe('module-mode binary built by Debian Go 1.19 with vendored modules', () => {
  test('main module, deps with versions, replacements, stdlib: as `go version -m` says', async () => {
    const truth = versionM(built.versionM);
    expect(built.toolchainVersion).toContain(truth.goVersion);
    const r = catalog('/usr/local/bin/gotest', await readFile(built.path));
    expect(r.warnings).toEqual([]);
    const stdlib = r.packages.find((p) => p.name === 'stdlib')!;
    expect(stdlib.version).toBe(truth.goVersion);
    expect(stdlib.purl).toBe(`pkg:golang/stdlib@${truth.goVersion.replace(/^go/, '')}`);

    const main = r.packages.find((p) => p.name === truth.main.path)!;
    expect(truth.main.version).toBe('(devel)');
    // (devel) main module: syft takes the version from `-ldflags -X main.version=1.2.3`.
    expect(truth.settings['-ldflags']).toBe('"-X main.version=1.2.3"');
    expect(main.version).toBe('v1.2.3');
    expect(main.metadata?.['build:-ldflags']).toBe('-X main.version=1.2.3');
    expect(main.metadata?.['build:GOARCH']).toBe(truth.settings.GOARCH);
    expect(main.arch).toBe('amd64');

    const deps = r.packages.filter((p) => p !== main && p !== stdlib);
    // A directory replacement (`=> ./local (devel)`) keeps the module's own path (see package.ts).
    const wantDeps = truth.deps.map((d) =>
      d.path.startsWith('./') ? { path: 'example.com/local', version: d.version } : d,
    );
    expect(
      deps.map((d) => ({ path: d.name, version: d.version })).sort((a, b) => a.path.localeCompare(b.path)),
    ).toEqual(wantDeps.sort((a, b) => a.path.localeCompare(b.path)));
    expect(deps.map((d) => d.purl).sort()).toEqual([
      'pkg:golang/example.com/local@(devel)',
      'pkg:golang/github.com/pkg/errors@v0.9.1',
      'pkg:golang/github.com/russross/blackfriday/v2@v2.1.0',
    ]);
    expect(deps.find((d) => d.name === 'github.com/pkg/errors')!.metadata?.replaces).toBe('example.com/errors@v0.8.0');
    expect(main.dependsOn).toEqual([...deps.map((d) => d.id), stdlib.id].sort());
    for (const p of r.packages) expect(p.locations).toEqual([{ path: '/usr/local/bin/gotest', layerDiffId: LAYER }]);
  });
});

describe('not Go', () => {
  test('coreutils true (ELF, executable) is sniffed, scanned and yields no extract', () => {
    expect(trueBin!.data!.subarray(0, 4).toString('latin1')).toBe('\x7fELF');
    expect(extract('/usr/bin/true', trueBin!.data!)).toBeUndefined();
    expect(catalog('/usr/bin/true', trueBin!.data!).packages).toEqual([]);
  });

  test('a file without an exec bit is not wanted; the cataloger wants no whole files', () => {
    expect(goBinaryCataloger.extractor!.wants({ path: '/usr/bin/go-md2man', mode: 0o644, size: md2man.length })).toBe(
      false,
    );
    expect(extract('/x', md2man, 0o644)).toBeUndefined();
    expect(goBinaryCataloger.wants('/usr/bin/go-md2man')).toBe(false);
  });
});
