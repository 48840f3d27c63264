/**
 * The decision report of POLICY.md §5 (`sigil.dev/v1` DecisionReport): one entry per image, every
 * selected policy, every authority, every candidate with its checks; failed items carry a stable
 * code and, where values were compared, `expected` and `actual`.
 */
export type Decision = 'allow' | 'deny' | 'error';
export type ItemResult = 'pass' | 'fail' | 'error';

export interface Reason {
  code: string;
  message: string;
  expected?: unknown;
  actual?: unknown;
  /** CONDITION_FALSE / CONDITION_ERROR: the condition. */
  condition?: string;
  expression?: string;
}

export interface CheckRecord {
  check: string;
  ok: boolean;
  code?: string;
  message?: string;
  expected?: unknown;
  actual?: unknown;
}

export interface CandidateReport {
  /** The manifest or layer digest holding it, else where it came from. */
  ref: string;
  scheme: string;
  format: string;
  result: ItemResult;
  /** For attestation candidates: the authority whose check is shown. */
  authority?: string;
  code?: string;
  message?: string;
  checks: CheckRecord[];
}

export interface AuthorityReport {
  name: string;
  kind: 'key' | 'keyless' | 'static';
  result: ItemResult;
  reasons: Reason[];
  candidates: CandidateReport[];
}

export interface AttestationReport {
  name: string;
  predicateType: string;
  result: ItemResult;
  reasons: Reason[];
  candidates: CandidateReport[];
}

export interface PolicyReport {
  name: string;
  file: string;
  mode: 'enforce' | 'warn' | 'audit';
  selectedBy: string;
  result: ItemResult;
  /** warn/audit policies (and every policy under --dry-run) that did not pass. */
  wouldDeny?: boolean;
  reasons: Reason[];
  authorities: AuthorityReport[];
  attestations: AttestationReport[];
}

export interface NotSelectedReport {
  name: string;
  file: string;
  code: 'NOT_SELECTED_NO_GLOB_MATCH' | 'NOT_SELECTED_EXCLUDED';
  message: string;
}

export interface ImageReport {
  input: string;
  name: string;
  tag?: string;
  digest: string;
  verifiedDigestKind?: string;
  decision: Decision;
  enforcedDecision: Decision;
  reasons: Reason[];
  policies: PolicyReport[];
  notSelected?: NotSelectedReport[];
  warnings: string[];
}

export interface DecisionReport {
  apiVersion: 'sigil.dev/v1';
  kind: 'DecisionReport';
  images: ImageReport[];
  exitCode: 0 | 1 | 2;
}

/** §3.5: exit 1 if any image is denied, else 2 if any errored, else 0. */
export function decisionExitCode(report: Pick<DecisionReport, 'images'>): 0 | 1 | 2 {
  if (report.images.some((i) => i.decision === 'deny')) return 1;
  if (report.images.some((i) => i.decision === 'error')) return 2;
  return 0;
}

export function decisionReport(images: ImageReport[]): DecisionReport {
  return { apiVersion: 'sigil.dev/v1', kind: 'DecisionReport', images, exitCode: decisionExitCode({ images }) };
}

/** Every reason code anywhere in an image's report (PolicyTest `expect.reasons`). */
export function reasonCodes(image: ImageReport): Set<string> {
  const codes = new Set<string>();
  const add = (r: { code?: string }): void => {
    if (r.code) codes.add(r.code);
  };
  image.reasons.forEach(add);
  for (const p of image.policies) {
    p.reasons.forEach(add);
    for (const a of [...p.authorities, ...p.attestations]) {
      a.reasons.forEach(add);
      for (const c of a.candidates) {
        add(c);
        c.checks.forEach(add);
      }
    }
  }
  return codes;
}

/** The text rendering: one line per policy, indented lines for what failed. */
export function renderReport(report: DecisionReport, verbose = false): string {
  const out: string[] = [];
  for (const img of report.images) {
    out.push(`${img.input} (${img.name}${img.digest ? `@${img.digest}` : ''}): ${img.decision.toUpperCase()}`);
    for (const r of img.reasons) out.push(`  ${r.code}: ${r.message}`);
    for (const p of img.policies) {
      if (p.mode === 'audit' && !verbose && p.result === 'pass') continue;
      const tag = p.wouldDeny ? ' (would deny)' : '';
      out.push(`  policy ${p.name} [${p.mode}] ${p.result}${tag}  selected by ${p.selectedBy}`);
      for (const r of p.reasons) out.push(`    ${r.code}: ${r.message}`);
      for (const a of p.authorities) {
        out.push(`    authority ${a.name} (${a.kind}): ${a.result}`);
        for (const r of a.reasons) out.push(`      ${r.code}: ${r.message}`);
        for (const c of a.candidates) {
          if (c.result === 'pass') out.push(`      ${c.ref} (${c.format}): pass`);
          else out.push(`      ${c.ref} (${c.format}): ${c.code ?? c.result}: ${c.message ?? ''}`);
        }
      }
      for (const a of p.attestations) {
        out.push(`    attestation ${a.name} (${a.predicateType}): ${a.result}`);
        for (const r of a.reasons) out.push(`      ${r.code}: ${r.message}`);
      }
    }
    for (const n of img.notSelected ?? []) out.push(`  policy ${n.name} not selected: ${n.code}: ${n.message}`);
    for (const w of img.warnings) out.push(`  warning: ${w}`);
  }
  return out.join('\n') + '\n';
}
