/**
 * The trust-root validity window: every key of a trusted root (Fulcio CA, Rekor log, CT log, TSA)
 * is trusted only within its `validFor` range, and a signature counts only if the key that
 * witnessed it was trusted at the signing time. TimeRange is a closed interval (the
 * conformance cases trust-root-*-validity-end-inclusive sign exactly at `end`).
 *
 * What @sigstore/verify 4.1 (sigstore-js) leaves out, read from its dist/ code:
 * - toTrustMaterial (trust/index.js) turns a missing `validFor.start` into the epoch
 *   (BEGINNING_OF_TIME), so a malformed root whose window has no start is trusted for all of
 *   the past. The spec makes `start` required; conformance case
 *   trust-root-tlog-missing-validity-start_fail expects the root to be refused.
 * - verifyTLogInclusion (tlog/index.js) filters logs by validity only on the SET path
 *   (set.js: filterTLogAuthorities at the integrated time). An entry proved by an inclusion
 *   proof + checkpoint (every Rekor v2 entry: no SET, no integrated time) is checked against
 *   the logs matching its log ID, whatever their window: a log key retired before the
 *   signature (or not yet valid) still vouches for it.
 * Certificate authorities (key/certificate.js) and TSAs (timestamp/tsa.js) are filtered by
 * window at the signing time already; only the missing start affects them.
 */
import type { TransparencyLogEntry } from '@sigstore/bundle';
import type { TrustMaterial } from '@sigstore/verify';

type TLogAuthority = TrustMaterial['tlogs'][number];
import type { Authority } from './authority.ts';
import { loadTrust } from './trust-material.ts';

const LISTS = [
  ['tlogs', 'transparency log', (e: Record<string, unknown>) => asObject(e['publicKey'])?.['validFor']],
  ['ctlogs', 'CT log', (e: Record<string, unknown>) => asObject(e['publicKey'])?.['validFor']],
  ['certificateAuthorities', 'certificate authority', (e: Record<string, unknown>) => e['validFor']],
  ['timestampAuthorities', 'timestamp authority', (e: Record<string, unknown>) => e['validFor']],
] as const;

/**
 * Windows of a trusted_root.json (protobuf-specs JSON) that are malformed: no `validFor` or no
 * `start` (required by the spec; sigstore-js would read it as the epoch), an unparsable time, or
 * an end before the start. Empty when every window is well formed.
 */
export function trustRootWindowProblems(root: Record<string, unknown>): string[] {
  const problems: string[] = [];
  for (const [field, label, windowOf] of LISTS) {
    const list = root[field];
    if (!Array.isArray(list)) continue;
    list.forEach((raw, i) => {
      const entry = asObject(raw);
      if (!entry) return;
      const name = `${field}[${i}] (${label} ${String(entry['baseUrl'] ?? entry['uri'] ?? '')})`;
      const window = asObject(windowOf(entry));
      const start = window?.['start'];
      if (typeof start !== 'string') {
        problems.push(`${name}: validFor.start is missing (required: a missing start is not "since ever")`);
        return;
      }
      const s = Date.parse(start);
      if (Number.isNaN(s)) {
        problems.push(`${name}: validFor.start ${start} is not an RFC 3339 time`);
        return;
      }
      const end = window?.['end'];
      if (end === undefined || end === null) return; // open-ended (JSON null as some exporters write it)
      const e = typeof end === 'string' ? Date.parse(end) : NaN;
      if (Number.isNaN(e)) problems.push(`${name}: validFor.end ${String(end)} is not an RFC 3339 time`);
      else if (e < s) problems.push(`${name}: validFor.end ${end} is before its start ${start}`);
    });
  }
  return problems;
}

/** The malformed windows of the trusted root an authority uses (the same root check.ts loads). */
export function authorityWindowProblems(authority: Authority): string[] {
  const o =
    authority.kind === 'key'
      ? { ...(authority.trustedRoot !== undefined ? { trustedRoot: authority.trustedRoot } : {}) }
      : {
          ...(authority.trustedRoot !== undefined ? { trustedRoot: authority.trustedRoot } : {}),
          ...(authority.caRoots !== undefined ? { caRoots: authority.caRoots } : {}),
          ...(authority.caIntermediates !== undefined ? { caIntermediates: authority.caIntermediates } : {}),
        };
  return trustRootWindowProblems(loadTrust(o).json);
}

/** Closed-interval test, as the TimeRange message defines it. */
export function withinWindow(window: { start: Date; end: Date }, at: Date): boolean {
  return window.start.getTime() <= at.getTime() && at.getTime() <= window.end.getTime();
}

/**
 * For an entry whose inclusion rests on a checkpoint (no SET): the times in `at` at which no log
 * of the trusted root with the entry's log ID was valid. Empty when the log key was trusted at
 * every time. Entries with a SET are not checked here: @sigstore/verify already chose the log
 * by window at the integrated time.
 */
export function checkpointLogOutsideWindow(entry: TransparencyLogEntry, tlogs: TLogAuthority[], at: Date[]): Date[] {
  if (entry.inclusionPromise || !entry.inclusionProof) return [];
  const logId = Buffer.from(entry.logId.keyId);
  const logs = tlogs.filter((t) => Buffer.from(t.logID).equals(logId));
  return at.filter((t) => !logs.some((l) => withinWindow(l.validFor, t)));
}

function asObject(v: unknown): Record<string, unknown> | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}
