/**
 * `D:` (depends) resolved against what is installed: a package's own name (`P:`) or anything it
 * provides (`p:`), which is how apk satisfies the shared-library (`so:libssl.so.1.1`) and command
 * (`cmd:ssl_client`) dependencies abuild generates. Version constraints are not checked: the
 * question is which installed package satisfies the dependency, and apk already refused anything
 * that would not.
 */
import type { Package } from '../package.ts';

/**
 * One `D:`/`p:` token → the name it is about: `so:libc.musl-x86_64.so.1`, `busybox=1.35.0-r17`,
 * `python3>=3.10`, `foo~1.2`, `bar@testing` (a repository pin). Undefined for conflicts (`!name`),
 * which are not dependencies.
 */
export function dependencyName(token: string): string | undefined {
  const t = token.trim();
  if (t === '' || t.startsWith('!')) return undefined;
  // The name ends where a version operator (=, <, >, ~) or a repository tag (@) starts.
  const name = /^[^=<>~@]+/.exec(t)?.[0];
  return name === undefined || name === '' ? undefined : name;
}

export function splitTokens(value: string | undefined): string[] {
  return value === undefined ? [] : value.split(/\s+/).filter((t) => t !== '');
}

export class ApkDependencyIndex {
  private readonly byName = new Map<string, Package>();
  private readonly providers = new Map<string, Package[]>();

  add(pkg: Package, provides: string | undefined): void {
    this.byName.set(pkg.name, pkg);
    for (const token of splitTokens(provides)) {
      const name = dependencyName(token);
      if (name === undefined) continue;
      const list = this.providers.get(name);
      if (list === undefined) this.providers.set(name, [pkg]);
      else list.push(pkg);
    }
  }

  /**
   * Ids `pkg` depends on, sorted, without duplicates or `pkg` itself. A name installed as a package
   * wins over providers of that name (apk's rule too); among several providers the smallest id is
   * taken, so output does not depend on database order.
   */
  resolve(pkg: Package, depends: string | undefined): { dependsOn: string[]; unresolved: string[] } {
    const out = new Set<string>();
    const unresolved: string[] = [];
    for (const token of splitTokens(depends)) {
      const name = dependencyName(token);
      if (name === undefined) continue;
      const hit =
        this.byName.get(name) ??
        [...(this.providers.get(name) ?? [])].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))[0];
      if (hit === undefined) unresolved.push(token);
      else if (hit.id !== pkg.id) out.add(hit.id);
    }
    return { dependsOn: [...out].sort(), unresolved };
  }
}
