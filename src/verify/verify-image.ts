/**
 * `verify` for one image against one authority, as cosign verify does it: resolve the reference
 * to a digest once, discover signatures and attestations in both schemes (referrers first, the
 * legacy `.sig`/`.att` tag only when no referrer verified), and check each candidate. At least one
 * passing candidate verifies the image; every rejected one keeps its reason so the refusal can be
 * explained.
 */
import { type AttachmentList, listAttachments } from '../attach/discovery.ts';
import type { TagKind } from '../attach/tags.ts';
import type { Digest } from '../oci/digest.ts';
import type { RegistryOptions } from '../oci/registry/client.ts';
import { attachmentRepository, resolveReference } from '../oci/registry/resolve.ts';
import type { Authority, CheckResult } from './authority.ts';
import { checkEvidence } from './check.ts';
import type { Evidence, EvidenceKind } from './evidence/evidence.ts';
import { evidenceFromAttachments } from './evidence/from-attachments.ts';

export interface VerifyImageOptions {
  authority: Authority;
  registry?: RegistryOptions;
  signal?: AbortSignal;
  offline?: boolean;
  now?: Date;
  /** Only candidates of this kind: `signature` (cosign verify) or `attestation` (verify-attestation). */
  kind?: EvidenceKind;
  /** Where the signatures are stored, when not beside the image (cosign's `COSIGN_REPOSITORY`). */
  signatureRepository?: string;
}

export type CandidateResult = CheckResult & { evidence: Evidence };

export interface VerifyImageResult {
  reference: string;
  /** `registry/repository` the signatures were read from. */
  repository: string;
  digest: Digest;
  verified: CandidateResult[];
  rejected: CandidateResult[];
}

export async function verifyImage(reference: string, o: VerifyImageOptions): Promise<VerifyImageResult> {
  const { ref, registry, descriptor: root } = await resolveReference(reference, o.registry, o.signal);
  const digest = root.digest;
  const store = attachmentRepository(ref, registry, o.signatureRepository, o.registry);
  const verified: CandidateResult[] = [];
  const rejected: CandidateResult[] = [];
  const signal = o.signal ? { signal: o.signal } : {};
  const checkAll = async (list: AttachmentList): Promise<void> => {
    for (const e of await evidenceFromAttachments(list, o.signal)) {
      if (o.kind !== undefined && e.kind !== o.kind) continue;
      const r = await checkEvidence(e, o.authority, {
        digest,
        ...(o.now ? { now: o.now } : {}),
        ...(o.offline !== undefined ? { offline: o.offline } : {}),
      });
      (r.ok ? verified : rejected).push({ ...r, evidence: e });
    }
  };
  // cosign's order: bundles (referrers) first, the legacy tag only when no bundle verified. One
  // signature is then HEAD + fallback index + referrer manifest + bundle blob: 4 requests.
  await checkAll(
    await listAttachments(store.registry, store.repository, digest, {
      ...signal,
      tags: [],
      referrersOrder: 'fewest-requests',
    }),
  );
  if (verified.length === 0) {
    // `.sbom` never holds a signature or an attestation; `.att` only when attestations are asked for.
    const tags: TagKind[] =
      o.kind === 'signature'
        ? ['signature']
        : o.kind === 'attestation'
          ? ['attestation']
          : ['signature', 'attestation'];
    await checkAll(
      await listAttachments(store.registry, store.repository, digest, { ...signal, referrers: false, tags }),
    );
  }
  return { reference, repository: store.name, digest, verified, rejected };
}
