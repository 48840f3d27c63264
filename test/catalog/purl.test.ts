import { PackageURL } from 'packageurl-js';
import { expect, test } from 'vitest';
import {
  apkPurl,
  debPurl,
  golangPurl,
  mavenPurl,
  npmPurl,
  pep503Name,
  pypiPurl,
  rpmPurl,
} from '../../src/catalog/purl.ts';

const debian12 = { id: 'debian', versionId: '12' };

test('deb: syft form (+ literal, epoch in the version as %3A, sorted qualifiers, upstream from Source)', () => {
  expect(debPurl({ name: 'libc6', version: '2.36-9+deb12u4', arch: 'amd64' }, debian12)).toBe(
    'pkg:deb/debian/libc6@2.36-9+deb12u4?arch=amd64&distro=debian-12',
  );
  const zlib = debPurl({ name: 'zlib1g', version: '1:1.2.13.dfsg-1', arch: 'amd64', sourceName: 'zlib' }, debian12);
  expect(zlib).toBe('pkg:deb/debian/zlib1g@1%3A1.2.13.dfsg-1?arch=amd64&distro=debian-12&upstream=zlib');
  // Still the same purl to a spec-following parser.
  expect(PackageURL.fromString(zlib).version).toBe('1:1.2.13.dfsg-1');
  expect(debPurl({ name: 'x', version: '1' }, { id: 'ubuntu', versionId: '22.04' })).toBe(
    'pkg:deb/ubuntu/x@1?distro=ubuntu-22.04',
  );
  expect(debPurl({ name: 'x', version: '1' }, undefined)).toBe('pkg:deb/debian/x@1');
});

test('apk, rpm, npm, pypi, golang, maven', () => {
  expect(
    apkPurl(
      { name: 'curl', version: '7.83.1-r2', arch: 'aarch64', origin: 'curl' },
      { id: 'alpine', versionId: '3.16.2' },
    ),
  ).toBe('pkg:apk/alpine/curl@7.83.1-r2?arch=aarch64&distro=alpine-3.16.2');
  expect(apkPurl({ name: 'libcurl', version: '1', origin: 'curl' }, { id: 'wolfi', versionId: '20221230' })).toBe(
    'pkg:apk/wolfi/libcurl@1?distro=wolfi-20221230&upstream=curl',
  );
  expect(
    rpmPurl(
      {
        name: 'dbus-common',
        version: '1.12.8',
        release: '26.el8',
        epoch: 1,
        arch: 'noarch',
        sourceRpm: 'dbus-1.12.8-26.el8.src.rpm',
      },
      { id: 'rhel', versionId: '8.10' },
    ),
  ).toBe(
    'pkg:rpm/redhat/dbus-common@1.12.8-26.el8?arch=noarch&distro=rhel-8.10&epoch=1&upstream=dbus-1.12.8-26.el8.src.rpm',
  );
  expect(rpmPurl({ name: 'x', version: '1', release: '1' }, { id: 'opensuse-leap', versionId: '15.5' })).toBe(
    'pkg:rpm/opensuse/x@1-1?distro=opensuse-leap-15.5',
  );
  expect(npmPurl('@actions/core', '1.6.0')).toBe('pkg:npm/%40actions/core@1.6.0');
  expect(npmPurl('lodash', '4.17.21')).toBe('pkg:npm/lodash@4.17.21');
  expect(pep503Name('Foo.Bar__baz-Qux')).toBe('foo-bar-baz-qux');
  expect(pypiPurl('Foo.Bar', '1.0')).toBe('pkg:pypi/foo-bar@1.0');
  expect(golangPurl('github.com/cli/cli/v2', '2.63.0')).toBe('pkg:golang/github.com/cli/cli/v2@2.63.0');
  expect(golangPurl('github.com/BurntSushi/toml', 'v1.3.2')).toBe('pkg:golang/github.com/BurntSushi/toml@v1.3.2');
  expect(golangPurl('stdlib', '1.22.1')).toBe('pkg:golang/stdlib@1.22.1');
  expect(mavenPurl('org.slf4j', 'slf4j-api', '1.6.2')).toBe('pkg:maven/org.slf4j/slf4j-api@1.6.2');
});
