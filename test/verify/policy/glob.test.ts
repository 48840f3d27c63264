import { describe, expect, it } from 'vitest';
import { GlobError, compileGlob, normaliseReference } from '../../../src/verify/policy/glob.ts';

describe('POLICY.md §2.1 table', () => {
  const globs = ['ghcr.io/acme/*', 'ghcr.io/acme/**', 'nginx', 'docker.io/*/*'];
  const rows: [string, string, boolean[]][] = [
    ['ghcr.io/acme/app:1.2', 'ghcr.io/acme/app', [true, true, false, false]],
    [`ghcr.io/acme/team/app@sha256:${'a'.repeat(64)}`, 'ghcr.io/acme/team/app', [false, true, false, false]],
    ['nginx:1.27', 'docker.io/library/nginx', [false, false, true, true]],
    ['index.docker.io/bitnami/redis', 'docker.io/bitnami/redis', [false, false, false, true]],
    ['localhost:5000/app', 'localhost:5000/app', [false, false, false, false]],
  ];
  for (const [ref, name, expected] of rows) {
    it(`${ref} → ${name}`, () => {
      expect(normaliseReference(ref).name).toBe(name);
      expect(globs.map((g) => compileGlob(g).matches(name))).toEqual(expected);
    });
  }
});

describe('normalisation', () => {
  it('keeps tag and digest apart, never in the name', () => {
    const d = `sha256:${'b'.repeat(64)}`;
    expect(normaliseReference(`localhost:5000/a/b:v1@${d}`)).toEqual({
      name: 'localhost:5000/a/b',
      registry: 'localhost:5000',
      repository: 'a/b',
      tag: 'v1',
      digest: d,
    });
    expect(normaliseReference('registry-1.docker.io/nginx').name).toBe('docker.io/library/nginx');
    expect(normaliseReference('GHCR.IO/acme/app').name).toBe('ghcr.io/acme/app');
    expect(normaliseReference('localhost/app').name).toBe('localhost/app');
    expect(normaliseReference('acme/app').name).toBe('docker.io/acme/app');
  });
  it('OCI layouts are local/<dir> unless scoped', () => {
    expect(normaliseReference('oci-dir:/tmp/x/my-app').name).toBe('local/my-app');
    expect(normaliseReference('oci-dir:/tmp/x/my-app', 'ghcr.io/acme/app').name).toBe('ghcr.io/acme/app');
  });
  it('§8 case 11: three spellings of nginx select `nginx`; `ghcr.io/acme/*` does not select team/app', () => {
    const g = compileGlob('nginx');
    for (const r of ['nginx', 'index.docker.io/library/nginx:1', `docker.io/library/nginx@sha256:${'c'.repeat(64)}`]) {
      expect(g.matches(normaliseReference(r).name)).toBe(true);
    }
    expect(compileGlob('ghcr.io/acme/*').matches('ghcr.io/acme/team/app')).toBe(false);
  });
});

describe('pattern syntax', () => {
  it('** crosses segments but needs the slash; * stays in one segment and may match part of a host', () => {
    const g = compileGlob('ghcr.io/acme/**');
    expect(g.matches('ghcr.io/acme')).toBe(false);
    expect(g.matches('ghcr.io/acme-evil/app')).toBe(false);
    expect(g.matches('ghcr.io/acme/a/b/c')).toBe(true);
    expect(compileGlob('*.gcr.io/**').matches('eu.gcr.io/p/app')).toBe(true);
    expect(compileGlob('*.gcr.io/**').matches('evil.com/x.gcr.io/app')).toBe(false);
    expect(compileGlob('**').matches('anything/at/all')).toBe(true);
    expect(compileGlob('acme/*').expanded).toBe('docker.io/acme/*');
    expect(compileGlob('acme/*').registryImplied).toBe(true);
    expect(compileGlob('INDEX.docker.io/library/*').expanded).toBe('docker.io/library/*');
    expect(compileGlob('ghcr.io/acme**').doubleStarInsideSegment).toBe(true);
    expect(compileGlob('localhost:5000/**').matches('localhost/app')).toBe(false);
  });
  it('load errors: *, tags, ?, [, {, @, upper case path', () => {
    expect(() => compileGlob('*')).toThrow(/write `\*\*` for every image/);
    expect(() => compileGlob('ghcr.io/acme/app:*')).toThrow(
      'globs match repositories; tags and digests are never part of the match',
    );
    for (const bad of [
      'ghcr.io/acme/ap?',
      'ghcr.io/[ab]/x',
      'ghcr.io/{a,b}/x',
      'ghcr.io/acme/app@sha256:x',
      'ghcr.io/Acme/app',
    ]) {
      expect(() => compileGlob(bad), bad).toThrow(GlobError);
    }
  });
});
