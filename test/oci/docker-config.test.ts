import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  authConfigKey,
  authFileLocations,
  jsonErrorOffset,
  parseAuthFile,
  registryHost,
} from '../../src/oci/docker-config.ts';

describe('registryHost', () => {
  it.each([
    ['docker.io', 'docker.io'],
    ['index.docker.io', 'docker.io'],
    ['registry-1.docker.io', 'docker.io'],
    ['https://index.docker.io/v1/', 'docker.io'],
    ['http://index.docker.io/v1/', 'docker.io'],
    ['index.docker.io/v1/', 'docker.io'],
    ['ghcr.io', 'ghcr.io'],
    ['GHCR.IO', 'ghcr.io'],
    ['https://ghcr.io', 'ghcr.io'],
    ['https://ghcr.io/v2/', 'ghcr.io'],
    ['http://localhost:5000', 'localhost:5000'],
    ['localhost:5000/', 'localhost:5000'],
    ['https://[::1]:5000/v2/', '[::1]:5000'],
  ])('%s -> %s', (input, host) => {
    expect(registryHost(input)).toBe(host);
  });

  it.each(['quay.io/ns', 'quay.io/ns/repo', 'localhost:5000/repo', '', 'https://'])(
    '%s names no whole registry',
    (input) => {
      expect(registryHost(input)).toBeUndefined();
    },
  );

  it('docker login keys: Docker Hub under its v1 URL, others by host', () => {
    expect(authConfigKey('docker.io')).toBe('https://index.docker.io/v1/');
    expect(authConfigKey('127.0.0.1:5000')).toBe('127.0.0.1:5000');
  });
});

describe('jsonErrorOffset', () => {
  it('agrees with V8 wherever V8 reports a position', () => {
    // Valid JSON, then one character replaced or the text cut: most mutations are syntax errors.
    const mutated = fc
      .tuple(fc.json(), fc.nat(), fc.constantFrom('', ',', '}', ']', ':', '"', 'x', '\n', '{', '0'))
      .map(([text, at, c]) => {
        const i = text.length === 0 ? 0 : at % text.length;
        return text.slice(0, i) + c + text.slice(i + 1);
      });
    fc.assert(
      fc.property(mutated, (text) => {
        let message: string | undefined;
        try {
          JSON.parse(text);
        } catch (e) {
          message = (e as Error).message;
        }
        if (message === undefined) {
          expect(jsonErrorOffset(text)).toBe(text.length);
          return;
        }
        const position = /at position (\d+)/.exec(message);
        if (position) expect(jsonErrorOffset(text)).toBe(Number(position[1]));
        else expect(jsonErrorOffset(text)).toBeLessThanOrEqual(text.length);
      }),
      { numRuns: 2000 },
    );
  });

  it('a bad \\u escape is reported where V8 reports it: at the first non-hex character', () => {
    for (const t of [String.raw`["\u  "]`, String.raw`["\u1 "]`, String.raw`["\u12x4"]`, String.raw`["\u"]`]) {
      const position = /at position (\d+)/.exec(
        (() => {
          try {
            JSON.parse(t);
            return '';
          } catch (e) {
            return (e as Error).message;
          }
        })(),
      );
      expect(jsonErrorOffset(t), t).toBe(Number(position![1]));
    }
  });

  it('points at the token V8 only quotes', () => {
    expect(jsonErrorOffset('{"auths": x}')).toBe(10);
    expect(jsonErrorOffset('')).toBe(0);
  });
});

describe('parseAuthFile', () => {
  it('keeps the whole object and shares auths with it, for rewriting', () => {
    const file = parseAuthFile('{"psFormat":"x","credsStore":"desktop"}', 'f');
    expect(file.credsStore).toBe('desktop');
    file.auths['ghcr.io'] = { auth: 'eDp5' };
    expect(file.raw).toEqual({ psFormat: 'x', credsStore: 'desktop', auths: { 'ghcr.io': { auth: 'eDp5' } } });
  });

  it('rejects credHelpers that are not strings and a credsStore that is not a name', () => {
    expect(() => parseAuthFile('{"credHelpers":{"a":1}}', 'f')).toThrow(/credHelpers/);
    expect(() => parseAuthFile('{"credsStore":true}', 'f')).toThrow(/credsStore/);
    expect(() => parseAuthFile('[]', 'f')).toThrow(/expected a JSON object/);
  });
});

describe('authFileLocations', () => {
  const env = { XDG_RUNTIME_DIR: '/run/user/1000', REGISTRY_AUTH_FILE: '/etc/auth.json', DOCKER_CONFIG: '/dc' };

  it('REGISTRY_AUTH_FILE, podman runtime and config files, docker config.json, ~/.dockercfg', () => {
    expect(authFileLocations({ env, homedir: '/home/u' }).map((l) => l.display)).toEqual([
      '/etc/auth.json',
      '/run/user/1000/containers/auth.json',
      '~/.config/containers/auth.json',
      '/dc/config.json',
      '~/.dockercfg',
    ]);
  });

  it('an explicit authFile replaces them all', () => {
    expect(authFileLocations({ env, homedir: '/home/u', authFile: '/tmp/a.json' }).map((l) => l.path)).toEqual([
      '/tmp/a.json',
    ]);
  });

  it('honours XDG_CONFIG_HOME and defaults to ~/.docker/config.json', () => {
    const paths = authFileLocations({
      env: { XDG_RUNTIME_DIR: '/r', XDG_CONFIG_HOME: '/xdg' },
      homedir: '/home/u',
    }).map((l) => l.path);
    expect(paths).toEqual([
      '/r/containers/auth.json',
      '/xdg/containers/auth.json',
      '/home/u/.docker/config.json',
      '/home/u/.dockercfg',
    ]);
  });
});
