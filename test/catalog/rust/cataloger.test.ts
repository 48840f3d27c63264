import { deflateSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import type { CatalogFile, FileHeader } from '../../../src/catalog/cataloger.ts';
import type { Digest } from '../../../src/oci/digest.ts';
import { rustAuditCataloger } from '../../../src/catalog/rust/cataloger.ts';
import { parseAuditData } from '../../../src/catalog/rust/audit-data.ts';
import {
  auditJson,
  debianRipgrep,
  RIPGREP_CRATES,
  ripgrepBuiltUsing,
  withAuditData,
} from '../../../testdata/rust-binaries.ts';

const LAYER = `sha256:${'ab'.repeat(32)}` as Digest;

/** What the layer walk does: stream the file through the extractor, keep the extract. */
function extractFrom(path: string, bytes: Uint8Array, mode = 0o755): CatalogFile | undefined {
  const ex = rustAuditCataloger.extractor!;
  const file: FileHeader = { path, mode, size: bytes.length };
  if (!ex.wants(file)) return undefined;
  const sink = ex.start(file);
  for (let at = 0; at < bytes.length; at += 65536) if (!sink.write(bytes.subarray(at, at + 65536))) break;
  const extract = sink.end();
  return extract === undefined ? undefined : { path, bytes: extract, layerDiffId: LAYER };
}

function catalog(extracts: CatalogFile[]) {
  return rustAuditCataloger.catalog({ files: [], allPaths: new Set(), extracts }) as Awaited<
    ReturnType<typeof rustAuditCataloger.catalog>
  >;
}

let rg: Buffer;
let auditable: Buffer;

beforeAll(async () => {
  rg = await debianRipgrep();
  auditable = withAuditData(rg, auditJson(RIPGREP_CRATES));
}, 120_000);

describe('rust-binary cataloger', () => {
  it('picks no file by path', () => {
    expect(rustAuditCataloger.name).toBe('rust-binary');
    expect(rustAuditCataloger.wants('/usr/bin/rg')).toBe(false);
    expect(rustAuditCataloger.wants('/app/Cargo.lock')).toBe(false);
  });

  it('fixture crates are the ones the deb says rg was built from', async () => {
    const builtUsing = (await ripgrepBuiltUsing())
      .split(', ')
      .map((e) => /^rust-(.+?) \(= (.+)-[^-]+\)$/.exec(e))
      .filter((m) => m !== null)
      .map((m) => `${m[1]!.replace(/-2$/, '')}@${m[2]}`)
      .sort();
    const runtime = RIPGREP_CRATES.filter((c) => c.kind !== 'build' && !c.root)
      .map((c) => `${c.name.replaceAll('_', '-')}@${c.version}`)
      .sort();
    expect(runtime).toEqual(builtUsing);
  });

  it('reports ripgrep crates with purls, location and runtime-only edges', () => {
    const file = extractFrom('/usr/bin/rg', auditable)!;
    const { packages, warnings } = catalog([file]);
    expect(warnings).toEqual([]);
    // 50 crates in the data, 2 of them (cc, pkg-config) build-only: skipped as syft does.
    expect(packages).toHaveLength(48);
    expect(packages.map((p) => p.name)).not.toContain('cc');
    expect(packages.map((p) => p.name)).not.toContain('pkg-config');
    const byName = new Map(packages.map((p) => [p.name, p]));
    const root = byName.get('ripgrep')!;
    expect(root).toMatchObject({
      id: 'rust:ripgrep@13.0.0',
      type: 'rust',
      version: '13.0.0',
      purl: 'pkg:cargo/ripgrep@13.0.0',
      locations: [{ path: '/usr/bin/rg', layerDiffId: LAYER }],
      metadata: { source: 'local', kind: 'runtime', root: 'true' },
    });
    expect(root.dependsOn).toEqual([
      'rust:bstr@0.2.17',
      'rust:clap@2.34.0',
      'rust:grep@0.2.10',
      'rust:ignore@0.4.18',
      'rust:lazy_static@1.4.0',
      'rust:log@0.4.17',
      'rust:num_cpus@1.14.0',
      'rust:regex@1.7.0',
      'rust:serde_json@1.0.87',
      'rust:termcolor@1.1.2',
    ]);
    expect(byName.get('serde_json')).toMatchObject({
      purl: 'pkg:cargo/serde_json@1.0.87',
      metadata: { source: 'crates.io', kind: 'runtime' },
      dependsOn: ['rust:itoa@1.0.1', 'rust:ryu@1.0.2', 'rust:serde@1.0.147'],
    });
    // pcre2-sys's build dependencies are not packages, so no edge leads to them.
    expect(byName.get('pcre2-sys')!.dependsOn).toEqual(['rust:libc@0.2.139']);
    expect(byName.get('memchr')!.dependsOn).toBeUndefined();
    // Every edge points at a reported package.
    for (const p of packages) for (const d of p.dependsOn ?? []) expect(packages.some((q) => q.id === d)).toBe(true);
  });

  it('merges a crate found in two binaries into one package with two locations', () => {
    const other = withAuditData(
      rg,
      '{"packages":[{"name":"fd-find","version":"8.6.0","source":"crates.io","dependencies":[1],"root":true},{"name":"memchr","version":"2.5.0","source":"crates.io"}]}',
    );
    const { packages } = catalog([extractFrom('/usr/bin/fd', other)!, extractFrom('/usr/bin/rg', auditable)!]);
    expect(packages.find((p) => p.name === 'memchr')!.locations.map((l) => l.path)).toEqual([
      '/usr/bin/fd',
      '/usr/bin/rg',
    ]);
    expect(packages.find((p) => p.name === 'fd-find')!.dependsOn).toEqual(['rust:memchr@2.5.0']);
  });

  it('keeps a non-auditable binary and a non-executable out entirely', () => {
    expect(extractFrom('/usr/bin/rg', rg)).toBeUndefined();
    expect(extractFrom('/usr/lib/rg.copy', auditable, 0o644)).toBeUndefined();
  });

  it('warns, naming the binary, on a corrupted section, bad JSON or a wrong shape', () => {
    const z = deflateSync(Buffer.from(auditJson(RIPGREP_CRATES)), { level: 9 });
    const broken = Buffer.from(auditable);
    broken.fill(0, broken.indexOf(z) + 2, broken.indexOf(z) + 40);
    const notJson = withAuditData(rg, '{"packages":[{"name":"x",');
    const wrongShape = withAuditData(rg, '{"crates":[]}');
    const { packages, warnings } = catalog([
      extractFrom('/opt/a', broken)!,
      extractFrom('/opt/b', notJson)!,
      extractFrom('/opt/c', wrongShape)!,
    ]);
    expect(packages).toEqual([]);
    expect(warnings).toHaveLength(3);
    expect(warnings[0]).toMatch(/^\/opt\/a: cargo-auditable data unreadable: section \.dep-v0 is not zlib data/);
    expect(warnings[1]).toMatch(/^\/opt\/b: cargo-auditable data is not valid audit JSON/);
    expect(warnings[2]).toMatch(/^\/opt\/c: .*no "packages" array/);
  });
});

describe('parseAuditData', () => {
  it('fills the defaults auditable-serde leaves out and flags bad entries', () => {
    const d = parseAuditData(
      JSON.stringify({
        packages: [
          { name: 'a', version: '1.0.0', source: 'git', dependencies: [1, 7, 0], root: true },
          { name: 'b', version: '0.1.0', source: 'registry', kind: 'build' },
          { name: 'c', source: 'builtin' },
        ],
      }),
    );
    expect(d.crates[0]).toEqual({
      name: 'a',
      version: '1.0.0',
      source: 'git',
      kind: 'runtime',
      dependencies: [1],
      root: true,
    });
    expect(d.crates[1]).toMatchObject({ kind: 'build', dependencies: [], root: false, source: 'registry' });
    expect(d.problems).toEqual([
      'packages[0] (a): dependency index 7 out of range or itself; ignored',
      'packages[0] (a): dependency index 0 out of range or itself; ignored',
      'packages[2]: no name or version; skipped',
    ]);
  });
});
