import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isOciError, OciError } from '../../src/oci/errors.ts';
import {
  familiarString,
  parseReference,
  parseRepository,
  type Reference,
  referenceTarget,
  registryApiHost,
  withDigest,
  withTag,
} from '../../src/oci/reference.ts';

const D256 = `sha256:${'a'.repeat(64)}`;
const D512 = `sha512:${'0123456789abcdef'.repeat(8)}`;

function fields(r: Reference) {
  return { registry: r.registry, repository: r.repository, tag: r.tag, digest: r.digest, name: r.name };
}

function reasonOf(fn: () => unknown): OciError {
  try {
    fn();
  } catch (e) {
    if (e instanceof OciError) return e;
    throw e;
  }
  throw new Error('expected an OciError, nothing was thrown');
}

describe('parseReference: valid inputs', () => {
  const cases: [string, string, string, string | undefined, string | undefined][] = [
    // input, registry, repository, tag, digest
    ['alpine', 'docker.io', 'library/alpine', undefined, undefined],
    ['alpine:3.19', 'docker.io', 'library/alpine', '3.19', undefined],
    ['library/alpine', 'docker.io', 'library/alpine', undefined, undefined],
    ['docker.io/alpine', 'docker.io', 'library/alpine', undefined, undefined],
    ['index.docker.io/library/alpine:3', 'docker.io', 'library/alpine', '3', undefined],
    ['registry-1.docker.io/bitnami/redis:7', 'docker.io', 'bitnami/redis', '7', undefined],
    ['Docker.IO/grafana/grafana', 'docker.io', 'grafana/grafana', undefined, undefined],
    ['bitnami/redis', 'docker.io', 'bitnami/redis', undefined, undefined],
    ['localhost/foo', 'localhost', 'foo', undefined, undefined],
    ['localhost:5000/foo/bar:tag', 'localhost:5000', 'foo/bar', 'tag', undefined],
    [`127.0.0.1:5000/a@${D256}`, '127.0.0.1:5000', 'a', undefined, D256],
    [`ghcr.io/o/r:t@${D256}`, 'ghcr.io', 'o/r', 't', D256],
    [`quay.io/o/r@${D512}`, 'quay.io', 'o/r', undefined, D512],
    ['[::1]:5000/x', '[::1]:5000', 'x', undefined, undefined],
    ['[2001:db8::1]/x/y:v1', '[2001:db8::1]', 'x/y', 'v1', undefined],
    ['Example.COM/foo', 'Example.COM', 'foo', undefined, undefined],
    ['my-host:8080/a/b/c', 'my-host:8080', 'a/b/c', undefined, undefined],
    ['gcr.io/distroless/static-debian12:nonroot', 'gcr.io', 'distroless/static-debian12', 'nonroot', undefined],
    ['a.b/x__y/z-----w/p.q/r_s', 'a.b', 'x__y/z-----w/p.q/r_s', undefined, undefined],
    ['alpine:UPPER_case.-ok', 'docker.io', 'library/alpine', 'UPPER_case.-ok', undefined],
    [`alpine:${'t'.repeat(128)}`, 'docker.io', 'library/alpine', 't'.repeat(128), undefined],
    // As distribution: with no '/', "localhost:5000" is a repository and a tag, not a registry.
    ['localhost:5000', 'docker.io', 'library/localhost', '5000', undefined],
    // A bare "example.com" is likewise a Docker Hub repository (normalize.go's fast path).
    ['example.com', 'docker.io', 'library/example.com', undefined, undefined],
  ];

  it.each(cases)('%s', (input, registry, repository, tag, digest) => {
    const ref = parseReference(input);
    expect(fields(ref)).toEqual({ registry, repository, tag, digest, name: `${registry}/${repository}` });
    expect('tag' in ref).toBe(tag !== undefined);
    expect('digest' in ref).toBe(digest !== undefined);
    // Canonical form re-parses to itself.
    expect(parseReference(ref.toString()).toString()).toBe(ref.toString());
  });

  it('writes the canonical form', () => {
    expect(parseReference('alpine').toString()).toBe('docker.io/library/alpine');
    expect(parseReference('index.docker.io/alpine:3').toString()).toBe('docker.io/library/alpine:3');
    expect(parseReference(`ghcr.io/o/r:t@${D256}`).toString()).toBe(`ghcr.io/o/r:t@${D256}`);
    expect(String(parseReference('[::1]:5000/x@' + D256))).toBe(`[::1]:5000/x@${D256}`);
  });

  it('is frozen', () => {
    const ref = parseReference('alpine:3') as { tag?: string };
    expect(() => {
      ref.tag = 'x';
    }).toThrow(TypeError);
  });

  it('fills defaultTag only when neither tag nor digest is given', () => {
    expect(parseReference('alpine', { defaultTag: 'latest' }).tag).toBe('latest');
    expect(parseReference('alpine:3', { defaultTag: 'latest' }).tag).toBe('3');
    expect(parseReference(`alpine@${D256}`, { defaultTag: 'latest' }).tag).toBeUndefined();
    expect(() => parseReference('alpine', { defaultTag: '-bad' })).toThrow(/default tag "-bad"/);
  });
});

