import { createHash, createPublicKey, X509Certificate } from 'node:crypto';
import { BUNDLE_V01_MEDIA_TYPE, bundleToJSON } from '@sigstore/bundle';
import { toSignedEntity, VerificationError, Verifier } from '@sigstore/verify';
import { describe, expect, it } from 'vitest';
import type { Attachment } from '../../../src/attach/discovery.ts';
import type { Digest } from '../../../src/oci/digest.ts';
import {
  checkLegacyTlogBody,
  type Evidence,
  evidenceFromAttachments,
  evidenceFromBundle,
  evidenceFromEnvelopeFile,
  evidenceFromTagLayer,
} from '../../../src/verify/evidence/index.ts';
import { VerifyError } from '../../../src/verify/errors.ts';
import { rootWithCAs, rootWithRekor, trustFromRoot, trustWithKey, vec, vecJson, vecText } from './vector-trust.ts';

const SIMPLE = 'application/vnd.dev.cosign.simplesigning.v1+json';
const DSSE = 'application/vnd.dsse.envelope.v1+json';
const GH_OAUTH = 'https://github.com/login/oauth';
const publicGood = () => trustFromRoot(vecJson('trust-public-good', 'trusted_root.json'));

function sha256(b: Uint8Array): Digest {
  return `sha256:${createHash('sha256').update(b).digest('hex')}` as Digest;
}

function legacy(dir: string, annotationsFile = 'layer-annotations.json', payloadFile = 'payload.json'): Evidence {
  const payload = vec(dir, payloadFile);
  return evidenceFromTagLayer(
    { mediaType: SIMPLE, annotations: vecJson(dir, annotationsFile), payload, digest: sha256(payload) },
    { description: `${dir} layer ${sha256(payload)}`, layer: sha256(payload) },
  );
}

/** Verify evidence with @sigstore/verify alone: toSignedEntity + Verifier.verify. */
function verifyWith(e: Evidence, trust: ReturnType<typeof publicGood>, opts = {}, policy?: object) {
  if (!e.bundle) throw new Error(`no bundle: ${e.problems.join('; ')}`);
  const entity = toSignedEntity(
    e.bundle,
    e.bundle.content.$case === 'messageSignature' ? Buffer.from(e.payload!) : undefined,
  );
  return new Verifier(trust, opts).verify(entity, policy);
}

const NO_WITNESS = { tlogThreshold: 0, timestampThreshold: 0, ctlogThreshold: 0 };

describe('legacy-sig-key-only: 2 valid + 1 foreign .sig layers', () => {
  const dir = 'legacy-sig-key-only';
  const key = vecText(dir, 'cosign.pub');
  const layers = [
    legacy(dir),
    legacy(dir, 'second-layer-annotations.json', 'second-payload.json'),
    legacy(dir, 'negative-otherkey-layer-annotations.json', 'negative-otherkey-payload.json'),
  ];

  it('reads each layer into a v0.1 messageSignature bundle over sha256(payload) with a key hint', () => {
    for (const e of layers) {
      expect(e.problems).toEqual([]);
      expect(e).toMatchObject({ scheme: 'tag', kind: 'signature', converted: true });
      expect(e.claim).toEqual({
        type: 'simple-signing',
        dockerReference: '192.168.64.2:5000/cosign-signed-single-sample',
        manifestDigest: 'sha256:634a8f35b5f16dcf4aaa0822adc0b1964bb786fca12f6831de8ddc45e5986a00',
        annotations: null,
      });
      expect(e.claim).toMatchObject({ manifestDigest: sha256(vec(dir, 'subject-manifest.json')) });
      const json = bundleToJSON(e.bundle!);
      expect(json.mediaType).toBe(BUNDLE_V01_MEDIA_TYPE);
      // no Rekor body to name the key: an empty hint (protobuf JSON omits it), the verifier's key decides
      expect(json.verificationMaterial.publicKey).toEqual({});
      expect(e.bundle!.verificationMaterial.tlogEntries).toEqual([]);
      expect(json.messageSignature?.messageDigest?.digest).toBe(
        createHash('sha256').update(e.payload!).digest('base64'),
      );
    }
  });

  it('@sigstore/verify accepts both cosign signatures with cosign.pub and rejects the foreign one', () => {
    const trust = trustWithKey(key);
    expect(verifyWith(layers[0]!, trust, NO_WITNESS).key.asymmetricKeyType).toBe('ec');
    expect(() => verifyWith(layers[1]!, trust, NO_WITNESS)).not.toThrow();
    expect(() => verifyWith(layers[2]!, trust, NO_WITNESS)).toThrow(
      expect.objectContaining({ code: 'SIGNATURE_ERROR' }) as Error,
    );
  });

  it('without witnesses the default thresholds refuse it (no tlog, no timestamp)', () => {
    expect(() => verifyWith(layers[0]!, trustWithKey(key))).toThrow(VerificationError);
  });
});

