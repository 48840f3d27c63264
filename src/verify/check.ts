/**
 * checkEvidence: is this one signature valid for this one authority? The checks of cosign verify
 * (cosign-formats.md §6.2/6.3) in a fixed order, each failure a stable reason code of
 * POLICY.md §5 with the check's name and the expected and found values. Cryptographic checks
 * stop at the first failure; identity checks (issuer, subject, every claim) all run so the
 * report shows the whole difference.
 *
 * @sigstore/verify does the cryptography piece by piece (SET / inclusion proof + checkpoint,
 * tlog bodies, certificate chains, SCTs, RFC 3161), called stage by stage rather than through
 * Verifier.verify so every failure maps to one code. sigil adds what it leaves out: Rekor intoto
 * 0.0.1 bodies (cosign ≤ 2.1 attestations), the binding of the tlog body to the key or
 * certificate used (cosign's VerifyBundle (b)), certificates without a signed time (custom CA
 * roots: checked at the verification time, as cosign does), hint-less legacy keys (the
 * authority's key answers), the artifact digest of message signatures, and in-toto subjects.
 */
import { createHash, createPublicKey, type KeyObject, X509Certificate as NodeX509 } from 'node:crypto';
import type { TransparencyLogEntry } from '@sigstore/bundle';
import { X509Certificate } from '@sigstore/core';
import { type SignedEntity, type TrustMaterial, toSignedEntity } from '@sigstore/verify';
import { verifyCertificateChain } from '@sigstore/verify/dist/key/certificate.js';
import { verifySCTs } from '@sigstore/verify/dist/key/sct.js';
import { getTSATimestamp } from '@sigstore/verify/dist/timestamp/index.js';
import { verifyTLogBody, verifyTLogInclusion } from '@sigstore/verify/dist/tlog/index.js';
import type { Authority, CandidateReason, CheckContext, CheckResult, SignerInfo } from './authority.ts';
import { checkLegacyTlogBody } from './evidence/tlog-body.ts';
import type { Claim, Evidence } from './evidence/evidence.ts';
import { type CertificateIdentity, certificateIdentity } from './fulcio-extensions.ts';
import { type IdentityCheck, matchIdentities } from './identity.ts';
import { keyFingerprint, keyTrust, loadTrust } from './trust-material.ts';
import { authorityWindowProblems, checkpointLogOutsideWindow } from './trust-window.ts';

type Failure = Extract<CheckResult, { ok: false }>;

/** Thrown inside the pipeline, turned into the failed CheckResult. */
class Fail {
  constructor(
    readonly code: CandidateReason,
    readonly check: string,
    readonly message: string,
    readonly expected?: string,
    readonly actual?: string,
    readonly identity?: IdentityCheck[],
  ) {}
}

/**
 * verify-blob with a digest input (`sha256:HEX`): the artifact is known only by its digest, so a
 * message signature is verified over that digest (prehashed) instead of over payload bytes.
 * @sigstore/verify always hashes an artifact itself (MessageSignatureContent.verifySignature).
 */
export interface PrehashedArtifact {
  digest: Buffer;
  verify(key: KeyObject, signature: Buffer): boolean;
}

export async function checkEvidence(
  evidence: Evidence,
  authority: Authority,
  ctx: CheckContext & { prehashed?: PrehashedArtifact },
): Promise<CheckResult> {
  const checks: string[] = [];
  try {
    return await run(evidence, authority, ctx, checks);
  } catch (err) {
    if (!(err instanceof Fail)) throw err;
    const out: Failure = {
      ok: false,
      authority: authority.name,
      code: err.code,
      message: err.message,
      check: err.check,
      checks,
    };
    if (err.expected !== undefined) out.expected = err.expected;
    if (err.actual !== undefined) out.actual = err.actual;
    if (err.identity !== undefined) out.identity = err.identity;
    return out;
  }
}

const EKU_CODE_SIGNING = '1.3.6.1.5.5.7.3.3';
const EKU_ANY = '2.5.29.37.0';

