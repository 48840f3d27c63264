/**
 * Policy evaluation (POLICY.md §2.3–§3): selection by glob, authorities against candidate
 * signatures through the given checker, the distinct-authority threshold (one signature backs one
 * authority: a maximum bipartite matching), attestation requirements with CEL conditions, modes,
 * and the three-valued combination rule. The checker is a parameter so the one evidence verifier
 * (check.ts) decides every cryptographic question and this file decides only policy.
 */
import type { Digest } from '../../oci/digest.ts';
import type { Authority, CheckContext, CheckResult } from '../authority.ts';
import type { Evidence } from '../evidence/evidence.ts';
import { isSigilError } from '../../errors.ts';
import { normaliseReference } from './glob.ts';
import type { AttestationRequirement, NoMatch, Policy, PolicyAuthority } from './model.ts';
import {
  decisionReport,
  type AttestationReport,
  type AuthorityReport,
  type CandidateReport,
  type CheckRecord,
  type Decision,
  type DecisionReport,
  type ImageReport,
  type ItemResult,
  type NotSelectedReport,
  type PolicyReport,
  type Reason,
} from './report.ts';

export type CandidateChecker = (evidence: Evidence, authority: Authority, ctx: CheckContext) => Promise<CheckResult>;

export interface ImageUnderVerification {
  /** As the user gave it (a tag, a digest reference, `oci-dir:…`). */
  reference: string;
  /** The digest verified (a tag is resolved once by the caller). */
  digest: Digest;
  /** True when the reference named the digest itself (requireDigest). */
  pinned: boolean;
  /** `--scope` for layouts (POLICY.md §2.1 rule 6). */
  scope?: string;
  verifiedDigestKind?: string;
}

/** Evidence could not be fetched: every item that needs it is `error`, never `fail`. */
export interface EvidenceUnavailable {
  error: { code: string; message: string };
}

export interface EvaluateOptions {
  noMatch?: NoMatch;
  /** --dry-run: everything as audit; `decision` allow, `enforcedDecision` what enforcing decides. */
  dryRun?: boolean;
  /** --explain: list policies that were not selected and why. */
  explain?: boolean;
}

/** One image against a policy set; the report of §5 with a single image entry. */
export async function evaluatePolicies(
  image: ImageUnderVerification,
  policies: Policy[],
  evidence: Evidence[] | EvidenceUnavailable,
  check: CandidateChecker,
  ctx: CheckContext,
  options: EvaluateOptions = {},
): Promise<DecisionReport> {
  return decisionReport([await evaluateImage(image, policies, evidence, check, ctx, options)]);
}

export interface Selection {
  name: string;
  selected: { policy: Policy; selectedBy: string }[];
  notSelected: NotSelectedReport[];
}

/** Which policies apply to a reference (no network): `sigil policy match`. */
export function selectPolicies(reference: string, policies: Policy[], scope?: string): Selection {
  const { name } = normaliseReference(reference, scope);
  const selected: Selection['selected'] = [];
  const notSelected: NotSelectedReport[] = [];
  for (const policy of policies) {
    const glob = policy.images.find((g) => g.matches(name));
    if (!glob) {
      notSelected.push({
        name: policy.name,
        file: policy.file,
        code: 'NOT_SELECTED_NO_GLOB_MATCH',
        message: `no images glob matches ${name} (${policy.images.map((g) => g.expanded).join(', ')})`,
      });
      continue;
    }
    const ex = policy.exclude.find((g) => g.matches(name));
    if (ex) {
      notSelected.push({
        name: policy.name,
        file: policy.file,
        code: 'NOT_SELECTED_EXCLUDED',
        message: `${name} matches ${glob.pattern} but is excluded by ${ex.pattern}`,
      });
      continue;
    }
    selected.push({ policy, selectedBy: glob.pattern });
  }
  return { name, selected, notSelected };
}

