import { RE2JS } from '@bufbuild/re2';
import type { CandidateReason, IdentityMatcher } from './authority.ts';
import { type CertificateIdentity, claimOid } from './fulcio-extensions.ts';

/**
 * Identity matching of a keyless certificate (POLICY.md §2.2): the issuer (1.8, else 1.1) and
 * some SAN must match, every listed claim must be present and match. Regexps are RE2 and always
 * full-match. Every check of a matcher runs, so the failure names the whole difference; with
 * several matchers the closest one (most checks passed) is reported.
 */
export type IdentityResult =
  | { ok: true; passed: string[] }
  | {
      ok: false;
      passed: string[];
      code: CandidateReason;
      check: string;
      message: string;
      expected: string;
      actual: string;
      /** Every check of the matcher in order, passed or failed: the whole difference (POLICY.md §5). */
      items: IdentityCheck[];
    };

/** One identity check of a candidate, as the decision report lists it. */
export type IdentityCheck =
  | { check: string; ok: true }
  | { check: string; ok: false; code: CandidateReason; message: string; expected: string; actual: string };

const compiled = new Map<string, RE2JS>();

/** RE2 full match; patterns are compiled once per process. */
export function fullMatch(pattern: string, value: string): boolean {
  let re = compiled.get(pattern);
  if (!re) {
    re = RE2JS.compile(pattern);
    compiled.set(pattern, re);
  }
  return re.testExact(value);
}

export function matchIdentities(matchers: readonly IdentityMatcher[], id: CertificateIdentity): IdentityResult {
  let best: IdentityResult | undefined;
  for (const m of matchers) {
    const r = matchOne(m, id);
    if (r.ok) return r;
    if (!best || r.passed.length > best.passed.length) best = r;
  }
  return (
    best ?? {
      ok: false,
      passed: [],
      code: 'IDENTITY_SUBJECT_MISMATCH',
      check: 'identity',
      message: 'the authority lists no identities',
      expected: '(none)',
      actual: id.subjectAlternativeNames.join(', '),
      items: [],
    }
  );
}

type Failed = Extract<IdentityCheck, { ok: false }>;

function matchOne(m: IdentityMatcher, id: CertificateIdentity): IdentityResult {
  const items: IdentityCheck[] = [];
  const passed: string[] = [];
  const failed: Failed[] = [];
  const pass = (check: string) => {
    passed.push(check);
    items.push({ check, ok: true });
  };
  const fail = (f: Omit<Failed, 'ok'>) => {
    const item: Failed = { ok: false, ...f };
    failed.push(item);
    items.push(item);
  };

  const issuerWant = m.issuer ?? (m.issuerRegExp !== undefined ? `/${m.issuerRegExp}/` : undefined);
  if (issuerWant !== undefined) {
    const got = id.issuer;
    const ok =
      got !== undefined &&
      (m.issuer !== undefined ? got === m.issuer : true) &&
      (m.issuerRegExp !== undefined ? fullMatch(m.issuerRegExp, got) : true);
    if (ok) pass('identity.issuer');
    else
      fail({
        code: 'IDENTITY_ISSUER_MISMATCH',
        check: 'identity.issuer',
        message: `certificate issuer is ${got ?? '(none)'}, expected ${issuerWant}`,
        expected: issuerWant,
        actual: got ?? '(none)',
      });
  }

  const subjectWant = m.subject ?? (m.subjectRegExp !== undefined ? `/${m.subjectRegExp}/` : undefined);
  if (subjectWant !== undefined) {
    const ok = id.subjectAlternativeNames.some(
      (san) =>
        (m.subject !== undefined ? san === m.subject : true) &&
        (m.subjectRegExp !== undefined ? fullMatch(m.subjectRegExp, san) : true),
    );
    if (ok) pass('identity.subject');
    else
      fail({
        code: 'IDENTITY_SUBJECT_MISMATCH',
        check: 'identity.subject',
        message: `no subject alternative name matches ${subjectWant}; the certificate has ${id.subjectAlternativeNames.join(', ') || 'none'}`,
        expected: subjectWant,
        actual: id.subjectAlternativeNames.join(', '),
      });
  }

  for (const [name, want] of Object.entries(m.claims ?? {})) {
    const check = `identity.claims.${name}`;
    const got = id.extensions[name];
    const wantText =
      typeof want === 'string' ? want : 'regexp' in want ? `/${want.regexp}/` : `one of ${want.oneOf.join(', ')}`;
    if (got === undefined) {
      fail({
        code: 'IDENTITY_CLAIM_MISSING',
        check,
        message: `the certificate has no ${name} extension (${claimOid(name) ?? 'unknown claim'})`,
        expected: wantText,
        actual: '(absent)',
      });
      continue;
    }
    const ok =
      typeof want === 'string'
        ? got === want
        : 'regexp' in want
          ? fullMatch(want.regexp, got)
          : want.oneOf.includes(got);
    if (ok) pass(check);
    else
      fail({
        code: 'IDENTITY_CLAIM_MISMATCH',
        check,
        message: `${name} is ${got}, expected ${wantText}`,
        expected: wantText,
        actual: got,
      });
  }

  if (failed.length === 0) return { ok: true, passed };
  const { ok: _ok, ...first } = failed[0]!;
  const more =
    failed.length > 1
      ? `; also ${failed
          .slice(1)
          .map((f) => f.message)
          .join('; ')}`
      : '';
  return { ok: false, passed, ...first, message: first.message + more, items };
}
