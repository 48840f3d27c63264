import { createHash } from 'node:crypto';
import { VerifyError } from '../errors.ts';
import type { Evidence } from './evidence.ts';
import { isObject } from './rekor-bundle.ts';

/**
 * The body check @sigstore/verify 4 cannot do: Rekor `intoto` v0.0.1 entries, what cosign ≤ 2.1
 * wrote for every `.att` layer (sigstore-js reads only intoto 0.0.2 and rejects 0.0.1 with
 * "unsupported intoto version"). As cosign does (cosign-formats.md §6.2 (c), §7.1): the entry's
 * `content.hash` must be sha256 of the envelope bytes as stored and `payloadHash` sha256 of the
 * statement. Other kinds are left to @sigstore/verify; returns how many entries were checked here.
 */
export function checkLegacyTlogBody(evidence: Evidence): number {
  let checked = 0;
  for (const entry of evidence.bundle?.verificationMaterial.tlogEntries ?? []) {
    const { kind, version } = entry.kindVersion ?? { kind: '', version: '' };
    if (kind !== 'intoto' || version !== '0.0.1') continue;
    const body: unknown = JSON.parse(Buffer.from(entry.canonicalizedBody).toString('utf8'));
    const spec = isObject(body) ? body['spec'] : undefined;
    const content = isObject(spec) ? spec['content'] : undefined;
    const hash = isObject(content) && isObject(content['hash']) ? content['hash']['value'] : undefined;
    const payloadHash =
      isObject(content) && isObject(content['payloadHash']) ? content['payloadHash']['value'] : undefined;
    const where = `Rekor intoto entry ${entry.logIndex} (${evidence.source.description})`;
    if (!evidence.envelope || !evidence.payload) {
      throw new VerifyError('TLOG_BODY_MISMATCH', `${where}: no envelope bytes to compare`);
    }
    const envelopeHash = sha256Hex(evidence.envelope);
    if (hash !== envelopeHash) {
      throw new VerifyError(
        'TLOG_BODY_MISMATCH',
        `${where}: content hash is ${String(hash)}, envelope sha256 is ${envelopeHash}`,
      );
    }
    const statementHash = sha256Hex(evidence.payload);
    if (payloadHash !== statementHash) {
      throw new VerifyError(
        'TLOG_BODY_MISMATCH',
        `${where}: payloadHash is ${String(payloadHash)}, statement sha256 is ${statementHash}`,
      );
    }
    checked++;
  }
  return checked;
}

function sha256Hex(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}
