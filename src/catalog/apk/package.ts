/** One apk installed-database record → the shared package model (everything but provenance and dependencies). */
import parseSpdx from 'spdx-expression-parse';
import type { Digest } from '../../oci/digest.ts';
import { toSpdxExpression } from '../license.ts';
import type { Distro, Package } from '../package.ts';
import { apkPurl } from '../purl.ts';
import type { ApkRecord } from './parse-installed.ts';

/** Ids are readable and stable across runs: the same name, version and arch give the same id. */
export function apkPackageId(name: string, version: string, arch: string | undefined): string {
  return arch === undefined ? `apk:${name}@${version}` : `apk:${name}@${version}:${arch}`;
}

/**
 * `L:` as Alpine writes it. Since 3.x most values are SPDX expressions (`MPL-2.0 AND MIT`), older
 * ones are space-separated names (`MIT BSD GPL2+`), and apk-tools cuts long values off mid-way,
 * leaving a dangling operator (`GPL-3.0-or-later AND GPL-2.0-or-later AND GPL-2.0-only AND`).
 * Like syft: the value is kept whole when it parses as an SPDX expression, otherwise each
 * space-separated name is normalised on its own and the names are ANDed.
 */
export function apkLicense(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  const value = raw
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/^(?:(?:AND|OR|WITH)\s+)+|(?:\s+(?:AND|OR|WITH))+$/gi, '')
    .trim();
  if (value === '') return undefined;
  if (parses(value)) return toSpdxExpression([value]).expression;
  // `GPL-2.0-or-later AND Public-Domain AND …`: SPDX structure around names that are not ids. Keep
  // the structure (an OR must stay an OR) and normalise each name.
  if (/\s(?:AND|OR)\s/.test(value)) {
    const rebuilt = value
      .split(/(\s+|[()])/)
      .map((t) =>
        t.trim() === '' || /^(?:AND|OR|WITH|[()])$/.test(t) ? t : `(${toSpdxExpression([t]).expression ?? ''})`,
      )
      .join('');
    if (parses(rebuilt)) return toSpdxExpression([rebuilt]).expression;
  }
  const names = value.split(' ').filter((t) => !/^(?:and|or|with)$/i.test(t));
  return toSpdxExpression(names).expression;
}

function parses(value: string): boolean {
  try {
    parseSpdx(value);
    return true;
  } catch {
    return false;
  }
}

/**
 * Where the record's paths are rooted: `F:` lines are relative to apk's `--root`, which is the
 * directory holding `lib/apk/db/installed` (or `usr/lib/apk/db/installed` since apk-tools moved
 * the database under /usr). `/` for an ordinary image.
 */
export function apkRoot(dbPath: string): string {
  const m = /^(.*?\/)(?:usr\/)?lib\/apk\/db\/installed$/.exec(dbPath);
  return m?.[1] ?? '/';
}

/**
 * Record fields kept for the JSON output, under the names syft's ApkDBEntry uses; the file list
 * and description are not (the files are in `Package.files`).
 */
const METADATA_FIELDS: readonly [string, string][] = [
  ['o', 'originPackage'],
  ['U', 'url'],
  ['c', 'gitCommit'],
  ['S', 'size'],
  ['I', 'installedSize'],
  ['C', 'pullChecksum'],
  ['D', 'pullDependencies'],
  ['p', 'provides'],
  ['i', 'installIf'],
];

export interface RecordPackageInput {
  record: ApkRecord;
  dbPath: string;
  dbLayer: Digest;
  distro: Distro | undefined;
}

/** Undefined when the record lacks `P:` or `V:` (the caller warns). */
export function packageFromRecord({ record, dbPath, dbLayer, distro }: RecordPackageInput): Package | undefined {
  const f = record.fields;
  const name = f.get('P')?.trim();
  const version = f.get('V')?.trim();
  if (!name || !version) return undefined;
  const arch = f.get('A')?.trim() || undefined;
  const origin = f.get('o')?.trim() || undefined;
  const pkg: Package = {
    id: apkPackageId(name, version, arch),
    type: 'apk',
    name,
    version,
    purl: apkPurl({ name, version, arch, origin }, distro),
    locations: [{ path: dbPath, layerDiffId: dbLayer }],
  };
  if (arch !== undefined) pkg.arch = arch;
  const license = apkLicense(f.get('L'));
  if (license !== undefined) pkg.license = license;
  const maintainer = f.get('m')?.trim();
  if (maintainer) pkg.supplier = maintainer;
  // Every record names its origin (the aport it was built from); the model keeps it only when it differs.
  if (origin !== undefined && origin !== name) pkg.sourceName = origin;
  const metadata: Record<string, string> = {};
  for (const [letter, key] of METADATA_FIELDS) {
    const v = f.get(letter)?.trim();
    if (v !== undefined && v !== '') metadata[key] = v;
  }
  const rawLicense = f.get('L')?.trim();
  if (rawLicense) metadata.license = rawLicense;
  if (Object.keys(metadata).length > 0) pkg.metadata = metadata;
  return pkg;
}