describe('parseReference: invalid inputs', () => {
  const longPath = `${'a'.repeat(200)}/${'b'.repeat(55)}`; // 256 characters
  const cases: [string, string][] = [
    ['', 'invalid reference "": empty'],
    ['Foo/bar:1', 'invalid reference "Foo/bar:1": repository "Foo/bar" must be lowercase'],
    ['Alpine', 'repository "Alpine" must be lowercase'],
    ['ghcr.io/Owner/repo', 'repository "Owner/repo" must be lowercase'],
    ['x:::', 'invalid reference "x:::": tag "::" is invalid'],
    ['alpine:', 'tag "" is invalid'],
    ['alpine:-x', 'tag "-x" is invalid'],
    ['alpine:.x', 'tag ".x" is invalid'],
    [`alpine:${'t'.repeat(129)}`, `tag "${'t'.repeat(129)}" is invalid`],
    ['alpine@sha256:abc', 'digest "sha256:abc" must be sha256:<64 hex>'],
    [`alpine@sha256:${'A'.repeat(64)}`, 'must be sha256:<64 hex>'],
    [`alpine@md5:${'a'.repeat(32)}`, `digest "md5:${'a'.repeat(32)}"`],
    ['alpine@', 'digest "" must be'],
    [`alpine@${D256}@${D256}`, `digest "${D256}@${D256}"`],
    [longPath, 'name is longer than 255 characters'],
    [`ghcr.io/${longPath}:t`, 'name is longer than 255 characters'],
    // 'library/' counts: 248 + 8 = 256.
    ['a'.repeat(248), 'name is longer than 255 characters'],
    ['a//b', 'component "" is invalid'],
    ['a/b/', 'component "" is invalid'],
    ['/a', 'component "" is invalid'],
    ['a/-b', 'component "-b" is invalid'],
    ['a/b..c', 'component "b..c" is invalid'],
    ['a/b___c', 'component "b___c" is invalid'],
    ['a/b_', 'component "b_" is invalid'],
    ['ghcr.io/', 'repository name is empty'],
    ['foo_bar.com/x', 'registry "foo_bar.com" is not a valid host[:port]'],
    ['-a.com/x', 'registry "-a.com"'],
    ['a.com:port/x', 'registry "a.com:port"'],
    ['a.com:99999/x', 'port 99999 is out of range'],
    ['[::1/x', 'registry "[::1"'],
    ['[fe80::1%eth0]:5000/x', 'registry "[fe80::1%eth0]:5000"'],
    ['a b', 'component "a b" is invalid'],
    ['e'.repeat(64), 'image ID'],
  ];

  it.each(cases)('%j', (input, fragment) => {
    const err = reasonOf(() => parseReference(input));
    expect(err.code).toBe('REFERENCE_INVALID');
    expect(err.message).toContain(fragment);
    expect(err.message.startsWith(`invalid reference "${input}"`)).toBe(true);
  });

  it('accepts a repository of exactly 255 characters', () => {
    const path = `${'a'.repeat(200)}/${'b'.repeat(54)}`;
    expect(parseReference(path).repository).toHaveLength(255);
    expect(parseReference('a'.repeat(247)).repository).toHaveLength(255);
  });
});

describe('parseRepository', () => {
  it('normalises like parseReference', () => {
    expect(parseRepository('alpine')).toEqual({
      registry: 'docker.io',
      repository: 'library/alpine',
      name: 'docker.io/library/alpine',
    });
    expect(parseRepository('localhost:5000/foo/bar')).toEqual({
      registry: 'localhost:5000',
      repository: 'foo/bar',
      name: 'localhost:5000/foo/bar',
    });
    expect(parseRepository('index.docker.io/o/r').name).toBe('docker.io/o/r');
  });

  it.each([
    ['alpine:3', 'invalid repository "alpine:3": a repository name has no tag; remove ":3"'],
    [`ghcr.io/o/r@${D256}`, `a repository name has no digest; remove "@${D256}"`],
    ['Foo/bar', 'repository "Foo/bar" must be lowercase'],
    ['', 'invalid repository "": empty'],
  ])('rejects %j', (input, fragment) => {
    const err = reasonOf(() => parseRepository(input));
    expect(err.code).toBe('REFERENCE_INVALID');
    expect(err.message).toContain(fragment);
  });
});

