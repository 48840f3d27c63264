/** Every output format's encoder by name, loaded together (for library use). */
import { cycloneDx17JsonEncoder, cycloneDxJsonEncoder } from './cyclonedx.ts';
import type { SbomEncoder, SbomFormat } from './document.ts';
import { resolveFormat } from './formats.ts';
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

export { type OutputTarget, parseOutputFlag, SBOM_FORMATS } from './formats.ts';

/** The encoder for a format name, synchronously (every encoder loaded); the CLI uses `loadEncoder`. */
export function encoderFor(id: string): SbomEncoder {
  return ENCODERS[resolveFormat(id)];
}
