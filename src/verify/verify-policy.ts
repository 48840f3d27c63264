/**
 * `sigil verify IMAGE... --policy DIR` as a library: many images against one policy set in one
 * call (POLICY.md §3). Work is shared wherever the answer cannot differ: one registry client per
 * host (tokens, connections), trust material loaded once per file (trust-material.ts caches),
 * one resolve per distinct reference, and one discovery (referrers + `.sig`/`.att` tags + layer
 * fetches) per distinct (repository, digest) — so registry requests grow with distinct digests,
 * not with how often a reference is repeated. Images run with bounded concurrency.
 *
 * Evidence comes from the registry, or from a folder saved earlier (evidence-store.ts) with no
 * registry at all; either way the same checker (check.ts) and the same engine (policy/) decide.
 */
import { listAttachments, type AttachmentList } from '../attach/discovery.ts';
import type { TagKind } from '../attach/tags.ts';
import type { Digest } from '../oci/digest.ts';
import type { Descriptor } from '../oci/manifest.ts';
import { isIndexMediaType } from '../oci/media-types.ts';
import { parseReference } from '../oci/reference.ts';
import { type Registry, registryFor, type RegistryOptions } from '../oci/registry/client.ts';
import { isSigilError } from '../errors.ts';
import { checkEvidence } from './check.ts';
import type { Evidence } from './evidence/evidence.ts';
import { evidenceFromAttachments } from './evidence/from-attachments.ts';
import { EvidenceReader, EvidenceWriter } from './evidence-store.ts';
import {
  type CandidateChecker,
  checkOncePerPair,
  type EvidenceUnavailable,
  type ImageUnderVerification,
  evaluateImage,
  selectPolicies,
} from './policy/evaluate.ts';
import type { NoMatch, Policy, PolicySet } from './policy/model.ts';
import { type DecisionReport, decisionReport } from './policy/report.ts';
import { loadTrust } from './trust-material.ts';

export const DEFAULT_CONCURRENCY = 8;

export interface VerifyWithPoliciesOptions {
  /** A loaded folder (its settings give noMatch) or bare policies (noMatch deny unless given). */
  policies: PolicySet | Policy[];
  registry?: RegistryOptions;
  /** Images evaluated at once (default 8). */
  concurrency?: number;
  /** No network lookups during checks (tlog evidence must be attached), as cosign --offline. */
  offline?: boolean;
  /** Replay a folder written by `saveEvidenceDir`: no registry request at all. */
  evidenceDir?: string;
  /**
   * No registry and nothing attached: references must name their digest (PolicyTest cases
   * without `evidence`, which test selection, pinning and static authorities).
   */
  noEvidence?: boolean;
  /** Write everything the decision used into this folder (evidence-store.ts). */
  saveEvidenceDir?: string;
  /** Verification time for checks without a signed time (PolicyTest `now`). */
  now?: Date;
  noMatch?: NoMatch;
  dryRun?: boolean;
  explain?: boolean;
  /** `--scope` for OCI layouts (POLICY.md §2.1 rule 6). */
  scope?: string;
  signal?: AbortSignal;
  /** The candidate checker; default the real one (check.ts). Tests of the engine pass their own. */
  check?: CandidateChecker;
}

interface Resolved {
  digest: Digest;
  manifest?: Descriptor;
}

/** Runs `fn` over `items` with at most `n` in flight; results in input order. */
async function pool<T, R>(items: readonly T[], n: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(n, items.length)) }, worker));
  return out;
}

function memo<T>(map: Map<string, Promise<T>>, key: string, make: () => Promise<T>): Promise<T> {
  let p = map.get(key);
  if (!p) {
    p = make();
    map.set(key, p);
  }
  return p;
}

function errorOf(err: unknown, fallback: string): { code: string; message: string } {
  const message = err instanceof Error ? err.message : String(err);
  if (isSigilError(err) && err.code === 'POLICY_EVIDENCE_INVALID') return { code: 'EVIDENCE_MALFORMED', message };
  return { code: fallback, message };
}

