/**
 * An identity of the code that is running, for caches whose entries are only valid for the code
 * that made them (the SBOM result cache: any change to a cataloger, the squash or the merge must
 * miss). `npm run build` writes it next to the compiled code (scripts/build-id.mjs hashes every
 * file of dist/); run from source (tests), the source files are hashed here instead, once.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BUILD_ID_FILE = 'build-id.json';

let memo: Promise<string> | undefined;

export function buildId(): Promise<string> {
  memo ??= readBuildId();
  return memo;
}

async function readBuildId(): Promise<string> {
  const root = fileURLToPath(new URL('.', import.meta.url));
  try {
    const doc = JSON.parse(await readFile(join(root, BUILD_ID_FILE), 'utf8')) as { id?: unknown };
    if (typeof doc.id === 'string' && doc.id) return doc.id;
  } catch {
    // No build id beside the code: running from source.
  }
  return hashTree(root);
}

/** sha256 over every file's path and content below `root` (sorted; the build id itself left out). */
async function hashTree(root: string): Promise<string> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  const files = entries
    .filter((e) => e.isFile() && e.name !== BUILD_ID_FILE)
    .map((e) => join(e.parentPath, e.name).slice(root.length))
    .sort();
  const h = createHash('sha256');
  for (const f of files)
    h.update(`${f}\0`)
      .update(await readFile(join(root, f)))
      .update('\0');
  return h.digest('hex');
}
