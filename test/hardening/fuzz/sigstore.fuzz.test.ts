/**
 * Hostile signature material, from the real cosign vectors of shared/vectors/cosign mutated:
 * Sigstore bundles, DSSE envelopes, in-toto statements, legacy `.sig`/`.att` layers with their
 * annotations (certificate, chain, Rekor bundle, RFC 3161), trusted roots and X.509 certificates.
 * The readers that promise never to throw (evidenceFrom*) must not; the parsers throw only typed
 * errors; and checkEvidence, which turns every failure into a verdict, must answer, never throw.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, test } from 'vitest';
import { AttachAnnotation, AttachMediaType } from '../../../src/attach/media-types.ts';
import { parseEnvelope } from '../../../src/sign/payloads/dsse.ts';
import { parseStatement } from '../../../src/sign/payloads/in-toto.ts';
import type { Authority } from '../../../src/verify/authority.ts';
import { checkEvidence } from '../../../src/verify/check.ts';
import { evidenceFromBundle, evidenceFromEnvelopeFile } from '../../../src/verify/evidence/from-bundle.ts';
import { evidenceFromTagLayer, pemCertificates } from '../../../src/verify/evidence/from-legacy.ts';
import { tlogEntryFromRekorBundle } from '../../../src/verify/evidence/rekor-bundle.ts';
import { certificateIdentity } from '../../../src/verify/fulcio-extensions.ts';
import { parseTrustedRoot, trustMaterialOf } from '../../../src/verify/trust-material.ts';
import { loadPublicKey } from '../../../src/sign/keys/key-pair.ts';
import { VECTORS_DIR } from '../../helpers/vectors.ts';
import { FuzzFigures, fuzz, mutatedBytes, mutatedJson, mutatedJsonValue, mutatedText, sigilTyped } from './fuzz-kit.ts';

const figures = new FuzzFigures('sigstore');
afterAll(() => figures.write());

const COSIGN = join(VECTORS_DIR, 'cosign');
const read = (p: string) => readFileSync(join(COSIGN, p));
const json = (p: string) => JSON.parse(read(p).toString()) as Record<string, unknown>;
const never = () => false;

const bundleKeyless = json('bundle-attestation-keyless/bundle.sigstore.json');
const bundleKey = json('bundle-referrer-key-v3/bundle.sigstore.json');
const envelope = json('negative-att-keyless-distroless-tampered/envelope.json');
const fullStatement = JSON.parse(Buffer.from(envelope.payload as string, 'base64').toString()) as Record<
  string,
  unknown
>;
/** The vector's statement without its large predicate: the mutations are aimed at the statement's own fields. */
const statement = {
  ...fullStatement,
  predicate: {
    scanner: { uri: 'pkg:github/aquasecurity/trivy@0.50.0' },
    metadata: { scanStartedOn: '2024-01-01T00:00:00Z' },
  },
};
const legacyKeyless = json('legacy-sig-keyless-rekor/layer-annotations.json') as Record<string, string>;
const legacyKeylessPayload = read('legacy-sig-keyless-rekor/payload.json');
const legacyKey = json('legacy-sig-key-only/layer-annotations.json') as Record<string, string>;
const legacyKeyPayload = read('legacy-sig-key-only/payload.json');
const trustedRoot = json('trust-public-good/trusted_root.json');
const certPem = read('fulcio-cert-github-actions/certificate.pem').toString();
const certDer = Buffer.from(pemCertificates(certPem)[0]!, 'base64');

const SUBJECT = `sha256:${'a1'.repeat(32)}`;

describe('bundles and envelopes', () => {
  test('evidenceFromBundle never throws on mutated v0.3 bundles (keyless and key)', async () => {
    await fuzz(
      figures,
      'Sigstore bundle -> evidence',
      fc.oneof(mutatedJson(bundleKeyless), mutatedJson(bundleKey), fc.uint8Array({ maxLength: 300 })),
      (b) => evidenceFromBundle(b, { description: 'fuzz' }),
      { numRuns: 200, typed: never },
    );
  });

  test('parseEnvelope: mutated DSSE envelopes, as bytes and as objects', async () => {
    await fuzz(
      figures,
      'DSSE envelope',
      fc.oneof(
        mutatedJson(envelope),
        mutatedJsonValue(envelope).map((v) => v as Record<string, unknown>),
        fc.uint8Array({ maxLength: 200 }),
      ),
      (e) => parseEnvelope(e as Uint8Array),
      { numRuns: 260 },
    );
  });

  test('parseStatement: mutated in-toto statements', async () => {
    await fuzz(figures, 'in-toto statement', mutatedJson(statement), (s) => parseStatement(s), { numRuns: 200 });
  });

  test('evidenceFromEnvelopeFile never throws (bundle or bare envelope file, with cosign material beside it)', async () => {
    const input = fc.tuple(
      fc.oneof(mutatedJson(envelope), mutatedJson(bundleKeyless)),
      fc.record(
        {
          certificate: mutatedText(certPem, 2),
          rekorBundle: mutatedText(legacyKeyless[AttachAnnotation.Bundle]!, 1),
          rfc3161Timestamp: fc.constantFrom('{"SignedRFC3161Timestamp":"AAAA"}', '{}', 'null', '[', ''),
        },
        { requiredKeys: [] },
      ),
    );
    await fuzz(
      figures,
      'envelope file -> evidence',
      input,
      ([bytes, material]) => evidenceFromEnvelopeFile(bytes, '/fuzz.json', material),
      { numRuns: 200, typed: never },
    );
  });
});

