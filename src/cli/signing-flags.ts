/**
 * The signing flags `sign`, `attest` and `sbom --attest` share, named as cosign names them, and
 * how they become a signer plus witnesses. Library modules load only when a command runs.
 */
import type { KeyObject } from 'node:crypto';
import type { Signer, Witness } from '@sigstore/sign';
import type { Argv } from 'yargs';
import type { AttachScheme } from '../workflows/sign-image.ts';
import type { Context } from './context.ts';
import { UsageError } from './exit-codes.ts';
import { cliPasswordProvider } from './password.ts';

export interface SigningArgs {
  key?: string;
  'identity-token'?: string;
  'fulcio-url'?: string;
  'rekor-url'?: string;
  'timestamp-server-url'?: string;
  'signing-config'?: string;
  'tlog-upload': boolean;
  'rekor-entry-type': 'dsse' | 'intoto';
  attach: AttachScheme;
  recursive?: boolean;
}

export const DEFAULT_FULCIO_URL = 'https://fulcio.sigstore.dev';

export function signingFlags<T>(y: Argv<T>) {
  return y
    .option('key', {
      alias: 'k',
      type: 'string',
      describe:
        'cosign private key file (password from SIGIL_PASSWORD or COSIGN_PASSWORD, else a prompt); without it, keyless',
    })
    .option('identity-token', {
      type: 'string',
      describe: 'keyless: OIDC token, or a file holding it (else SIGSTORE_ID_TOKEN, else GitHub Actions)',
    })
    .option('fulcio-url', { type: 'string', describe: `keyless: Fulcio (default ${DEFAULT_FULCIO_URL})` })
    .option('rekor-url', { type: 'string', describe: 'Rekor transparency log (default https://rekor.sigstore.dev)' })
    .option('timestamp-server-url', { type: 'string', describe: 'RFC 3161 timestamp authority (none by default)' })
    .option('signing-config', {
      type: 'string',
      describe: 'Sigstore signing config (v0.2 JSON) naming the Fulcio, Rekor and TSA URLs',
    })
    .option('tlog-upload', {
      type: 'boolean',
      default: true,
      describe: 'write a transparency log entry (--tlog-upload=false: none, e.g. for a private registry)',
    })
    .option('rekor-entry-type', {
      choices: ['dsse', 'intoto'] as const,
      default: 'dsse' as const,
      describe: 'Rekor entry kind for attestations',
    })
    .option('attach', {
      choices: ['referrers', 'tag'] as const,
      default: 'referrers' as const,
      describe: "referrers: a Sigstore bundle as an OCI 1.1 referrer (cosign v3); tag: cosign's legacy .sig/.att tags",
    })
    .option('recursive', {
      alias: 'r',
      type: 'boolean',
      describe: 'also sign every platform manifest of a multi-platform index',
    });
}

export interface ResolvedSigning {
  signer: Signer;
  witnesses: Witness[];
  /** Key signing only: the duplicate check of the tag scheme needs it. */
  publicKey?: KeyObject;
  /** `key` or the keyless identity, for the report. */
  identity: string;
}

export async function resolveSigning(ctx: Context, a: SigningArgs): Promise<ResolvedSigning> {
  const { signers, keys, identity } = await loadSigningModules();
  let urls: { fulcioUrl?: string; rekorUrl?: string; tsaUrl?: string } = {};
  if (a['signing-config']) urls = await signers.signingConfigFrom(a['signing-config']);
  const fulcioUrl = a['fulcio-url'] ?? urls.fulcioUrl ?? DEFAULT_FULCIO_URL;
  const rekorUrl = a['rekor-url'] ?? urls.rekorUrl;
  const tsaUrl = a['timestamp-server-url'] ?? urls.tsaUrl;
  const witnesses = signers.witnesses({
    ...(rekorUrl ? { rekorUrl } : {}),
    tlogUpload: a['tlog-upload'],
    ...(tsaUrl ? { tsaUrl } : {}),
    rekorEntryType: a['rekor-entry-type'],
  });
  if (a.key !== undefined) {
    if (a['identity-token'] !== undefined) throw new UsageError('--key and --identity-token exclude each other');
    const privateKey = await keys.loadPrivateKey(a.key, cliPasswordProvider(ctx.io, a.key));
    const { createPublicKey } = await import('node:crypto');
    return {
      signer: signers.keySigner(privateKey),
      witnesses,
      publicKey: createPublicKey(privateKey),
      identity: `key ${a.key}`,
    };
  }
  const token = await identity.resolveIdentityToken({
    ...(a['identity-token'] !== undefined ? { identityToken: a['identity-token'] } : {}),
    env: ctx.io.env,
    signal: ctx.signal,
  });
  const who = token.claims.email ?? token.claims.sub ?? 'unknown subject';
  return {
    signer: signers.keylessSigner({ fulcioUrl, identityToken: token.token }),
    witnesses,
    identity: `${who} (issuer ${token.claims.iss}, token from ${token.source})`,
  };
}

async function loadSigningModules() {
  const [signers, keys, identity] = await Promise.all([
    import('../sign/signers/index.ts'),
    import('../sign/keys/index.ts'),
    import('../sign/identity/index.ts'),
  ]);
  return { signers, keys, identity };
}

/** `--predicate FILE --type T` as cosign's attest and attest-blob take them. */
export function predicateFlags<T>(y: Argv<T>) {
  return y
    .option('predicate', { type: 'string', demandOption: true, describe: 'file holding the predicate' })
    .option('type', {
      type: 'string',
      default: 'custom',
      describe:
        'custom, spdx, spdxjson, cyclonedx, slsaprovenance, slsaprovenance02, slsaprovenance1, link, vuln, openvex, or a predicate type URI',
    });
}

/**
 * The predicate type for `--type` and the predicate from the file's bytes: cosign's `custom`
 * wrapper for `custom`, else a JSON object (a usage error naming the file otherwise).
 */
export async function readPredicate(
  type: string,
  bytes: Uint8Array,
  file: string,
): Promise<{ predicateType: string; predicate: unknown }> {
  const { customPredicate, predicateTypeFor } = await import('../sign/payloads/in-toto.ts');
  const predicateType = predicateTypeFor(type);
  if (type === 'custom') return { predicateType, predicate: customPredicate(bytes, new Date()) };
  let predicate: unknown;
  try {
    predicate = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (e) {
    throw new UsageError(`--predicate ${file}: not JSON (${(e as Error).message})`);
  }
  if (typeof predicate !== 'object' || predicate === null || Array.isArray(predicate)) {
    throw new UsageError(`--predicate ${file}: a ${type} predicate must be a JSON object`);
  }
  return { predicateType, predicate };
}
