/** The fields of a package.json (or a lock-file entry) that the package model needs. */
import { toSpdxExpression } from '../license.ts';

type Json = unknown;

const isObject = (v: Json): v is Record<string, Json> => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: Json): string | undefined => (typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined);

/**
 * npm's license forms (docs.npmjs.com "package.json", license): an SPDX expression string; the
 * deprecated `{type, url}` object; the deprecated `licenses: [{type}]` array, which meant "any of
 * these" and so becomes an OR (npm's own advice: `"license": "(MIT OR Apache-2.0)"`).
 */
export function npmLicense(manifest: Record<string, Json>): string | undefined {
  const names: string[] = [];
  const collect = (v: Json) => {
    if (Array.isArray(v)) v.forEach(collect);
    else if (isObject(v)) {
      const t = str(v.type) ?? str(v.name);
      if (t !== undefined) names.push(t);
    } else {
      const s = str(v);
      if (s !== undefined) names.push(s);
    }
  };
  collect(manifest.license);
  if (names.length === 0) collect(manifest.licenses);
  const each = [...new Set(names.map((n) => toSpdxExpression([n]).expression).filter((e) => e !== undefined))];
  if (each.length <= 1) return each[0];
  return toSpdxExpression([each.map((e) => `(${e})`).join(' OR ')]).expression;
}

/** `author`: `"Name <mail> (url)"` or `{name, email, url}` → `Name <mail>`, the form dpkg maintainers use. */
export function npmAuthor(manifest: Record<string, Json>): string | undefined {
  const a = manifest.author;
  if (typeof a === 'string') {
    const m = /^([^<(]*)(?:<([^>]*)>)?/.exec(a.trim());
    const name = m?.[1]?.trim();
    const mail = m?.[2]?.trim();
    if (name && mail) return `${name} <${mail}>`;
    return name || (mail ? `<${mail}>` : undefined);
  }
  if (isObject(a)) {
    const name = str(a.name);
    const mail = str(a.email);
    if (name && mail) return `${name} <${mail}>`;
    return name ?? (mail ? `<${mail}>` : undefined);
  }
  return undefined;
}

/** Names this package needs at run time: dependencies, optional and peer dependencies. */
export function npmDependencyNames(manifest: Record<string, Json>): string[] {
  const out = new Set<string>();
  for (const field of ['dependencies', 'optionalDependencies', 'peerDependencies']) {
    const deps = manifest[field];
    if (isObject(deps)) for (const name of Object.keys(deps)) out.add(name);
  }
  return [...out].sort();
}

export function asObject(v: Json): Record<string, Json> | undefined {
  return isObject(v) ? v : undefined;
}

export function jsonString(v: Json): string | undefined {
  return str(v);
}
