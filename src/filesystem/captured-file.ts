import type { Digest } from '../oci/digest.ts';

/** A file of the final filesystem that a cataloger asked for, read into memory under the size cap. */
export interface CapturedFile {
  /** Absolute, normalised path inside the image (`/var/lib/dpkg/status`). */
  path: string;
  bytes: Uint8Array;
  /** diffID of the layer the final version came from. */
  layerDiffId: Digest;
  /**
   * The same path's content in lower layers, oldest first, when a lower layer held it too:
   * lets a cataloger tell which layer introduced a record and which last changed it.
   */
  earlier?: readonly { layerDiffId: Digest; bytes: Uint8Array }[];
}