export async function evaluateImage(
  image: ImageUnderVerification,
  policies: Policy[],
  evidence: Evidence[] | EvidenceUnavailable,
  check: CandidateChecker,
  ctx: CheckContext,
  options: EvaluateOptions = {},
): Promise<ImageReport> {
  const n = normaliseReference(image.reference, image.scope);
  const sel = selectPolicies(image.reference, policies, image.scope);
  const report: ImageReport = {
    input: image.reference,
    name: n.name,
    digest: image.digest,
    decision: 'allow',
    enforcedDecision: 'allow',
    reasons: [],
    policies: [],
    warnings: [],
  };
  if (n.tag !== undefined) report.tag = n.tag;
  if (image.verifiedDigestKind) report.verifiedDigestKind = image.verifiedDigestKind;
  if (options.explain) report.notSelected = sel.notSelected;
  const cachedCheck = checkOncePerPair(check);
  for (const { policy, selectedBy } of sel.selected) {
    report.policies.push(await evaluatePolicy(policy, selectedBy, image, n, evidence, cachedCheck, ctx, options));
  }
  let enforced: Decision = 'allow';
  if (sel.selected.length === 0) {
    const noMatch = options.noMatch ?? 'deny';
    if (noMatch !== 'allow') {
      report.reasons.push({ code: 'NO_MATCHING_POLICY', message: `no policy selects ${n.name}` });
    }
    if (noMatch === 'deny') enforced = 'deny';
    if (noMatch === 'warn') report.warnings.push(`no policy selects ${n.name}`);
  } else {
    const enforcing = report.policies.filter((p) => p.mode === 'enforce');
    if (enforcing.some((p) => p.result === 'fail')) enforced = 'deny';
    else if (enforcing.some((p) => p.result === 'error')) enforced = 'error';
  }
  report.enforcedDecision = enforced;
  report.decision = options.dryRun ? 'allow' : enforced;
  for (const p of report.policies) {
    if (p.result !== 'pass' && (p.mode === 'warn' || p.mode === 'audit' || options.dryRun)) p.wouldDeny = true;
    if (p.result !== 'pass' && p.mode === 'warn') report.warnings.push(`policy ${p.name} ${p.result}ed (mode warn)`);
  }
  return report;
}

const oncePerPair = new WeakSet<CandidateChecker>();

/**
 * `check`, run once per (evidence, authority) pair, by identity: several policies may name the
 * same authority object, and a caller that evaluates an image again with more evidence (the
 * referrers first, then the tags too) keeps the verdicts it has. Wrapping twice wraps once.
 */
export function checkOncePerPair(check: CandidateChecker): CandidateChecker {
  if (oncePerPair.has(check)) return check;
  const done = new WeakMap<Evidence, Map<number, Promise<CheckResult>>>();
  const wrapped: CandidateChecker = (ev, auth, c) => {
    let byAuthority = done.get(ev);
    if (!byAuthority) {
      byAuthority = new Map();
      done.set(ev, byAuthority);
    }
    let p = byAuthority.get(authorityKey(auth));
    if (!p) {
      p = check(ev, auth, c);
      byAuthority.set(authorityKey(auth), p);
    }
    return p;
  };
  oncePerPair.add(wrapped);
  return wrapped;
}

const authorityIds = new WeakMap<object, number>();
let nextAuthorityId = 0;
function authorityKey(a: Authority): number {
  const known = authorityIds.get(a);
  if (known !== undefined) return known;
  const id = nextAuthorityId++;
  authorityIds.set(a, id);
  return id;
}

