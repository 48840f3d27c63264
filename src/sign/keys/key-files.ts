import { randomBytes } from 'node:crypto';
import { link, open, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { SignError } from '../errors.ts';

export interface WriteKeyPairOptions {
  /** Replace existing files (cosign asks; sigil refuses unless told). */
  force?: boolean;
}

export interface KeyPairFiles {
  privateKey: string;
  publicKey: string;
}

/**
 * Writes `<prefix>.key` (mode 0600 from creation: the key never exists with wider
 * permissions) and `<prefix>.pub` (0644, as cosign). Each file is written to a temporary
 * name beside it and moved into place, so a crash leaves either the old file or the new.
 * Without `force`, an existing file is a KEY_WRITE error and nothing is written.
 */
export async function writeKeyPair(
  prefix: string,
  pems: { privateKey: string; publicKey: string },
  options: WriteKeyPairOptions = {},
): Promise<KeyPairFiles> {
  const files = keyPairFiles(prefix);
  if (!options.force) await assertKeyPairAbsent(prefix);
  await writeKeyFile(files.privateKey, pems.privateKey, 0o600, options.force === true);
  try {
    await writeKeyFile(files.publicKey, pems.publicKey, 0o644, options.force === true);
  } catch (e) {
    // A lone private key whose public half failed to appear would only confuse; take it back.
    if (!options.force) await unlink(files.privateKey).catch(() => undefined);
    throw e;
  }
  return files;
}

/** The file names cosign uses for a prefix: `<prefix>.key` and `<prefix>.pub`. */
export function keyPairFiles(prefix: string): KeyPairFiles {
  return { privateKey: `${prefix}.key`, publicKey: `${prefix}.pub` };
}

/**
 * KEY_WRITE if either file of the pair exists; lets a CLI fail before asking for a password.
 * writeKeyPair checks again (and atomically) when it writes.
 */
export async function assertKeyPairAbsent(prefix: string): Promise<void> {
  const files = keyPairFiles(prefix);
  for (const path of [files.privateKey, files.publicKey]) {
    if (await exists(path)) {
      throw new SignError('KEY_WRITE', `${path} already exists; remove it or pass --force to overwrite it`);
    }
  }
}

/** Writes one file atomically with `mode` set at creation; `replace` allows overwriting. */
export async function writeKeyFile(path: string, contents: string, mode: number, replace: boolean): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    // 'wx': never follow or reuse something already at the temporary name.
    const fh = await open(tmp, 'wx', mode);
    try {
      await fh.writeFile(contents);
      await fh.sync();
    } finally {
      await fh.close();
    }
    if (replace) {
      await rename(tmp, path);
    } else {
      // link() fails if the target appeared since the check above; rename() would clobber it.
      await link(tmp, path);
      await unlink(tmp);
    }
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST')
      throw new SignError('KEY_WRITE', `${path} already exists; remove it or pass --force`, { cause: e });
    throw new SignError('KEY_WRITE', `cannot write ${path} (${code ?? String(e)})`, { cause: e });
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw new SignError('KEY_WRITE', `cannot check ${path} (${(e as NodeJS.ErrnoException).code})`, { cause: e });
  }
}
