/**
 * Dependencies a distribution declares: `Requires-Dist` (core metadata 1.2+, PEP 508 strings) and,
 * for setuptools eggs, `requires.txt` (`[extra]` / `[:marker]` / `[extra:marker]` sections).
 * Only what the name needs: which requirements apply regardless of extras. Environment markers
 * (`python_version < "3.11"`) are not evaluated: the requirement is resolved against what is
 * installed, and a requirement whose marker did not hold is usually not installed.
 */

export interface Requirement {
  name: string;
  /** True when the requirement holds only with an extra (`; extra == 'docs'`), which no record says was chosen. */
  extraOnly: boolean;
}

const NAME = /^\s*([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)/;

/** `coverage[toml] (>=5.3) ; extra == 'cov'`, `requests>=2; python_version>"3"`, `pkg @ https://…`. */
export function parseRequirement(spec: string): Requirement | undefined {
  const m = NAME.exec(spec);
  if (m === null) return undefined;
  const semi = spec.indexOf(';');
  const marker = semi < 0 ? '' : spec.slice(semi + 1);
  return { name: m[1]!, extraOnly: /\bextra\s*==/.test(marker) };
}

/** `requires.txt`: lines before the first section apply always; `[:marker]` sections carry no extra. */
export function parseRequiresTxt(content: string): Requirement[] {
  const out: Requirement[] = [];
  let extraOnly = false;
  for (const raw of content.replace(/\r\n?/g, '\n').split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const section = /^\[(.*)\]$/.exec(line);
    if (section !== null) {
      extraOnly = !section[1]!.trim().startsWith(':');
      continue;
    }
    const r = parseRequirement(line);
    if (r !== undefined) out.push({ name: r.name, extraOnly: extraOnly || r.extraOnly });
  }
  return out;
}
