/** apk database edge cases: the format's loose corners, what `wants` selects, dependency tokens. */
import { describe, expect, test } from 'vitest';
import { apkCataloger, apkWants } from '../../../src/catalog/apk/cataloger.ts';
import { dependencyName } from '../../../src/catalog/apk/dependencies.ts';
import { apkRoot } from '../../../src/catalog/apk/package.ts';
import { parseInstalled } from '../../../src/catalog/apk/parse-installed.ts';
import type { Digest } from '../../../src/oci/digest.ts';

const LAYER = `sha256:${'cd'.repeat(32)}` as Digest;
const enc = new TextEncoder();

const catalog = (path: string, text: string) =>
  apkCataloger.catalog({ files: [{ path, bytes: enc.encode(text), layerDiffId: LAYER }], allPaths: new Set() });

test('wants: the installed database at any root, nothing else', () => {
  expect(apkWants('/lib/apk/db/installed')).toBe(true);
  expect(apkWants('/usr/lib/apk/db/installed')).toBe(true);
  expect(apkWants('/srv/chroot/lib/apk/db/installed')).toBe(true);
  expect(apkWants('/lib/apk/db/installed.new')).toBe(false);
  expect(apkWants('/lib/apk/db/triggers')).toBe(false);
  expect(apkWants('/etc/apk/world')).toBe(false);
});

test('roots: paths in F: are relative to the directory holding lib/apk (or usr/lib/apk)', () => {
  expect(apkRoot('/lib/apk/db/installed')).toBe('/');
  expect(apkRoot('/usr/lib/apk/db/installed')).toBe('/');
  expect(apkRoot('/srv/chroot/lib/apk/db/installed')).toBe('/srv/chroot/');
});

describe('parseInstalled', () => {
  test('CRLF, several blank lines and no final newline read the same as the clean file', () => {
    const clean = 'P:a\nV:1-r0\nF:usr/bin\nR:a\n\nP:b\nV:2-r0\n';
    const messy = '\r\n\r\nP:a\r\nV:1-r0\r\nF:usr/bin\r\nR:a\r\n\r\n\r\n\r\nP:b\r\nV:2-r0';
    const strip = (r: ReturnType<typeof parseInstalled>) =>
      r.records.map((x) => ({ fields: x.fields, files: x.files }));
    expect(strip(parseInstalled(messy, 'x'))).toEqual(strip(parseInstalled(clean, 'x')));
    expect(parseInstalled(messy, 'x').warnings).toEqual([]);
  });

  test('a line that is not X:value is skipped with a warning naming file and line; the record survives', () => {
    const r = parseInstalled('P:a\nV:1-r0\ngarbage here\nA:x86_64\n', '/lib/apk/db/installed');
    expect(r.warnings).toEqual(['/lib/apk/db/installed:3: "garbage here" is not an apk "X:value" line; skipped']);
    expect(r.records[0]!.fields.get('A')).toBe('x86_64');
  });

  test('R: lines belong to the last F: directory; a root-level file has no F: prefix', () => {
    const r = parseInstalled(
      'P:a\nV:1\nR:toplevel\nF:etc\nR:fstab\na:0:0:644\nZ:Q1abc=\nF:etc/apk/keys\nR:k.pub\n',
      'x',
    );
    expect(r.records[0]!.files).toEqual(['toplevel', 'etc/fstab', 'etc/apk/keys/k.pub']);
    expect(r.records[0]!.fields.has('Z')).toBe(false);
  });
});

test('a record without V: is skipped with a warning naming file and line; the others stay', async () => {
  const r = await catalog(
    '/lib/apk/db/installed',
    'P:good\nV:1-r0\nA:x86_64\n\nP:broken\nA:x86_64\n\nP:also\nV:2-r0\n',
  );
  expect(r.packages.map((p) => p.name)).toEqual(['also', 'good']);
  expect(r.warnings).toEqual(['/lib/apk/db/installed:5: record without P: or V:; skipped']);
});

test('no distro: namespace alpine, no distro qualifier; files rooted at the chroot', async () => {
  const r = await catalog('/srv/chroot/lib/apk/db/installed', 'P:a\nV:1-r0\nA:aarch64\no:a\nF:bin\nR:a\n');
  expect(r.packages[0]!.purl).toBe('pkg:apk/alpine/a@1-r0?arch=aarch64');
  expect(r.packages[0]!.files).toEqual(['/srv/chroot/bin/a']);
  expect(r.packages[0]!.sourceName).toBeUndefined();
});

test('dependency tokens: operators, repository pins and conflicts', async () => {
  expect(dependencyName('musl>=1.2')).toBe('musl');
  expect(dependencyName('busybox=1.35.0-r17')).toBe('busybox');
  expect(dependencyName('foo~1.2')).toBe('foo');
  expect(dependencyName('foo><1.2')).toBe('foo');
  expect(dependencyName('bar@testing')).toBe('bar');
  expect(dependencyName('so:libc.musl-x86_64.so.1')).toBe('so:libc.musl-x86_64.so.1');
  expect(dependencyName('!conflicting')).toBeUndefined();

  const r = await catalog(
    '/lib/apk/db/installed',
    [
      'P:app\nV:1\nD:!old cmd:sh pc:libfoo>=2 lib\n',
      'P:sh-impl\nV:1\np:cmd:sh=1\n',
      'P:lib\nV:1\np:pc:libfoo=2.1 so:libfoo.so.2=2\n',
      'P:old\nV:1\n',
    ].join('\n'),
  );
  const app = r.packages.find((p) => p.name === 'app')!;
  // `!old` is a conflict, not a dependency, even though old is installed.
  expect(app.dependsOn).toEqual(['apk:lib@1', 'apk:sh-impl@1']);
});
