/**
 * Output format names and syft's `-o FORMAT[=FILE]` flag, without loading any encoder: the
 * CLI loads only the encoders a run asks for (cyclonedx-library alone costs ~100 ms to load).
 */
import type { SbomEncoder, SbomFormat } from './document.ts';
import { SbomError } from './errors.ts';

export const SBOM_FORMATS: readonly SbomFormat[] = [
  'spdx-json',
  'cyclonedx-json',
  'cyclonedx-json@1.7',
  'json',
  'table',
];

/** Names syft also accepts for the same outputs (versions spelled out). */
const ALIASES: Record<string, SbomFormat> = {
  'spdx-json@2.3': 'spdx-json',
  'cyclonedx-json@1.6': 'cyclonedx-json',
};

/** The canonical format a name means; FORMAT_UNKNOWN listing the formats otherwise. */
export function resolveFormat(id: string): SbomFormat {
  const key = id.trim().toLowerCase();
  const format = (SBOM_FORMATS as readonly string[]).includes(key) ? (key as SbomFormat) : ALIASES[key];
  if (format === undefined) {
    throw new SbomError('FORMAT_UNKNOWN', `unknown SBOM format "${id}": use one of ${SBOM_FORMATS.join(', ')}`);
  }
  return format;
}

export interface OutputTarget {
  format: SbomFormat;
  /** Where to write; undefined → stdout. */
  file?: string;
}

/**
 * `spdx-json` → stdout, `spdx-json=out/sbom.json` → that file. Split at the first `=`, so a file
 * name may itself contain `=`.
 */
export function parseOutputFlag(value: string): OutputTarget {
  const eq = value.indexOf('=');
  const name = (eq < 0 ? value : value.slice(0, eq)).trim();
  if (name === '') {
    throw new SbomError('OUTPUT_FLAG_INVALID', `-o "${value}": expected FORMAT[=FILE], e.g. spdx-json=sbom.spdx.json`);
  }
  const format = resolveFormat(name);
  if (eq < 0) return { format };
  const file = value.slice(eq + 1);
  if (file.trim() === '') {
    throw new SbomError('OUTPUT_FLAG_INVALID', `-o "${value}": no file after "="; write -o ${name} for stdout`);
  }
  return { format, file };
}

/** The encoder for a format, its module loaded on first use. */
export async function loadEncoder(id: string): Promise<SbomEncoder> {
  switch (resolveFormat(id)) {
    case 'spdx-json':
      return (await import('./spdx.ts')).spdxJsonEncoder;
    case 'cyclonedx-json':
      return (await import('./cyclonedx.ts')).cycloneDxJsonEncoder;
    case 'cyclonedx-json@1.7':
      return (await import('./cyclonedx.ts')).cycloneDx17JsonEncoder;
    case 'json':
      return (await import('./sigil-json.ts')).sigilJsonEncoder;
    case 'table':
      return (await import('./table.ts')).tableEncoder;
  }
}