describe('legacy-sig-key-rekor: key + Rekor SET (hashedrekord)', () => {
  const dir = 'legacy-sig-key-rekor';
  const e = legacy(dir);

  it('maps the RekorBundle annotation onto a tlog entry', () => {
    expect(e.problems).toEqual([]);
    expect(e.claim).toMatchObject({
      manifestDigest: 'sha256:0489474da8ea22426ece86ace6c1c0026ab2fd3cdfbbd62b7e94650266c37d9a',
      dockerReference: '192.168.64.2:5000/cosign-signed/key-1',
    });
    const vm = bundleToJSON(e.bundle!).verificationMaterial;
    const rekor = vecJson<{ Payload: { body: string } }>(dir, 'bundle-annotation.json');
    expect(vm.tlogEntries).toHaveLength(1);
    expect(vm.tlogEntries[0]).toMatchObject({
      logIndex: '11608800',
      integratedTime: '1674251859',
      kindVersion: { kind: 'hashedrekord', version: '0.0.1' },
      canonicalizedBody: rekor.Payload.body,
    });
    expect(Buffer.from(vm.tlogEntries[0]!.logId.keyId, 'base64').toString('hex')).toBe(
      'c0d23d6ad406973f9559f3ba2d1ca01f84147d8ffc5b8445c224f98b9591801d',
    );
    // the hint is the key the Rekor body names (sha256 of its SPKI), as cosign v3 writes for --key bundles
    const spki = createHash('sha256').update(
      createPublicKey(vecText(dir, 'cosign.pub')).export({ type: 'spki', format: 'der' }),
    );
    expect(vm.publicKey?.hint).toBe(spki.digest('base64'));
  });

  it('@sigstore/verify checks the SET against rekor.pub, the body against the signature, and the key', () => {
    const trust = trustWithKey(vecText(dir, 'cosign.pub'), rootWithRekor(vecText(dir, 'rekor.pub')));
    expect(() => verifyWith(e, trust)).not.toThrow(); // tlogThreshold 1, timestampThreshold 1 (integratedTime)
  });

  it('a SET from another log key fails', () => {
    const other = vecText('trust-public-good', 'rekor-v2-log2025-1.pub');
    const trust = trustWithKey(vecText(dir, 'cosign.pub'), rootWithRekor(other));
    expect(() => verifyWith(e, trust)).toThrow(VerificationError);
  });
});

describe('legacy-sig-keyless-rekor: Fulcio cert + chain + SET', () => {
  const dir = 'legacy-sig-keyless-rekor';
  const e = legacy(dir);

  it('carries leaf + chain as an x509CertificateChain', () => {
    expect(e.problems).toEqual([]);
    expect(e.claim).toMatchObject({
      manifestDigest: sha256(vec(dir, 'subject-manifest.json')),
      dockerReference: '192.168.64.2:5000/cosign-signed/fulcio-rekor-1',
    });
    const vm = bundleToJSON(e.bundle!).verificationMaterial;
    expect(vm.x509CertificateChain?.certificates).toHaveLength(3);
    expect(vm.publicKey).toBeUndefined();
  });

  it('@sigstore/verify accepts it against the public-good root with mitr@redhat.com / GitHub OAuth', () => {
    const signer = verifyWith(
      e,
      publicGood(),
      {},
      {
        subjectAlternativeName: 'mitr@redhat.com',
        extensions: { issuer: GH_OAUTH },
      },
    );
    expect(signer.identity?.subjectAlternativeName).toBe('mitr@redhat.com');
    expect(() =>
      verifyWith(e, publicGood(), {}, { subjectAlternativeName: 'someone@else.com', extensions: { issuer: GH_OAUTH } }),
    ).toThrow(/identity/);
  });
});

