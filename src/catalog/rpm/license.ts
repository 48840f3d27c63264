/**
 * rpm License tags → one SPDX expression. Fedora ≥ 38, RHEL 10 and SUSE write SPDX already; older
 * Fedora/RHEL/Amazon Linux headers use Fedora's legacy ("Callaway") short names joined by `and`/`or`
 * with parentheses: `MIT and (BSD or ASL 2.0)`. The shared DEP-5 reader in ../license.ts does not
 * know parentheses, so the structure is parsed here and each leaf normalised on its own.
 */
import parseSpdx from 'spdx-expression-parse';
import { toSpdxExpression } from '../license.ts';

/**
 * Legacy Fedora names whose SPDX equivalent is unambiguous (Fedora legal docs, "allowed licenses"
 * legacy-abbreviation column). `BSD`, `Python`, `GFDL` are deliberately absent: each legacy name
 * stood for several SPDX licenses, so they stay LicenseRefs rather than become a wrong guess.
 */
const FEDORA_LEGACY: ReadonlyMap<string, string> = new Map([
  ['asl 2.0', 'Apache-2.0'],
  ['asl 1.1', 'Apache-1.1'],
  ['asl 1.0', 'Apache-1.0'],
  ['boost', 'BSL-1.0'],
  ['public domain', 'LicenseRef-Fedora-Public-Domain'],
  ['gpl+', 'GPL-1.0-or-later'],
  ['lgpl+', 'LGPL-2.0-or-later'],
  ['mplv1.0', 'MPL-1.0'],
  ['mplv1.1', 'MPL-1.1'],
  ['mplv2.0', 'MPL-2.0'],
  ['artistic 2.0', 'Artistic-2.0'],
  ['artistic clarified', 'ClArtistic'],
  ['bsd with advertising', 'BSD-4-Clause'],
  ['cc0', 'CC0-1.0'],
]);

export function rpmLicenseExpression(value: string): string | undefined {
  const text = value.replace(/\s+/g, ' ').trim();
  if (text === '') return undefined;
  if (isSpdx(text)) return toSpdxExpression([text]).expression;
  const tokens = text
    .split(/(\(|\)|\s+(?:and|or)\s+)/i)
    .map((t) => t.trim())
    .filter((t) => t !== '');
  const parsed = parseOr(tokens, 0);
  // Unbalanced parentheses or a dangling operator: let the generic reader do what it can.
  if (parsed === undefined || parsed.next !== tokens.length) return toSpdxExpression([text]).expression;
  return toSpdxExpression([parsed.expr]).expression;
}

function isSpdx(text: string): boolean {
  try {
    parseSpdx(text);
    return true;
  } catch {
    return false;
  }
}

type Parsed = { expr: string; next: number } | undefined;
const isOp = (t: string | undefined, op: string) => t !== undefined && t.toLowerCase() === op;

/** SPDX precedence: AND binds tighter than OR. */
function parseOr(tokens: string[], at: number): Parsed {
  const parts: string[] = [];
  let p = parseAnd(tokens, at);
  while (p !== undefined) {
    parts.push(p.expr);
    if (!isOp(tokens[p.next], 'or')) return { expr: join(parts, 'OR'), next: p.next };
    p = parseAnd(tokens, p.next + 1);
  }
  return undefined;
}

function parseAnd(tokens: string[], at: number): Parsed {
  const parts: string[] = [];
  let p = parseTerm(tokens, at);
  while (p !== undefined) {
    parts.push(p.expr);
    if (!isOp(tokens[p.next], 'and')) return { expr: join(parts, 'AND'), next: p.next };
    p = parseTerm(tokens, p.next + 1);
  }
  return undefined;
}

function parseTerm(tokens: string[], at: number): Parsed {
  const t = tokens[at];
  if (t === undefined || t === ')' || isOp(t, 'and') || isOp(t, 'or')) return undefined;
  if (t === '(') {
    const inner = parseOr(tokens, at + 1);
    if (inner === undefined || tokens[inner.next] !== ')') return undefined;
    return { expr: inner.expr, next: inner.next + 1 };
  }
  return { expr: leaf(t), next: at + 1 };
}

function leaf(name: string): string {
  const legacy = FEDORA_LEGACY.get(name.toLowerCase());
  if (legacy !== undefined) return legacy;
  // Always defined: a name that matches nothing becomes a LicenseRef.
  return toSpdxExpression([name]).expression!;
}

function join(parts: string[], op: 'AND' | 'OR'): string {
  return parts.length === 1 ? parts[0]! : parts.map((p) => `(${p})`).join(` ${op} `);
}
