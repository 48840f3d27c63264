/**
 * A large image for the copy benchmark: layers of incompressible, deterministic pseudo-random
 * bytes (an AES-256-CTR keystream whose key is derived from a seed), packed as real tar layers of
 * a few files each and streamed to disk, so neither a layer nor a file is ever held in memory.
 *
 * Layers are stored uncompressed (`application/vnd.oci.image.layer.v1.tar`) by default: random
 * data does not compress, gzip would only cost generation time (about 50 MB/s at level 1 on
 * these machines), and a copy moves blob bytes whatever their media type. Pass
 * `compression: 'gzip'` when a benchmark must decompress.
 */
import { createCipheriv, createHash } from 'node:crypto';
import { once } from 'node:events';
import { Readable } from 'node:stream';
import { createGzip } from 'node:zlib';
import * as tar from 'tar-stream';
import type { Descriptor } from '../src/oci/manifest.ts';
import { MediaType } from '../src/oci/media-types.ts';
import {
  HashingStream,
  initLayout,
  REF_NAME_ANNOTATION,
  writeBlobStream,
  writeIndexJson,
  writeImageManifest,
} from './oci-layout.ts';
import { FIXED_TIME, type LayerCompression, type WrittenLayer } from './tar-layer.ts';

export interface LargeImageOptions {
  /** Ref name in index.json; default "large". */
  name?: string;
  /** Bytes of file data per layer; default 50 MiB. */
  layerBytes?: number;
  /** Files per layer; default 4. */
  filesPerLayer?: number;
  /** Same seed, same bytes, same digests; default "sigil-large-image". */
  seed?: string;
  compression?: LayerCompression;
}

export interface BuiltLargeImage {
  layoutDir: string;
  manifest: Descriptor;
  config: Descriptor;
  layers: WrittenLayer[];
  /** Sum of the layer blob sizes. */
  layerBytes: number;
}

const MiB = 1024 * 1024;
const CHUNK = MiB;
const ZEROS = Buffer.alloc(CHUNK);

/** Deterministic incompressible bytes: AES-256-CTR over zeros, keyed by sha256(seed). */
function keystream(seed: string): (n: number) => Buffer {
  const key = createHash('sha256').update(seed).digest();
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  return (n) => cipher.update(n === CHUNK ? ZEROS : ZEROS.subarray(0, n));
}

async function writeRandomLayer(
  layoutDir: string,
  index: number,
  bytes: number,
  files: number,
  seed: string,
  compression: LayerCompression,
): Promise<WrittenLayer> {
  const pack = tar.pack();
  const diff = new HashingStream();
  const stages: NodeJS.ReadWriteStream[] = [diff];
  if (compression === 'gzip') stages.push(createGzip({ level: 1 }));
  const written = writeBlobStream(layoutDir, Readable.from(pack), ...stages);
  const header = { uid: 0, gid: 0, uname: 'root', gname: 'root', mtime: FIXED_TIME };
  pack.entry({ ...header, name: 'data', type: 'directory', mode: 0o755 });
  pack.entry({ ...header, name: `data/layer-${index}`, type: 'directory', mode: 0o755 });
  const perFile = Math.floor(bytes / files);
  for (let f = 0; f < files; f++) {
    const size = f === files - 1 ? bytes - perFile * (files - 1) : perFile;
    const next = keystream(`${seed}/layer-${index}/file-${f}`);
    const name = `data/layer-${index}/blob-${f}.bin`;
    const entry = pack.entry({ ...header, name, type: 'file', mode: 0o644, size });
    const done = new Promise<void>((resolve, reject) => {
      entry.on('finish', resolve);
      entry.on('error', reject);
    });
    for (let left = size; left > 0;) {
      const n = Math.min(CHUNK, left);
      left -= n;
      if (!entry.write(next(n))) await once(entry, 'drain');
    }
    entry.end(undefined); // streamx's end(data) declares its argument required
    await done;
  }
  pack.finalize();
  const blob = await written;
  return {
    descriptor: {
      mediaType: compression === 'gzip' ? MediaType.OciLayerGzip : MediaType.OciLayer,
      digest: blob.digest,
      size: blob.size,
    },
    diffId: diff.digest(),
  };
}

/**
 * Write a linux/amd64 image whose layers add up to about `totalBytes` (tar framing adds a few KiB)
 * into the OCI layout `outDir`.
 */
export async function buildLargeImage(
  outDir: string,
  totalBytes: number,
  options: LargeImageOptions = {},
): Promise<BuiltLargeImage> {
  const layerBytes = options.layerBytes ?? 50 * MiB;
  const files = options.filesPerLayer ?? 4;
  const seed = options.seed ?? 'sigil-large-image';
  const compression = options.compression ?? 'none';
  if (!Number.isSafeInteger(totalBytes) || totalBytes < 1) throw new Error(`large image: bad size ${totalBytes}`);
  if (!Number.isSafeInteger(layerBytes) || layerBytes < files) {
    throw new Error(`large image: bad layer size ${layerBytes}`);
  }
  await initLayout(outDir);
  const count = Math.ceil(totalBytes / layerBytes);
  const layers: WrittenLayer[] = [];
  for (let i = 0; i < count; i++) {
    const bytes = i === count - 1 ? totalBytes - layerBytes * (count - 1) : layerBytes;
    layers.push(await writeRandomLayer(outDir, i, bytes, Math.min(files, bytes), seed, compression));
  }
  const written = await writeImageManifest(
    outDir,
    {
      created: FIXED_TIME.toISOString(),
      architecture: 'amd64',
      os: 'linux',
      config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'] },
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
      history: layers.map((_, i) => ({
        created: FIXED_TIME.toISOString(),
        created_by: `sigil testdata: ${files} files of AES-CTR keystream (seed "${seed}", layer ${i})`,
      })),
    },
    layers,
  );
  const manifestDesc: Descriptor = {
    ...written.manifest,
    platform: { architecture: 'amd64', os: 'linux' },
    annotations: { [REF_NAME_ANNOTATION]: options.name ?? 'large' },
  };
  await writeIndexJson(outDir, [manifestDesc]);
  return {
    layoutDir: outDir,
    manifest: manifestDesc,
    config: written.config,
    layers,
    layerBytes: layers.reduce((n, l) => n + l.descriptor.size, 0),
  };
}
