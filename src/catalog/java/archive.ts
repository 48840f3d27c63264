/**
 * Reading the members of a zip archive (jar, war, ear, …) held in memory, within a budget: a
 * jar can nest jars that nest jars, and a few hundred bytes of deflate can claim gigabytes
 * (a zip bomb). Every member read is charged against one byte budget per top-level archive,
 * by the size the central directory declares before anything is inflated; yauzl then checks
 * that the inflated size really is the declared one (`validateEntrySizes`).
 */
import type { Readable } from 'node:stream';
import yauzl from 'yauzl';

export type JavaArchiveErrorCode =
  /** Not a readable zip: truncated, not a zip at all, bad member data. */
  | 'ARCHIVE_CORRUPT'
  /** Members add up to more uncompressed bytes than the budget allows. */
  | 'ARCHIVE_TOO_LARGE';

export class JavaArchiveError extends Error {
  override name = 'JavaArchiveError';
  readonly code: JavaArchiveErrorCode;

  constructor(code: JavaArchiveErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

/** Uncompressed bytes still allowed for one top-level archive and everything nested in it. */
export interface ByteBudget {
  remaining: number;
  readonly limit: number;
}

export interface ArchiveMember {
  name: string;
  bytes: Buffer;
}

/**
 * The members of `zip` whose name `select` accepts, in archive order. Throws JavaArchiveError:
 * `ARCHIVE_CORRUPT` for an unreadable zip, `ARCHIVE_TOO_LARGE` once the budget would be exceeded
 * (with the members read so far on the error's `partial`).
 */
export async function readMembers(
  zip: Uint8Array,
  select: (name: string) => boolean,
  budget: ByteBudget,
): Promise<ArchiveMember[]> {
  const buffer = Buffer.isBuffer(zip) ? zip : Buffer.from(zip.buffer, zip.byteOffset, zip.byteLength);
  let zipfile: yauzl.ZipFile;
  try {
    zipfile = await yauzl.fromBufferPromise(buffer, { lazyEntries: true, validateEntrySizes: true });
  } catch (e) {
    throw new JavaArchiveError('ARCHIVE_CORRUPT', `not a readable zip archive: ${(e as Error).message}`, { cause: e });
  }
  const members: ArchiveMember[] = [];
  try {
    for await (const entry of entries(zipfile)) {
      if (entry.fileName.endsWith('/') || !select(entry.fileName)) continue;
      if (entry.uncompressedSize > budget.remaining) {
        throw Object.assign(
          new JavaArchiveError(
            'ARCHIVE_TOO_LARGE',
            `member ${entry.fileName} declares ${entry.uncompressedSize} bytes; over the ${budget.limit}-byte uncompressed cap for one archive (zip bomb?)`,
          ),
          { partial: members },
        );
      }
      budget.remaining -= entry.uncompressedSize;
      let bytes: Buffer;
      try {
        bytes = await collect(await zipfile.openReadStreamPromise(entry));
      } catch (e) {
        throw new JavaArchiveError('ARCHIVE_CORRUPT', `member ${entry.fileName}: ${(e as Error).message}`, {
          cause: e,
        });
      }
      members.push({ name: entry.fileName, bytes });
    }
  } catch (e) {
    if (e instanceof JavaArchiveError) throw e;
    throw new JavaArchiveError('ARCHIVE_CORRUPT', `not a readable zip archive: ${(e as Error).message}`, { cause: e });
  } finally {
    zipfile.close();
  }
  return members;
}

/** Members read before an `ARCHIVE_TOO_LARGE` stopped the reading. */
export function partialMembers(e: JavaArchiveError): ArchiveMember[] {
  return (e as JavaArchiveError & { partial?: ArchiveMember[] }).partial ?? [];
}

/** yauzl's lazy entry events as an async iterator: one entry at a time, so reading can stop early. */
async function* entries(zipfile: yauzl.ZipFile): AsyncGenerator<yauzl.Entry> {
  for (;;) {
    const next = await new Promise<yauzl.Entry | undefined>((resolve, reject) => {
      const cleanup = () => {
        zipfile.off('entry', onEntry);
        zipfile.off('end', onEnd);
        zipfile.off('error', onError);
      };
      const onEntry = (e: yauzl.Entry) => (cleanup(), resolve(e));
      const onEnd = () => (cleanup(), resolve(undefined));
      const onError = (err: Error) => (cleanup(), reject(err));
      zipfile.on('entry', onEntry);
      zipfile.on('end', onEnd);
      zipfile.on('error', onError);
      zipfile.readEntry();
    });
    if (next === undefined) return;
    yield next;
  }
}

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
