import { describe, expect, it } from 'vitest';
import { sha256 } from '../../src/oci/digest.ts';
import { manifestMediaType, parseConfig, parseManifest, verifyManifestBytes } from '../../src/oci/manifest.ts';
import { MediaType } from '../../src/oci/media-types.ts';

const enc = (o: unknown) => new TextEncoder().encode(JSON.stringify(o));
const desc = (mediaType: string, data = 'x') => ({ mediaType, digest: sha256(data), size: data.length });

describe('parseManifest', () => {
  it('tells images from indexes by mediaType, then by shape', () => {
    const image = {
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      config: desc(MediaType.OciConfig),
      layers: [desc(MediaType.OciLayerGzip)],
    };
    expect(parseManifest(enc(image), undefined, 'm').kind).toBe('image');
    const index = { schemaVersion: 2, manifests: [desc(MediaType.OciManifest)] };
    expect(parseManifest(enc(index), undefined, 'm').kind).toBe('index');
    expect(parseManifest(enc(index), MediaType.DockerManifestList, 'm').kind).toBe('index');
    expect(manifestMediaType(enc(index))).toBe(MediaType.OciIndex);
    expect(manifestMediaType(enc(image))).toBe(MediaType.OciManifest);
  });

  it('rejects schema 1, non-JSON and bad descriptors with the place named', () => {
    expect(() => parseManifest(enc({ schemaVersion: 1 }), undefined, 'reg/app:1')).toThrow(
      /reg\/app:1: schemaVersion 1/,
    );
    expect(() => parseManifest(new TextEncoder().encode('{'), undefined, 'x')).toThrow(/not valid JSON/);
    const bad = {
      schemaVersion: 2,
      config: desc(MediaType.OciConfig),
      layers: [{ mediaType: MediaType.OciLayer, digest: 'sha256:zz', size: 1 }],
    };
    expect(() => parseManifest(enc(bad), undefined, 'x')).toThrow(/layers\[\] digest/);
    const negative = { schemaVersion: 2, config: { ...desc(MediaType.OciConfig), size: -1 }, layers: [] };
    expect(() => parseManifest(enc(negative), undefined, 'x')).toThrow(/invalid size/);
  });

  it('verifies manifest bytes against digest and size', () => {
    const bytes = enc({ schemaVersion: 2 });
    expect(() => verifyManifestBytes(bytes, { digest: sha256(bytes), size: bytes.length }, 'm')).not.toThrow();
    expect(() => verifyManifestBytes(bytes, { digest: sha256(bytes), size: bytes.length + 1 }, 'm')).toThrow(
      /SIZE|bytes/,
    );
    expect(() => verifyManifestBytes(bytes, { digest: sha256('y'), size: bytes.length }, 'm')).toThrow(
      /does not match/,
    );
  });

  it('requires rootfs.diff_ids in a config', () => {
    expect(parseConfig(enc({ rootfs: { type: 'layers', diff_ids: [] } }), 'c').rootfs.diff_ids).toEqual([]);
    expect(() => parseConfig(enc({}), 'cfg')).toThrow(/cfg: image config is invalid/);
  });
});
