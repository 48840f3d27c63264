/**
 * License strings as package databases write them (SPDX ids, Debian DEP-5 short names, free
 * text) turned into one valid SPDX expression. Every result is checked with
 * spdx-expression-parse before it leaves this file: an encoder can trust `expression`.
 */
import { createRequire } from 'node:module';
import parseSpdx from 'spdx-expression-parse';
import spdxCorrect from 'spdx-correct';

const require = createRequire(import.meta.url);
const LICENSE_IDS: readonly string[] = require('spdx-license-ids') as string[];
const DEPRECATED_IDS: readonly string[] = require('spdx-license-ids/deprecated.json') as string[];
const EXCEPTION_IDS: readonly string[] = require('spdx-exceptions') as string[];

const byLowerCase = (ids: readonly string[]) => new Map(ids.map((id) => [id.toLowerCase(), id]));
const LICENSES = byLowerCase(LICENSE_IDS);
const DEPRECATED = byLowerCase(DEPRECATED_IDS);
const EXCEPTIONS = byLowerCase(EXCEPTION_IDS);

/**
 * Names that are not SPDX ids but mean exactly one license (or expression). The Debian ones come
 * from the DEP-5 short-name table (copyright-format 1.0, "License specification"): `Expat` is
 * what SPDX calls MIT; Debian's `Artistic` is the Perl Artistic License 1.0 (base-files'
 * copyright says so: 'its SPDX name is "Artistic License 1.0 (Perl)"'); `Perl` is Perl's dual
 * licence.
 */
const ALIASES: ReadonlyMap<string, string> = new Map([
  ['expat', 'MIT'],
  ['artistic', 'Artistic-1.0-Perl'],
  ['perl', 'Artistic-1.0-Perl OR GPL-1.0-or-later'],
  ['psf-2', 'PSF-2.0'],
  ['zlib/libpng', 'Zlib'],
  ['mit/x11', 'MIT'],
  ['lgpl-2.1-or-later', 'LGPL-2.1-or-later'],
]);

/** Values that say "no license information", not a license. */
const NO_ASSERTION = new Set(['', 'noassertion', 'none', 'unknown']);

export interface SpdxResult {
  /** A valid SPDX expression, or undefined when no value carried a license. */
  expression?: string;
  /** The input pieces that matched no SPDX license and became `LicenseRef-…`, sorted. */
  unknown: string[];
}

/**
 * Turn license values into one SPDX expression: each value is normalised on its own (kept if it is
 * already SPDX, DEP-5 `GPL-2+ or Artistic` converted, near-misses corrected, the rest
 * `LicenseRef-<sanitised>`), then distinct values are sorted and joined with AND.
 */
export function toSpdxExpression(values: readonly string[]): SpdxResult {
  const unknown = new Set<string>();
  const parts = new Set<string>();
  for (const value of values) {
    const expr = normalizeValue(value, unknown);
    if (expr !== undefined) parts.add(expr);
  }
  const sorted = [...parts].sort();
  if (sorted.length === 0) return { unknown: [...unknown].sort() };
  const expression = sorted.length === 1 ? sorted[0]! : serialize(parseSpdx(sorted.map((p) => `(${p})`).join(' AND ')));
  return { expression, unknown: [...unknown].sort() };
}

/** One value → canonical expression string, or undefined for "NONE"-like values. */
function normalizeValue(raw: string, unknown: Set<string>): string | undefined {
  const value = raw.replace(/\s+/g, ' ').trim();
  if (NO_ASSERTION.has(value.toLowerCase())) return undefined;
  const direct = tryParse(value);
  if (direct !== undefined) return serialize(upgrade(direct));
  const dep5 = fromDep5(value, unknown);
  if (dep5 !== undefined) return dep5;
  unknown.add(value);
  return licenseRef(value);
}

function tryParse(text: string): parseSpdx.Info | undefined {
  try {
    return parseSpdx(text);
  } catch {
    return undefined;
  }
}

/**
 * Rewrite deprecated GNU ids to the explicit forms: `GPL-2.0` → `GPL-2.0-only`, `GPL-2.0+` →
 * `GPL-2.0-or-later` (SPDX license list 3.0 deprecated the bare and `+` forms for the GNU family).
 */
function upgrade(node: parseSpdx.Info): parseSpdx.Info {
  if ('conjunction' in node)
    return { conjunction: node.conjunction, left: upgrade(node.left), right: upgrade(node.right) };
  const gnu = gnuId(node.license, node.plus === true);
  if (gnu !== undefined && DEPRECATED.has(node.license.toLowerCase())) {
    return node.exception === undefined ? { license: gnu } : { license: gnu, exception: node.exception };
  }
  return node;
}

