/**
 * What the layer walk should keep for a set of catalogers: the paths they read and the binaries
 * they look into. Built from cataloger names so a worker thread can build the same selection
 * from plain data (functions do not cross threads); generate.ts uses it in-thread too.
 */
import type { Cataloger } from '../catalog/cataloger.ts';
import { apkCataloger } from '../catalog/apk/cataloger.ts';
import { composerCataloger } from '../catalog/composer/cataloger.ts';
import { dpkgCataloger } from '../catalog/dpkg/cataloger.ts';
import { goBinaryCataloger } from '../catalog/go/cataloger.ts';
import { javaCataloger } from '../catalog/java/cataloger.ts';
import { npmCataloger } from '../catalog/npm/cataloger.ts';
import { osReleaseWants } from '../catalog/os-release.ts';
import { pythonCataloger } from '../catalog/python/cataloger.ts';
import { rpmCataloger } from '../catalog/rpm/cataloger.ts';
import { gemCataloger } from '../catalog/ruby/cataloger.ts';
import { rustAuditCataloger } from '../catalog/rust/cataloger.ts';
import type { NamedExtractor } from '../filesystem/content-extractor.ts';

export const DEFAULT_CATALOGERS: readonly Cataloger[] = [
  dpkgCataloger,
  apkCataloger,
  rpmCataloger,
  pythonCataloger,
  npmCataloger,
  javaCataloger,
  gemCataloger,
  composerCataloger,
  goBinaryCataloger,
  rustAuditCataloger,
];

/** Plain data: what crosses to a worker. */
export interface SelectorSpec {
  /** Names of DEFAULT_CATALOGERS entries. */
  catalogers: readonly string[];
  /** Paths left out with everything below them (no trailing slash). */
  exclude: readonly string[];
}

export interface Selection {
  wants: (path: string) => boolean;
  extractors: NamedExtractor[];
}

export function selectionFor(catalogers: readonly Cataloger[], exclude: readonly string[]): Selection {
  const excluded = (path: string) => exclude.some((p) => path === p || path.startsWith(`${p}/`));
  return {
    wants: (path) => !excluded(path) && (osReleaseWants(path) || catalogers.some((c) => c.wants(path))),
    extractors: catalogers.flatMap((c) => {
      const x = c.extractor;
      return x === undefined
        ? []
        : [{ name: c.name, extractor: { wants: (f) => !excluded(f.path) && x.wants(f), start: (f) => x.start(f) } }];
    }),
  };
}

/** The selection for a spec; throws on a name that is not a default cataloger. */
export function createSelection(spec: SelectorSpec): Selection {
  const catalogers = spec.catalogers.map((name) => {
    const c = DEFAULT_CATALOGERS.find((d) => d.name === name);
    if (c === undefined) throw new Error(`no default cataloger named ${name}`);
    return c;
  });
  return selectionFor(catalogers, spec.exclude);
}
