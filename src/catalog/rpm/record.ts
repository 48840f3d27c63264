/** What every rpm database reader (sqlite, NDB, BDB) hands back: header blobs, not yet decoded. */

/** One header blob read out of a database, with what a warning needs to point at it. */
export interface HeaderRecord {
  /** How the database names the record: `record 12` (BDB key), `pkg 7` (NDB index), `hnum 3` (sqlite). */
  id: string;
  blob: Uint8Array;
}

/** What a database reader returns: the blobs it could find and what it had to skip. */
export interface DbReadResult {
  records: HeaderRecord[];
  warnings: string[];
}
