/** The output formats by name, and syft's `-o FORMAT[=FILE]` flag. */
import { cycloneDx17JsonEncoder, cycloneDxJsonEncoder } from './cyclonedx.ts';
import { type SbomEncoder, SbomError, type SbomFormat } from './document.ts';
import { sigilJsonEncoder } from './sigil-json.ts';
import { spdxJsonEncoder } from './spdx.ts';
import { tableEncoder } from './table.ts';

const ENCODERS: Record<SbomFormat, SbomEncoder> = {
  'spdx-json': spdxJsonEncoder,
  'cyclonedx-json': cycloneDxJsonEncoder,
  'cyclonedx-json@1.7': cycloneDx17JsonEncoder,
  json: sigilJsonEncoder,
  table: tableEncoder,
};

/** Names syft also accepts for the same outputs (versions spelled out). */
const ALIASES: Record<string, SbomFormat> = {
  'spdx-json@2.3': 'spdx-json',
  'cyclonedx-json@1.6': 'cyclonedx-json',
};

export const SBOM_FORMATS: readonly SbomFormat[] = Object.keys(ENCODERS) as SbomFormat[];

export function encoderFor(id: string): SbomEncoder {
  const key = id.trim().toLowerCase();
  const format = (Object.hasOwn(ENCODERS, key) ? key : ALIASES[key]) as SbomFormat | undefined;
  if (format === undefined) {
    throw new SbomError('FORMAT_UNKNOWN', `unknown SBOM format "${id}": use one of ${SBOM_FORMATS.join(', ')}`);
  }
  return ENCODERS[format];
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
  const format = encoderFor(name).id;
  if (eq < 0) return { format };
  const file = value.slice(eq + 1);
  if (file.trim() === '') {
    throw new SbomError('OUTPUT_FLAG_INVALID', `-o "${value}": no file after "="; write -o ${name} for stdout`);
  }
  return { format, file };
}
