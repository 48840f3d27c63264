import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * `shared/vectors`, which sits beside the repository (CI clones main next to shared/).
 * SIGIL_SHARED_DIR moves it for a checkout kept elsewhere.
 */
export const VECTORS_DIR = process.env.SIGIL_SHARED_DIR
  ? join(process.env.SIGIL_SHARED_DIR, 'vectors')
  : fileURLToPath(new URL('../../../shared/vectors/', import.meta.url));

/** Real package databases with their expected package lists (shared/vectors/sbom/README.md). */
export const SBOM_VECTORS = join(VECTORS_DIR, 'sbom');
