/**
 * Main-thread side of worker-thread layer analysis (see analysis-worker.ts): a small pool of
 * workers, each analysing one layer at a time from compressed bytes the main thread reads,
 * digest-checks and forwards with credit-based flow control (bounded memory per layer).
 */
import { Worker } from 'node:worker_threads';
import type { Layer } from '../oci/image.ts';
import { OciError } from '../oci/errors.ts';
import type { FromWorker, StartMessage, ToWorker } from './analysis-worker.ts';
import { FilesystemError, type FilesystemErrorCode } from './errors.ts';
import type { LayerAnalysis } from './layer-analysis.ts';

/** Chunks in flight to one worker before main waits for credit. */
const CHUNKS_IN_FLIGHT = 16;

/** Where the worker module is: .ts beside this file when run from source (tests), .js when built. */
function workerUrl(): URL {
  const ext = import.meta.url.slice(import.meta.url.lastIndexOf('.'));
  return new URL(`./analysis-worker${ext}`, import.meta.url);
}

export interface WorkerSelector {
  /** URL of a module exporting `createSelection(spec) -> { wants, extractors }`. */
  module: string;
  /** Plain data handed to createSelection in the worker. */
  spec: unknown;
}

export interface WorkerJob {
  layer: Layer;
  options: StartMessage['options'];
  selector: WorkerSelector;
  signal: AbortSignal;
  onBytes?: (bytes: number) => void;
}

function rebuildError(e: { name: string; code?: string; message: string }): Error {
  if (e.name === 'FilesystemError' && e.code) return new FilesystemError(e.code as FilesystemErrorCode, e.message);
  if (e.name === 'OciError' && e.code) return new OciError(e.code as never, e.message);
  const err = new Error(e.message);
  err.name = e.name;
  return err;
}

export class AnalysisPool {
  private readonly idle: Worker[] = [];
  private readonly all: Worker[] = [];
  private readonly waiting: ((w: Worker) => void)[] = [];
  private readonly size: number;

  constructor(size: number) {
    this.size = size;
  }

  private async acquire(): Promise<Worker> {
    const w = this.idle.pop();
    if (w !== undefined) return w;
    if (this.all.length < this.size) return this.spawn();
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private spawn(): Worker {
    const isTs = workerUrl().pathname.endsWith('.ts');
    // From source, Node must also transform TS-only syntax (parameter properties) in the graph.
    const worker = new Worker(
      workerUrl(),
      isTs ? { execArgv: ['--experimental-transform-types', '--no-warnings'] } : {},
    );
    this.all.push(worker);
    return worker;
  }

  private release(w: Worker): void {
    const next = this.waiting.shift();
    if (next) next(w);
    else this.idle.push(w);
  }

  async analyze(job: WorkerJob): Promise<LayerAnalysis> {
    const worker = await this.acquire();
    let broken = false;
    try {
      return await this.run(worker, job);
    } catch (e) {
      broken = job.signal.aborted;
      throw e;
    } finally {
      if (broken) {
        // An aborted worker may still be mid-layer: replace it rather than reuse it.
        this.all.splice(this.all.indexOf(worker), 1);
        void worker.terminate();
        const next = this.waiting.shift();
        if (next) next(this.spawn());
      } else this.release(worker);
    }
  }

  private async run(worker: Worker, job: WorkerJob): Promise<LayerAnalysis> {
    const { layer } = job;
    let credits = CHUNKS_IN_FLIGHT;
    let wake: (() => void) | undefined;
    let settled = false;
    const result = new Promise<LayerAnalysis>((resolve, reject) => {
      const onMessage = (m: FromWorker) => {
        if (m.type === 'credit') {
          credits++;
          wake?.();
          return;
        }
        cleanup();
        settled = true;
        wake?.();
        if (m.type === 'done') resolve(m.analysis);
        else reject(rebuildError(m.error));
      };
      const onError = (e: Error) => {
        cleanup();
        settled = true;
        wake?.();
        reject(e);
      };
      const onExit = (code: number) => onError(new Error(`layer analysis worker stopped (exit code ${code})`));
      const cleanup = () => {
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
      };
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.on('exit', onExit);
    });
    const post = (m: ToWorker, transfer?: ArrayBuffer[]) => worker.postMessage(m, transfer);
    post({
      type: 'start',
      layer: { digest: layer.digest, diffId: layer.diffId, mediaType: layer.mediaType, size: layer.size },
      options: job.options,
      selector: job.selector,
    });
    const feeding = (async () => {
      let sent = 0;
      try {
        const blob = await layer.open(job.signal);
        for await (const chunk of blob) {
          if (settled) break;
          const c = chunk as Buffer;
          // Copy out of pooled buffers so the transfer moves only this chunk's bytes.
          const bytes = new Uint8Array(c.byteLength);
          bytes.set(c);
          while (credits === 0 && !settled) await new Promise<void>((r) => (wake = r));
          if (settled) break;
          credits--;
          post({ type: 'chunk', bytes }, [bytes.buffer]);
          sent += c.byteLength;
          job.onBytes?.(sent);
        }
        if (!settled) post({ type: 'end' });
      } catch (e) {
        // The source failed (digest mismatch, network): stop the worker's walk, report this error.
        if (!settled) post({ type: 'abort', message: (e as Error).message });
        throw e;
      }
    })();
    const [analysis] = await Promise.all([result, feeding]).catch(async (e: unknown) => {
      // Prefer the source's error (it names the blob) over the worker's echo of the abort.
      const fed = await feeding.then(
        () => undefined,
        (f: unknown) => f,
      );
      throw fed ?? e;
    });
    return analysis;
  }

  async close(): Promise<void> {
    await Promise.all(this.all.map((w) => w.terminate()));
    this.all.length = 0;
    this.idle.length = 0;
  }
}