/**
 * A signing certificate must be allowed to sign code, as cosign requires (x509 VerifyOptions
 * KeyUsages: CodeSigning): every certificate of the chain that restricts its extended key usage
 * must allow codeSigning (or any usage); one without the extension allows any, as in Go.
 */
function codeSigningProblem(path: readonly X509Certificate[]): { message: string; found: string } | undefined {
  for (const [i, c] of path.entries()) {
    const usages = new NodeX509(c.root.toDER()).keyUsage;
    if (usages === undefined || usages.length === 0) continue;
    if (usages.includes(EKU_CODE_SIGNING) || usages.includes(EKU_ANY)) continue;
    const which = i === 0 ? 'the signing certificate' : `certificate ${i} of its chain`;
    return {
      message: `${which} is not allowed to sign code: its extended key usage lists ${usages.join(', ')}, not codeSigning`,
      found: usages.join(', '),
    };
  }
  return undefined;
}

function errMessage(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as { cause?: unknown }).cause;
  return cause instanceof Error ? `${err.message}: ${cause.message}` : err.message;
}

async function run(
  e: Evidence,
  authority: Authority,
  ctx: CheckContext & { prehashed?: PrehashedArtifact },
  checks: string[],
): Promise<CheckResult> {
  const now = ctx.now ?? new Date();
  const prehashed = e.bundle?.content.$case === 'messageSignature' ? ctx.prehashed : undefined;
  // 1. Something to check at all.
  if (!e.bundle || !e.claim || (!e.payload && !prehashed)) {
    const why = e.problems.length > 0 ? e.problems.join('; ') : 'no signature, payload or claim';
    throw new Fail('EVIDENCE_MALFORMED', 'evidence', `${e.source.description}: ${why}`);
  }
  const bundle = e.bundle;
  const claim = e.claim;

  // 2. Key or certificate, as the authority expects.
  const vm = bundle.verificationMaterial.content;
  const leafDer =
    vm.$case === 'x509CertificateChain'
      ? vm.x509CertificateChain.certificates[0]?.rawBytes
      : vm.$case === 'certificate'
        ? vm.certificate.rawBytes
        : undefined;
  if (authority.kind === 'key' && leafDer) {
    throw new Fail(
      'KEY_MISMATCH',
      'key',
      'the signature was made with a certificate (keyless); the authority expects a public key',
      `key sha256:${keyFingerprint(authority.publicKey)}`,
      'certificate',
    );
  }
  if (authority.kind === 'keyless' && !leafDer) {
    throw new Fail(
      'KEY_MISMATCH',
      'certificate',
      'the signature was made with a public key, the authority expects a keyless (Fulcio) certificate',
      'certificate',
      'public key',
    );
  }

  let trust: TrustMaterial;
  try {
    trust =
      authority.kind === 'key'
        ? keyTrust(authority.publicKey, authority.trustedRoot)
        : loadTrust({
            ...(authority.trustedRoot !== undefined ? { trustedRoot: authority.trustedRoot } : {}),
            ...(authority.caRoots !== undefined ? { caRoots: authority.caRoots } : {}),
            ...(authority.caIntermediates !== undefined ? { caIntermediates: authority.caIntermediates } : {}),
          }).material;
  } catch (err) {
    throw new Fail('TRUST_ROOT_ERROR', 'trustRoot', errMessage(err));
  }
  // Trust-root validity windows (trust-window.ts): a window without a start is malformed, not
  // "valid since ever" as @sigstore/verify's toTrustMaterial reads it.
  const badWindows = authorityWindowProblems(authority);
  if (badWindows.length > 0) throw new Fail('TRUST_ROOT_ERROR', 'trustRoot.validFor', badWindows.join('; '));

  let leaf: X509Certificate | undefined;
  let signingKey: KeyObject;
  if (authority.kind === 'key') signingKey = authority.publicKey;
  else {
    try {
      leaf = X509Certificate.parse(Buffer.from(leafDer!));
      signingKey = createPublicKey({ key: leaf.publicKey, format: 'der', type: 'spki' });
    } catch (err) {
      throw new Fail('EVIDENCE_MALFORMED', 'certificate', `certificate does not parse: ${errMessage(err)}`);
    }
  }

  // 3. The signature over the payload (message signature) or the DSSE PAE.
  let entity: SignedEntity;
  try {
    entity = toSignedEntity(
      bundle,
      bundle.content.$case === 'messageSignature' ? Buffer.from(e.payload ?? new Uint8Array()) : undefined,
    );
  } catch (err) {
    throw new Fail('EVIDENCE_MALFORMED', 'evidence', `bundle: ${errMessage(err)}`);
  }
  if (bundle.content.$case === 'messageSignature') {
    const md = bundle.content.messageSignature.messageDigest;
    const actual = prehashed ? prehashed.digest : createHash('sha256').update(e.payload!).digest();
    if (md && !actual.equals(Buffer.from(md.digest))) {
      throw new Fail(
        'SIGNATURE_INVALID',
        'signature',
        'the bundle message digest is not the sha256 of the payload',
        actual.toString('hex'),
        Buffer.from(md.digest).toString('hex'),
      );
    }
  }
  const named = namedKeys(e);
  const verified = prehashed
    ? safe(() =>
        prehashed.verify(
          signingKey,
          Buffer.from((bundle.content as { messageSignature: { signature: Uint8Array } }).messageSignature.signature),
        ),
      )
    : safe(() => entity.signature.verifySignature(signingKey));
  if (!verified) {
    if (authority.kind === 'key') {
      const ours = keyFingerprint(authority.publicKey);
      const other = named.find((k) => k !== ours);
      if (other !== undefined) {
        throw new Fail(
          'KEY_MISMATCH',
          'signature',
          'signed by a different key than the authority names',
          `sha256:${ours}`,
          `sha256:${other}`,
        );
      }
      throw new Fail(
        'SIGNATURE_INVALID',
        'signature',
        `the signature does not verify under key sha256:${ours} (altered payload, or made by another key: the evidence names none)`,
      );
    }
    throw new Fail('SIGNATURE_INVALID', 'signature', "the signature does not verify under the certificate's key");
  }
  checks.push('signature');

  // 4. The payload names the digest being verified.
  const claimed = claimedDigests(claim);
  const [alg, hex] = ctx.digest.split(':') as [string, string];
  const hit =
    claim.type === 'simple-signing'
      ? claim.manifestDigest === ctx.digest
      : claim.subjects.some((s) => s.digest[alg] === hex);
  if (!hit) {
    throw new Fail(
      'PAYLOAD_DIGEST_MISMATCH',
      'digest',
      `the signed ${claim.type === 'simple-signing' ? 'payload' : 'statement'} names ${claimed.join(', ') || 'no digest'}, not ${ctx.digest}`,
      ctx.digest,
      claimed.join(', '),
    );
  }
  checks.push('digest');

  // 5. Transparency log.
  const times: Date[] = [];
  const entries = bundle.verificationMaterial.tlogEntries;
  if (authority.tlog !== 'ignore') {
    if (entries.length === 0) {
      if (authority.tlog === 'required') {
        throw new Fail(
          'TLOG_ENTRY_MISSING',
          'tlog',
          'no transparency log entry (sign with the tlog, or use tlog: ignore / --insecure-ignore-tlog)',
          '1 entry',
          '0',
        );
      }
    } else {
      for (const entry of entries) {
        checkTlogEntry(e, entry, entity, trust, authority.kind === 'key' ? signingKey : undefined, leafDer);
        if (entry.inclusionPromise && entry.integratedTime && entry.integratedTime !== '0') {
          times.push(new Date(Number(entry.integratedTime) * 1000));
        }
      }
      checks.push('tlog');
    }
  }

  // 6. RFC 3161 timestamps.
  // The imprint covers the signature, except on cosign's `.att` layers, whose signature annotation
  // is empty: there it covers the envelope bytes (cosign VerifyRFC3161Timestamp). Either proves
  // the signature existed at the stamped time.
  const imprints = [entity.signature.signature, ...(e.converted && e.envelope ? [Buffer.from(e.envelope)] : [])];
  for (const ts of entity.timestamps) {
    if (ts.$case !== 'timestamp-authority') continue;
    let firstError: unknown;
    let stamped: Date | undefined;
    for (const data of imprints) {
      try {
        stamped = getTSATimestamp(ts.timestamp, data, trust.timestampAuthorities).timestamp;
        break;
      } catch (err) {
        firstError ??= err;
      }
    }
    if (stamped === undefined) {
      throw new Fail('TIMESTAMP_INVALID', 'timestamp', `RFC 3161 timestamp: ${errMessage(firstError)}`);
    }
    times.push(stamped);
  }
  if (entity.timestamps.some((t) => t.$case === 'timestamp-authority')) checks.push('timestamp');
  const signedAt = times.length > 0 ? new Date(Math.min(...times.map((t) => t.getTime()))) : undefined;

  // 6b. Trust-root window of logs proved by checkpoint only (trust-window.ts): @sigstore/verify
  // checks a log's validFor only for SETs; a Rekor v2 entry's log must be valid at the signing
  // (TSA) time too.
  if (authority.tlog !== 'ignore') {
    for (const entry of entries) {
      const outside = checkpointLogOutsideWindow(entry, trust.tlogs, times.length > 0 ? times : [now]);
      if (outside.length > 0) {
        throw new Fail(
          'TLOG_ENTRY_INVALID',
          'tlog.validity',
          `Rekor entry ${entry.logIndex}: no log of the trusted root with its log ID was valid at ${outside[0]!.toISOString()}`,
          'a log key valid at the signing time',
          outside[0]!.toISOString(),
        );
      }
    }
  }

  let signer: SignerInfo;
  if (authority.kind === 'key') {
    signer = { kind: 'key', fingerprint: keyFingerprint(authority.publicKey) };
  } else {
    // 7. Certificate: valid at every verified signing time, chained to a trusted CA then, with SCT.
    const cert = leaf!;
    let at = times;
    if (at.length === 0) {
      if (authority.caRoots === undefined) {
        throw new Fail(
          'CERT_TIME_UNVERIFIED',
          'certificate.time',
          'no verified tlog integrated time or RFC 3161 timestamp proves the certificate was valid at signing',
          `signed time within ${cert.notBefore.toISOString()}..${cert.notAfter.toISOString()}`,
          'none',
        );
      }
      // Certificates from custom CA roots (no Sigstore): cosign checks them at the current time.
      if (!cert.validForDate(now)) {
        throw new Fail(
          'CERT_TIME_UNVERIFIED',
          'certificate.time',
          'no signed time, and the certificate is not valid now',
          `${cert.notBefore.toISOString()}..${cert.notAfter.toISOString()}`,
          now.toISOString(),
        );
      }
      at = [now];
    }
    for (const t of at) {
      if (!cert.validForDate(t)) {
        throw new Fail(
          'CERT_EXPIRED_AT_SIGNING',
          'certificate.validity',
          `signed at ${t.toISOString()}, outside the certificate validity`,
          `${cert.notBefore.toISOString()}..${cert.notAfter.toISOString()}`,
          t.toISOString(),
        );
      }
    }
    let path: X509Certificate[] = [];
    for (const t of at) {
      try {
        path = verifyCertificateChain(t, cert, trust.certificateAuthorities);
      } catch (err) {
        throw new Fail(
          'CERT_CHAIN_INVALID',
          'certificateChain',
          `certificate does not chain to a certificate authority of the trusted root valid at ${t.toISOString()}: ${errMessage(err)}`,
          'a Fulcio CA of the trusted root',
          issuerName(cert),
        );
      }
    }
    const eku = codeSigningProblem(path.length > 0 ? path : [cert]);
    if (eku) {
      throw new Fail(
        'CERT_CHAIN_INVALID',
        'certificateChain',
        eku.message,
        'codeSigning (1.3.6.1.5.5.7.3.3)',
        eku.found,
      );
    }
    checks.push('certificateChain');
    if (authority.sct === 'required') {
      let n: number;
      try {
        n = path.length >= 2 ? verifySCTs(path[0]!, path[1]!, trust.ctlogs).length : 0;
      } catch (err) {
        throw new Fail('SCT_INVALID', 'sct', `embedded SCT: ${errMessage(err)}`);
      }
      if (n < 1) {
        throw new Fail(
          'SCT_INVALID',
          'sct',
          'no embedded SCT signed by a CT log of the trusted root (or use sct: ignore / --insecure-ignore-sct)',
          '1 SCT',
          '0',
        );
      }
      checks.push('sct');
    }

    // 8. Identity.
    let id: CertificateIdentity;
    try {
      id = certificateIdentity(leafDer!);
    } catch (err) {
      // Signed by a trusted CA, yet its SAN or Fulcio extensions do not parse: a verdict on this
      // candidate, not an error that ends the whole verification.
      throw new Fail('EVIDENCE_MALFORMED', 'certificate', errMessage(err));
    }
    const m = matchIdentities(authority.identities, id);
    if (!m.ok) {
      checks.push(...m.passed);
      throw new Fail(m.code, m.check, m.message, m.expected, m.actual, m.items);
    }
    checks.push(...m.passed);
    signer = {
      kind: 'certificate',
      issuer: id.issuer ?? '',
      subjectAlternativeNames: id.subjectAlternativeNames,
      extensions: id.extensions,
      certificatePem: pem(leafDer!),
    };
  }

  // 9. Annotations (cosign -a).
  if (authority.annotations && Object.keys(authority.annotations).length > 0) {
    const have = claimAnnotations(claim);
    for (const [k, v] of Object.entries(authority.annotations)) {
      const got = have[k];
      if (got === undefined || String(got) !== v) {
        throw new Fail(
          'ANNOTATION_MISMATCH',
          `annotations.${k}`,
          got === undefined ? `the signed payload has no annotation "${k}"` : `annotation "${k}" differs`,
          `${k}=${v}`,
          got === undefined ? '(absent)' : `${k}=${typeof got === 'string' ? got : JSON.stringify(got)}`,
        );
      }
    }
    checks.push('annotations');
  }

  const ok: CheckResult = { ok: true, authority: authority.name, signer, checks };
  if (signedAt) ok.signedAt = signedAt;
  return ok;
}

