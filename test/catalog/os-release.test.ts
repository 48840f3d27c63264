import { describe, expect, test } from 'vitest';
import type { CatalogFile } from '../../src/catalog/cataloger.ts';
import { detectDistro, osReleaseWants, parseOsRelease } from '../../src/catalog/os-release.ts';
import type { Digest } from '../../src/oci/digest.ts';

const L = `sha256:${'0'.repeat(64)}` as Digest;
const file = (path: string, text: string): CatalogFile => ({ path, bytes: Buffer.from(text), layerDiffId: L });

const DEBIAN_12 = `PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
`;

describe('os-release', () => {
  test('wants the release files only', () => {
    for (const p of [
      '/etc/os-release',
      '/usr/lib/os-release',
      '/etc/alpine-release',
      '/etc/debian_version',
      '/etc/redhat-release',
      '/etc/centos-release',
      '/etc/system-release',
    ])
      expect(osReleaseWants(p)).toBe(true);
    expect(osReleaseWants('/etc/lsb-release.d/x')).toBe(false);
    expect(osReleaseWants('/usr/etc/os-release')).toBe(false);
  });

  test('quoting, comments, escapes, ID_LIKE', () => {
    expect(
      parseOsRelease(
        `# comment\nA="x y"\nB='single # not comment'\nC=plain # trailing\nD="say \\"hi\\""\r\nbad line\n`,
      ),
    ).toEqual({
      A: 'x y',
      B: 'single # not comment',
      C: 'plain',
      D: 'say "hi"',
    });
    expect(
      detectDistro([
        file('/etc/os-release', 'ID=ubuntu\nID_LIKE="Debian"\nVERSION_ID="22.04"\nVERSION_CODENAME=jammy\n'),
      ]),
    ).toEqual({
      id: 'ubuntu',
      versionId: '22.04',
      codename: 'jammy',
      idLike: ['debian'],
    });
  });

  test('debian, alpine; /etc/os-release before /usr/lib/os-release; an empty os-release is skipped', () => {
    expect(detectDistro([file('/etc/os-release', DEBIAN_12)])).toEqual({
      id: 'debian',
      versionId: '12',
      codename: 'bookworm',
      prettyName: 'Debian GNU/Linux 12 (bookworm)',
    });
    expect(
      detectDistro([
        file(
          '/etc/os-release',
          'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.20.3\nPRETTY_NAME="Alpine Linux v3.20"\n',
        ),
        file('/usr/lib/os-release', DEBIAN_12),
      ]),
    ).toMatchObject({ id: 'alpine', versionId: '3.20.3' });
    expect(
      detectDistro([file('/etc/os-release', '# nothing\n'), file('/usr/lib/os-release', DEBIAN_12)]),
    ).toMatchObject({ id: 'debian' });
  });

  test('distroless: only /usr/lib/os-release', () => {
    expect(
      detectDistro([file('/usr/lib/os-release', 'PRETTY_NAME="Distroless"\nID="debian"\nVERSION_ID="11"\n')]),
    ).toEqual({
      id: 'debian',
      versionId: '11',
      prettyName: 'Distroless',
    });
  });

  test('fallbacks when there is no os-release', () => {
    expect(detectDistro([file('/etc/alpine-release', '3.16.3\n')])).toMatchObject({
      id: 'alpine',
      versionId: '3.16.3',
    });
    expect(detectDistro([file('/etc/debian_version', '12.5\n')])).toMatchObject({ id: 'debian', versionId: '12' });
    expect(detectDistro([file('/etc/debian_version', 'bookworm/sid\n')])).toEqual({
      id: 'debian',
      codename: 'bookworm',
      prettyName: 'Debian GNU/Linux bookworm/sid',
    });
    expect(
      detectDistro([file('/etc/redhat-release', 'Red Hat Enterprise Linux Server release 7.9 (Maipo)\n')]),
    ).toMatchObject({
      id: 'rhel',
      versionId: '7.9',
    });
    expect(detectDistro([file('/etc/centos-release', 'CentOS release 6.10 (Final)\n')])).toMatchObject({
      id: 'centos',
      versionId: '6.10',
      idLike: ['rhel'],
    });
    expect(detectDistro([file('/etc/system-release', 'Amazon Linux release 2 (Karoo)\n')])).toMatchObject({
      id: 'amzn',
      versionId: '2',
    });
    expect(
      detectDistro([
        file('/etc/debian_version', 'garbage'),
        file('/etc/redhat-release', 'Fedora release 39 (Thirty Nine)'),
      ]),
    ).toMatchObject({
      id: 'fedora',
      versionId: '39',
    });
    expect(detectDistro([])).toBeUndefined();
  });
});
