import { describe, expect, it } from 'vitest';
import { sha256 } from '../../src/oci/digest.ts';
import { isOciError, OciError } from '../../src/oci/errors.ts';
import type { Descriptor, ImageIndex, Platform } from '../../src/oci/manifest.ts';
import { MediaType } from '../../src/oci/media-types.ts';
import {
  formatPlatform,
  LINUX_AMD64,
  normalizePlatform,
  parsePlatform,
  platformMatches,
  selectManifest,
} from '../../src/oci/platform.ts';

function entry(platform: Platform | undefined, annotations?: Record<string, string>): Descriptor {
  const name = platform ? formatPlatform(platform) : 'none';
  return {
    mediaType: MediaType.OciManifest,
    digest: sha256(`${name} ${JSON.stringify(annotations ?? {})}`),
    size: 100,
    ...(platform ? { platform } : {}),
    ...(annotations ? { annotations } : {}),
  };
}

function index(...manifests: Descriptor[]): ImageIndex {
  return { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests };
}

function thrown(fn: () => unknown): OciError {
  try {
    fn();
  } catch (e) {
    if (e instanceof OciError) return e;
    throw e;
  }
  throw new Error('expected an OciError');
}

const p = parsePlatform;

describe('parsePlatform / formatPlatform', () => {
  it.each([
    ['linux/amd64', { os: 'linux', architecture: 'amd64' }],
    ['linux/arm64/v8', { os: 'linux', architecture: 'arm64', variant: 'v8' }],
    ['linux/arm/v7', { os: 'linux', architecture: 'arm', variant: 'v7' }],
    ['windows/amd64', { os: 'windows', architecture: 'amd64' }],
    ['linux/x86_64', { os: 'linux', architecture: 'x86_64' }],
  ])('%s', (s, platform) => {
    const parsed = parsePlatform(s);
    expect(parsed).toStrictEqual(platform);
    expect(formatPlatform(parsed)).toBe(s);
  });

  it.each(['', 'linux', 'linux/', '/amd64', 'linux/amd64/', 'linux/arm/v7/x', 'linux amd64', 'linux/am d64', 'a//b'])(
    'rejects %j with INVALID_OPTIONS',
    (s) => {
      const err = thrown(() => parsePlatform(s));
      expect(err.code).toBe('INVALID_OPTIONS');
      expect(err.message).toBe(
        `invalid platform "${s}": expected os/arch[/variant], e.g. linux/amd64 or linux/arm64/v8`,
      );
    },
  );

  it('formats without an empty variant', () => {
    expect(formatPlatform({ os: 'linux', architecture: 'amd64', variant: '' })).toBe('linux/amd64');
    expect(formatPlatform(LINUX_AMD64)).toBe('linux/amd64');
  });

  it('LINUX_AMD64 cannot be changed by a caller', () => {
    expect(Object.isFrozen(LINUX_AMD64)).toBe(true);
  });
});

describe('normalizePlatform', () => {
  it.each([
    ['linux/x86_64', 'linux/amd64/'],
    ['linux/x86-64', 'linux/amd64/'],
    ['linux/amd64/v1', 'linux/amd64/'],
    ['linux/amd64/v3', 'linux/amd64/v3'],
    ['linux/aarch64', 'linux/arm64/v8'],
    ['linux/arm64', 'linux/arm64/v8'],
    ['linux/arm64/8', 'linux/arm64/v8'],
    ['linux/arm64/v8.0', 'linux/arm64/v8'],
    ['linux/arm64/9.0', 'linux/arm64/v9'],
    ['linux/arm', 'linux/arm/v7'],
    ['linux/arm/7', 'linux/arm/v7'],
    ['linux/arm/6', 'linux/arm/v6'],
    ['linux/armhf', 'linux/arm/v7'],
    ['linux/armel', 'linux/arm/v6'],
    ['linux/i386', 'linux/386/'],
    ['Linux/AMD64', 'linux/amd64/'],
    ['macos/arm64', 'darwin/arm64/v8'],
    ['linux/s390x', 'linux/s390x/'],
  ])('%s -> %s', (s, want) => {
    const n = normalizePlatform(parsePlatform(s));
    expect(`${n.os}/${n.architecture}/${n.variant}`).toBe(want);
  });
});

