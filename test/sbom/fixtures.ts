import { createHash } from 'node:crypto';
/**
 * An SBOM document built by code: a two-layer Debian image with OS and language packages chosen to
 * reach every branch of the encoders — a LicenseRef, an OR expression, a package without a license,
 * a scoped npm name, a java group, dependencies (one on a package not in the image, one repeated),
 * a package found in two places, maintainers as `Name <mail>` and as `Organization: X`.
 */
import type { Distro, Package } from '../../src/catalog/package.ts';
import { debPurl, mavenPurl, npmPurl, pypiPurl } from '../../src/catalog/purl.ts';
import { sha256 } from '../../src/oci/digest.ts';
import type { SbomDocument, SbomFileEntry, SbomSource } from '../../src/sbom/document.ts';

export const LAYER0 = { digest: sha256('layer0 gzip'), diffId: sha256('layer0 tar') };
export const LAYER1 = { digest: sha256('layer1 gzip'), diffId: sha256('layer1 tar') };

export const DISTRO: Distro = {
  id: 'debian',
  versionId: '12',
  codename: 'bookworm',
  prettyName: 'Debian GNU/Linux 12 (bookworm)',
};

export const SOURCE: SbomSource = {
  name: 'ghcr.io/example/app:1.0',
  reference: { registry: 'ghcr.io', repository: 'example/app', tag: '1.0' },
  manifestDigest: sha256('manifest'),
  indexDigest: sha256('index'),
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  platform: { os: 'linux', architecture: 'amd64' },
  layers: [
    { ...LAYER0, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', size: 31_000_000 },
    { ...LAYER1, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', size: 1_234_567 },
  ],
};

function deb(name: string, version: string, arch: string, extra: Partial<Package> = {}): Package {
  return {
    id: `deb:${name}@${version}:${arch}`,
    type: 'deb',
    name,
    version,
    arch,
    purl: debPurl({ name, version, arch, sourceName: extra.sourceName, sourceVersion: extra.sourceVersion }, DISTRO),
    locations: [{ path: '/var/lib/dpkg/status', layerDiffId: LAYER0.diffId }],
    introducedBy: LAYER0.diffId,
    lastChangedBy: LAYER0.diffId,
    ...extra,
  };
}

export function fixturePackages(): Package[] {
  return [
    deb('libc6', '2.36-9+deb12u4', 'amd64', {
      license: 'GPL-2.0-or-later AND LGPL-2.1-or-later AND LicenseRef-Unicode-DFS',
      supplier: 'GNU Libc Maintainers <debian-glibc@lists.debian.org>',
      sourceName: 'glibc',
      // Recorded in the base layer's status and changed again in the app layer's.
      locations: [
        { path: '/var/lib/dpkg/status', layerDiffId: LAYER1.diffId },
        { path: '/var/lib/dpkg/status', layerDiffId: LAYER0.diffId },
      ],
      lastChangedBy: LAYER1.diffId,
      metadata: { 'Installed-Size': '12986', Section: 'libs', Priority: 'optional' },
    }),
    deb('bash', '5.2.15-2+b2', 'amd64', {
      license: 'GPL-3.0-or-later',
      supplier: 'Matthias Klose <doko@debian.org>',
      // A dependency listed twice, one on itself and one on a package not in the image.
      dependsOn: [
        'deb:libc6@2.36-9+deb12u4:amd64',
        'deb:base-files@12.4+deb12u5:amd64',
        'deb:libc6@2.36-9+deb12u4:amd64',
        'deb:bash@5.2.15-2+b2:amd64',
        'deb:debianutils@5.7-0.5:amd64',
      ],
      metadata: { Essential: 'yes', 'Installed-Size': '7164' },
    }),
    deb('base-files', '12.4+deb12u5', 'amd64', { supplier: 'Santiago Vila <sanvila@debian.org>' }),
    {
      id: 'npm:@babel/core@7.24.0:/app/node_modules/@babel/core',
      type: 'npm',
      name: '@babel/core',
      version: '7.24.0',
      purl: npmPurl('@babel/core', '7.24.0'),
      license: 'MIT',
      supplier: 'The Babel Team <team@babeljs.io>',
      locations: [{ path: '/app/node_modules/@babel/core/package.json', layerDiffId: LAYER1.diffId }],
      introducedBy: LAYER1.diffId,
      lastChangedBy: LAYER1.diffId,
      dependsOn: ['npm:debug@4.3.4:/app/node_modules/debug'],
    },
    {
      id: 'npm:debug@4.3.4:/app/node_modules/debug',
      type: 'npm',
      name: 'debug',
      version: '4.3.4',
      purl: npmPurl('debug', '4.3.4'),
      license: 'MIT OR Apache-2.0',
      locations: [{ path: '/app/node_modules/debug/package.json', layerDiffId: LAYER1.diffId }],
      introducedBy: LAYER1.diffId,
      lastChangedBy: LAYER1.diffId,
    },
    {
      id: 'python:requests@2.31.0:/usr/lib/python3/dist-packages/requests-2.31.0.dist-info',
      type: 'python',
      name: 'requests',
      version: '2.31.0',
      purl: pypiPurl('requests', '2.31.0'),
      license: 'Apache-2.0',
      supplier: 'Organization: Python Software Foundation',
      locations: [
        { path: '/usr/lib/python3/dist-packages/requests-2.31.0.dist-info/METADATA', layerDiffId: LAYER1.diffId },
      ],
      introducedBy: LAYER1.diffId,
      lastChangedBy: LAYER1.diffId,
    },
    {
      id: 'java:org.slf4j:slf4j-api@1.7.36:/app/lib/slf4j-api-1.7.36.jar',
      type: 'java',
      name: 'slf4j-api',
      version: '1.7.36',
      purl: mavenPurl('org.slf4j', 'slf4j-api', '1.7.36'),
      license: 'MIT',
      locations: [{ path: '/app/lib/slf4j-api-1.7.36.jar', layerDiffId: LAYER1.diffId }],
      introducedBy: LAYER1.diffId,
      lastChangedBy: LAYER1.diffId,
    },
  ];
}

export function fixtureFiles(): SbomFileEntry[] {
  return [
    {
      path: '/usr/bin/bash',
      sha1: createHash('sha1').update('bash').digest('hex'),
      sha256: sha256('bash').slice(7),
      layerDiffId: LAYER0.diffId,
      ownerIds: ['deb:bash@5.2.15-2+b2:amd64'],
    },
    {
      path: '/lib/x86_64-linux-gnu/libc.so.6',
      sha256: sha256('libc').slice(7),
      layerDiffId: LAYER0.diffId,
      ownerIds: ['deb:libc6@2.36-9+deb12u4:amd64'],
    },
    {
      path: '/etc/debian_version',
      sha256: sha256('12.5\n').slice(7),
      layerDiffId: LAYER0.diffId,
      ownerIds: ['deb:base-files@12.4+deb12u5:amd64'],
    },
    { path: '/app/server.js', sha256: sha256('server').slice(7), layerDiffId: LAYER1.diffId, ownerIds: [] },
    {
      path: '/app/node_modules/debug/src/very/long/directory/name/that/goes/on/index.js',
      layerDiffId: LAYER1.diffId,
      ownerIds: ['npm:debug@4.3.4:/app/node_modules/debug'],
    },
  ];
}

/** 2024-01-01T00:00:00Z */
export const EPOCH = 1_704_067_200;

export function fixtureDocument(overrides: Partial<SbomDocument> = {}): SbomDocument {
  return {
    source: SOURCE,
    distro: DISTRO,
    packages: fixturePackages(),
    tool: { name: 'sigil', version: '0.1.0' },
    ...overrides,
  };
}
