/**
 * Damaged databases and hostile header blobs: each problem is a warning that names the database
 * and the record, the other packages still come out, and nothing throws or allocates wildly.
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { rpmCataloger } from '../../../src/catalog/rpm/cataloger.ts';
import { readRpmDb } from '../../../src/catalog/rpm/database.ts';
import { isRpmDbError } from '../../../src/catalog/rpm/errors.ts';
import { RpmHeader, TAG } from '../../../src/catalog/rpm/header.ts';
import { headerFiles, packageFromHeader } from '../../../src/catalog/rpm/package.ts';
import type { Digest } from '../../../src/oci/digest.ts';
import { SBOM_VECTORS } from '../../helpers/vectors.ts';

const VECTORS = SBOM_VECTORS;
const LAYER = `sha256:${'ef'.repeat(32)}` as Digest;
const SQLITE = join(VECTORS, 'rpm-sqlite-amazonlinux2023/rpmdb.sqlite');
const NDB = join(VECTORS, 'rpm-ndb-sle15-bci/Packages.db');
const BDB = join(VECTORS, 'rpm-bdb-ubi8-libuuid/Packages');

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'sigil-rpm-test-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

async function catalog(path: string, bytes: Uint8Array, earlier?: { layerDiffId: Digest; bytes: Uint8Array }[]) {
  return rpmCataloger.catalog({
    files: [{ path, bytes, layerDiffId: LAYER, ...(earlier ? { earlier } : {}) }],
    allPaths: new Set(),
    distro: { id: 'amzn', versionId: '2023' },
  });
}

/** A modified copy of the sqlite vector, changed with real SQL on a private writable copy. */
async function editedSqlite(name: string, sql: string): Promise<Uint8Array> {
  const file = join(work, `${name}.sqlite`);
  await writeFile(file, await readFile(SQLITE));
  const db = new DatabaseSync(file);
  db.exec('PRAGMA foreign_keys = OFF');
  db.exec(sql);
  db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
  db.close();
  return readFile(file);
}

/** A minimal header image: entries [tag, type, offset, count] over a given data store. */
function headerBlob(entries: [number, number, number, number][], data: Uint8Array, il = entries.length): Uint8Array {
  const out = new Uint8Array(8 + entries.length * 16 + data.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, il);
  v.setUint32(4, data.length);
  entries.forEach(([tag, type, offset, count], i) => {
    v.setInt32(8 + i * 16, tag);
    v.setUint32(12 + i * 16, type);
    v.setInt32(16 + i * 16, offset);
    v.setUint32(20 + i * 16, count);
  });
  out.set(data, 8 + entries.length * 16);
  return out;
}
const strings = (...s: string[]) => new TextEncoder().encode(s.map((x) => `${x}\0`).join(''));

describe('sqlite', () => {
  test('a truncated header blob is a warning naming the database and hnum; the other 102 packages remain', async () => {
    const bytes = await editedSqlite('truncated', 'UPDATE Packages SET blob = substr(blob, 1, 100) WHERE hnum = 7');
    const before = (await readdir(tmpdir())).filter((n) => n.startsWith('sigil-rpmdb-'));
    const result = await catalog('/var/lib/rpm/rpmdb.sqlite', bytes);
    expect(result.packages).toHaveLength(102);
    expect(result.warnings).toHaveLength(1);
    expect(result.warnings[0]).toMatch(
      /^\/var\/lib\/rpm\/rpmdb\.sqlite: hnum 7: rpm header: .* blob has 100; skipped$/,
    );
    // The private copy is gone again.
    expect((await readdir(tmpdir())).filter((n) => n.startsWith('sigil-rpmdb-'))).toEqual(before);
  });

  test('a file that is not sqlite behind the magic, or has no Packages table, is one warning', async () => {
    const noTable = await editedSqlite('notable', 'DROP TABLE Packages');
    const r1 = await catalog('/var/lib/rpm/rpmdb.sqlite', noTable);
    expect(r1.packages).toEqual([]);
    expect(r1.warnings).toEqual([
      expect.stringMatching(/^\/var\/lib\/rpm\/rpmdb\.sqlite: cannot read the Packages table/),
    ]);
    const garbage = new Uint8Array(8192);
    garbage.set(new TextEncoder().encode('SQLite format 3\0'));
    garbage.fill(0xff, 16);
    const r2 = await catalog('/var/lib/rpm/rpmdb.sqlite', garbage);
    expect(r2.packages).toEqual([]);
    expect(r2.warnings).toHaveLength(1);
  });

  test('layer provenance: packages in the lower layer keep it, added and upgraded ones point at the top', async () => {
    const lower = await editedSqlite('lower', 'DELETE FROM Packages WHERE hnum > 90');
    const LOWER = `sha256:${'01'.repeat(32)}` as Digest;
    const result = await catalog('/var/lib/rpm/rpmdb.sqlite', await readFile(SQLITE), [
      { layerDiffId: LOWER, bytes: lower },
    ]);
    expect(result.warnings).toEqual([]);
    const fromLower = result.packages.filter((p) => p.introducedBy === LOWER);
    const fromTop = result.packages.filter((p) => p.introducedBy === LAYER);
    expect(fromLower).toHaveLength(90);
    expect(fromTop).toHaveLength(13);
    for (const p of fromLower) expect(p.lastChangedBy).toBe(LOWER);
    for (const p of fromTop) expect(p.lastChangedBy).toBe(LAYER);
  });
});

