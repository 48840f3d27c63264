import type { Writable } from 'node:stream';
import type { CopyProgress } from '../oci/copy.ts';

export function formatBytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  let v = n;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

/**
 * One status line on a terminal, redrawn at most every 100 ms; nothing at all when stderr is
 * not a TTY (CI logs stay clean), as oras and skopeo behave.
 */
export class CopyProgressLine {
  private blobs = 0;
  private done = 0;
  private total = 0;
  private readonly inFlight = new Map<string, number>();
  private finishedBytes = 0;
  private last = 0;

  constructor(
    private readonly out: Writable & { isTTY?: boolean; columns?: number },
    private readonly label: string,
  ) {}

  get enabled(): boolean {
    return this.out.isTTY === true;
  }

  readonly update = (ev: CopyProgress): void => {
    if (!this.enabled) return;
    switch (ev.kind) {
      case 'plan':
        this.blobs = ev.blobs;
        this.total = ev.bytes;
        break;
      case 'blob-skip':
        this.done++;
        this.finishedBytes += ev.size;
        break;
      case 'blob-bytes':
        this.inFlight.set(ev.digest, ev.bytes);
        break;
      case 'blob-done':
        this.inFlight.delete(ev.digest);
        this.done++;
        this.finishedBytes += ev.size;
        break;
    }
    const now = Date.now();
    if (ev.kind === 'blob-bytes' && now - this.last < 100) return;
    this.last = now;
    let bytes = this.finishedBytes;
    for (const b of this.inFlight.values()) bytes += b;
    // Counts first: a narrow terminal cuts the end of the line, and the label matters least.
    const line = `${this.done}/${this.blobs} blobs, ${formatBytes(bytes)} / ${formatBytes(this.total)}  ${this.label}`;
    this.out.write(`\r\x1b[2K${line.slice(0, (this.out.columns ?? 120) - 1)}`);
  };

  finish(): void {
    if (this.enabled && this.last !== 0) this.out.write('\r\x1b[2K');
  }
}
