/**
 * `verify` for one image against one authority, as cosign verify does it: resolve the reference
 * to a digest once, discover every signature and attestation in both schemes, and check each
 * candidate. At least one passing candidate verifies the image; every rejected one keeps its
 * reason so the refusal can be explained.
 */
import { listAttachments } from '../attach/discovery.ts';
import type { Digest } from '../oci/digest.ts';
import { OciError } from '../oci/errors.ts';
import { parseReference } from '../oci/reference.ts';
import { registryFor, type RegistryOptions } from '../oci/registry/client.ts';
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
}

export type CandidateResult = CheckResult & { evidence: Evidence };

export interface VerifyImageResult {
  reference: string;
  /** `registry/repository`. */
  repository: string;
  digest: Digest;
  verified: CandidateResult[];
  rejected: CandidateResult[];
}

export async function verifyImage(reference: string, o: VerifyImageOptions): Promise<VerifyImageResult> {
  const ref = parseReference(reference);
  const registry = registryFor(ref.registry, o.registry);
  const root = await registry.headManifest(ref.repository, ref.digest ?? ref.tag ?? 'latest', o.signal);
  if (root === undefined) {
    throw new OciError('MANIFEST_UNKNOWN', `${reference}: no such manifest in ${ref.registry}/${ref.repository}`);
  }
  const digest = root.digest;
  const list = await listAttachments(registry, ref.repository, digest, o.signal ? { signal: o.signal } : {});
  const evidence = await evidenceFromAttachments(list, o.signal);
  const verified: CandidateResult[] = [];
  const rejected: CandidateResult[] = [];
  for (const e of evidence) {
    if (o.kind !== undefined && e.kind !== o.kind) continue;
    const r = await checkEvidence(e, o.authority, {
      digest,
      ...(o.now ? { now: o.now } : {}),
      ...(o.offline !== undefined ? { offline: o.offline } : {}),
    });
    (r.ok ? verified : rejected).push({ ...r, evidence: e });
  }
  return { reference, repository: `${ref.registry}/${ref.repository}`, digest, verified, rejected };
}
