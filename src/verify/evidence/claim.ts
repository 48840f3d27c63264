import { IN_TOTO_PAYLOAD_TYPE, parseSimpleSigningPayload, parseStatement } from '../../sign/payloads/index.ts';
import type { Claim, InTotoClaim, SimpleSigningClaim } from './evidence.ts';

export function simpleSigningClaim(payload: Uint8Array): SimpleSigningClaim {
  const p = parseSimpleSigningPayload(payload);
  return {
    type: 'simple-signing',
    dockerReference: p.dockerReference,
    manifestDigest: p.manifestDigest,
    annotations: p.annotations,
  };
}

export function inTotoClaim(statement: Uint8Array): InTotoClaim {
  const s = parseStatement(statement);
  const claim: InTotoClaim = {
    type: 'in-toto',
    statementType: s._type,
    subjects: s.subject,
    predicateType: s.predicateType,
  };
  if (s.predicate !== undefined) claim.predicate = s.predicate;
  return claim;
}

/**
 * The claim of a DSSE payload, or a problem: cosign only accepts in-toto payloads in envelopes
 * (types.IntotoPayloadType), so any other payload type leaves the claim unread.
 */
export function envelopeClaim(payloadType: string, payload: Uint8Array, problems: string[]): Claim | undefined {
  if (payloadType !== IN_TOTO_PAYLOAD_TYPE) {
    problems.push(`DSSE payloadType is "${payloadType}", expected "${IN_TOTO_PAYLOAD_TYPE}"`);
    return undefined;
  }
  return tryRead(() => inTotoClaim(payload), problems);
}

/** Run a reader; a failure becomes a problem line instead of an exception. */
export function tryRead<T>(read: () => T, problems: string[]): T | undefined {
  try {
    return read();
  } catch (err) {
    problems.push(err instanceof Error ? err.message : String(err));
    return undefined;
  }
}