describe('platformMatches', () => {
  it.each([
    // want, have, matches
    ['linux/amd64', 'linux/amd64', true],
    ['linux/amd64', 'linux/x86_64', true],
    ['linux/x86-64', 'linux/amd64', true],
    ['linux/amd64', 'linux/amd64/v3', true], // no variant wanted: any
    ['linux/amd64/v3', 'linux/amd64', false],
    ['linux/amd64/v1', 'linux/amd64', true],
    ['linux/amd64', 'linux/arm64', false],
    ['linux/amd64', 'windows/amd64', false],
    ['linux/arm64', 'linux/arm64/v8', true],
    ['linux/arm64/v8', 'linux/arm64', true], // v8 is arm64's default
    ['linux/arm64/v8', 'linux/aarch64', true],
    ['linux/aarch64', 'linux/arm64/v8', true],
    ['linux/arm64/v8', 'linux/arm64/v9', false],
    ['linux/arm/v7', 'linux/arm', true], // v7 is arm's default
    ['linux/arm/v7', 'linux/arm/v6', false],
    ['linux/arm/v6', 'linux/arm', false],
    ['linux/arm', 'linux/arm/v6', true],
    ['linux/arm/v7', 'linux/armhf', true],
  ])('want %s, have %s -> %s', (want, have, result) => {
    expect(platformMatches(p(want), p(have))).toBe(result);
  });

  it('checks os.version and os.features only when wanted', () => {
    const have: Platform = {
      os: 'windows',
      architecture: 'amd64',
      'os.version': '10.0.17763.1234',
      'os.features': ['win32k'],
    };
    expect(platformMatches({ os: 'windows', architecture: 'amd64' }, have)).toBe(true);
    expect(platformMatches({ ...p('windows/amd64'), 'os.version': '10.0.17763.1234' }, have)).toBe(true);
    expect(platformMatches({ ...p('windows/amd64'), 'os.version': '10.0.20348.1' }, have)).toBe(false);
    expect(platformMatches({ ...p('windows/amd64'), 'os.features': ['win32k'] }, have)).toBe(true);
    expect(platformMatches({ ...p('windows/amd64'), 'os.features': ['sse4'] }, have)).toBe(false);
  });
});

describe('selectManifest', () => {
  const amd64 = entry(p('linux/amd64'));
  const arm64 = entry(p('linux/arm64/v8'));
  const armv6 = entry(p('linux/arm/v6'));
  const armv7 = entry(p('linux/arm/v7'));
  const attestation = entry(
    { os: 'unknown', architecture: 'unknown' },
    { 'vnd.docker.reference.type': 'attestation-manifest', 'vnd.docker.reference.digest': amd64.digest },
  );

  it('returns the first matching entry, as the same descriptor object', () => {
    const idx = index(amd64, arm64);
    expect(selectManifest(idx, LINUX_AMD64, 'img')).toBe(amd64);
    expect(selectManifest(idx, p('linux/arm64'), 'img')).toBe(arm64);
    expect(selectManifest(idx, p('linux/aarch64'), 'img')).toBe(arm64);
  });

  it('skips entries without a platform and attestation manifests', () => {
    const noPlatform = entry(undefined);
    // Even a wrongly labelled attestation (annotation but a real platform) is never chosen.
    const labelled = entry(p('linux/amd64'), { 'vnd.docker.reference.type': 'attestation-manifest' });
    expect(selectManifest(index(noPlatform, attestation, labelled, amd64), LINUX_AMD64, 'img')).toBe(amd64);
    const err = thrown(() =>
      selectManifest(index(attestation), { os: 'unknown', architecture: 'unknown' }, 'docker.io/library/x:1'),
    );
    expect(err.code).toBe('PLATFORM_NOT_FOUND');
    expect(err.message).toBe('docker.io/library/x:1: no manifest for unknown/unknown; available: none');
  });

  it("prefers the wanted platform's default variant over an earlier loose match", () => {
    expect(selectManifest(index(armv6, armv7), p('linux/arm'), 'img')).toBe(armv7);
    expect(selectManifest(index(armv6), p('linux/arm'), 'img')).toBe(armv6);
    const amd64v3 = entry(p('linux/amd64/v3'));
    expect(selectManifest(index(amd64v3, amd64), LINUX_AMD64, 'img')).toBe(amd64);
    expect(selectManifest(index(amd64v3), LINUX_AMD64, 'img')).toBe(amd64v3);
    expect(selectManifest(index(amd64, amd64v3), p('linux/amd64/v3'), 'img')).toBe(amd64v3);
  });

  it('names the image, the wanted platform and what is available', () => {
    const err = thrown(() => selectManifest(index(amd64, attestation, arm64), p('linux/s390x'), 'ghcr.io/o/r:1'));
    expect(isOciError(err, 'PLATFORM_NOT_FOUND')).toBe(true);
    expect(err.message).toBe('ghcr.io/o/r:1: no manifest for linux/s390x; available: linux/amd64, linux/arm64/v8');
  });

  it('an exact variant that is absent is not found', () => {
    const err = thrown(() => selectManifest(index(armv6), p('linux/arm/v7'), 'img'));
    expect(err.code).toBe('PLATFORM_NOT_FOUND');
    expect(err.message).toBe('img: no manifest for linux/arm/v7; available: linux/arm/v6');
  });

  it('an empty index lists nothing available', () => {
    expect(thrown(() => selectManifest(index(), LINUX_AMD64, 'img')).message).toBe(
      'img: no manifest for linux/amd64; available: none',
    );
  });
});