describe('NDB', () => {
  test('a corrupted blob fails its adler32 and is skipped by pkg index; 35 packages remain', async () => {
    const bytes = new Uint8Array(await readFile(NDB));
    const view = new DataView(bytes.buffer);
    // Slot 5 (after the two header slots) → its blob; flip a byte in the middle of the header data.
    const slot = 32 + 4 * 16;
    const pkgIdx = view.getUint32(slot + 4, true);
    const blobAt = view.getUint32(slot + 8, true) * 16;
    bytes[blobAt + 200] = bytes[blobAt + 200]! ^ 0xff;
    const result = await catalog('/usr/lib/sysimage/rpm/Packages.db', bytes);
    expect(result.packages).toHaveLength(35);
    expect(result.warnings).toEqual([
      `/usr/lib/sysimage/rpm/Packages.db: pkg ${pkgIdx}: adler32 checksum mismatch; skipped`,
    ]);
  });

  test('a truncated file yields the blobs that are whole and says what is missing', async () => {
    const bytes = (await readFile(NDB)).subarray(0, 700_000);
    const result = await catalog('/usr/lib/sysimage/rpm/Packages.db', bytes);
    expect(result.packages.length).toBeGreaterThan(5);
    expect(result.packages.length).toBeLessThan(36);
    expect(result.warnings.length).toBe(36 - result.packages.length);
    for (const w of result.warnings)
      expect(w).toMatch(/^\/usr\/lib\/sysimage\/rpm\/Packages\.db: pkg \d+: blob at .* runs past the end/);
  });

  test('a slot-page count from a hostile header is refused before anything is allocated', async () => {
    const bytes = new Uint8Array(await readFile(NDB));
    new DataView(bytes.buffer).setUint32(12, 0xffffffff, true);
    const result = await catalog('/usr/lib/sysimage/rpm/Packages.db', bytes);
    expect(result.packages).toEqual([]);
    expect(result.warnings).toEqual([expect.stringContaining('claims 4294967295 slot pages')]);
  });
});

describe('Berkeley DB hash', () => {
  test('a truncated file loses the package and says so', async () => {
    const bytes = (await readFile(BDB)).subarray(0, 3 * 4096);
    const result = await catalog('/var/lib/rpm/Packages', bytes);
    expect(result.packages).toEqual([]);
    expect(result.warnings[0]).toMatch(/^\/var\/lib\/rpm\/Packages: truncated: last page is 22/);
    expect(result.warnings[1]).toBe(
      '/var/lib/rpm/Packages: record 1: overflow data claims 80880 bytes, more than the whole file; skipped',
    );
  });

  test('an overflow chain that loops back on itself stops, with a warning', async () => {
    const bytes = new Uint8Array(await readFile(BDB));
    const view = new DataView(bytes.buffer);
    let looped = false;
    for (let page = 1; page * 4096 < bytes.length; page++) {
      const at = page * 4096;
      if (bytes[at + 25] === 7 && view.getUint32(at + 16, true) !== 0) {
        view.setUint32(at + 16, page, true); // next = itself
        looped = true;
        break;
      }
    }
    expect(looped).toBe(true);
    const result = await catalog('/var/lib/rpm/Packages', bytes);
    expect(result.packages).toEqual([]);
    expect(result.warnings).toEqual([expect.stringMatching(/^\/var\/lib\/rpm\/Packages: record \d+: overflow data/)]);
  });

  test('an unknown page size or encryption is refused with one warning', async () => {
    const bytes = new Uint8Array(await readFile(BDB));
    new DataView(bytes.buffer).setUint32(20, 3000, true);
    expect((await catalog('/var/lib/rpm/Packages', bytes)).warnings).toEqual([
      '/var/lib/rpm/Packages: Berkeley DB page size 3000 is not a valid page size',
    ]);
  });
});