async function evaluatePolicy(
  policy: Policy,
  selectedBy: string,
  image: ImageUnderVerification,
  n: ReturnType<typeof normaliseReference>,
  evidence: Evidence[] | EvidenceUnavailable,
  check: CandidateChecker,
  ctx: CheckContext,
  options: EvaluateOptions,
): Promise<PolicyReport> {
  const reasons: Reason[] = [];
  let failed = false;
  let errored = false;
  if (policy.requireDigest && !image.pinned) {
    reasons.push({
      code: 'IMAGE_NOT_PINNED',
      message: `requireDigest: reference ${image.reference} names a tag, not a digest`,
      expected: `${n.name}@${image.digest}`,
      actual: image.reference,
    });
    failed = true;
  }
  const signatures = Array.isArray(evidence) ? evidence.filter((e) => e.kind === 'signature') : [];
  const authorities: AuthorityReport[] = [];
  // edges[i] = indexes of signatures that passed for authority i.
  const edges: number[][] = [];
  for (const auth of policy.authorities) {
    const { report, passed } = await evaluateAuthority(auth, evidence, signatures, check, ctx);
    authorities.push(report);
    edges.push(passed);
    if (auth.kind === 'static' && auth.action === 'fail') {
      reasons.push({
        code: 'STATIC_FAIL',
        message: auth.message ?? `authority ${auth.name} denies every selected image`,
      });
      failed = true;
    }
  }
  if (policy.threshold > 0) {
    const staticPass = policy.authorities.filter((a) => a.kind === 'static' && a.action === 'pass').length;
    const matched = staticPass + maxMatching(edges);
    const erroredAuth = authorities.filter((a) => a.result === 'error').length;
    if (matched < policy.threshold) {
      const message = `${matched} of ${policy.threshold} required authorities passed${
        matched < authorities.filter((a) => a.result === 'pass').length
          ? ' (one signature can back only one authority)'
          : ''
      }`;
      if (matched + erroredAuth < policy.threshold) {
        reasons.push({ code: 'THRESHOLD_NOT_MET', message, expected: policy.threshold, actual: matched });
        failed = true;
      } else {
        reasons.push({ code: 'NOT_EVALUATED', message: `${message}; ${erroredAuth} could not be evaluated` });
        errored = true;
      }
    }
  }
  const attestations: AttestationReport[] = [];
  for (const req of policy.attestations) {
    const a = await evaluateAttestation(req, policy, image, n, evidence, check, ctx);
    attestations.push(a);
    if (a.result === 'fail') failed = true;
    if (a.result === 'error') errored = true;
  }
  const result: ItemResult = failed ? 'fail' : errored ? 'error' : 'pass';
  void options;
  return {
    name: policy.name,
    file: policy.file,
    mode: policy.mode,
    selectedBy,
    result,
    reasons,
    authorities,
    attestations,
  };
}

/** Kuhn's augmenting paths: the most authorities that distinct signatures can back. */
function maxMatching(edges: number[][]): number {
  const owner = new Map<number, number>();
  const tryAssign = (a: number, seen: Set<number>): boolean => {
    for (const s of edges[a] ?? []) {
      if (seen.has(s)) continue;
      seen.add(s);
      const cur = owner.get(s);
      if (cur === undefined || tryAssign(cur, seen)) {
        owner.set(s, a);
        return true;
      }
    }
    return false;
  };
  let count = 0;
  for (let a = 0; a < edges.length; a++) if (tryAssign(a, new Set())) count++;
  return count;
}

function candidateBase(ev: Evidence): Omit<CandidateReport, 'result' | 'checks'> {
  const format = ev.converted
    ? ev.kind === 'signature'
      ? 'legacy-sig'
      : 'legacy-att'
    : ev.bundle
      ? `bundle-v${/v(0\.\d+)/.exec(ev.bundle.mediaType)?.[1] ?? /bundle\.v(\d[\d.]*)\+json/.exec(ev.bundle.mediaType)?.[1] ?? '?'}`
      : 'unreadable';
  return {
    ref: ev.source.manifest ?? ev.source.layer ?? ev.source.path ?? ev.source.description,
    scheme: ev.scheme,
    format,
  };
}

function checkRecords(r: CheckResult): CheckRecord[] {
  const identity = !r.ok && r.identity !== undefined && r.identity.length > 0 ? r.identity : undefined;
  const records: CheckRecord[] = r.checks
    .filter((c) => identity === undefined || !c.startsWith('identity.'))
    .map((c) => ({ check: c, ok: true }));
  if (identity) {
    // Every identity check, failed ones with their code and the expected and found values.
    for (const i of identity) records.push({ ...i });
  } else if (!r.ok) {
    const rec: CheckRecord = { check: r.check, ok: false, code: r.code, message: r.message };
    if (r.expected !== undefined) rec.expected = r.expected;
    if (r.actual !== undefined) rec.actual = r.actual;
    records.push(rec);
  }
  return records;
}