describe('legacy-sig-manifest-v3: a whole .sig manifest from cosign v3.0.4', () => {
  const dir = 'legacy-sig-manifest-v3';
  const manifest = vecJson<{ layers: { mediaType: string; digest: Digest; annotations: Record<string, string> }[] }>(
    dir,
    'sig-manifest.json',
  );
  const layer = manifest.layers[0]!;
  const payload = vec(dir, 'payload.json');
  const e = evidenceFromTagLayer(
    { mediaType: layer.mediaType, annotations: layer.annotations, payload, digest: layer.digest },
    { description: 'sig-manifest layer 0', layer: layer.digest },
  );

  it('reads the layer and verifies with cosign.pub (@sigstore/verify)', () => {
    expect(sha256(payload)).toBe(layer.digest);
    expect(e.problems).toEqual([]);
    expect(e.claim).toMatchObject({
      manifestDigest: 'sha256:f20c43161d73848408ef247f0ec7111b19fe58ffebc0cbcaa0d2c8bda4967268',
    });
    expect(() => verifyWith(e, trustWithKey(vecText(dir, 'cosign.pub')), NO_WITNESS)).not.toThrow();
    expect(() => verifyWith(e, trustWithKey(vecText('legacy-sig-key-only', 'cosign.pub')), NO_WITNESS)).toThrow(
      expect.objectContaining({ code: 'SIGNATURE_ERROR' }) as Error,
    );
  });
});

describe('bundle-referrer-key-v3: cosign v3 bundle referrer (key, dsse, proof, TSA)', () => {
  const dir = 'bundle-referrer-key-v3';
  const bytes = vec(dir, 'bundle.sigstore.json');
  const e = evidenceFromBundle(bytes, {
    description: 'referrer',
    manifest: sha256(vec(dir, 'referrer-manifest.json')),
  });

  it('is a signature (cosign sign predicate) over the subject index digest', () => {
    expect(e.problems).toEqual([]);
    expect(e).toMatchObject({ scheme: 'referrers', kind: 'signature', converted: false });
    expect(e.claim).toMatchObject({
      type: 'in-toto',
      statementType: 'https://in-toto.io/Statement/v1',
      predicateType: 'https://sigstore.dev/cosign/sign/v1',
      subjects: [{ digest: { sha256: 'd7d5640c741c60b47fa4b5530daa20a6469b55754a89dd42adbadadb59f9093c' } }],
    });
  });

  it('@sigstore/verify accepts it with cosign.pub under its hint + the public-good root (tlog + TSA)', () => {
    const trust = trustWithKey(vecText(dir, 'cosign.pub'), vecJson('trust-public-good', 'trusted_root.json'));
    expect(() => verifyWith(e, trust, { tlogThreshold: 1, timestampThreshold: 2 })).not.toThrow();
    expect(() =>
      verifyWith(
        e,
        trustWithKey(vecText('legacy-sig-key-only', 'cosign.pub'), vecJson('trust-public-good', 'trusted_root.json')),
      ),
    ).toThrow(VerificationError);
  });
});

describe('bundle-attestation-keyless: cosign keyless attestation bundle', () => {
  const dir = 'bundle-attestation-keyless';
  const e = evidenceFromBundle(vec(dir, 'bundle.sigstore.json'), { description: 'referrer' });

  it('is an attestation with the custom predicate', () => {
    expect(e.problems).toEqual([]);
    expect(e.kind).toBe('attestation');
    expect(e.claim).toMatchObject({
      statementType: 'https://in-toto.io/Statement/v0.1',
      predicateType: 'https://cosign.sigstore.dev/attestation/v1',
      subjects: [
        {
          name: '127.0.0.1:60943/repo',
          digest: { sha256: '732112270d7e59418a8c080b134b24cabd67d250d0d0147a97ed95ba5c280aa4' },
        },
      ],
      predicate: { Data: '{"foo": "bar"}\n', Timestamp: '2025-02-28T19:18:11Z' },
    });
  });

  it('@sigstore/verify accepts it against its own and the public-good root for cody@soyland.com', () => {
    const policy = { subjectAlternativeName: 'cody@soyland.com', extensions: { issuer: GH_OAUTH } };
    expect(
      verifyWith(e, trustFromRoot(vecJson(dir, 'trusted_root.json')), {}, policy).identity?.subjectAlternativeName,
    ).toBe('cody@soyland.com');
    expect(() => verifyWith(e, publicGood(), {}, policy)).not.toThrow();
    expect(() => verifyWith(e, publicGood(), {}, { ...policy, subjectAlternativeName: 'mitr@redhat.com' })).toThrow();
  });
});

