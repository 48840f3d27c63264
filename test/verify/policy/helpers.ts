/**
 * Real evidence for the policy engine's tests: cosign-format signatures and DSSE attestations made
 * with node:crypto keys through sigil's own payload/bundle code, and a small key-only checker
 * (signature over payload or PAE, payload digest, tlog presence) standing in for check.ts.
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { AttachAnnotation, AttachMediaType } from '../../../src/attach/media-types.ts';
import { signingBundle } from '../../../src/sign/bundle-builder.ts';
import { pae } from '../../../src/sign/payloads/dsse.ts';
import { encodeBase64 } from '../../../src/sign/payloads/base64.ts';
import { IN_TOTO_PAYLOAD_TYPE, imageSubject, inTotoStatement } from '../../../src/sign/payloads/in-toto.ts';
import { simpleSigningPayload } from '../../../src/sign/payloads/simple-signing.ts';
import { signBytes, verifyBytes } from '../../../src/sign/raw-signature.ts';
import { keySigner } from '../../../src/sign/signers/key-signer.ts';
import type { Authority, CheckContext, CheckResult } from '../../../src/verify/authority.ts';
import { evidenceFromBundle, evidenceFromTagLayer, type Evidence } from '../../../src/verify/evidence/index.ts';

export function keyPair(): { privateKey: KeyObject; publicKey: KeyObject; pem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { privateKey, publicKey, pem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

/** A cosign `.sig` layer (simple signing) signed with `key`, read back as evidence. */
export function signatureEvidence(key: KeyObject, digest: string, annotations?: Record<string, string>): Evidence {
  const payload = simpleSigningPayload({
    dockerReference: 'ghcr.io/acme/app',
    manifestDigest: digest,
    annotations: annotations ?? null,
  });
  const sig = signBytes(key, payload);
  return evidenceFromTagLayer(
    {
      mediaType: AttachMediaType.SimpleSigning,
      annotations: { [AttachAnnotation.Signature]: encodeBase64(sig) },
      payload,
    },
    { description: 'test .sig layer', layer: `sha256:${'0'.repeat(63)}${Math.floor(Math.random() * 10)}` },
  );
}

/** A DSSE bundle (v0.3, key hint, no witnesses) of an in-toto statement about `subjectDigest`. */
export async function attestationEvidence(
  key: KeyObject,
  subjectDigest: string,
  predicateType: string,
  predicate: unknown,
): Promise<Evidence> {
  const statement = inTotoStatement({
    subjects: [imageSubject(subjectDigest, 'ghcr.io/acme/app')],
    predicateType,
    predicate,
    version: 'v1',
  });
  const json = await signingBundle({
    signer: keySigner(key),
    witnesses: [],
    kind: 'dsse',
    data: Buffer.from(statement),
    payloadType: IN_TOTO_PAYLOAD_TYPE,
  });
  return evidenceFromBundle(json as unknown as Record<string, unknown>, { description: 'test bundle' });
}

function fail(
  authority: string,
  code: Extract<CheckResult, { ok: false }>['code'],
  check: string,
  message: string,
  checks: string[],
): CheckResult {
  return { ok: false, authority, code, check, message, checks };
}

/** Key authorities only: the signature verifies under the authority's key, the payload names the digest, tlog rule. */
export async function keyChecker(ev: Evidence, auth: Authority, ctx: CheckContext): Promise<CheckResult> {
  const checks: string[] = [];
  if (!ev.bundle) return fail(auth.name, 'EVIDENCE_MALFORMED', 'parse', ev.problems.join('; '), checks);
  if (auth.kind !== 'key') return fail(auth.name, 'KEY_MISMATCH', 'key', 'test checker handles keys only', checks);
  const c = ev.bundle.content;
  const [data, sig] =
    c.$case === 'messageSignature'
      ? [ev.payload!, c.messageSignature.signature]
      : [pae(c.dsseEnvelope.payloadType, c.dsseEnvelope.payload), c.dsseEnvelope.signatures[0]!.sig];
  if (!verifyBytes(auth.publicKey, data, sig)) {
    return fail(auth.name, 'KEY_MISMATCH', 'signature', 'signature does not verify under the authority key', checks);
  }
  checks.push('signature');
  if (ev.claim?.type === 'simple-signing') {
    if (ev.claim.manifestDigest !== ctx.digest) {
      return {
        ...(fail(auth.name, 'PAYLOAD_DIGEST_MISMATCH', 'digest', 'payload names another digest', checks) as object),
        expected: ctx.digest,
        actual: ev.claim.manifestDigest,
      } as CheckResult;
    }
    checks.push('digest');
  }
  if (auth.tlog === 'required' && ev.bundle.verificationMaterial.tlogEntries.length === 0) {
    return fail(auth.name, 'TLOG_ENTRY_MISSING', 'tlog', 'no transparency log entry', checks);
  }
  return { ok: true, authority: auth.name, signer: { kind: 'key', fingerprint: 'test' }, checks };
}
