import { setTimeout as sleep } from 'node:timers/promises';
import type { Digest } from './digest.ts';
import { OciError } from './errors.ts';

const BLOB_RACE_TRIES = 4;

/** Which upload round {@link putAfterBlobs} asks for. */
export interface UploadRound {
  /** The first upload, before any PUT. */
  first: boolean;
  /**
   * After a refused PUT: the blobs the registry named as unknown (distribution puts the digest
   * in the error's `detail`); undefined when it named none, so every blob must be checked.
   */
  missing?: readonly Digest[];
}

/**
 * PUT a manifest after uploading its blobs, uploading again what the registry says is unknown.
 * Used by copy (concurrent pushes of one image) and by attach (concurrent signers).
 *
 * Two reasons a PUT finds a blob missing: the caller skipped a blob it expected to be there (a
 * referrer's `{}` config, present once anything was signed in the repository), or a race:
 * distribution 2.8 commits an upload by moving it into place, and concurrent uploads of the
 * same blob (every signer of a digest uploads the same payload, and signers appending to the
 * same number of layers the same config) can leave it briefly absent to a manifest PUT that
 * follows: `400 MANIFEST_BLOB_UNKNOWN` although our own upload succeeded.
 */
export async function putAfterBlobs<T>(
  upload: (round: UploadRound) => Promise<void>,
  put: () => Promise<T>,
  signal?: AbortSignal,
): Promise<T> {
  await upload({ first: true });
  for (let tries = 1; ; tries++) {
    try {
      return await put();
    } catch (e) {
      const missing = unknownBlobs(e);
      if (!missing || tries >= BLOB_RACE_TRIES || signal?.aborted) throw e;
      await sleep(25 * tries + Math.random() * 25 * tries, undefined, signal ? { signal } : {});
      await upload({ first: false, ...(missing.length ? { missing } : {}) });
    }
  }
}

/** The digests a `MANIFEST_BLOB_UNKNOWN` names ([] when it names none); undefined for other errors. */
function unknownBlobs(e: unknown): Digest[] | undefined {
  if (!(e instanceof OciError)) return undefined;
  const codes = e.registryCodes ?? [];
  if (!codes.some((c) => c === 'MANIFEST_BLOB_UNKNOWN' || c === 'BLOB_UNKNOWN')) return undefined;
  const found = new Set<Digest>();
  for (const d of e.registryDetails ?? []) {
    const text = typeof d === 'string' ? d : JSON.stringify(d);
    for (const m of text?.matchAll(/sha256:[0-9a-f]{64}/g) ?? []) found.add(m[0] as Digest);
  }
  return [...found];
}