describe('negative-att-keyless-distroless-tampered: legacy .att with an edited envelope', () => {
  const dir = 'negative-att-keyless-distroless-tampered';
  const envelope = vec(dir, 'envelope.json');
  const annotations = {
    'dev.cosignproject.cosign/signature': '',
    'dev.sigstore.cosign/certificate': vecText(dir, 'certificate.pem'),
    'dev.sigstore.cosign/chain': vecText(dir, 'chain.pem'),
    'dev.sigstore.cosign/bundle': vecText(dir, 'bundle-annotation.json'),
    predicateType: 'https://cosign.sigstore.dev/attestation/vuln/v1',
  };
  const e = evidenceFromTagLayer({ mediaType: DSSE, annotations, payload: envelope }, { description: '.att layer' });

  it('reads as a v0.1 DSSE bundle with an intoto 0.0.1 entry', () => {
    expect(e.problems).toEqual([]);
    expect(e.kind).toBe('attestation');
    expect(e.claim).toMatchObject({
      predicateType: 'https://cosign.sigstore.dev/attestation/vuln/v1',
      subjects: [
        {
          name: 'ghcr.io/distroless/static',
          digest: { sha256: 'a1e82f6a5f6dfc735165d3442e7cc5a615f72abac3db19452481f5f3c90fbfa8' },
        },
      ],
    });
    expect(bundleToJSON(e.bundle!).verificationMaterial.tlogEntries[0]?.kindVersion).toEqual({
      kind: 'intoto',
      version: '0.0.1',
    });
  });

  it('fails @sigstore/verify: the SET verifies but the intoto 0.0.1 body cannot be read by sigstore-js', () => {
    expect(() => verifyWith(e, publicGood())).toThrow(/unsupported intoto version: 0.0.1/);
  });

  it('fails sigil own body check (hash mismatch) and the DSSE signature (@sigstore/verify, no tlog)', () => {
    expect(() => checkLegacyTlogBody(e)).toThrow(VerifyError);
    expect(() => checkLegacyTlogBody(e)).toThrow(/content hash is 2b65cbf0/);
    const noTlog = evidenceFromEnvelopeFile(envelope, 'envelope.json', {
      certificate: annotations['dev.sigstore.cosign/certificate'],
      chain: annotations['dev.sigstore.cosign/chain'],
    });
    expect(noTlog.scheme).toBe('file');
    // the cert is from 2022-07-29 and must be checked at a trusted time; without the tlog there
    // is none, so check the signature only, under the leaf key (what --insecure-ignore-tlog reaches).
    expect(() => verifyWithLeaf(noTlog)).toThrow(expect.objectContaining({ code: 'SIGNATURE_ERROR' }) as Error);
  });
});

/** Signature-only check with the evidence's own leaf key (chain checked elsewhere). */
function verifyWithLeaf(e: Evidence) {
  const vm = e.bundle!.verificationMaterial.content;
  const raw =
    vm.$case === 'x509CertificateChain'
      ? vm.x509CertificateChain.certificates[0]!.rawBytes
      : vm.$case === 'certificate'
        ? vm.certificate.rawBytes
        : undefined;
  const leaf = new X509Certificate(raw!);
  const entity = toSignedEntity(e.bundle!, e.payload ? Buffer.from(e.payload) : undefined);
  entity.key = { $case: 'public-key', hint: 'leaf' };
  const trust = trustFromRoot({
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    tlogs: [],
    ctlogs: [],
    certificateAuthorities: [],
    timestampAuthorities: [],
  });
  trust.publicKey = () => ({ publicKey: leaf.publicKey, validFor: () => true });
  return new Verifier(trust, NO_WITNESS).verify(entity);
}