export async function verifyWithPolicies(
  references: readonly string[],
  o: VerifyWithPoliciesOptions,
): Promise<DecisionReport> {
  const policies = Array.isArray(o.policies) ? o.policies : o.policies.policies;
  const noMatch = o.noMatch ?? (Array.isArray(o.policies) ? 'deny' : o.policies.settings.noMatch);
  // One verdict per (evidence, authority) for the whole call: repeated digests and the second,
  // fuller evaluation of a staged discovery reuse it.
  const check = checkOncePerPair(o.check ?? checkEvidence);
  const reader = o.evidenceDir !== undefined ? new EvidenceReader(o.evidenceDir) : undefined;
  const writer = o.saveEvidenceDir !== undefined ? new EvidenceWriter(o.saveEvidenceDir) : undefined;
  const registry = (host: string): Registry => registryFor(host, o.registry);
  const resolutions = new Map<string, Promise<Resolved>>();
  const discoveries = new Map<string, Promise<Evidence[]>>();

  const resolve = (input: string): Promise<Resolved> => {
    const ref = parseReference(input);
    return memo(resolutions, ref.toString(), async () => {
      if (o.noEvidence) {
        if (ref.digest === undefined) throw new Error(`${input}: names a tag and no evidence says what it resolved to`);
        return { digest: ref.digest };
      }
      if (reader) {
        const digest = reader.resolve(input, ref.digest) ?? reader.resolve(ref.toString());
        if (digest === undefined) throw new Error(`${input}: not in the saved evidence ${reader.dir}`);
        const manifest = reader.image(digest)?.manifest;
        return { digest, ...(manifest ? { manifest } : {}) };
      }
      const d = await registry(ref.registry).headManifest(ref.repository, ref.digest ?? ref.tag ?? 'latest', o.signal);
      if (d === undefined) throw new Error(`${input}: no such manifest in ${ref.name}`);
      if (writer) {
        if (ref.digest === undefined) writer.recordReference(input, d.digest);
        writer.recordManifest(d.digest, d);
      }
      return { digest: d.digest, manifest: d };
    });
  };

  // Without saved evidence to write or read, and without --explain, discovery goes in two steps:
  // the referrers first, the `.sig`/`.att` tags only when the referrers did not satisfy every
  // selected policy (cosign's order too), so an image signed the v3 way costs 4 requests.
  const staged = !writer && !reader && !o.noEvidence && o.explain !== true;
  const tagKinds: TagKind[] = policies.some((p) => p.attestations.length > 0)
    ? ['signature', 'attestation']
    : ['signature'];
  const discover = (host: string, repo: string, digest: Digest, part: DiscoveryPart = 'all'): Promise<Evidence[]> =>
    memo(discoveries, `${part} ${host}/${repo}@${digest}`, async () => {
      let list: AttachmentList;
      if (o.noEvidence) return [];
      if (reader) {
        const saved = reader.attachments(digest, `${host}/${repo}`);
        if (!saved) throw new Error(`${host}/${repo}@${digest}: no saved discovery in ${reader.dir}`);
        list = saved;
      } else {
        const r = registry(host);
        // `.sbom` never holds evidence; `.att` only when some policy requires attestations.
        list = await listAttachments(r, repo, digest, {
          ...(o.signal ? { signal: o.signal } : {}),
          ...(part === 'tags' ? { referrers: false } : {}),
          tags: part === 'referrers' ? [] : tagKinds,
          referrersOrder: 'fewest-requests',
        });
        if (writer) {
          writer.recordAttachments(digest, `${host}/${repo}`, list);
          const manifests = new Set(list.attachments.map((a) => a.manifest.digest));
          for (const m of manifests) writer.putBlob((await r.getManifest(repo, m, o.signal)).bytes);
          for (const a of list.attachments) {
            for (const l of a.layers) {
              const fetch = l.fetch;
              l.fetch = async (signal) => {
                const bytes = await fetch(signal);
                writer.putBlob(bytes);
                return bytes;
              };
            }
          }
        }
      }
      return evidenceFromAttachments(list, o.signal);
    });

  const one = async (input: string) => {
    const ref = parseReference(input);
    const sel = selectPolicies(input, policies, o.scope);
    const image: ImageUnderVerification = {
      reference: input,
      digest: ref.digest ?? '',
      pinned: ref.digest !== undefined,
      ...(o.scope !== undefined ? { scope: o.scope } : {}),
    };
    let evidence: Evidence[] | EvidenceUnavailable = [];
    try {
      const r = await resolve(input);
      image.digest = r.digest;
      if (r.manifest) image.verifiedDigestKind = isIndexMediaType(r.manifest.mediaType) ? 'index' : 'manifest';
    } catch (err) {
      evidence = { error: errorOf(err, 'REGISTRY_ERROR') };
    }
    if (Array.isArray(evidence) && sel.selected.length > 0) {
      // Where each selected policy looks (signatureRepository), and which schemes any of them enables.
      const where = new Map<string, { host: string; repo: string }>();
      for (const { policy } of sel.selected) {
        const r = policy.signatureRepository ? parseReference(policy.signatureRepository) : ref;
        where.set(`${r.registry}/${r.repository}`, { host: r.registry, repo: r.repository });
      }
      const schemes = new Set(sel.selected.flatMap((s) => s.policy.discovery));
      const find = async (part: DiscoveryPart) => {
        try {
          const found = await Promise.all([...where.values()].map((w) => discover(w.host, w.repo, image.digest, part)));
          return found
            .flat()
            .filter((e) =>
              e.scheme === 'referrers' ? schemes.has('referrers') : e.scheme === 'tag' ? schemes.has('tags') : true,
            );
        } catch (err) {
          return { error: errorOf(err, 'REGISTRY_ERROR') };
        }
      };
      if (staged && schemes.has('referrers') && schemes.has('tags')) {
        evidence = await find('referrers');
        if (Array.isArray(evidence)) {
          const first = await evaluate(image, evidence);
          if (first.policies.length > 0 && first.policies.every((p) => p.result === 'pass')) return first;
          const more = await find('tags');
          evidence = Array.isArray(more) ? [...evidence, ...more] : more;
        }
      } else {
        evidence = await find('all');
      }
      if (writer && Array.isArray(evidence))
        recordTrust(
          writer,
          image.digest,
          sel.selected.map((s) => s.policy),
        );
    }
    return evaluate(image, evidence);
  };

  const evaluate = (image: ImageUnderVerification, evidence: Evidence[] | EvidenceUnavailable) =>
    evaluateImage(
      image,
      policies,
      evidence,
      check,
      {
        digest: image.digest,
        ...(o.now ? { now: o.now } : {}),
        offline: o.offline === true || reader !== undefined || o.noEvidence === true,
      },
      {
        noMatch,
        ...(o.dryRun ? { dryRun: true } : {}),
        ...(o.explain ? { explain: true } : {}),
      },
    );

  const images = await pool(references, o.concurrency ?? DEFAULT_CONCURRENCY, one);
  writer?.flush();
  return decisionReport(images);
}

/** `referrers` or `tags` alone, or both at once. */
type DiscoveryPart = 'referrers' | 'tags' | 'all';

/** The trusted roots the selected policies' authorities verify against, snapshotted next to the evidence. */
function recordTrust(writer: EvidenceWriter, digest: Digest, policies: Policy[]): void {
  for (const p of policies) {
    for (const a of p.authorities) {
      if (a.kind === 'static') continue;
      try {
        const t =
          a.kind === 'key'
            ? loadTrust(a.trustedRoot !== undefined ? { trustedRoot: a.trustedRoot } : {})
            : loadTrust({
                ...(a.trustedRoot !== undefined ? { trustedRoot: a.trustedRoot } : {}),
                ...(a.caRoots !== undefined ? { caRoots: a.caRoots } : {}),
                ...(a.caIntermediates !== undefined ? { caIntermediates: a.caIntermediates } : {}),
              });
        writer.recordTrustedRoot(digest, a.trustedRoot ?? 'embedded', t.json);
      } catch {
        // An unreadable root is reported by the check itself (TRUST_ROOT_ERROR); nothing to snapshot.
      }
    }
  }
}
