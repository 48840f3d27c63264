import { describe, expect, it } from 'vitest';
import { formatImageLocation, parseImageLocation } from '../../src/oci/source.ts';

describe('image locations', () => {
  it.each([
    ['alpine:3.20', 'registry', 'docker.io/library/alpine:3.20'],
    ['registry:127.0.0.1:5000/app:1', 'registry', '127.0.0.1:5000/app:1'],
    ['docker://127.0.0.1:5000/app:1', 'registry', '127.0.0.1:5000/app:1'],
    ['oci-dir:./out', 'oci-dir', 'oci-dir:./out'],
    ['oci:./out:app', 'oci-dir', 'oci-dir:./out:app'],
    ['oci-archive:/tmp/a.tar:v1', 'oci-archive', 'oci-archive:/tmp/a.tar:v1'],
    ['docker-archive:app.tar:app:1.0', 'docker-archive', 'docker-archive:app.tar:app:1.0'],
  ])('%s', (spec, kind, canonical) => {
    const loc = parseImageLocation(spec);
    expect(loc.kind).toBe(kind);
    expect(formatImageLocation(loc)).toBe(canonical);
  });

  it('splits path and name at the first colon, as skopeo', () => {
    expect(parseImageLocation('docker-archive:app.tar:app:1.0')).toEqual({
      kind: 'docker-archive',
      path: 'app.tar',
      name: 'app:1.0',
    });
  });

  it('rejects a prefix without a path, and an empty name', () => {
    expect(() => parseImageLocation('oci-dir:')).toThrow(/needs a path/);
    expect(() => parseImageLocation('oci-archive:a.tar:')).toThrow(/empty image name/);
  });
});