async function runCheck(
  ev: Evidence,
  auth: Authority,
  check: CandidateChecker,
  ctx: CheckContext,
): Promise<{ candidate: CandidateReport; result?: CheckResult }> {
  const base = candidateBase(ev);
  try {
    const r = await check(ev, auth, ctx);
    if (r.ok) return { candidate: { ...base, result: 'pass', checks: checkRecords(r) }, result: r };
    const isError = r.code === 'TRUST_ROOT_ERROR';
    return {
      candidate: {
        ...base,
        result: isError ? 'error' : 'fail',
        code: r.code,
        message: r.message,
        checks: checkRecords(r),
      },
      result: r,
    };
  } catch (err) {
    // A thrown error is an outage (trust root, network), not a verdict on this candidate.
    const code = isSigilError(err) && /TRUST|ROOT/.test(err.code) ? 'TRUST_ROOT_ERROR' : 'REGISTRY_ERROR';
    return { candidate: { ...base, result: 'error', code, message: (err as Error).message, checks: [] } };
  }
}

async function evaluateAuthority(
  auth: PolicyAuthority,
  evidence: Evidence[] | EvidenceUnavailable,
  signatures: Evidence[],
  check: CandidateChecker,
  ctx: CheckContext,
): Promise<{ report: AuthorityReport; passed: number[] }> {
  if (auth.kind === 'static') {
    return {
      report: {
        name: auth.name,
        kind: 'static',
        result: auth.action === 'pass' ? 'pass' : 'fail',
        reasons: auth.action === 'fail' ? [{ code: 'STATIC_FAIL', message: auth.message ?? 'static fail' }] : [],
        candidates: [],
      },
      passed: [],
    };
  }
  if (!Array.isArray(evidence)) {
    return {
      report: {
        name: auth.name,
        kind: auth.kind,
        result: 'error',
        reasons: [
          { code: 'NOT_EVALUATED', message: 'signatures could not be fetched' },
          { code: evidence.error.code, message: evidence.error.message },
        ],
        candidates: [],
      },
      passed: [],
    };
  }
  if (signatures.length === 0) {
    const atts = evidence.length;
    return {
      report: {
        name: auth.name,
        kind: auth.kind,
        result: 'fail',
        reasons: [
          {
            code: 'NO_SIGNATURES_FOUND',
            message: atts
              ? `no image signature attached (${atts} attestation${atts === 1 ? '' : 's'} found)`
              : 'nothing is attached to the image digest in any enabled discovery scheme',
          },
        ],
        candidates: [],
      },
      passed: [],
    };
  }
  const candidates: CandidateReport[] = [];
  const passed: number[] = [];
  for (let i = 0; i < signatures.length; i++) {
    const { candidate } = await runCheck(signatures[i]!, auth, check, ctx);
    candidates.push(candidate);
    if (candidate.result === 'pass') passed.push(i);
  }
  const result: ItemResult =
    passed.length > 0 ? 'pass' : candidates.some((c) => c.result === 'error') ? 'error' : 'fail';
  return { report: { name: auth.name, kind: auth.kind, result, reasons: [], candidates }, passed };
}

function subjectMatches(ev: Evidence, digest: Digest): boolean {
  if (ev.claim?.type !== 'in-toto') return false;
  const [alg, hex] = digest.split(':');
  return ev.claim.subjects.some((s) => alg !== undefined && s.digest?.[alg] === hex);
}

