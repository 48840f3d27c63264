import { readFile } from 'node:fs/promises';
import { SignError } from '../errors.ts';

/** Service URLs taken from a signing config (`--signing-config`), ready for keylessSigner/witnesses. */
export interface SigningServices {
  fulcioUrl?: string;
  rekorUrl?: string;
  tsaUrl?: string;
  oidcUrl?: string;
}

interface ServiceJson {
  url?: unknown;
  majorApiVersion?: unknown;
  validFor?: { start?: unknown; end?: unknown };
}

const MEDIA_TYPE_V02 = 'application/vnd.dev.sigstore.signingconfig.v0.2+json';

/**
 * The one service of a kind a client may use, per the signing config spec: highest API version
 * sigil speaks (`maxVersion`), currently valid, newest validity start, first listed on ties.
 */
function pick(list: unknown, kind: string, maxVersion: number, now: Date, file: string): string | undefined {
  if (list === undefined) return undefined;
  if (!Array.isArray(list)) throw new SignError('INVALID_OPTIONS', `${file}: ${kind} is not a list`);
  const usable = (list as ServiceJson[])
    .map((s, index) => {
      if (typeof s?.url !== 'string' || typeof s.majorApiVersion !== 'number') {
        throw new SignError('INVALID_OPTIONS', `${file}: ${kind}[${index}] needs a url and a majorApiVersion`);
      }
      const start = typeof s.validFor?.start === 'string' ? Date.parse(s.validFor.start) : NaN;
      const end = typeof s.validFor?.end === 'string' ? Date.parse(s.validFor.end) : Infinity;
      if (Number.isNaN(start)) {
        throw new SignError('INVALID_OPTIONS', `${file}: ${kind}[${index}] needs validFor.start (RFC 3339)`);
      }
      return { url: s.url, version: s.majorApiVersion, start, end, index };
    })
    .filter((s) => s.version <= maxVersion && s.start <= now.getTime() && now.getTime() < s.end);
  if (usable.length === 0) return undefined;
  const best = Math.max(...usable.map((s) => s.version));
  usable.sort((a, b) => b.start - a.start || a.index - b.index);
  return usable.find((s) => s.version === best)?.url;
}

/**
 * Reads a signing config v0.2 file (what cosign v3 gets from TUF; `--signing-config`). Rekor is
 * limited to API v1 because sigil's Rekor v2 path is not tested against a server; a config that
 * lists only v2 logs leaves `rekorUrl` unset, and the caller says so.
 */
export async function signingConfigFrom(file: string, now = new Date()): Promise<SigningServices> {
  let doc: unknown;
  try {
    doc = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new SignError('INVALID_OPTIONS', `reading signing config ${file}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const c = doc as Record<string, unknown>;
  if (typeof doc !== 'object' || doc === null || c.mediaType !== MEDIA_TYPE_V02) {
    throw new SignError(
      'INVALID_OPTIONS',
      `${file}: expected a signing config with mediaType ${MEDIA_TYPE_V02}, got ${JSON.stringify(c?.mediaType)}`,
    );
  }
  for (const [key, label] of [
    ['rekorTlogConfig', 'Rekor'],
    ['tsaConfig', 'TSA'],
  ] as const) {
    const selector = (c[key] as { selector?: unknown } | undefined)?.selector;
    if (selector !== undefined && selector !== 'ANY') {
      throw new SignError(
        'INVALID_OPTIONS',
        `${file}: ${label} selector ${String(selector)} is not supported (only ANY)`,
      );
    }
  }
  const services: SigningServices = {};
  const fulcioUrl = pick(c.caUrls, 'caUrls', 1, now, file);
  const rekorUrl = pick(c.rekorTlogUrls, 'rekorTlogUrls', 1, now, file);
  const tsaUrl = pick(c.tsaUrls, 'tsaUrls', 1, now, file);
  const oidcUrl = pick(c.oidcUrls, 'oidcUrls', 1, now, file);
  if (fulcioUrl) services.fulcioUrl = fulcioUrl;
  if (rekorUrl) services.rekorUrl = rekorUrl;
  if (tsaUrl) services.tsaUrl = tsaUrl;
  if (oidcUrl) services.oidcUrl = oidcUrl;
  return services;
}
