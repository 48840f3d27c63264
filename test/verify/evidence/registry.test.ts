import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  appendToTagImage,
  AttachAnnotation,
  AttachMediaType,
  attachmentTag,
  bundleReferrer,
  listAttachments,
  pushReferrer,
} from '../../../src/attach/index.ts';
import type { Digest } from '../../../src/oci/digest.ts';
import { MediaType } from '../../../src/oci/media-types.ts';
import { Registry } from '../../../src/oci/registry/client.ts';
import { evidenceFromAttachments } from '../../../src/verify/evidence/index.ts';
import { startRegistry, type TestRegistry } from '../../harness/registry.ts';
import { vec, vecJson, vecText } from './vector-trust.ts';

const SUBJECT = 'sha256:634a8f35b5f16dcf4aaa0822adc0b1964bb786fca12f6831de8ddc45e5986a00' as Digest;

describe('evidence from listAttachments on distribution 2.8 (tag scheme + fallback referrers)', () => {
  let reg: TestRegistry;
  let registry: Registry;
  beforeAll(async () => {
    reg = await startRegistry();
    registry = new Registry(reg.host);
  });
  afterAll(async () => {
    await reg?.stop();
  });

  it('reads 3 .sig layers, 1 .att layer and 1 bundle referrer into evidence, with sources', async () => {
    const repo = 'evidence/mixed';
    const dir = 'legacy-sig-key-only';
    const sig = (payload: string, annotations: string) => ({
      mediaType: AttachMediaType.SimpleSigning,
      bytes: vec(dir, payload),
      annotations: vecJson(dir, annotations),
    });
    await appendToTagImage(registry, repo, attachmentTag('signature', SUBJECT), [
      sig('payload.json', 'layer-annotations.json'),
      sig('second-payload.json', 'second-layer-annotations.json'),
      sig('negative-otherkey-payload.json', 'negative-otherkey-layer-annotations.json'),
    ]);
    const neg = 'negative-att-keyless-distroless-tampered';
    await appendToTagImage(registry, repo, attachmentTag('attestation', SUBJECT), [
      {
        mediaType: AttachMediaType.DsseEnvelope,
        bytes: vec(neg, 'envelope.json'),
        annotations: {
          [AttachAnnotation.Signature]: '',
          [AttachAnnotation.Certificate]: vecText(neg, 'certificate.pem'),
          [AttachAnnotation.Chain]: vecText(neg, 'chain.pem'),
          [AttachAnnotation.Bundle]: vecText(neg, 'bundle-annotation.json'),
          [AttachAnnotation.PredicateType]: 'https://cosign.sigstore.dev/attestation/vuln/v1',
        },
      },
    ]);
    const pushed = await pushReferrer(
      registry,
      repo,
      bundleReferrer({
        subject: { mediaType: MediaType.OciManifest, size: 100, digest: SUBJECT },
        bundle: vec('bundle-referrer-key-v3', 'bundle.sigstore.json'),
        predicateType: 'https://sigstore.dev/cosign/sign/v1',
        created: new Date('2026-08-12T20:53:28Z'),
      }),
    );
    expect(pushed.via).toBe('tag');

    const list = await listAttachments(registry, repo, SUBJECT);
    const evidence = await evidenceFromAttachments(list);
    expect(evidence.map((e) => [e.scheme, e.kind, e.converted, e.bundle?.content.$case, e.problems])).toEqual([
      ['referrers', 'signature', false, 'dsseEnvelope', []],
      ['tag', 'signature', true, 'messageSignature', []],
      ['tag', 'signature', true, 'messageSignature', []],
      ['tag', 'signature', true, 'messageSignature', []],
      ['tag', 'attestation', true, 'dsseEnvelope', []],
    ]);
    expect(evidence[0]!.source).toMatchObject({ manifest: pushed.manifest.digest, repository: repo });
    expect(evidence[1]!.source.tag).toBe(attachmentTag('signature', SUBJECT));
    expect(evidence[4]!.envelope).toEqual(vec(neg, 'envelope.json'));
    expect(evidence.slice(1, 4).map((e) => e.claim?.type === 'simple-signing' && e.claim.manifestDigest)).toEqual([
      SUBJECT,
      SUBJECT,
      SUBJECT,
    ]);
  });
});
