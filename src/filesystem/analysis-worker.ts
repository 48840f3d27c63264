/**
 * Worker-thread side of the layer walk. Node runs a zlib stream's inflate on the thread that
 * drives it, so layers read in parallel on one thread share one core (measured: 4 gunzip streams
 * took 4x one). Here each worker inflates, hashes and walks its own layers while the main thread
 * only reads and digest-checks the compressed bytes and forwards them.
 *
 * Protocol (one layer at a time per worker): main -> `start`, then `chunk`s and `end` (or
 * `abort`); worker -> `credit` as it consumes chunks (flow control), then `done` or `failed`.
 */
import { Readable } from 'node:stream';
import { parentPort } from 'node:worker_threads';
import type { Digest } from '../oci/digest.ts';
import type { Layer } from '../oci/image.ts';
import type { NamedExtractor } from './content-extractor.ts';
import { analyzeLayer, type LayerAnalysis } from './layer-analysis.ts';

export interface StartMessage {
  type: 'start';
  layer: { digest: Digest; diffId: Digest; mediaType: string; size: number };
  options: { maxFileSize: number; maxLayerBytes: number; fileDigests: boolean };
  selector: { module: string; spec: unknown };
}

export type ToWorker =
  StartMessage | { type: 'chunk'; bytes: Uint8Array } | { type: 'end' } | { type: 'abort'; message: string };

export type FromWorker =
  | { type: 'credit' }
  | { type: 'done'; analysis: LayerAnalysis }
  | { type: 'failed'; error: { name: string; code?: string; message: string } };

interface Selection {
  wants: (path: string) => boolean;
  extractors: NamedExtractor[];
}

const port = parentPort;
if (port === null) throw new Error('analysis-worker.ts runs only as a worker thread');

const selections = new Map<string, Selection>();
let current: Readable | undefined;
/** Chunks received but not yet taken by the analysis: their credits go back when it reads on. */
let owed = 0;
const BODY_BUFFER = 4 * 1024 * 1024;

async function selectionFor(selector: StartMessage['selector']): Promise<Selection> {
  const key = `${selector.module}\0${JSON.stringify(selector.spec)}`;
  let s = selections.get(key);
  if (s === undefined) {
    const mod = (await import(selector.module)) as { createSelection(spec: unknown): Selection };
    s = mod.createSelection(selector.spec);
    selections.set(key, s);
  }
  return s;
}

async function run(start: StartMessage, body: Readable): Promise<void> {
  try {
    const selection = await selectionFor(start.selector);
    const layer: Layer = {
      ...start.layer,
      descriptor: { mediaType: start.layer.mediaType, digest: start.layer.digest, size: start.layer.size },
      open: () => Promise.resolve(body),
    };
    const analysis = await analyzeLayer(layer, {
      wants: selection.wants,
      extractors: selection.extractors,
      maxFileSize: start.options.maxFileSize,
      maxLayerBytes: start.options.maxLayerBytes,
      fileDigests: start.options.fileDigests,
    });
    // Cloned, not transferred: captured files often live in Node's buffer pool, which cannot move.
    port!.postMessage({ type: 'done', analysis } satisfies FromWorker);
  } catch (e) {
    const err = e as { name?: string; code?: string; message?: string };
    port!.postMessage({
      type: 'failed',
      error: { name: err.name ?? 'Error', ...(err.code ? { code: err.code } : {}), message: err.message ?? String(e) },
    } satisfies FromWorker);
  } finally {
    current = undefined;
  }
}

port.on('message', (m: ToWorker) => {
  switch (m.type) {
    case 'start': {
      owed = 0;
      const body = new Readable({
        highWaterMark: BODY_BUFFER,
        read() {
          for (; owed > 0; owed--) port.postMessage({ type: 'credit' } satisfies FromWorker);
        },
      });
      current = body;
      void run(m, body);
      break;
    }
    case 'chunk':
      // A credit per chunk lets main send another; held back while the body's buffer is full.
      if (current?.push(Buffer.from(m.bytes.buffer, m.bytes.byteOffset, m.bytes.byteLength)) === false) owed++;
      else port.postMessage({ type: 'credit' } satisfies FromWorker);
      break;
    case 'end':
      current?.push(null);
      break;
    case 'abort':
      current?.destroy(new Error(m.message));
      break;
  }
});
