/**
 * One package entry as Composer writes it in vendor/composer/installed.json and composer.lock (the
 * same shape in both: Composer's ArrayDumper), reduced to what the package model needs.
 */
import { toSpdxExpression } from '../license.ts';
import { buildPurl } from '../purl.ts';

type Json = unknown;

const isObject = (v: Json): v is Record<string, Json> => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: Json): string | undefined => (typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined);

export interface ComposerEntry {
  /** `vendor/package`, lower-case as Composer requires of package names. */
  name: string;
  /** As written (`v1.27.0` keeps its `v`, as syft keeps it; `version_normalized` is Composer's own sort key). */
  version: string;
  license?: string;
  supplier?: string;
  /** Package names required at run time, platform requirements removed, lower-cased. */
  requires: string[];
  /** Names this package also answers to: its `replace` and `provide` keys, lower-cased. */
  provides: string[];
  distUrl?: string;
  dev: boolean;
}

/**
 * Platform packages (getcomposer.org/doc/01-basic-usage.md, "Platform packages"): the PHP runtime
 * and its extensions and system libraries, and Composer itself. They are satisfied by the runtime,
 * not by a package of the vendor tree, so they are no dependency edges.
 */
export function isPlatformRequirement(name: string): boolean {
  const n = name.toLowerCase();
  return (
    /^php(-64bit|-ipv6|-zts|-debug)?$/.test(n) ||
    n === 'hhvm' ||
    n.startsWith('ext-') ||
    n.startsWith('lib-') ||
    n === 'composer' ||
    n === 'composer-plugin-api' ||
    n === 'composer-runtime-api'
  );
}

/**
 * `license` is an array in installed.json and composer.lock (a composer.json may hold a string).
 * Several entries mean the user may pick any of them (getcomposer.org/doc/04-schema.md#license:
 * `["LGPL-2.1-only", "GPL-3.0-or-later"]` is a disjunctive licence), so they are joined with OR.
 */
export function composerLicense(license: Json): string | undefined {
  const names = (Array.isArray(license) ? license : [license]).map(str).filter((s) => s !== undefined);
  const each = [...new Set(names.map((n) => toSpdxExpression([n]).expression).filter((e) => e !== undefined))];
  if (each.length <= 1) return each[0];
  return toSpdxExpression([each.map((e) => `(${e})`).join(' OR ')]).expression;
}

/** The first of `authors` as `Name <mail>`, the form the other catalogers give a supplier. */
export function composerSupplier(authors: Json): string | undefined {
  if (!Array.isArray(authors)) return undefined;
  const first: Json = authors[0];
  if (!isObject(first)) return undefined;
  const name = str(first.name);
  const mail = str(first.email);
  if (name !== undefined && mail !== undefined) return `${name} <${mail}>`;
  return name ?? (mail !== undefined ? `<${mail}>` : undefined);
}

/**
 * An entry of `packages`/`packages-dev`, or undefined (with the reason) when it has no name or
 * version: without both there is nothing to identify.
 */
export function parseComposerEntry(v: Json, dev: boolean): ComposerEntry | string {
  if (!isObject(v)) return 'package entry is not an object';
  const name = str(v.name)?.toLowerCase();
  const version = str(v.version);
  if (name === undefined || version === undefined)
    return `package entry without name or version (${str(v.name) ?? '?'})`;
  const keys = (field: Json) => (isObject(field) ? Object.keys(field).map((k) => k.toLowerCase()) : []);
  const entry: ComposerEntry = {
    name,
    version,
    requires: [...new Set(keys(v.require).filter((n) => !isPlatformRequirement(n)))].sort(),
    provides: [...new Set([...keys(v.replace), ...keys(v.provide)])].sort(),
    dev,
  };
  const license = composerLicense(v.license);
  if (license !== undefined) entry.license = license;
  const supplier = composerSupplier(v.authors);
  if (supplier !== undefined) entry.supplier = supplier;
  const distUrl = isObject(v.dist) ? str(v.dist.url) : undefined;
  if (distUrl !== undefined) entry.distUrl = distUrl;
  return entry;
}

/**
 * `pkg:composer/<vendor>/<name>@<version>`; a name with more than two parts keeps the first as the
 * vendor and joins the rest with `-`, and a name without `/` has no namespace (syft's packageURL).
 */
export function composerPurl(name: string, version: string): string {
  const parts = name.split('/');
  if (parts.length === 1) return buildPurl('composer', undefined, name, version);
  return buildPurl('composer', parts[0], parts.slice(1).join('-'), version);
}

export function composerPackageId(name: string, version: string): string {
  return `composer:${name}@${version}`;
}