async function evaluateAttestation(
  req: AttestationRequirement,
  policy: Policy,
  image: ImageUnderVerification,
  n: ReturnType<typeof normaliseReference>,
  evidence: Evidence[] | EvidenceUnavailable,
  check: CandidateChecker,
  ctx: CheckContext,
): Promise<AttestationReport> {
  const report: AttestationReport = {
    name: req.name,
    predicateType: req.predicateType,
    result: 'fail',
    reasons: [],
    candidates: [],
  };
  if (!Array.isArray(evidence)) {
    report.result = 'error';
    report.reasons.push(
      { code: 'NOT_EVALUATED', message: 'attestations could not be fetched' },
      { code: evidence.error.code, message: evidence.error.message },
    );
    return report;
  }
  const statements = evidence.filter((e) => e.claim?.type === 'in-toto');
  const typed = statements.filter((e) => e.claim?.type === 'in-toto' && e.claim.predicateType === req.predicateType);
  const allowed = policy.authorities.filter(
    (a): a is Authority => a.kind !== 'static' && req.authorities.includes(a.name),
  );
  const conditionReasons: Reason[] = [];
  let subjectMismatch = 0;
  for (const ev of typed) {
    if (!subjectMatches(ev, image.digest)) {
      subjectMismatch++;
      const subjects = ev.claim?.type === 'in-toto' ? ev.claim.subjects.map((s) => s.digest) : [];
      report.candidates.push({
        ...candidateBase(ev),
        result: 'fail',
        code: 'ATTESTATION_SUBJECT_MISMATCH',
        message: `no subject has the image digest ${image.digest}`,
        checks: [
          {
            check: 'subject',
            ok: false,
            code: 'ATTESTATION_SUBJECT_MISMATCH',
            expected: image.digest,
            actual: subjects,
          },
        ],
      });
      continue;
    }
    let verified: { auth: Authority; result: CheckResult & { ok: true } } | undefined;
    for (const auth of allowed) {
      const { candidate, result } = await runCheck(ev, auth, check, ctx);
      candidate.authority = auth.name;
      if (result?.ok) {
        verified = { auth, result };
        candidate.checks.push({ check: 'subject', ok: true });
        const failures = evaluateConditions(req, ev, image, n, auth, result);
        for (const f of failures) {
          candidate.checks.push({ check: `condition.${f.condition}`, ok: false, code: f.code, message: f.message });
        }
        if (failures.length > 0) {
          candidate.result = 'fail';
          candidate.code = failures[0]!.code;
          candidate.message = failures[0]!.message;
          conditionReasons.push(...failures);
        }
        report.candidates.push(candidate);
        break;
      }
      report.candidates.push(candidate);
    }
    if (verified && report.candidates.at(-1)?.result === 'pass') {
      report.result = 'pass';
      report.reasons = [];
      return report;
    }
  }
  if (report.candidates.some((c) => c.result === 'error')) {
    report.result = 'error';
    report.reasons.push({ code: 'NOT_EVALUATED', message: 'a candidate could not be checked' });
    return report;
  }
  report.result = 'fail';
  if (conditionReasons.length > 0) report.reasons.push(...conditionReasons);
  else if (typed.length > 0 && subjectMismatch === typed.length) {
    report.reasons.push({
      code: 'ATTESTATION_SUBJECT_MISMATCH',
      message: `${req.predicateType} statement found, but no subject has the image digest ${image.digest}`,
      expected: image.digest,
    });
  } else {
    const found = [...new Set(statements.map((e) => (e.claim?.type === 'in-toto' ? e.claim.predicateType : '')))];
    report.reasons.push({
      code: 'ATTESTATION_MISSING',
      message: `no ${req.predicateType} statement signed by ${req.authorities.join(' or ')}; predicate types found: ${
        found.length ? found.join(', ') : 'none'
      }`,
    });
  }
  return report;
}

function evaluateConditions(
  req: AttestationRequirement,
  ev: Evidence,
  image: ImageUnderVerification,
  n: ReturnType<typeof normaliseReference>,
  auth: Authority,
  result: CheckResult & { ok: true },
): Reason[] {
  if (req.conditions.length === 0) return [];
  let statement: Record<string, unknown> = {};
  try {
    statement = JSON.parse(new TextDecoder().decode(ev.payload ?? new Uint8Array())) as Record<string, unknown>;
  } catch {
    // The claim was read from these bytes, so this does not happen; conditions then see an empty statement.
  }
  const signer =
    result.signer.kind === 'certificate'
      ? {
          authority: auth.name,
          kind: auth.kind,
          issuer: result.signer.issuer,
          subject: result.signer.subjectAlternativeNames[0] ?? '',
          claims: result.signer.extensions,
        }
      : { authority: auth.name, kind: auth.kind, issuer: '', subject: '', claims: {} };
  const bindings = {
    predicate: statement['predicate'] ?? null,
    statement,
    predicateType: statement['predicateType'] ?? '',
    subject: statement['subject'] ?? [],
    image: { registry: n.registry, repository: n.repository, name: n.name, tag: n.tag ?? '', digest: image.digest },
    signer,
  };
  const out: Reason[] = [];
  for (const c of req.conditions) {
    const r = c.compiled.evaluate(bindings);
    if (r.ok && r.value) continue;
    out.push(
      r.ok
        ? {
            code: 'CONDITION_FALSE',
            message: c.message ?? `condition ${c.name} is false`,
            condition: c.name,
            expression: c.expr,
          }
        : {
            code: 'CONDITION_ERROR',
            message: `condition ${c.name}: ${r.error}`,
            condition: c.name,
            expression: c.expr,
          },
    );
  }
  return out;
}
