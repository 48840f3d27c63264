/**
 * rpm ≥ 4.16's sqlite backend (`rpmdb.sqlite`: Fedora 33+, RHEL/UBI 9, Amazon Linux 2023): the
 * `Packages` table holds one header blob per row, keyed by `hnum`.
 *
 * node:sqlite opens files, not buffers, so the bytes go to a private temp directory first, which is
 * removed afterwards. rpm keeps the database in WAL mode (file header bytes 18/19 = 2), and opening a
 * WAL database makes SQLite create `-wal`/`-shm` files beside it; the copy is switched to rollback
 * mode (bytes 18/19 = 1) so a read-only open creates nothing at all. Pages still sitting in an
 * image's `rpmdb.sqlite-wal` are not read: rpm checkpoints on close, so a built image has none.
 */
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import type { DbReadResult, HeaderRecord } from './record.ts';

export const SQLITE_MAGIC = 'SQLite format 3\0';

/** SQLite file format: offset 18 is the write version, 19 the read version; 2 means WAL. */
const WRITE_VERSION_OFFSET = 18;

export async function readSqliteDb(bytes: Uint8Array, path: string): Promise<DbReadResult> {
  const dir = await mkdtemp(join(tmpdir(), 'sigil-rpmdb-'));
  try {
    const copy = join(dir, 'rpmdb.sqlite');
    const fh = await open(copy, 'wx', 0o600);
    try {
      await fh.writeFile(bytes);
      if (bytes.length > WRITE_VERSION_OFFSET + 1 && (bytes[WRITE_VERSION_OFFSET] === 2 || bytes[19] === 2)) {
        await fh.write(Uint8Array.of(1, 1), 0, 2, WRITE_VERSION_OFFSET);
      }
    } finally {
      await fh.close();
    }
    return readCopy(copy, path);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function readCopy(copy: string, path: string): DbReadResult {
  let db: DatabaseSync;
  try {
    db = new DatabaseSync(copy, { readOnly: true });
  } catch (e) {
    return { records: [], warnings: [`${path}: not a readable sqlite database (${(e as Error).message})`] };
  }
  try {
    const rows = db.prepare('SELECT hnum, blob FROM Packages ORDER BY hnum').all();
    const records: HeaderRecord[] = [];
    const warnings: string[] = [];
    for (const row of rows) {
      const hnum = row.hnum;
      const blob = row.blob;
      if (!(blob instanceof Uint8Array)) {
        warnings.push(`${path}: hnum ${String(hnum)}: blob column is not a BLOB; skipped`);
        continue;
      }
      records.push({ id: `hnum ${String(hnum)}`, blob });
    }
    return { records, warnings };
  } catch (e) {
    return { records: [], warnings: [`${path}: cannot read the Packages table (${(e as Error).message})`] };
  } finally {
    db.close();
  }
}
