import { setTimeout as sleep } from 'node:timers/promises';
import { OciError } from '../oci/errors.ts';
import { AttachError } from './errors.ts';

/**
 * Read-modify-write of a tag that other clients rewrite at the same time (a `.sig`/`.att`
 * image, a referrers fallback index), so that no writer's entry is lost.
 *
 * The distribution spec has no conditional PUT, so two writers that read the same old
 * manifest both PUT, and the later PUT drops the other's entry. Nothing prevents that; what
 * can be done is to notice it and write again:
 *
 * - The read-to-write window is kept small (callers upload everything that does not depend on
 *   the read before reading), so a stale PUT can only land shortly after the read it is based on.
 * - After our PUT we wait a jittered delay, longer than a read-modify-write takes (three times
 *   our own, at least {@link SETTLE_MIN_DELAY_MS}), and read again. A writer that read before
 *   our PUT has made its stale PUT by then, and if it dropped our entry we merge what is there
 *   now plus ours and write again. The acknowledged PUT is the first sighting of our entry, the
 *   read after the delay the second: two sightings spaced by the delay, the same guarantee as
 *   reading at once and again after the delay, one request cheaper. A writer that read earlier
 *   still can only drop ours if its read-to-write window outlasts the delay.
 * - Rounds and time are bounded; past them the write fails naming the tag rather than
 *   returning with the entry missing.
 *
 * distribution 2.8 answers a read of a tag that another client is rewriting with a 500
 * `UNKNOWN` now and then (its filesystem driver reads the link file half-written): such reads
 * are retried here with jitter, beyond the transport's own retries.
 */
export interface SettleSteps<S, W> {
  /** What the tag holds now (undefined: no such tag). */
  read(): Promise<S | undefined>;
  /** Does `state` hold our entry? */
  has(state: S | undefined): boolean | Promise<boolean>;
  /** Merge our entry into `state` and PUT it. */
  write(state: S | undefined): Promise<W>;
  /** For messages: `referrers tag index host/repo:tag`. */
  what: string;
}

export interface SettleResult<S, W> {
  /** The last state read, holding our entry. */
  state: S;
  /** The last write, when one was made. */
  written?: W;
  /** PUTs made (0 when the entry was there at the first read). */
  writes: number;
}

export interface SettleOptions {
  maxRounds?: number;
  maxMs?: number;
  signal?: AbortSignal;
}

/** Shortest wait before the confirming read (a loopback round trip is ~1 ms, a remote one ~50). */
export const SETTLE_MIN_DELAY_MS = 60;
const SETTLE_MAX_DELAY_MS = 2_000;
const DEFAULT_ROUNDS = 16;
const DEFAULT_MS = 60_000;

function jitter(ms: number): number {
  return ms + Math.random() * ms;
}

/** 5xx and distribution's `UNKNOWN`: the read may pass a moment later. */
function isTransient(e: unknown): boolean {
  if (!(e instanceof OciError)) return false;
  if (e.code === 'NETWORK') return true;
  return (e.status !== undefined && e.status >= 500) || (e.registryCodes ?? []).includes('UNKNOWN');
}

export async function settleTag<S, W>(steps: SettleSteps<S, W>, o: SettleOptions = {}): Promise<SettleResult<S, W>> {
  const maxRounds = o.maxRounds ?? DEFAULT_ROUNDS;
  const deadline = Date.now() + (o.maxMs ?? DEFAULT_MS);
  const sig = o.signal ? { signal: o.signal } : {};
  const read = async (): Promise<{ state: S | undefined; at: number }> => {
    for (let tries = 1; ; tries++) {
      try {
        const state = await steps.read();
        return { state, at: Date.now() };
      } catch (e) {
        if (o.signal?.aborted || !isTransient(e) || Date.now() > deadline) throw e;
        await sleep(jitter(Math.min(SETTLE_MAX_DELAY_MS, 50 * 2 ** Math.min(tries, 5))), undefined, sig);
      }
    }
  };

  let { state, at } = await read();
  // Already there (the same signature again): nothing to write, nothing of ours to protect.
  if (await steps.has(state)) return { state: state as S, writes: 0 };
  let written: W | undefined;
  let writes = 0;
  let rmwMs = 0;
  // Sightings of our entry since it was last missing; an acknowledged PUT is one (and resets it).
  let sightings = 0;
  for (let round = 0; ; round++) {
    if (await steps.has(state)) {
      sightings++;
      if (sightings >= 2) return { state: state as S, ...(written !== undefined ? { written } : {}), writes };
    } else {
      if (round >= maxRounds || Date.now() > deadline) {
        throw new AttachError(
          'ATTACHMENT_INVALID',
          `${steps.what}: concurrent writers kept replacing it; our entry is still missing after ${writes} writes in ${round} rounds`,
        );
      }
      // A failed write is not tried again here: the transport already retried it, and its
      // error (a refused upload, say) is the caller's to see.
      written = await steps.write(state);
      writes++;
      sightings = 1;
      rmwMs = Date.now() - at;
    }
    const delay = Math.min(SETTLE_MAX_DELAY_MS, jitter(Math.max(SETTLE_MIN_DELAY_MS, 3 * rmwMs)));
    await sleep(delay, undefined, sig);
    ({ state, at } = await read());
  }
}
