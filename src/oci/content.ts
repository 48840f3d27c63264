import type { Readable } from 'node:stream';
import type { Descriptor, ManifestBlob } from './manifest.ts';

/**
 * The read side of every image source (registry, OCI layout, OCI archive, docker archive):
 * content by descriptor, as oras-go's Fetcher. Everything returned is checked against its
 * digest: manifests before they are returned, blobs as they are read (a mismatch is an
 * error on the stream, raised before the stream ends).
 */
export interface ContentSource {
  /** For messages: `registry 127.0.0.1:5000/app:1.0`, `oci-dir /tmp/x:app`. */
  readonly description: string;
  /** Where a registry source reads from, so a copy to the same registry can mount instead of upload. */
  readonly origin?: { registry: string; repository: string };
  /** The manifest (image or index) this source names, e.g. the tag of a registry reference. */
  resolveRoot(signal?: AbortSignal): Promise<ManifestBlob>;
  /** A manifest reached through a descriptor (an index entry, a referrer). */
  fetchManifest(desc: Descriptor, signal?: AbortSignal): Promise<ManifestBlob>;
  /** A blob's bytes, streamed and verified against `desc.digest` and `desc.size` as they flow. */
  fetchBlob(desc: Descriptor, signal?: AbortSignal): Promise<Readable>;
  close(): Promise<void>;
}

export interface PushBlobOptions {
  signal?: AbortSignal;
  /** Called with the bytes written so far; for progress display. */
  onProgress?: (bytes: number) => void;
  /** Where the blob also lives, for a cross-repository mount on the same registry. */
  mountFrom?: { registry: string; repository: string };
}

/**
 * The write side. A copy pushes blobs, then child manifests, then calls `commit` with the
 * root; only `commit` makes anything reachable by name (tag, `ref.name`, archive file), so a
 * failure before it leaves no tag and no partial layout. `abort` removes what is not
 * content-addressed (a new layout directory, a temporary archive).
 */
export interface ContentTarget {
  readonly description: string;
  hasBlob(desc: Descriptor, signal?: AbortSignal): Promise<boolean>;
  /** Write a blob whose bytes come from `open()`; the target verifies them against `desc` while writing. */
  pushBlob(desc: Descriptor, open: () => Promise<Readable>, options?: PushBlobOptions): Promise<void>;
  /** Store a manifest by digest (an index child); not reachable by name until `commit`. */
  pushManifest(manifest: ManifestBlob, signal?: AbortSignal): Promise<void>;
  /** Store the root manifest and publish it under the target's name. */
  commit(root: ManifestBlob, signal?: AbortSignal): Promise<void>;
  abort(): Promise<void>;
}
