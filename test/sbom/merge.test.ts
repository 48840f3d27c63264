import { describe, expect, it } from 'vitest';
import type { Package } from '../../src/catalog/package.ts';
import { mergePackages } from '../../src/sbom/merge.ts';

const deb = (name: string, files: string[]): Package => ({
  id: `deb:${name}@1:all`,
  type: 'deb',
  name,
  version: '1',
  purl: `pkg:deb/debian/${name}@1`,
  locations: [{ path: '/var/lib/dpkg/status' }],
  files,
});

const py = (name: string, ...paths: string[]): Package => ({
  id: `python:${name}@2`,
  type: 'python',
  name,
  version: '2',
  purl: `pkg:pypi/${name}@2`,
  locations: paths.map((path) => ({ path })),
});

describe('mergePackages', () => {
  it('makes one package of the same id found in two places, locations sorted and unique', () => {
    const { packages } = mergePackages([py('six', '/b/METADATA'), py('six', '/a/METADATA', '/b/METADATA')]);
    expect(packages).toHaveLength(1);
    expect(packages[0]!.locations.map((l) => l.path)).toEqual(['/a/METADATA', '/b/METADATA']);
  });

  it('attributes a language package to the OS package that installed all its files', () => {
    const meta = '/usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA';
    const { packages, attributed } = mergePackages([
      deb('python3-six', [meta, '/usr/lib/python3/dist-packages/six.py']),
      py('six', meta),
      py('requests', '/usr/local/lib/python3.11/site-packages/requests-2.dist-info/METADATA'),
    ]);
    expect(packages.map((p) => p.id)).toEqual(['deb:python3-six@1:all', 'python:requests@2']);
    expect(attributed).toEqual(['python six@2 is part of deb:python3-six@1:all']);
  });

  it('keeps a language package when only some of its locations are OS-owned', () => {
    const owned = '/usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA';
    const { packages } = mergePackages([
      deb('python3-six', [owned]),
      py('six', owned, '/opt/venv/six-1.16.0.dist-info/METADATA'),
    ]);
    expect(packages.map((p) => p.name)).toEqual(['python3-six', 'six']);
  });

  it('is independent of the order the catalogers reported in', () => {
    const all = [deb('a', ['/x']), py('b', '/y'), deb('c', []), py('d', '/x')];
    const one = mergePackages(all);
    const two = mergePackages([...all].reverse());
    expect(two).toEqual(one);
  });
});

describe('mergePackages and dependencies', () => {
  it('points dependencies on an attributed package at the OS package that holds it', () => {
    const meta = '/usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA';
    const app = { ...py('app', '/opt/app-1.dist-info/METADATA'), dependsOn: ['python:six@2'] };
    const { packages } = mergePackages([deb('python3-six', [meta]), py('six', meta), app]);
    expect(packages.find((p) => p.name === 'app')!.dependsOn).toEqual(['deb:python3-six@1:all']);
  });
});