describe('header blobs', () => {
  test.each([
    ['too short', new Uint8Array(5), /shorter than the 8-byte preamble/],
    ['index count beyond rpm limits', headerBlob([], new Uint8Array(0), 0x10000), /65536 index entries/],
    [
      'index claims more than the blob holds',
      headerBlob([[1000, 6, 0, 1]], strings('x'), 40),
      /need .* bytes, blob has/,
    ],
    ['offset outside the data store', headerBlob([[1000, 6, 99, 1]], strings('x')), /offset 99 outside/],
  ])('%s → HEADER_CORRUPT', (_name, blob, message) => {
    expect(() => RpmHeader.parse(blob)).toThrowError(message);
  });

  test('values are bounds-checked when read: missing NUL, integer arrays and string counts past the end', () => {
    const h = RpmHeader.parse(
      headerBlob(
        [
          [TAG.NAME, 6, 0, 1],
          [TAG.VERSION, 6, 4, 1],
          [TAG.DIRINDEXES, 4, 0, 0x3fffffff],
          [TAG.BASENAMES, 8, 0, 0xffffffff],
        ],
        new TextEncoder().encode('abc\0xyz'),
      ),
    );
    expect(h.string(TAG.NAME)).toBe('abc');
    expect(() => h.string(TAG.VERSION)).toThrowError(/no terminating NUL/);
    expect(() => h.integers(TAG.DIRINDEXES)).toThrowError(/overrun the data store/);
    expect(() => h.strings(TAG.BASENAMES)).toThrowError(/cannot fit/);
  });

  test('a file list whose DIRINDEXES point nowhere keeps the package and warns', () => {
    const data = strings('pkg', '1.0', '1', 'x86_64', 'a', 'b', '/usr/');
    const blob = headerBlob(
      [
        [TAG.NAME, 6, 0, 1],
        [TAG.VERSION, 6, 4, 1],
        [TAG.RELEASE, 6, 8, 1],
        [TAG.ARCH, 6, 10, 1],
        [TAG.BASENAMES, 8, 17, 2],
        [TAG.DIRNAMES, 8, 21, 1],
        [TAG.DIRINDEXES, 4, 28, 2],
      ],
      // 27 bytes of strings, one pad byte, then DIRINDEXES [0, 5] as int32 at offset 28.
      Uint8Array.from([...data, 0, 0, 0, 0, 0, 0, 0, 0, 5]),
    );
    const header = RpmHeader.parse(blob);
    expect(packageFromHeader({ header, dbPath: '/x', dbLayer: LAYER, distro: undefined }).id).toBe(
      'rpm:pkg@1.0-1:x86_64',
    );
    expect(() => headerFiles(header)).toThrowError(/DIRINDEXES\[1\] = 5 out of range/);
  });

  test('random damage to a real header only ever gives RpmDbError (property)', async () => {
    const [record] = (await readRpmDb(await readFile(BDB), 'Packages')).records;
    const original = record!.blob;
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(original.length - 1), fc.integer({ min: 0, max: 255 })), {
          minLength: 1,
          maxLength: 8,
        }),
        fc.nat(original.length),
        (edits, cut) => {
          const blob = original.slice(0, Math.max(cut, 8));
          for (const [at, byte] of edits) if (at < blob.length) blob[at] = byte;
          try {
            const header = RpmHeader.parse(blob);
            packageFromHeader({ header, dbPath: '/x', dbLayer: LAYER, distro: { id: 'rhel', versionId: '8' } });
            headerFiles(header);
            header.strings(TAG.REQUIRENAME);
            header.strings(TAG.PROVIDENAME);
          } catch (e) {
            if (!isRpmDbError(e)) throw e;
          }
        },
      ),
      { numRuns: 2000 },
    );
  });

  test('a database of unknown format is one warning, an empty file none', async () => {
    expect((await catalog('/var/lib/rpm/Packages', new Uint8Array(4096).fill(7))).warnings).toEqual([
      '/var/lib/rpm/Packages: not an rpm database (neither sqlite, NDB nor Berkeley DB hash)',
    ]);
    expect(await catalog('/var/lib/rpm/Packages', new Uint8Array(0))).toEqual({ packages: [], warnings: [] });
  });
});
