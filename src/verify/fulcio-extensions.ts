import { ASN1Obj, X509Certificate } from '@sigstore/core';
import { VerifyError } from './errors.ts';

/**
 * What a keyless certificate says about its signer: every Subject Alternative Name, the OIDC
 * issuer, and the Fulcio extensions by sigstore-go name (fulcio docs/oid-info.md,
 * cosign-formats.md §6.5). Read from the DER, never from a display string.
 */
export interface CertificateIdentity {
  /** In cosign's order: DNS, email, IP, URI, then the Fulcio OtherName (1.3.6.1.4.1.57264.1.7). */
  subjectAlternativeNames: string[];
  /** Extension 1.8 (DER UTF8String), falling back to the deprecated raw 1.1. */
  issuer?: string;
  /** The raw 1.1 value: what cosign prints as `Issuer` in its output. */
  issuerV1?: string;
  /** sigstore-go names → values, for every Fulcio extension present. */
  extensions: Record<string, string>;
}

export const FULCIO_OID = '1.3.6.1.4.1.57264.1';
const OTHERNAME_OID = `${FULCIO_OID}.7`;

/** 1.2–1.6 hold the raw UTF-8 bytes (no DER wrapper), as 1.1 does. */
const RAW_EXTENSIONS: Record<string, number> = {
  githubWorkflowTrigger: 2,
  githubWorkflowSHA: 3,
  githubWorkflowName: 4,
  githubWorkflowRepository: 5,
  githubWorkflowRef: 6,
};

/** 1.8 onward are DER UTF8Strings. */
const DER_EXTENSIONS: Record<string, number> = {
  issuer: 8,
  buildSignerURI: 9,
  buildSignerDigest: 10,
  runnerEnvironment: 11,
  sourceRepositoryURI: 12,
  sourceRepositoryDigest: 13,
  sourceRepositoryRef: 14,
  sourceRepositoryIdentifier: 15,
  sourceRepositoryOwnerURI: 16,
  sourceRepositoryOwnerIdentifier: 17,
  buildConfigURI: 18,
  buildConfigDigest: 19,
  buildTrigger: 20,
  runInvocationURI: 21,
  sourceRepositoryVisibilityAtSigning: 22,
  deploymentEnvironment: 23,
  tokenSubject: 24,
};

/** Every claim name a policy may use (the issuer is matched separately). */
export const CLAIM_NAMES: readonly string[] = [
  ...Object.keys(RAW_EXTENSIONS),
  ...Object.keys(DER_EXTENSIONS).filter((n) => n !== 'issuer'),
];

/** The OID a claim name stands for, for messages. */
export function claimOid(name: string): string | undefined {
  const n = RAW_EXTENSIONS[name] ?? DER_EXTENSIONS[name];
  return n === undefined ? undefined : `${FULCIO_OID}.${n}`;
}

/** Throws CERTIFICATE_INVALID when the DER or one of the extensions read does not parse. */
export function certificateIdentity(der: Uint8Array): CertificateIdentity {
  try {
    return readIdentity(der);
  } catch (err) {
    // @sigstore/core parses extensions lazily and throws plain TypeErrors on a malformed one.
    throw new VerifyError('CERTIFICATE_INVALID', `certificate does not parse: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

function readIdentity(der: Uint8Array): CertificateIdentity {
  const cert = X509Certificate.parse(Buffer.from(der));
  const extensions: Record<string, string> = {};
  for (const [name, n] of Object.entries(RAW_EXTENSIONS)) {
    const ext = cert.extension(`${FULCIO_OID}.${n}`);
    if (ext) extensions[name] = ext.value.toString('utf8');
  }
  for (const [name, n] of Object.entries(DER_EXTENSIONS)) {
    const ext = cert.extension(`${FULCIO_OID}.${n}`);
    if (ext) extensions[name] = derString(ext.value);
  }
  const v1 = cert.extension(`${FULCIO_OID}.1`)?.value.toString('utf8');
  const identity: CertificateIdentity = { subjectAlternativeNames: subjectAltNames(cert), extensions };
  const issuer = extensions['issuer'] ?? v1;
  delete extensions['issuer'];
  if (issuer !== undefined) identity.issuer = issuer;
  if (v1 !== undefined) identity.issuerV1 = v1;
  return identity;
}

function subjectAltNames(cert: X509Certificate): string[] {
  const ext = cert.extSubjectAltName;
  if (!ext) return [];
  const byTag: Record<number, string[]> = { 0: [], 1: [], 2: [], 6: [], 7: [] };
  // extnValue is an OCTET STRING holding the SEQUENCE OF GeneralName
  for (const gn of ext.valueObj.subs[0]?.subs ?? []) {
    if (gn.tag.isContextSpecific(1) || gn.tag.isContextSpecific(2) || gn.tag.isContextSpecific(6)) {
      byTag[gn.tag.number]!.push(gn.value.toString('utf8'));
    } else if (gn.tag.isContextSpecific(7)) {
      byTag[7]!.push(ipString(gn.value));
    } else if (gn.tag.isContextSpecific(0)) {
      // OtherName ::= SEQUENCE { type-id OID, value [0] EXPLICIT UTF8String }
      const oid = gn.subs[0]?.toOID();
      const value = gn.subs[1]?.subs[0]?.value.toString('utf8');
      if (oid === OTHERNAME_OID && value !== undefined) byTag[0]!.push(value);
    }
  }
  return [...byTag[2]!, ...byTag[1]!, ...byTag[7]!, ...byTag[6]!, ...byTag[0]!];
}

function ipString(b: Buffer): string {
  if (b.length === 4) return [...b].join('.');
  const parts: string[] = [];
  for (let i = 0; i + 1 < b.length; i += 2) parts.push(b.readUInt16BE(i).toString(16));
  return parts.join(':');
}

/** A DER UTF8String (or other string type) as text; raw bytes when it does not parse. */
function derString(b: Buffer): string {
  try {
    return ASN1Obj.parseBuffer(b as Buffer<ArrayBuffer>).value.toString('utf8');
  } catch {
    return b.toString('utf8');
  }
}
