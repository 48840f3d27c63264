/**
 * Identity regexps: RE2 syntax (as cosign and policy-controller, so patterns can be copied) and
 * always full-match (POLICY.md §2.2). RE2 has no lookaround or backreferences, so such patterns
 * fail to compile and become load errors instead of matching differently than their author meant.
 */
import { RE2JS } from '@bufbuild/re2';

export interface CompiledRegExp {
  pattern: string;
  /** Full match: `acme` matches only `acme`. */
  matches(text: string): boolean;
}

export class RegExpError extends Error {}

/**
 * RE2JS compiles in time quadratic in the pattern length (a 32 KiB literal: 13 s, 64 KiB: 58 s;
 * 4 KiB: under 40 ms). Identity patterns are a URL or an email with a few escapes.
 */
export const MAX_PATTERN_LENGTH = 4096;

export function compileRegExp(pattern: string): CompiledRegExp {
  if (pattern.length > MAX_PATTERN_LENGTH) {
    throw new RegExpError(
      `regexp of ${pattern.length} characters (${JSON.stringify(pattern.slice(0, 40))}…): the limit is ${MAX_PATTERN_LENGTH}`,
    );
  }
  let re: RE2JS;
  try {
    re = RE2JS.compile(pattern);
  } catch (err) {
    throw new RegExpError(`invalid RE2 regexp ${JSON.stringify(pattern)}: ${(err as Error).message}`);
  }
  return { pattern, matches: (text) => re.matches(text) };
}

/** No `^` at the start or no `$` at the end: cosign (substring match) would have accepted more. */
export function isUnanchored(pattern: string): boolean {
  return !pattern.startsWith('^') || !pattern.endsWith('$') || pattern.endsWith('\\$');
}

/** A `.` that is not escaped inside the host part of an `https://host/` subject pattern. */
export function hasUnescapedHostDot(pattern: string): boolean {
  const m = /^\^?(?:https?|spiffe):\/\/([^/]*)/.exec(pattern);
  if (!m) return false;
  return /(^|[^\\])\./.test(m[1]!);
}
