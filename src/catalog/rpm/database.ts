/**
 * Which rpm backend a database file uses, by its first bytes, in the order rpmdb (knqyf263/go-rpmdb)
 * tries them: sqlite, then NDB, then Berkeley DB hash. The file name is not trusted: distributions
 * have shipped `Packages` in both BDB and other layouts.
 */
import { isBdbHash, readBdbHash } from './bdb.ts';
import { NDB_MAGIC, readNdb } from './ndb.ts';
import type { DbReadResult } from './record.ts';
import { readSqliteDb, SQLITE_MAGIC } from './sqlite.ts';

export type RpmDbFormat = 'sqlite' | 'ndb' | 'bdb';

export function detectRpmDbFormat(bytes: Uint8Array): RpmDbFormat | undefined {
  if (bytes.length >= 16 && new TextDecoder('latin1').decode(bytes.subarray(0, 16)) === SQLITE_MAGIC) return 'sqlite';
  if (bytes.length >= 4 && new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true) === NDB_MAGIC) {
    return 'ndb';
  }
  if (isBdbHash(bytes)) return 'bdb';
  return undefined;
}

/** Every header blob of one database file, whatever its backend. */
export async function readRpmDb(
  bytes: Uint8Array,
  path: string,
): Promise<DbReadResult & { format: RpmDbFormat | undefined }> {
  const format = detectRpmDbFormat(bytes);
  switch (format) {
    case 'sqlite':
      return { format, ...(await readSqliteDb(bytes, path)) };
    case 'ndb':
      return { format, ...readNdb(bytes, path) };
    case 'bdb':
      return { format, ...readBdbHash(bytes, path) };
    case undefined:
      return {
        format,
        records: [],
        warnings: bytes.length === 0 ? [] : [`${path}: not an rpm database (neither sqlite, NDB nor Berkeley DB hash)`],
      };
  }
}