/** One tlog entry: inclusion (SET or proof + checkpoint under the trusted root's logs), body bound to this signature and key. */
function checkTlogEntry(
  e: Evidence,
  entry: TransparencyLogEntry,
  entity: SignedEntity,
  trust: TrustMaterial,
  key: KeyObject | undefined,
  leafDer: Uint8Array | undefined,
): void {
  const where = `Rekor entry ${entry.logIndex}`;
  try {
    verifyTLogInclusion(entry, trust.tlogs);
  } catch (err) {
    throw new Fail(
      'TLOG_ENTRY_INVALID',
      'tlog.inclusion',
      `${where}: ${errMessage(err)}`,
      'a log of the trusted root',
      `logID ${Buffer.from(entry.logId.keyId).toString('hex')}`,
    );
  }
  const { kind, version } = entry.kindVersion ?? { kind: '', version: '' };
  try {
    if (kind === 'intoto' && version === '0.0.1') checkLegacyTlogBody(e);
    else verifyTLogBody(entry, entity.signature);
  } catch (err) {
    throw new Fail(
      'TLOG_ENTRY_INVALID',
      'tlog.body',
      `${where}: body does not match the signature: ${errMessage(err)}`,
    );
  }
  const bodyKey = keyInBody(entry);
  if (bodyKey === undefined) return;
  if (leafDer) {
    if (bodyKey.cert && !bodyKey.cert.equals(Buffer.from(leafDer))) {
      throw new Fail(
        'TLOG_ENTRY_INVALID',
        'tlog.body',
        `${where}: the entry names another certificate than the signature carries`,
      );
    }
  } else if (key && bodyKey.spki) {
    const ours = key.export({ type: 'spki', format: 'der' });
    if (!bodyKey.spki.equals(ours)) {
      throw new Fail(
        'KEY_MISMATCH',
        'tlog.body',
        `${where}: the entry was logged for another key`,
        `sha256:${createHash('sha256').update(ours).digest('hex')}`,
        `sha256:${createHash('sha256').update(bodyKey.spki).digest('hex')}`,
      );
    }
  }
}