describe('legacy-sig-custom-pki-rsa: RSA-4096 cert from a private CA, no tlog', () => {
  const dir = 'legacy-sig-custom-pki-rsa';
  const e = legacy(dir);
  const trust = () =>
    trustFromRoot(rootWithCAs([[vecText(dir, 'ca-intermediates.pem'), vecText(dir, 'ca-roots.pem')]]));
  const noTime = { tlogThreshold: 0, timestampThreshold: 0, ctlogThreshold: 0 };

  it('reads the wrapped base64 signature and the leaf + chain', () => {
    expect(e.problems).toEqual([]);
    expect(e.claim).toMatchObject({
      dockerReference: 'localhost:5000/test',
      manifestDigest: sha256(vec(dir, 'subject-manifest.json')),
    });
    expect(bundleToJSON(e.bundle!).verificationMaterial.x509CertificateChain?.certificates).toHaveLength(3);
  });

  it('@sigstore/verify cannot check a certificate without any timestamp (crashes with a TypeError)', () => {
    // verifyCertificate only builds a chain per timestamp; with none, path[0] is undefined.
    expect(() => verifyWith(e, trust(), noTime)).toThrow(TypeError);
  });

  it('with a verification-time timestamp (cosign: current time when there is no tlog) it verifies chain, RSA signature, identity', () => {
    const signer = verifyAt(e, trust(), new Date('2026-01-01T00:00:00Z'), {
      subjectAlternativeName: 'qiwan@redhat.com',
    });
    expect(signer.key.asymmetricKeyType).toBe('rsa');
    let expired: unknown;
    try {
      verifyAt(e, trust(), new Date('2060-01-01T00:00:00Z'));
    } catch (err) {
      expired = err;
    }
    expect(expired).toMatchObject({ code: 'CERTIFICATE_ERROR', cause: { message: expect.stringMatching(/expired/) } });
    const otherCa = trustFromRoot(
      rootWithCAs([
        vecText('legacy-sig-keyless-rekor', 'chain.pem')
          .split(/(?<=-----END CERTIFICATE-----)\n?/)
          .filter((p) => p.includes('BEGIN')),
      ]),
    );
    expect(() => verifyAt(e, otherCa, new Date('2026-01-01T00:00:00Z'))).toThrow(VerificationError);
  });
});

/**
 * Verify at a given time when the evidence carries no trusted time. sigstore-js has no option for
 * it, so the time is added as one more timestamp: getTLogTimestamp reads only inclusionPromise
 * presence, logId and integratedTime of a timestamp entry (the SET is checked on tlogEntries,
 * not here). A verifier must only do this for evidence without tlog/TSA time, as cosign does.
 */
function verifyAt(e: Evidence, trust: ReturnType<typeof publicGood>, at: Date, policy?: object) {
  const entity = toSignedEntity(e.bundle!, Buffer.from(e.payload!));
  entity.timestamps.push({
    $case: 'transparency-log',
    tlogEntry: {
      inclusionPromise: { signedEntryTimestamp: Buffer.alloc(0) },
      logId: { keyId: Buffer.from('verification-time') },
      integratedTime: String(Math.floor(at.getTime() / 1000)),
    } as never,
  });
  return new Verifier(trust, { tlogThreshold: 0, timestampThreshold: 1, ctlogThreshold: 0 }).verify(entity, policy);
}