describe('legacy cosign layers', () => {
  const annotations = (sample: Record<string, string>) =>
    mutatedJsonValue(sample).map((v) =>
      // Annotations are strings by the OCI spec; the manifest reader keeps only those.
      v !== null && typeof v === 'object' && !Array.isArray(v)
        ? Object.fromEntries(Object.entries(v).filter(([, x]) => typeof x === 'string'))
        : {},
    ) as fc.Arbitrary<Record<string, string>>;
  const layer = fc.oneof(
    fc.record({
      mediaType: fc.constant<string>(AttachMediaType.SimpleSigning),
      annotations: annotations(legacyKeyless),
      payload: fc.oneof(fc.constant(legacyKeylessPayload as Uint8Array), mutatedBytes(legacyKeylessPayload)),
    }),
    fc.record({
      mediaType: fc.constant<string>(AttachMediaType.SimpleSigning),
      annotations: annotations(legacyKey),
      payload: fc.oneof(fc.constant(legacyKeyPayload as Uint8Array), mutatedBytes(legacyKeyPayload)),
    }),
    fc.record({
      mediaType: fc.constantFrom<string>(AttachMediaType.DsseEnvelope, 'text/plain', ''),
      annotations: fc.constant({ [AttachAnnotation.Signature]: '' }),
      payload: mutatedJson(envelope),
    }),
  );

  test('evidenceFromTagLayer never throws', async () => {
    await fuzz(figures, 'legacy .sig/.att layer -> evidence', layer, (l) => evidenceFromTagLayer(l), {
      numRuns: 260,
      typed: never,
    });
  });

  test('tlogEntryFromRekorBundle: mutated dev.sigstore.cosign/bundle annotations', async () => {
    const sample = JSON.parse(legacyKeyless[AttachAnnotation.Bundle]!) as unknown;
    await fuzz(
      figures,
      'Rekor bundle annotation',
      mutatedJson(sample).map((b) => Buffer.from(b).toString('utf8')),
      (a) => tlogEntryFromRekorBundle(a),
      // A plain Error here is fine: its only caller (tryRead) turns any throw into a problem line.
      { numRuns: 200, typed: (e) => e instanceof Error && !(e instanceof TypeError) && !(e instanceof RangeError) },
    );
  });

  test('checkEvidence answers (never throws) for mutated layers against a key and a keyless authority', async () => {
    const key: Authority = {
      kind: 'key',
      name: 'key',
      publicKey: loadPublicKey(read('legacy-sig-key-only/cosign.pub')),
      tlog: 'ignore',
      trustedRoot: join(COSIGN, 'trust-public-good/trusted_root.json'),
    };
    const keyless: Authority = {
      kind: 'keyless',
      name: 'keyless',
      identities: [{ issuerRegExp: '.*', subjectRegExp: '.*' }],
      trustedRoot: join(COSIGN, 'bundle-attestation-keyless/trusted_root.json'),
      sct: 'required',
      tlog: 'required',
    };
    await fuzz(
      figures,
      'checkEvidence (legacy layers, bundles)',
      fc.tuple(
        fc.oneof(
          layer.map((l) => evidenceFromTagLayer(l)),
          fc
            .oneof(mutatedJson(bundleKeyless), mutatedJson(bundleKey))
            .map((b) => evidenceFromBundle(b, { description: 'fuzz' })),
        ),
        fc.constantFrom(key, keyless),
      ),
      ([evidence, authority]) =>
        checkEvidence(evidence, authority, { digest: SUBJECT, now: new Date('2025-03-01T00:00:00Z'), offline: true }),
      { numRuns: 130, typed: never },
    );
  });
});

describe('certificates and trust roots', () => {
  test('regression: a certificate that parses but whose SAN OtherName has no type-id is CERTIFICATE_INVALID, not a TypeError', () => {
    const der = Buffer.from(certDer);
    der[237] = 0x05; // the SAN sequence's first GeneralName loses its content
    expect(() => certificateIdentity(der)).toThrow(expect.objectContaining({ code: 'CERTIFICATE_INVALID' }));
  });

  test('certificateIdentity on mutated Fulcio certificates that still parse as X.509', async () => {
    const { X509Certificate } = await import('@sigstore/core');
    await fuzz(
      figures,
      'X.509 certificate (Fulcio extensions, SANs)',
      mutatedBytes(certDer, 3),
      (der) => {
        // Mostly inputs X509Certificate.parse accepts, as callers only pass those on.
        try {
          X509Certificate.parse(Buffer.from(der));
        } catch {
          return;
        }
        certificateIdentity(der);
      },
      { numRuns: 320, typed: sigilTyped },
    );
  });

  test('pemCertificates on mutated PEM text', async () => {
    await fuzz(figures, 'PEM certificate list', mutatedText(certPem + certPem), (t) => pemCertificates(t), {
      numRuns: 130,
      typed: never,
    });
  });

  test('parseTrustedRoot + trustMaterialOf on mutated trusted_root.json', async () => {
    await fuzz(
      figures,
      'trusted_root.json',
      mutatedJson(trustedRoot).map((b) => Buffer.from(b).toString('utf8')),
      (text) => trustMaterialOf(parseTrustedRoot(text, 'fuzz')),
      { numRuns: 100, typed: sigilTyped },
    );
  });
});
