import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  attachmentLocation,
  AttachError,
  attestationTag,
  buildReferrerManifest,
  buildSignatureImage,
  bundleReferrer,
  parseSignatureImage,
  referrersIndexEntry,
  sbomTag,
  signatureTag,
  tagKind,
} from '../../src/attach/index.ts';
import { goJson } from '../../src/attach/go-json.ts';
import { sha256 } from '../../src/oci/digest.ts';
import { VECTORS_DIR } from '../helpers/vectors.ts';

const V = join(VECTORS_DIR, 'cosign');
const read = (...p: string[]) => new Uint8Array(readFileSync(join(V, ...p)));
const text = (b: Uint8Array) => Buffer.from(b).toString('utf8');

describe('tags', () => {
  const d = 'sha256:f20c43161d73848408ef247f0ec7111b19fe58ffebc0cbcaa0d2c8bda4967268';
  it('derives cosign tags from a digest', () => {
    expect(signatureTag(d)).toBe('sha256-f20c43161d73848408ef247f0ec7111b19fe58ffebc0cbcaa0d2c8bda4967268.sig');
    expect(attestationTag(d)).toMatch(/^sha256-f20c.*\.att$/);
    expect(sbomTag(d)).toMatch(/^sha256-f20c.*\.sbom$/);
    expect(tagKind(signatureTag(d))).toBe('signature');
    expect(tagKind('latest')).toBeUndefined();
  });
  it('applies a repository override and rejects a bad one', () => {
    expect(attachmentLocation('signature', 'app', d, 'sigs/app')).toEqual({
      repository: 'sigs/app',
      tag: signatureTag(d),
    });
    expect(attachmentLocation('attestation', 'app', d).repository).toBe('app');
    expect(() => attachmentLocation('signature', 'app', d, 'sigs:1')).toThrow(AttachError);
    expect(() => signatureTag('sha256:abc')).toThrow();
  });
});

describe('signature image bytes', () => {
  it('reproduces cosign v3.0.4 .sig manifest and config exactly (legacy-sig-manifest-v3)', () => {
    const manifest = read('legacy-sig-manifest-v3', 'sig-manifest.json');
    const sig = (JSON.parse(text(manifest)) as { layers: { annotations: Record<string, string> }[] }).layers[0]!
      .annotations['dev.cosignproject.cosign/signature']!;
    const img = buildSignatureImage([
      {
        mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json',
        bytes: read('legacy-sig-manifest-v3', 'payload.json'),
        annotations: { 'dev.cosignproject.cosign/signature': sig },
      },
    ]);
    expect(text(img.configBytes)).toBe(text(read('legacy-sig-manifest-v3', 'config.json')));
    expect(text(img.manifestBytes)).toBe(text(manifest));
    expect(img.digest).toBe('sha256:b6872674fc1bef936d1400f22f94b090f3e3eaf53c1b26362d39f3701cd08053');
  });

  it('grows the config by 109 bytes per further layer and sorts annotation keys', () => {
    const layer = (s: string) => ({
      mediaType: 'application/vnd.dsse.envelope.v1+json',
      bytes: new TextEncoder().encode(s),
      annotations: { predicateType: 'https://x', 'dev.cosignproject.cosign/signature': '' },
    });
    const img = buildSignatureImage([layer('a'), layer('b'), layer('c')]);
    expect(img.configBytes.byteLength).toBe(233 + 2 * 109);
    const m = text(img.manifestBytes);
    expect(m.indexOf('"dev.cosignproject.cosign/signature"')).toBeLessThan(m.indexOf('"predicateType"'));
    expect(img.layers.map((l) => l.digest)).toEqual(['a', 'b', 'c'].map((s) => sha256(s)));
  });

  it('escapes like Go encoding/json', () => {
    expect(goJson({ a: '<x>&\u2028' })).toBe('{"a":"\\u003cx\\u003e\\u0026\\u2028"}');
  });

  it('uses Docker media types on request and parses them back', () => {
    const img = buildSignatureImage([{ mediaType: 'text/spdx+json', bytes: new Uint8Array([1]) }], {
      dockerMediaTypes: true,
    });
    expect(text(img.manifestBytes)).toContain('"mediaType":"application/vnd.docker.distribution.manifest.v2+json"');
    expect(text(img.manifestBytes)).toContain('"application/vnd.docker.container.image.v1+json"');
    const layers = parseSignatureImage(img.manifestBytes, undefined, 'x');
    expect(layers).toHaveLength(1);
    expect(layers[0]!.annotations).toBeUndefined();
  });

  it('refuses more than 1000 layers and an index', () => {
    const many = Array.from({ length: 1001 }, (_, i) => ({
      mediaType: 'x/y',
      bytes: new TextEncoder().encode(String(i)),
    }));
    expect(() => buildSignatureImage(many)).toThrow(expect.objectContaining({ code: 'ATTACHMENT_TOO_LARGE' }));
    expect(() =>
      parseSignatureImage(read('bundle-referrer-key-v3', 'fallback-tag-index.json'), undefined, 'x'),
    ).toThrow(expect.objectContaining({ code: 'ATTACHMENT_INVALID' }));
  });
});

describe('bundle referrer bytes', () => {
  const subject = {
    mediaType: 'application/vnd.oci.image.index.v1+json',
    size: 928,
    digest: 'sha256:d7d5640c741c60b47fa4b5530daa20a6469b55754a89dd42adbadadb59f9093c',
  };
  const built = buildReferrerManifest(
    bundleReferrer({
      subject,
      bundle: read('bundle-referrer-key-v3', 'bundle.sigstore.json'),
      predicateType: 'https://sigstore.dev/cosign/sign/v1',
      created: new Date('2026-08-12T20:53:28.123Z'),
    }),
  );

  it('reproduces cosign v3.0.4 referrer-manifest.json exactly', () => {
    expect(text(built.manifestBytes)).toBe(text(read('bundle-referrer-key-v3', 'referrer-manifest.json')));
    expect(built.digest).toBe('sha256:aa34dbe1db5336a0a85e4cc7eced2f5dc91f0062322972fe29c4002372a7adff');
    expect(text(built.configBytes)).toBe('{}');
  });

  it('describes it in the fallback index as cosign v3.0 did, or as the spec asks', () => {
    const legacy = referrersIndexEntry(built, 'ggcr-v0.20');
    const index = goJson({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [legacy],
    });
    expect(index).toBe(text(read('bundle-referrer-key-v3', 'fallback-tag-index.json')));
    const spec = referrersIndexEntry(built);
    expect(spec.artifactType).toBe('application/vnd.dev.sigstore.bundle.v0.3+json');
    expect(spec.annotations?.['dev.sigstore.bundle.predicateType']).toBe('https://sigstore.dev/cosign/sign/v1');
  });
});