describe('evidenceFromAttachments: listAttachments output in both schemes', () => {
  function layerOf(mediaType: string, bytes: Uint8Array, annotations: Record<string, string>) {
    return {
      descriptor: { mediaType, digest: sha256(bytes), size: bytes.length, annotations },
      annotations,
      fetch: () => Promise.resolve(bytes),
    };
  }
  const keyOnly = 'legacy-sig-key-only';
  const refDir = 'bundle-referrer-key-v3';
  const subject = 'sha256:634a8f35b5f16dcf4aaa0822adc0b1964bb786fca12f6831de8ddc45e5986a00' as Digest;
  const sigManifest = {
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    digest: sha256(vec('legacy-sig-manifest-v3', 'sig-manifest.json')),
    size: 558,
  };
  const tagAtt = (file: string, payload: string): Attachment => ({
    kind: 'signature',
    scheme: 'tag',
    repository: 'lab/subject',
    manifest: sigManifest,
    tag: `${subject.replace(':', '-')}.sig`,
    bundle: false,
    annotations: vecJson(keyOnly, file),
    layers: [layerOf(SIMPLE, vec(keyOnly, payload), vecJson(keyOnly, file))],
  });
  const referrerBytes = vec(refDir, 'referrer-manifest.json');
  const attachments: Attachment[] = [
    {
      kind: 'signature',
      scheme: 'referrers',
      repository: 'lab/subject',
      manifest: {
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        digest: sha256(referrerBytes),
        size: referrerBytes.length,
      },
      artifactType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
      bundle: true,
      annotations: {},
      layers: [layerOf('application/vnd.dev.sigstore.bundle.v0.3+json', vec(refDir, 'bundle.sigstore.json'), {})],
    },
    tagAtt('layer-annotations.json', 'payload.json'),
    tagAtt('second-layer-annotations.json', 'second-payload.json'),
    {
      ...tagAtt('layer-annotations.json', 'payload.json'),
      layers: [
        {
          ...layerOf(SIMPLE, vec(keyOnly, 'payload.json'), {}),
          fetch: () => Promise.reject(new Error('blob unknown')),
        },
      ],
    },
    { ...tagAtt('layer-annotations.json', 'payload.json'), kind: 'sbom' },
  ];

  it('gives one evidence per signature layer, keeps unreadable ones with a problem, skips SBOMs', async () => {
    const ev = await evidenceFromAttachments({ attachments, referrersVia: 'tag' });
    expect(ev.map((x) => [x.scheme, x.kind, x.bundle !== undefined, x.problems.length])).toEqual([
      ['referrers', 'signature', true, 0],
      ['tag', 'signature', true, 0],
      ['tag', 'signature', true, 0],
      ['tag', 'signature', false, 1],
    ]);
    expect(ev[0]!.source).toMatchObject({
      manifest: sha256(referrerBytes),
      description: `referrer lab/subject@${sha256(referrerBytes)}`,
    });
    expect(ev[1]!.source.description).toBe(
      `lab/subject:${subject.replace(':', '-')}.sig layer ${sha256(vec(keyOnly, 'payload.json'))}`,
    );
    expect(ev[3]!.problems[0]).toMatch(/blob unknown/);
    const key = trustWithKey(vecText(keyOnly, 'cosign.pub'));
    expect(() => verifyWith(ev[1]!, key, NO_WITNESS)).not.toThrow();
    expect(() => verifyWith(ev[2]!, key, NO_WITNESS)).not.toThrow();
  });

  it('a layer without its signature annotation is evidence with a problem, not an exception', () => {
    const e = evidenceFromTagLayer({ mediaType: SIMPLE, annotations: {}, payload: vec(keyOnly, 'payload.json') });
    expect(e.bundle).toBeUndefined();
    expect(e.claim).toMatchObject({ manifestDigest: subject });
    expect(e.problems).toEqual(['no dev.cosignproject.cosign/signature annotation']);
    const bad = evidenceFromTagLayer({
      mediaType: SIMPLE,
      annotations: { ...vecJson(keyOnly, 'layer-annotations.json'), 'dev.sigstore.cosign/bundle': '{"Payload":{}}' },
      payload: vec(keyOnly, 'payload.json'),
    });
    expect(bad.bundle).toBeDefined(); // the signature still counts; only the tlog is lost
    expect(bad.problems[0]).toMatch(/SignedEntryTimestamp is missing/);
    const notBundle = evidenceFromBundle('{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"}', {
      description: 'x',
    });
    expect(notBundle.bundle).toBeUndefined();
    expect(notBundle.problems[0]).toMatch(/Sigstore bundle: .*invalid/);
  });
});

describe('evidenceFromEnvelopeFile and the RFC 3161 annotation', () => {
  it('reads a bundle file as stored (scheme file)', () => {
    const e = evidenceFromEnvelopeFile(vec('bundle-attestation-keyless', 'bundle.sigstore.json'), '/tmp/att.json');
    expect(e).toMatchObject({ scheme: 'file', kind: 'attestation', converted: false, problems: [] });
    expect(e.source).toEqual({ description: '/tmp/att.json', path: '/tmp/att.json' });
  });

  it('maps dev.sigstore.cosign/rfc3161timestamp onto timestampVerificationData', () => {
    const b = vecJson<{
      verificationMaterial: { timestampVerificationData: { rfc3161Timestamps: { signedTimestamp: string }[] } };
    }>('bundle-referrer-key-v3', 'bundle.sigstore.json');
    const ts = b.verificationMaterial.timestampVerificationData.rfc3161Timestamps[0]!.signedTimestamp;
    const dir = 'legacy-sig-key-only';
    const e = evidenceFromTagLayer({
      mediaType: SIMPLE,
      annotations: {
        ...vecJson(dir, 'layer-annotations.json'),
        'dev.sigstore.cosign/rfc3161timestamp': JSON.stringify({ SignedRFC3161Timestamp: ts }),
      },
      payload: vec(dir, 'payload.json'),
    });
    expect(e.problems).toEqual([]);
    expect(bundleToJSON(e.bundle!).verificationMaterial.timestampVerificationData).toEqual({
      rfc3161Timestamps: [{ signedTimestamp: ts }],
    });
  });
});
