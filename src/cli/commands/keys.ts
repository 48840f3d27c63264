import { writeFile } from 'node:fs/promises';
import {
  assertKeyPairAbsent,
  encryptCosignKey,
  generateKeyPair,
  importKeyPair,
  loadPrivateKey,
  publicKeyPem,
  readKeyFile,
  writeKeyPair,
} from '../../sign/keys/index.ts';
import { SignError } from '../../sign/errors.ts';
import type { Command } from '../command.ts';
import type { Context } from '../context.ts';
import { ExitCode } from '../exit-codes.ts';
import { cliPasswordProvider } from '../password.ts';

interface GenerateArgs {
  'output-key-prefix': string;
  force: boolean;
}

interface ImportArgs extends GenerateArgs {
  key: string;
}

interface PublicKeyArgs {
  key: string;
  outfile?: string;
}

const PASSWORD_ENV = `Password: SIGIL_PASSWORD, else COSIGN_PASSWORD (set but empty = no password), else a prompt on the terminal.`;

/** Encrypts with a password from the usual sources, writes the pair, names the files. */
async function writeEncryptedPair(
  ctx: Context,
  privateKey: Parameters<typeof encryptCosignKey>[0],
  a: GenerateArgs,
): Promise<number> {
  const prefix = a['output-key-prefix'];
  // Fail on an existing file before asking anyone to type a password.
  if (!a.force) await assertKeyPairAbsent(prefix);
  const password = await cliPasswordProvider(ctx.io)(true);
  const files = await writeKeyPair(
    prefix,
    { privateKey: encryptCosignKey(privateKey, password), publicKey: publicKeyPem(privateKey) },
    { force: a.force },
  );
  // cosign's wording, on stderr, so scripts that grep cosign's output keep working.
  ctx.out.info(`Private key written to ${files.privateKey}`);
  ctx.out.info(`Public key written to ${files.publicKey}`);
  ctx.out.result(files, '');
  return ExitCode.Ok;
}

export const generateKeyPairCommand: Command = {
  register: (y, run) =>
    y.command(
      'generate-key-pair',
      'Generate an ECDSA P-256 key pair as cosign does: <prefix>.key (encrypted, 0600) and <prefix>.pub',
      (c) =>
        c
          .option('output-key-prefix', { type: 'string', default: 'cosign', describe: 'name used for the key files' })
          .option('force', {
            type: 'boolean',
            default: false,
            alias: 'yes',
            describe: 'overwrite existing key files',
          })
          .example('COSIGN_PASSWORD= $0 generate-key-pair', 'cosign.key with an empty password, and cosign.pub')
          .epilogue(PASSWORD_ENV),
      (argv) => run<GenerateArgs>(argv, async (ctx, a) => writeEncryptedPair(ctx, generateKeyPair().privateKey, a)),
    ),
};

export const importKeyPairCommand: Command = {
  register: (y, run) =>
    y.command(
      'import-key-pair',
      'Encrypt an existing PEM private key (PKCS#1, SEC1 or PKCS#8) as a cosign key pair',
      (c) =>
        c
          .option('key', {
            alias: 'k',
            type: 'string',
            demandOption: true,
            describe: 'unencrypted private key: RSA 2048/3072/4096, ECDSA P-256/384/521 or Ed25519',
          })
          .option('output-key-prefix', {
            type: 'string',
            default: 'import-cosign',
            describe: 'name used for the key files',
          })
          .option('force', {
            type: 'boolean',
            default: false,
            alias: 'yes',
            describe: 'overwrite existing key files',
          })
          .example('$0 import-key-pair --key key.pem', 'writes import-cosign.key and import-cosign.pub')
          .epilogue(PASSWORD_ENV),
      (argv) =>
        run<ImportArgs>(argv, async (ctx, a) => {
          const privateKey = importKeyPair(await readKeyFile(a.key), a.key);
          return writeEncryptedPair(ctx, privateKey, a);
        }),
    ),
};

export const publicKeyCommand: Command = {
  register: (y, run) =>
    y.command(
      'public-key',
      'Print (or write) the public key of a cosign private key file',
      (c) =>
        c
          .option('key', { type: 'string', demandOption: true, describe: 'cosign private key file' })
          .option('outfile', { type: 'string', describe: 'write the PEM here instead of stdout' })
          .example('$0 public-key --key cosign.key --outfile cosign.pub', 're-create a lost cosign.pub')
          .epilogue(PASSWORD_ENV),
      (argv) =>
        run<PublicKeyArgs>(argv, async (ctx, a) => {
          const key = await loadPrivateKey(a.key, cliPasswordProvider(ctx.io, a.key));
          const pem = publicKeyPem(key);
          if (a.outfile === undefined) {
            if (ctx.out.format === 'json') ctx.out.result({ publicKey: pem }, '');
            else ctx.out.raw(pem);
            return ExitCode.Ok;
          }
          try {
            await writeFile(a.outfile, pem, { mode: 0o644 });
          } catch (e) {
            throw new SignError('KEY_WRITE', `cannot write ${a.outfile} (${(e as NodeJS.ErrnoException).code})`, {
              cause: e,
            });
          }
          ctx.out.info(`Public key written to ${a.outfile}`);
          ctx.out.result({ publicKey: pem, file: a.outfile }, '');
          return ExitCode.Ok;
        }),
    ),
};

/** The three key commands, registered together: `COMMANDS` in main.ts lists this once. */
export const keysCommand: Command = {
  register: (y, run) =>
    publicKeyCommand.register(importKeyPairCommand.register(generateKeyPairCommand.register(y, run), run), run),
};
