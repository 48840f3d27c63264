/**
 * Gem::Version ordering and Gem::Requirement matching, enough to pick which installed version of a
 * gem satisfies a dependency (`~> 1.4`, `>= 0.3.0`, `!= 2.1`). Segments follow Gem::Version: the
 * version is split into runs of digits and runs of letters (`1.0.a10` → 1, 0, "a", 10), numbers
 * sort above letters (so a prerelease sorts before its release), trailing zeros do not count.
 */

type Segment = number | string;

function segments(version: string): Segment[] {
  const out: Segment[] = [];
  for (const m of version.replace(/-/g, '.pre.').matchAll(/[0-9]+|[a-z]+/gi)) {
    out.push(/^\d/.test(m[0]) ? Number(m[0]) : m[0]);
  }
  // 1.0.0 == 1.0 == 1 (Gem::Version#canonical_segments drops trailing zeros).
  while (out.length > 1 && out.at(-1) === 0) out.pop();
  return out;
}

export function compareGemVersions(a: string, b: string): number {
  const x = segments(a);
  const y = segments(b);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const p = x[i] ?? 0;
    const q = y[i] ?? 0;
    if (p === q) continue;
    if (typeof p === 'number' && typeof q === 'number') return p - q;
    if (typeof p === 'string' && typeof q === 'string') return p < q ? -1 : 1;
    return typeof p === 'number' ? 1 : -1;
  }
  return 0;
}

/** The numeric part before any prerelease letters: `2.0.a` → `2.0` (Gem::Version#release). */
function release(version: string): string {
  const parts = version.replace(/-/g, '.pre.').split('.');
  const firstLetters = parts.findIndex((p) => /[a-z]/i.test(p));
  return (firstLetters < 0 ? parts : parts.slice(0, firstLetters)).join('.') || '0';
}

/** `~> 1.4.2` allows up to (excluding) 1.5; `~> 1.4` up to 2.0 (Gem::Version#bump). */
function bump(version: string): string {
  const parts = release(version).split('.');
  if (parts.length > 1) parts.pop();
  parts[parts.length - 1] = String(Number(parts.at(-1)) + 1);
  return parts.join('.');
}

/** Does `version` meet one requirement string (`>= 1.2`, `~> 3.0`, `1.0`)? Unknown operators match. */
export function satisfies(version: string, requirement: string): boolean {
  const m = /^\s*(=|!=|>=|<=|>|<|~>)?\s*(\S+)\s*$/.exec(requirement);
  if (m === null) return true;
  const op = m[1] ?? '=';
  const want = m[2]!;
  const c = compareGemVersions(version, want);
  switch (op) {
    case '=':
      return c === 0;
    case '!=':
      return c !== 0;
    case '>':
      return c > 0;
    case '<':
      return c < 0;
    case '>=':
      return c >= 0;
    case '<=':
      return c <= 0;
    default:
      // Gem::Requirement compares the release part, so `~> 1.0` excludes 2.0.a as well.
      return c >= 0 && compareGemVersions(release(version), bump(want)) < 0;
  }
}