/** Canonical text: upper-case operators, parentheses wherever AND and OR nest (for readers, not the parser). */
function serialize(node: parseSpdx.Info, parent?: 'and' | 'or'): string {
  if ('conjunction' in node) {
    const s = `${serialize(node.left, node.conjunction)} ${node.conjunction.toUpperCase()} ${serialize(node.right, node.conjunction)}`;
    return parent !== undefined && parent !== node.conjunction ? `(${s})` : s;
  }
  let s = node.license + (node.plus === true ? '+' : '');
  if (node.exception !== undefined) s += ` WITH ${node.exception}`;
  return s;
}

/**
 * GNU licenses by family and version: `GPL-2`, `GPLv2`, `GPL-2.0` with `+` → `GPL-2.0-or-later`,
 * without → `GPL-2.0-only` (DEP-5: "GPL-2+" means version 2 or later, "GPL-2" version 2 only).
 */
function gnuId(name: string, plus: boolean): string | undefined {
  const m = /^(a?gpl|lgpl|gfdl(?:-niv)?)[- ]?v?(\d+(?:\.\d+)?)(?:-(only|or-later))?$/i.exec(name.trim());
  if (m === null) return undefined;
  const family = m[1]!.toUpperCase();
  const version = m[2]!.includes('.') ? m[2]! : `${m[2]!}.0`;
  const later = plus || m[3]?.toLowerCase() === 'or-later';
  const id =
    family === 'GFDL-NIV'
      ? `GFDL-${version}-no-invariants-${later ? 'or-later' : 'only'}`
      : `${family}-${version}-${later ? 'or-later' : 'only'}`;
  return LICENSES.get(id.toLowerCase());
}

/**
 * One license name (no operators) → SPDX id or expression, or undefined when it is not one. Tries, in
 * order: the GNU family pattern, aliases, exact ids ignoring case (deprecated ones too), and last
 * spdx-correct, whose guesses are accepted only when they keep the version the text gave.
 */
/** A license name sigil knows without guessing (GNU pattern, alias, exact id), for telling lists from typos. */
function knownName(raw: string): string | undefined {
  const name = raw.trim().replace(/\.$/, '');
  const plus = name.endsWith('+');
  const base = plus ? name.slice(0, -1).trim() : name;
  const lower = base.toLowerCase();
  return gnuId(base, plus) ?? ALIASES.get(lower) ?? LICENSES.get(lower) ?? DEPRECATED.get(lower);
}

function normalizeName(raw: string): string | undefined {
  const name = raw.trim().replace(/\.$/, '');
  const plus = name.endsWith('+');
  const base = plus ? name.slice(0, -1).trim() : name;
  const lower = base.toLowerCase();
  const gnu = gnuId(base, plus);
  if (gnu !== undefined) return gnu;
  const alias = ALIASES.get(lower);
  if (alias !== undefined) return plus && !alias.includes(' ') ? `${alias}+` : alias;
  const exact = LICENSES.get(lower) ?? DEPRECATED.get(lower);
  if (exact !== undefined) {
    if (!plus) return exact;
    return exact.endsWith('-only') ? exact.replace(/-only$/, '-or-later') : `${exact}+`;
  }
  return corrected(name);
}

function corrected(text: string): string | undefined {
  // spdx-correct reads a whole string as one misspelt license, so a list of names ("MIT BSD
  // GPL2+") comes back as one of them (BSD-2-Clause): two or more known names are a list, not a typo.
  if (text.split(/[\s,;/]+/).filter((t) => t !== '' && knownName(t) !== undefined).length >= 2) return undefined;
  let guess: string | null;
  try {
    guess = spdxCorrect(text);
  } catch {
    return undefined;
  }
  if (guess === null || tryParse(guess) === undefined) return undefined;
  // …and it drops the qualifier that makes a different license: "GNU Lesser General Public
  // License v2 or later (LGPLv2+)" is not GPL-2.0-or-later.
  if (/^GPL-/.test(guess) && /lesser|library|lgpl|affero|agpl/i.test(text)) return undefined;
  // spdx-correct fills in versions the text never gave ("BSD" → BSD-2-Clause, "LGPL" →
  // LGPL-3.0-or-later): a wrong precise license is worse than an honest LicenseRef.
  const wanted = firstVersion(text);
  if (wanted !== firstVersion(guess)) return undefined;
  // …and it picks -only / -or-later by its own taste ("GPL-3.0" → GPL-3.0-or-later); the text decides.
  const later = /\+|or[ -]later|any later/i.test(text);
  if (guess.endsWith('-or-later') && !later) return guess.replace(/-or-later$/, '-only');
  if (guess.endsWith('-only') && later) return guess.replace(/-only$/, '-or-later');
  return guess;
}

