/**
 * The image the docs tests push in place of a `docker build`: one gzip layer holding Debian's
 * os-release and a dpkg status database of two packages, so `sigil sbom` finds real packages
 * (and a CycloneDX SBOM has components) without downloading any `.deb`.
 */
import { copyImage } from '../../src/oci/copy.ts';
import { openSource, openTarget } from '../../src/oci/source.ts';
import { buildImage, dir, file } from '../filesystem/layered-image.ts';

const OS_RELEASE = `PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
`;

const DPKG_STATUS = `Package: base-files
Status: install ok installed
Priority: required
Section: admin
Installed-Size: 341
Maintainer: Santiago Vila <sanvila@debian.org>
Architecture: amd64
Version: 12.4+deb12u5
Description: Debian base system miscellaneous files

Package: tzdata
Status: install ok installed
Priority: required
Section: localization
Installed-Size: 3437
Maintainer: GNU Libc Maintainers <debian-glibc@lists.debian.org>
Architecture: all
Version: 2024a-0+deb12u1
Description: time zone and daylight-saving time data
`;

export const APP_PACKAGES = ['base-files', 'tzdata'];

/**
 * Pushes a small image to `ref` and returns its manifest digest; `variant` changes a file so
 * two calls give two digests.
 */
export async function pushAppImage(ref: string, variant = 'v1'): Promise<string> {
  const built = await buildImage([
    {
      entries: [
        dir('etc'),
        file('etc/os-release', OS_RELEASE),
        file('etc/app-release', `${variant}\n`),
        dir('var'),
        dir('var/lib'),
        dir('var/lib/dpkg'),
        file('var/lib/dpkg/status', DPKG_STATUS),
      ],
    },
  ]);
  const result = await copyImage(await openSource(`oci-dir:${built.dir}`), await openTarget(ref));
  return result.digest;
}
