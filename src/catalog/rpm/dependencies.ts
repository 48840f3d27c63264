/**
 * rpm `Requires` resolved against what is installed, to package ids. A requirement is satisfied by a
 * package of that name, a package that `Provides` it, or a package owning that file path (rpm adds
 * file requirements like `/usr/bin/sh`, satisfied by the file list). Version constraints are not
 * checked: rpm refused anything that would not satisfy them. Like syft (redhat/dependency.go), every
 * provider gets an edge, self-edges are dropped, and rich (boolean) dependencies `(a or b)` are
 * skipped; `rpmlib(...)` requirements are rpm's own features, never a package.
 */
export class RpmDependencyIndex {
  private readonly providers = new Map<string, Set<string>>();

  add(id: string, name: string, provides: readonly string[], files: readonly string[]): void {
    this.provide(name, id);
    for (const p of provides) if (p !== '') this.provide(p, id);
    for (const f of files) this.provide(f, id);
  }

  resolve(id: string, requires: readonly string[]): string[] {
    const out = new Set<string>();
    for (const raw of requires) {
      const r = raw.trim();
      if (r === '' || r.startsWith('(') || r.startsWith('rpmlib(')) continue;
      for (const provider of this.providers.get(r) ?? []) if (provider !== id) out.add(provider);
    }
    return [...out].sort();
  }

  private provide(capability: string, id: string): void {
    let set = this.providers.get(capability);
    if (set === undefined) this.providers.set(capability, (set = new Set()));
    set.add(id);
  }
}
