import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  type DebPackage,
  DEFAULT_DEB_CACHE_DIR,
  debToLayerEntries,
  dpkgLayerEntries,
  fetchDebs,
  parseAr,
  parseControl,
} from '../../testdata/debs.ts';

const temps: string[] = [];
afterAll(async () => {
  for (const d of temps) await rm(d, { recursive: true, force: true });
});

function arMember(name: string, data: Buffer): Buffer {
  const fields = [name.padEnd(16), '0'.padEnd(12), '0'.padEnd(6), '0'.padEnd(6), '100644'.padEnd(8)];
  const h = `${fields.join('')}${String(data.length).padEnd(10)}\`\n`;
  return Buffer.concat([Buffer.from(h, 'latin1'), data, data.length % 2 ? Buffer.from('\n') : Buffer.alloc(0)]);
}

describe('parseAr', () => {
  it('reads members, stripping GNU "/" name ends and skipping odd-size padding', () => {
    const ar = Buffer.concat([
      Buffer.from('!<arch>\n'),
      arMember('debian-binary', Buffer.from('2.0\n')),
      arMember('odd/', Buffer.from('abc')),
      arMember('last', Buffer.from('xy')),
    ]);
    expect(parseAr(ar).map((m) => [m.name, m.data.toString()])).toEqual([
      ['debian-binary', '2.0\n'],
      ['odd', 'abc'],
      ['last', 'xy'],
    ]);
  });

  it('rejects a wrong magic, a bad header and a truncated member', () => {
    expect(() => parseAr(Buffer.from('!<arch>x'))).toThrow(/not an ar archive/);
    const good = Buffer.concat([Buffer.from('!<arch>\n'), arMember('a', Buffer.from('1234'))]);
    const badMagic = Buffer.from(good);
    badMagic[8 + 58] = 0x41;
    expect(() => parseAr(badMagic)).toThrow(/header magic/);
    expect(() => parseAr(good.subarray(0, good.length - 2))).toThrow(/runs past the end/);
  });
});

describe('parseControl', () => {
  it('keeps field order and continuation lines', () => {
    const f = parseControl('Package: a\nDescription: short\n long line\n .\n more\nVersion: 1:2-3\n');
    expect(f).toEqual([
      { name: 'Package', value: 'a' },
      { name: 'Description', value: 'short\n long line\n .\n more' },
      { name: 'Version', value: '1:2-3' },
    ]);
    expect(() => parseControl(' orphan')).toThrow(/continuation/);
  });
});

describe('real .debs', () => {
  it('fetchDebs downloads once and then serves the cache', async () => {
    const [first] = await fetchDebs(['netbase']);
    expect(first).toMatch(/\/netbase_[^/]+_all\.deb$/);
    const before = await stat(first!);
    const [again] = await fetchDebs(['netbase']);
    expect(again).toBe(first);
    expect((await stat(again!)).mtimeMs).toBe(before.mtimeMs);
    expect(first!.startsWith(DEFAULT_DEB_CACHE_DIR)).toBe(true);
  });

  it('unpacks a Multi-Arch: same package as dpkg installs it', async () => {
    const [deb] = await fetchDebs(['zlib1g']);
    const pkg = await debToLayerEntries(deb!);
    expect(pkg).toMatchObject({ name: 'zlib1g', architecture: 'amd64', infoName: 'zlib1g:amd64' });
    const paths = pkg.entries.map((e) => e.path);
    expect(paths).toContain('var/lib/dpkg/info/zlib1g:amd64.md5sums');
    expect(paths).not.toContain('var/lib/dpkg/info/zlib1g:amd64.control');
    const so = pkg.entries.find((e) => e.path === 'lib/x86_64-linux-gnu/libz.so.1');
    expect(so).toMatchObject({ type: 'symlink', linkname: expect.stringMatching(/^libz\.so\.1\./) });
    const list = pkg.entries.find((e) => e.path === 'var/lib/dpkg/info/zlib1g:amd64.list')!.data!.toString();
    expect(list.split('\n')[0]).toBe('/.');
    expect(list).toContain('\n/lib/x86_64-linux-gnu/libz.so.1\n');
    expect(pkg.statusParagraph).toMatch(/^Package: zlib1g\nStatus: install ok installed\n/);
    expect(pkg.statusParagraph).not.toMatch(/\n\n/);
  });

  it('builds one status file of all packages so far and refuses a file shipped twice', async () => {
    const [a, b] = await fetchDebs(['netbase', 'mawk']);
    const netbase = await debToLayerEntries(a!);
    const mawk = await debToLayerEntries(b!);
    const layer = dpkgLayerEntries([mawk], [netbase]);
    const status = layer.find((e) => e.path === 'var/lib/dpkg/status')!.data!.toString();
    expect([...status.matchAll(/^Package: (.+)$/gm)].map((m) => m[1])).toEqual(['mawk', 'netbase']);
    expect(layer.find((e) => e.path === 'var/lib/dpkg/info/format')?.data?.toString()).toBe('1\n');
    expect(layer.some((e) => e.path === 'etc/protocols')).toBe(false);
    const clash: DebPackage = { ...netbase, name: 'clash', entries: netbase.entries.filter((e) => e.type === 'file') };
    expect(() => dpkgLayerEntries([netbase, clash])).toThrow(/shipped by clash and by another package/);
  });

  it('rejects a file that is not a .deb', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sigil-debs-'));
    temps.push(dir);
    await writeFile(join(dir, 'x.deb'), '!<arch>\n');
    await expect(debToLayerEntries(join(dir, 'x.deb'))).rejects.toThrow(/not a Debian binary package/);
  });
});