/** First number in the text with trailing `.0`s dropped, so "2", "v2" and "2.0" compare equal. */
function firstVersion(text: string): string | undefined {
  const m = /\d+(?:\.\d+)*/.exec(text);
  return m === null ? undefined : m[0].replace(/(?:\.0)+$/, '');
}

/**
 * DEP-5 license syntax (copyright-format 1.0, "License specification"): names joined by `and` /
 * `or`, a comma before an operator lowering its precedence (`A or B, and C` = `(A OR B) AND C`),
 * `X with Y exception`. Free text without operators goes through `normalizeName` whole.
 * Returns undefined only when nothing in the value is a license name.
 */
function fromDep5(raw: string, unknown: Set<string>): string | undefined {
  // "GPL v3 or later" is one license, not `GPL v3` OR `later`: fold the phrase into DEP-5's `+`.
  const value = raw.replace(/\s+or\s+(?:\(at your option\)\s+)?(?:any\s+)?later(?:\s+version)?\b/gi, '+');
  const groups = splitKeepingOperators(value, /,\s*(and|or)\s+/gi);
  if (groups.length === 1 && !/\s(and|or)\s/i.test(value) && !/\swith\s/i.test(value)) {
    const single = normalizeName(value);
    return single === undefined ? undefined : canonical(single);
  }
  let recognised = false;
  const termUnknown = new Set<string>();
  const groupExprs = groups.map((g) => {
    if (g.op !== undefined) return g.op;
    const terms = splitKeepingOperators(g.text, /\s+(and|or)\s+/gi);
    return `(${terms
      .map((t) => {
        if (t.op !== undefined) return t.op;
        const term = termToSpdx(t.text, termUnknown);
        if (term.known) recognised = true;
        return term.expr;
      })
      .join(' ')})`;
  });
  // Nothing recognised: not a DEP-5 expression after all ("Public domain or what you like").
  if (!recognised) return undefined;
  for (const u of termUnknown) unknown.add(u);
  return canonical(groupExprs.join(' '));
}

interface Piece {
  text: string;
  /** Set for operator pieces: `AND` / `OR`. */
  op?: string;
}

function splitKeepingOperators(text: string, re: RegExp): Piece[] {
  const out: Piece[] = [];
  let last = 0;
  for (const m of text.matchAll(re)) {
    out.push({ text: text.slice(last, m.index).trim() });
    out.push({ text: m[0], op: m[1]!.toUpperCase() });
    last = m.index + m[0].length;
  }
  out.push({ text: text.slice(last).trim() });
  return out;
}

/** One DEP-5 term, `GPL-2+` or `GPL-2+ with OpenSSL exception`, as a parenthesised SPDX piece. */
function termToSpdx(term: string, unknown: Set<string>): { expr: string; known: boolean } {
  const m = /^(.*?)\s+with\s+(.+?)(?:\s+exception)?$/i.exec(term);
  if (m !== null) {
    const license = normalizeName(m[1]!);
    const exception = exceptionId(m[2]!);
    if (license !== undefined && exception !== undefined && !license.includes(' ')) {
      return { expr: `(${license} WITH ${exception})`, known: true };
    }
  } else {
    const license = normalizeName(term);
    if (license !== undefined) return { expr: `(${license})`, known: true };
  }
  unknown.add(term);
  return { expr: licenseRef(term), known: false };
}

/** DEP-5 writes the exception keyword loosely (`OpenSSL`, `GCC-exception-3.1`, `Font`). */
function exceptionId(keyword: string): string | undefined {
  const k = keyword.trim().toLowerCase();
  const direct = EXCEPTIONS.get(k) ?? EXCEPTIONS.get(`${k}-exception`);
  if (direct !== undefined) return direct;
  const prefixed = EXCEPTION_IDS.filter((id) => id.toLowerCase().startsWith(`${k}-exception-`));
  return prefixed.length === 1 ? prefixed[0] : undefined;
}

/** Parse and re-serialise, so every result has one spelling; a failure here is a bug, not input. */
function canonical(expr: string): string {
  return serialize(upgrade(parseSpdx(expr)));
}

/**
 * `LicenseRef-<text>` with everything outside SPDX's idstring alphabet ([A-Za-z0-9.-]) turned into
 * `-`, capped in length so a pasted licence text does not become a 10 kB identifier.
 */
export function licenseRef(text: string): string {
  const id = text
    .replace(/[^A-Za-z0-9.-]+/g, '-')
    .replace(/-+/g, '-')
    .replace(/^[-.]+|[-.]+$/g, '')
    .slice(0, 64)
    .replace(/[-.]+$/, '');
  return `LicenseRef-${id === '' ? 'unknown' : id}`;
}