describe('helpers', () => {
  it('referenceTarget prefers the digest, then the tag, then latest', () => {
    expect(referenceTarget(parseReference('alpine'))).toBe('latest');
    expect(referenceTarget(parseReference('alpine:3.19'))).toBe('3.19');
    expect(referenceTarget(parseReference(`alpine:3.19@${D256}`))).toBe(D256);
    expect(referenceTarget(parseReference(`alpine@${D256}`))).toBe(D256);
  });

  it.each([
    ['alpine', 'alpine'],
    ['docker.io/library/alpine:3.19', 'alpine:3.19'],
    [`alpine:3@${D256}`, `alpine:3@${D256}`],
    ['bitnami/redis:7', 'bitnami/redis:7'],
    // Nested under library/: not an official image, keep the prefix (normalize.go familiarizeName).
    ['library/a/b', 'library/a/b'],
    ['ghcr.io/o/r:t', 'ghcr.io/o/r:t'],
    ['localhost:5000/foo', 'localhost:5000/foo'],
  ])('familiarString(%s) = %s', (input, familiar) => {
    const ref = parseReference(input);
    expect(familiarString(ref)).toBe(familiar);
    expect(fields(parseReference(familiarString(ref)))).toEqual(fields(ref));
  });

  it('withDigest keeps the tag and validates', () => {
    const ref = withDigest(parseReference('ghcr.io/o/r:t'), D256);
    expect(ref.toString()).toBe(`ghcr.io/o/r:t@${D256}`);
    expect(referenceTarget(ref)).toBe(D256);
    const err = reasonOf(() => withDigest(parseReference('ghcr.io/o/r'), 'sha256:1'));
    expect(err.code).toBe('REFERENCE_INVALID');
    expect(err.message).toContain('digest "sha256:1" must be sha256:<64 hex>');
  });

  it('withTag keeps the digest and validates', () => {
    const ref = withTag(parseReference(`ghcr.io/o/r@${D256}`), 'v1');
    expect(fields(ref)).toMatchObject({ tag: 'v1', digest: D256 });
    expect(withTag(parseReference('alpine:3'), '4').toString()).toBe('docker.io/library/alpine:4');
    expect(
      isOciError(
        reasonOf(() => withTag(parseReference('alpine'), 'a:b')),
        'REFERENCE_INVALID',
      ),
    ).toBe(true);
  });

  it('registryApiHost maps only Docker Hub', () => {
    expect(registryApiHost('docker.io')).toBe('registry-1.docker.io');
    expect(registryApiHost('index.docker.io')).toBe('registry-1.docker.io');
    expect(registryApiHost(parseReference('alpine').registry)).toBe('registry-1.docker.io');
    expect(registryApiHost('ghcr.io')).toBe('ghcr.io');
    expect(registryApiHost('127.0.0.1:5000')).toBe('127.0.0.1:5000');
  });
});

describe('round trip (property)', () => {
  const alnum = fc.stringMatching(/^[a-z0-9]{1,6}$/);
  const separator = fc.constantFrom('.', '_', '__', '-', '--', '---');
  const component = fc
    .tuple(alnum, fc.array(fc.tuple(separator, alnum), { maxLength: 3 }))
    .map(([head, tail]) => head + tail.map(([s, a]) => s + a).join(''));
  const label = fc.stringMatching(/^[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,6}[a-zA-Z0-9])?$/);
  const port = fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined });
  const host = fc.oneof(
    fc.array(label, { minLength: 2, maxLength: 3 }).map((ls) => ls.join('.')),
    fc.constant('localhost'),
    fc.ipV4(),
    fc
      .ipV6()
      .filter((a) => !a.includes('.'))
      .map((a) => `[${a}]`),
  );
  const registry = fc.option(
    fc.tuple(host, port).map(([h, p]) => (p === undefined ? h : `${h}:${p}`)),
    { nil: undefined },
  );
  const tag = fc.option(fc.stringMatching(/^\w[\w.-]{0,20}$/), { nil: undefined });
  const digest = fc.option(
    fc.oneof(
      fc.stringMatching(/^[a-f0-9]{64}$/).map((h) => `sha256:${h}`),
      fc.stringMatching(/^[a-f0-9]{128}$/).map((h) => `sha512:${h}`),
    ),
    { nil: undefined },
  );
  const input = fc
    .tuple(registry, fc.array(component, { minLength: 1, maxLength: 4 }), tag, digest)
    // Without a registry, a first component with '.' would itself be read as a registry.
    .filter(([r, path]) => r !== undefined || path.length === 1 || !path[0]!.includes('.'))
    .map(
      ([r, path, t, d]) =>
        `${r === undefined ? '' : `${r}/`}${path.join('/')}${t === undefined ? '' : `:${t}`}${d === undefined ? '' : `@${d}`}`,
    );

  it('toString() and familiarString() re-parse to the same fields', () => {
    fc.assert(
      fc.property(input, (s) => {
        const ref = parseReference(s);
        expect(fields(parseReference(ref.toString()))).toEqual(fields(ref));
        expect(fields(parseReference(familiarString(ref)))).toEqual(fields(ref));
        expect(ref.toString()).toBe(parseReference(ref.toString()).toString());
      }),
      { numRuns: 500 },
    );
  });

  it('never throws anything but REFERENCE_INVALID on arbitrary input', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (s) => {
        try {
          const ref = parseReference(s);
          expect(fields(parseReference(ref.toString()))).toEqual(fields(ref));
        } catch (e) {
          expect(isOciError(e, 'REFERENCE_INVALID')).toBe(true);
        }
      }),
      { numRuns: 1000 },
    );
  });
});