/** The key or certificate a Rekor v1 body names (hashedrekord, intoto, dsse), DER. */
function keyInBody(entry: TransparencyLogEntry): { spki?: Buffer; cert?: Buffer } | undefined {
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(entry.canonicalizedBody).toString('utf8'));
  } catch {
    return undefined;
  }
  const spec = isObject(body) ? body['spec'] : undefined;
  if (!isObject(spec)) return undefined;
  let b64: unknown;
  const sig = spec['signature'];
  if (isObject(sig) && isObject(sig['publicKey'])) b64 = sig['publicKey']['content'];
  else if (typeof spec['publicKey'] === 'string') b64 = spec['publicKey'];
  else if (Array.isArray(spec['signatures']) && isObject(spec['signatures'][0]))
    b64 = spec['signatures'][0]['verifier'];
  if (typeof b64 !== 'string') return undefined;
  const text = Buffer.from(b64, 'base64').toString('utf8');
  const certMatch = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+?)-----END CERTIFICATE-----/.exec(text);
  if (certMatch) return { cert: Buffer.from(certMatch[1]!.replace(/\s+/g, ''), 'base64') };
  if (text.includes('PUBLIC KEY-----')) {
    try {
      return { spki: createPublicKey(text).export({ type: 'spki', format: 'der' }) };
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** Hex SPKI fingerprints of the keys the evidence itself names: bundle hint (sha256, base64 or hex), tlog bodies. */
function namedKeys(e: Evidence): string[] {
  const out: string[] = [];
  const vm = e.bundle?.verificationMaterial.content;
  if (vm?.$case === 'publicKey' && vm.publicKey.hint) {
    const h = vm.publicKey.hint;
    if (/^[0-9a-f]{64}$/i.test(h)) out.push(h.toLowerCase());
    else {
      const b = Buffer.from(h, 'base64');
      if (b.length === 32) out.push(b.toString('hex'));
    }
  }
  for (const entry of e.bundle?.verificationMaterial.tlogEntries ?? []) {
    const k = keyInBody(entry);
    if (k?.spki) out.push(createHash('sha256').update(k.spki).digest('hex'));
  }
  return out;
}

function claimedDigests(claim: Claim): string[] {
  if (claim.type === 'simple-signing') return [claim.manifestDigest];
  return claim.subjects.flatMap((s) => Object.entries(s.digest).map(([a, h]) => `${a}:${h}`));
}

/** simple-signing `optional`, or the in-toto subjects' annotations (cosign v3 writes `-a` there). */
export function claimAnnotations(claim: Claim): Record<string, unknown> {
  if (claim.type === 'simple-signing') return claim.annotations ?? {};
  return Object.assign({}, ...claim.subjects.map((s) => s.annotations ?? {})) as Record<string, unknown>;
}

/** The issuer DN as node:crypto renders it, for messages. */
function issuerName(cert: X509Certificate): string {
  try {
    return new NodeX509(cert.root.toDER()).issuer.replace(/\n/g, ', ');
  } catch {
    return '(unreadable issuer)';
  }
}

function pem(der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64');
  return `-----BEGIN CERTIFICATE-----\n${b64.match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----\n`;
}

function safe(f: () => boolean): boolean {
  try {
    return f();
  } catch {
    return false;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
