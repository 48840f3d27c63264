/**
 * `Depends` / `Pre-Depends` (Debian Policy §7.1) resolved against what is installed, to package
 * ids. Resolution is by name only: version constraints are not checked, because the question here
 * is "which installed package satisfies this", and dpkg already refused anything that would not.
 */
import type { Package } from '../package.ts';

interface Candidate {
  pkg: Package;
}

export class DependencyIndex {
  private readonly byName = new Map<string, Candidate[]>();
  private readonly providers = new Map<string, Candidate[]>();

  add(pkg: Package, provides: string | undefined): void {
    push(this.byName, pkg.name, { pkg });
    for (const p of splitList(provides)) push(this.providers, p.name, { pkg });
  }

  /**
   * Ids `pkg` depends on: for each comma-separated relation the first alternative (`a | b`) an
   * installed package, or else a package that `Provides:` it, satisfies. Sorted, without duplicates.
   */
  resolve(pkg: Package, fields: (string | undefined)[]): string[] {
    const out = new Set<string>();
    for (const field of fields) {
      for (const relation of (field ?? '').split(',')) {
        for (const alt of relation.split('|')) {
          const target = parseRelation(alt);
          if (target === undefined) continue;
          const hit =
            this.pick(this.byName.get(target.name), target.arch, pkg) ??
            this.pick(this.providers.get(target.name), target.arch, pkg);
          if (hit !== undefined) {
            if (hit.id !== pkg.id) out.add(hit.id);
            break;
          }
        }
      }
    }
    return [...out].sort();
  }

  /**
   * Among same-named candidates: an explicit `:arch` must match; otherwise prefer the depending
   * package's own architecture, then `all`, then any (a `Multi-Arch: foreign` tool serves every arch).
   */
  private pick(cands: Candidate[] | undefined, arch: string | undefined, from: Package): Package | undefined {
    if (cands === undefined || cands.length === 0) return undefined;
    if (arch !== undefined && arch !== 'any') return cands.find((c) => c.pkg.arch === arch)?.pkg;
    return (
      cands.find((c) => c.pkg.arch === from.arch)?.pkg ??
      cands.find((c) => c.pkg.arch === 'all')?.pkg ??
      [...cands].sort((a, b) => (a.pkg.id < b.pkg.id ? -1 : 1))[0]?.pkg
    );
  }
}

function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const list = m.get(k);
  if (list === undefined) m.set(k, [v]);
  else list.push(v);
}

/** `libc6:amd64 (>= 2.34) [amd64] <!nocheck>` → name and arch qualifier; version, arch lists and profiles dropped. */
export function parseRelation(text: string): { name: string; arch?: string } | undefined {
  const stripped = text
    .replace(/\([^)]*\)/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/<[^>]*>/g, ' ')
    .trim();
  const word = stripped.split(/\s+/)[0];
  if (word === undefined || word === '') return undefined;
  const colon = word.indexOf(':');
  return colon < 0 ? { name: word } : { name: word.slice(0, colon), arch: word.slice(colon + 1) };
}

function splitList(value: string | undefined): { name: string }[] {
  if (value === undefined) return [];
  return value
    .split(',')
    .map((p) => parseRelation(p))
    .filter((p) => p !== undefined);
}
