/**
 * The composer cataloger on files Composer itself wrote. INSTALLED_JSON and COMPOSER_LOCK are
 * verbatim output of Debian bookworm's composer 2.5.5 (PHP 8.2) running `composer install` for a
 * project whose dependencies come from a path repository (no network): packages with real-world
 * metadata (psr/log, composer/semver, symfony/polyfill-mbstring) plus three local ones that exercise
 * a dual licence, `replace`, platform requirements and require-dev. Composer 1's installed.json (a
 * bare array, no dev information) is derived from the same entries, as Composer 1 wrote them.
 */
import { describe, expect, test } from 'vitest';
import type { CatalogFile } from '../../../src/catalog/cataloger.ts';
import { composerCataloger } from '../../../src/catalog/composer/cataloger.ts';
import { composerLicense, isPlatformRequirement } from '../../../src/catalog/composer/composer-package.ts';
import type { Digest } from '../../../src/oci/digest.ts';

const LAYER = `sha256:${'ce'.repeat(32)}` as Digest;
const enc = new TextEncoder();

function file(path: string, content: string | object): CatalogFile {
  return {
    path,
    bytes: enc.encode(typeof content === 'string' ? content : JSON.stringify(content)),
    layerDiffId: LAYER,
  };
}

// vendor/composer/installed.json as composer 2.5.5 wrote it.
const INSTALLED_JSON = String.raw`{
    "packages": [
        {
            "name": "acme/helpers",
            "version": "1.4.2",
            "version_normalized": "1.4.2.0",
            "dist": {
                "type": "path",
                "url": "../pkgs/acme-helpers",
                "reference": "36b1cc30beb514c29d4a561de10230d0b7651c0c"
            },
            "require": {
                "acme/old-logger": "^2.0",
                "composer/semver": "^3.3",
                "ext-mbstring": "*",
                "php": ">=8.0"
            },
            "type": "library",
            "installation-source": "dist",
            "license": [
                "proprietary"
            ],
            "description": "Helpers that still ask for the old logger name",
            "transport-options": {
                "symlink": false,
                "relative": true
            },
            "install-path": "../acme/helpers"
        },
        {
            "name": "acme/logger",
            "version": "v2.1.0",
            "version_normalized": "2.1.0.0",
            "dist": {
                "type": "path",
                "url": "../pkgs/acme-logger",
                "reference": "68812d844c11ca6de05214f8ee889df8dfc82ff3"
            },
            "require": {
                "ext-json": "*",
                "lib-pcre": "*",
                "php": "^8.1",
                "psr/log": "^3.0",
                "symfony/polyfill-mbstring": "^1.27"
            },
            "replace": {
                "acme/old-logger": "self.version"
            },
            "type": "library",
            "installation-source": "dist",
            "license": [
                "MIT",
                "Apache-2.0"
            ],
            "authors": [
                {
                    "name": "Ada Lovelace",
                    "email": "ada@example.org"
                }
            ],
            "description": "Dual-licensed logger",
            "transport-options": {
                "symlink": false,
                "relative": true
            },
            "install-path": "../acme/logger"
        },
        {
            "name": "acme/test-tools",
            "version": "0.9.0",
            "version_normalized": "0.9.0.0",
            "dist": {
                "type": "path",
                "url": "../pkgs/acme-test-tools",
                "reference": "59254436578abc483ca6e6dac6bf702f970290e4"
            },
            "require": {
                "composer/semver": "^3.0",
                "php": ">=8.0"
            },
            "type": "library",
            "installation-source": "dist",
            "license": [
                "BSD-3-Clause"
            ],
            "authors": [
                {
                    "name": "Grace Hopper"
                }
            ],
            "description": "Development-only test helpers",
            "transport-options": {
                "symlink": false,
                "relative": true
            },
            "install-path": "../acme/test-tools"
        },
        {
            "name": "composer/semver",
            "version": "3.3.2",
            "version_normalized": "3.3.2.0",
            "dist": {
                "type": "path",
                "url": "../pkgs/composer-semver",
                "reference": "ae4ad9a443003d723624546e79ebb18ed08e5cf5"
            },
            "require": {
                "php": "^5.3.2 || ^7.0 || ^8.0"
            },
            "type": "library",
            "installation-source": "dist",
            "autoload": {
                "psr-4": {
                    "Composer\\Semver\\": "src"
                }
            },
            "license": [
                "MIT"
            ],
            "authors": [
                {
                    "name": "Nils Adermann",
                    "email": "naderman@naderman.de",
                    "homepage": "http://www.naderman.de"
                },
                {
                    "name": "Jordi Boggiano",
                    "email": "j.boggiano@seld.be",
                    "homepage": "http://seld.be"
                }
            ],
            "description": "Semver library that offers utilities, version constraint parsing and validation.",
            "transport-options": {
                "symlink": false,
                "relative": true
            },
            "install-path": "./semver"
        },
        {
            "name": "psr/log",
            "version": "3.0.0",
            "version_normalized": "3.0.0.0",
            "dist": {
                "type": "path",
                "url": "../pkgs/psr-log",
                "reference": "308e0e7852fd4b4aba9245d312aa5601e8aa2470"
            },
            "require": {
                "php": ">=8.0.0"
            },
            "type": "library",
            "installation-source": "dist",
            "autoload": {
                "psr-4": {
                    "Psr\\Log\\": "src"
                }
            },
            "license": [
                "MIT"
            ],
            "authors": [
                {
                    "name": "PHP-FIG",
                    "homepage": "https://www.php-fig.org/"
                }
            ],
            "description": "Common interface for logging libraries",
            "homepage": "https://github.com/php-fig/log",
            "keywords": [
                "log",
                "psr",
                "psr-3"
            ],
            "transport-options": {
                "symlink": false,
                "relative": true
            },
            "install-path": "../psr/log"
        },
        {
            "name": "symfony/polyfill-mbstring",
            "version": "v1.27.0",
            "version_normalized": "1.27.0.0",
            "dist": {
                "type": "path",
                "url": "../pkgs/polyfill-mbstring",
                "reference": "53813932ad1c6166053ea04fe080431a54d7cbe9"
            },
            "require": {
                "php": ">=7.1"
            },
            "provide": {
                "ext-mbstring": "*"
            },
            "type": "library",
            "installation-source": "dist",
            "autoload": {
                "files": [
                    "bootstrap.php"
                ]
            },
            "license": [
                "MIT"
            ],
            "authors": [
                {
                    "name": "Nicolas Grekas",
                    "email": "p@tchwork.com"
                },
                {
                    "name": "Symfony Community",
                    "homepage": "https://symfony.com/contributors"
                }
            ],
            "description": "Symfony polyfill for the Mbstring extension",
            "transport-options": {
                "symlink": false,
                "relative": true
            },
            "install-path": "../symfony/polyfill-mbstring"
        }
    ],
    "dev": true,
    "dev-package-names": [
        "acme/test-tools"
    ]
}
`;

// composer.lock of the same install.
const COMPOSER_LOCK = String.raw`{
    "_readme": [
        "This file locks the dependencies of your project to a known state",
        "Read more about it at https://getcomposer.org/doc/01-basic-usage.md#installing-dependencies",
        "This file is @generated automatically"
    ],
    "content-hash": "e3b1e48a7bd0cf28c08e0bad010c7362",
    "packages": [
        {
            "name": "acme/helpers",
            "version": "1.4.2",
            "dist": {
                "type": "path",
                "url": "../pkgs/acme-helpers",
                "reference": "36b1cc30beb514c29d4a561de10230d0b7651c0c"
            },
            "require": {
                "acme/old-logger": "^2.0",
                "composer/semver": "^3.3",
                "ext-mbstring": "*",
                "php": ">=8.0"
            },
            "type": "library",
            "license": [
                "proprietary"
            ],
            "description": "Helpers that still ask for the old logger name",
            "transport-options": {
                "symlink": false,
                "relative": true
            }
        },
        {
            "name": "acme/logger",
            "version": "v2.1.0",
            "dist": {
                "type": "path",
                "url": "../pkgs/acme-logger",
                "reference": "68812d844c11ca6de05214f8ee889df8dfc82ff3"
            },
            "require": {
                "ext-json": "*",
                "lib-pcre": "*",
                "php": "^8.1",
                "psr/log": "^3.0",
                "symfony/polyfill-mbstring": "^1.27"
            },
            "replace": {
                "acme/old-logger": "self.version"
            },
            "type": "library",
            "license": [
                "MIT",
                "Apache-2.0"
            ],
            "authors": [
                {
                    "name": "Ada Lovelace",
                    "email": "ada@example.org"
                }
            ],
            "description": "Dual-licensed logger",
            "transport-options": {
                "symlink": false,
                "relative": true
            }
        },
        {
            "name": "composer/semver",
            "version": "3.3.2",
            "dist": {
                "type": "path",
                "url": "../pkgs/composer-semver",
                "reference": "ae4ad9a443003d723624546e79ebb18ed08e5cf5"
            },
            "require": {
                "php": "^5.3.2 || ^7.0 || ^8.0"
            },
            "type": "library",
            "autoload": {
                "psr-4": {
                    "Composer\\Semver\\": "src"
                }
            },
            "license": [
                "MIT"
            ],
            "authors": [
                {
                    "name": "Nils Adermann",
                    "email": "naderman@naderman.de",
                    "homepage": "http://www.naderman.de"
                },
                {
                    "name": "Jordi Boggiano",
                    "email": "j.boggiano@seld.be",
                    "homepage": "http://seld.be"
                }
            ],
            "description": "Semver library that offers utilities, version constraint parsing and validation.",
            "transport-options": {
                "symlink": false,
                "relative": true
            }
        },
        {
            "name": "psr/log",
            "version": "3.0.0",
            "dist": {
                "type": "path",
                "url": "../pkgs/psr-log",
                "reference": "308e0e7852fd4b4aba9245d312aa5601e8aa2470"
            },
            "require": {
                "php": ">=8.0.0"
            },
            "type": "library",
            "autoload": {
                "psr-4": {
                    "Psr\\Log\\": "src"
                }
            },
            "license": [
                "MIT"
            ],
            "authors": [
                {
                    "name": "PHP-FIG",
                    "homepage": "https://www.php-fig.org/"
                }
            ],
            "description": "Common interface for logging libraries",
            "homepage": "https://github.com/php-fig/log",
            "keywords": [
                "log",
                "psr",
                "psr-3"
            ],
            "transport-options": {
                "symlink": false,
                "relative": true
            }
        },
        {
            "name": "symfony/polyfill-mbstring",
            "version": "v1.27.0",
            "dist": {
                "type": "path",
                "url": "../pkgs/polyfill-mbstring",
                "reference": "53813932ad1c6166053ea04fe080431a54d7cbe9"
            },
            "require": {
                "php": ">=7.1"
            },
            "provide": {
                "ext-mbstring": "*"
            },
            "type": "library",
            "autoload": {
                "files": [
                    "bootstrap.php"
                ]
            },
            "license": [
                "MIT"
            ],
            "authors": [
                {
                    "name": "Nicolas Grekas",
                    "email": "p@tchwork.com"
                },
                {
                    "name": "Symfony Community",
                    "homepage": "https://symfony.com/contributors"
                }
            ],
            "description": "Symfony polyfill for the Mbstring extension",
            "transport-options": {
                "symlink": false,
                "relative": true
            }
        }
    ],
    "packages-dev": [
        {
            "name": "acme/test-tools",
            "version": "0.9.0",
            "dist": {
                "type": "path",
                "url": "../pkgs/acme-test-tools",
                "reference": "59254436578abc483ca6e6dac6bf702f970290e4"
            },
            "require": {
                "composer/semver": "^3.0",
                "php": ">=8.0"
            },
            "type": "library",
            "license": [
                "BSD-3-Clause"
            ],
            "authors": [
                {
                    "name": "Grace Hopper"
                }
            ],
            "description": "Development-only test helpers",
            "transport-options": {
                "symlink": false,
                "relative": true
            }
        }
    ],
    "aliases": [],
    "minimum-stability": "stable",
    "stability-flags": [],
    "prefer-stable": false,
    "prefer-lowest": false,
    "platform": {
        "php": ">=8.1"
    },
    "platform-dev": [],
    "plugin-api-version": "2.3.0"
}
`;

const ALL = [
  'composer:acme/helpers@1.4.2',
  'composer:acme/logger@v2.1.0',
  'composer:acme/test-tools@0.9.0',
  'composer:composer/semver@3.3.2',
  'composer:psr/log@3.0.0',
  'composer:symfony/polyfill-mbstring@v1.27.0',
];

/** Composer 1 wrote installed.json as the bare package list, without `install-path`. */
function composer1InstalledJson(): string {
  const v2 = JSON.parse(INSTALLED_JSON) as { packages: Record<string, unknown>[] };
  return JSON.stringify(
    v2.packages.map(({ 'install-path': _, ...p }) => p),
    null,
    4,
  );
}

describe('Composer 2 installed.json', async () => {
  const path = '/var/www/shop/vendor/composer/installed.json';
  const result = await composerCataloger.catalog({ files: [file(path, INSTALLED_JSON)], allPaths: new Set([path]) });
  const pkg = (name: string) => result.packages.find((p) => p.name === name)!;

  test('every installed package, as composer show lists them, with no warnings', () => {
    expect(result.warnings).toEqual([]);
    expect(result.packages.map((p) => p.id)).toEqual(ALL);
    for (const p of result.packages) {
      expect(p.type).toBe('composer');
      expect(p.locations).toEqual([{ path, layerDiffId: LAYER }]);
    }
  });

  test('purl: vendor is the namespace, the version is kept as written (v prefix included, as syft)', () => {
    expect(pkg('symfony/polyfill-mbstring').purl).toBe('pkg:composer/symfony/polyfill-mbstring@v1.27.0');
    expect(pkg('symfony/polyfill-mbstring').version).toBe('v1.27.0');
    expect(pkg('psr/log').purl).toBe('pkg:composer/psr/log@3.0.0');
  });

  test('licenses: one id, a disjunctive pair, a non-SPDX name', () => {
    expect(pkg('psr/log').license).toBe('MIT');
    expect(pkg('acme/logger').license).toBe('MIT OR Apache-2.0');
    expect(pkg('acme/helpers').license).toMatch(/^LicenseRef-/);
    expect(pkg('acme/test-tools').license).toBe('BSD-3-Clause');
  });

  test('supplier is the first author; no authors, no supplier', () => {
    expect(pkg('composer/semver').supplier).toBe('Nils Adermann <naderman@naderman.de>');
    expect(pkg('psr/log').supplier).toBe('PHP-FIG');
    expect(pkg('acme/logger').supplier).toBe('Ada Lovelace <ada@example.org>');
    expect(pkg('acme/helpers').supplier).toBeUndefined();
  });

  test('require → dependsOn: platform requirements skipped, a replaced name resolves to its replacer', () => {
    // acme/logger requires php, ext-json, lib-pcre, psr/log, symfony/polyfill-mbstring.
    expect(pkg('acme/logger').dependsOn).toEqual([
      'composer:psr/log@3.0.0',
      'composer:symfony/polyfill-mbstring@v1.27.0',
    ]);
    // acme/helpers requires acme/old-logger, which acme/logger replaces, and ext-mbstring.
    expect(pkg('acme/helpers').dependsOn).toEqual(['composer:acme/logger@v2.1.0', 'composer:composer/semver@3.3.2']);
    expect(pkg('acme/test-tools').dependsOn).toEqual(['composer:composer/semver@3.3.2']);
    expect(pkg('psr/log').dependsOn).toBeUndefined();
  });

  test('dev-package-names mark require-dev packages; dist url kept', () => {
    expect(result.packages.filter((p) => p.metadata?.dev === 'true').map((p) => p.name)).toEqual(['acme/test-tools']);
    expect(pkg('acme/logger').metadata).toEqual({ distUrl: '../pkgs/acme-logger' });
  });
});

describe('Composer 1 installed.json', () => {
  test('the bare array gives the same packages and edges, none marked dev (Composer 1 did not record it)', async () => {
    const v1 = await composerCataloger.catalog({
      files: [file('/app/vendor/composer/installed.json', composer1InstalledJson())],
      allPaths: new Set(),
    });
    const v2 = await composerCataloger.catalog({
      files: [file('/app/vendor/composer/installed.json', INSTALLED_JSON)],
      allPaths: new Set(),
    });
    expect(v1.warnings).toEqual([]);
    expect(v1.packages.map((p) => p.id)).toEqual(ALL);
    expect(v1.packages.map((p) => [p.id, p.dependsOn, p.license])).toEqual(
      v2.packages.map((p) => [p.id, p.dependsOn, p.license]),
    );
    expect(v1.packages.some((p) => p.metadata?.dev !== undefined)).toBe(false);
  });
});

describe('composer.lock', () => {
  test('a lock-only project yields packages and packages-dev, the latter marked dev', async () => {
    const path = '/srv/shop/composer.lock';
    const { packages, warnings } = await composerCataloger.catalog({
      files: [file(path, COMPOSER_LOCK)],
      allPaths: new Set([path, '/srv/shop/composer.json']),
    });
    expect(warnings).toEqual([]);
    expect(packages.map((p) => p.id)).toEqual(ALL);
    expect(packages.filter((p) => p.metadata?.dev === 'true').map((p) => p.name)).toEqual(['acme/test-tools']);
    const helpers = packages.find((p) => p.name === 'acme/helpers')!;
    expect(helpers.dependsOn).toEqual(['composer:acme/logger@v2.1.0', 'composer:composer/semver@3.3.2']);
    expect(helpers.locations).toEqual([{ path, layerDiffId: LAYER }]);
  });

  test('a project with an installed.json ignores its lock, whether the installed.json was captured or only exists', async () => {
    const lock = file('/app/composer.lock', COMPOSER_LOCK);
    const installed = file('/app/vendor/composer/installed.json', INSTALLED_JSON);
    const both = await composerCataloger.catalog({ files: [lock, installed], allPaths: new Set() });
    expect(both.packages.map((p) => p.id)).toEqual(ALL);
    for (const p of both.packages) expect(p.locations.map((l) => l.path)).toEqual([installed.path]);

    const lockOnlyCaptured = await composerCataloger.catalog({
      files: [lock],
      allPaths: new Set([lock.path, installed.path]),
    });
    expect(lockOnlyCaptured.packages).toEqual([]);
  });

  test('what is wanted: installed.json under vendor/composer, project locks, not locks inside vendor', () => {
    expect(composerCataloger.wants('/app/vendor/composer/installed.json')).toBe(true);
    expect(composerCataloger.wants('/app/composer.lock')).toBe(true);
    expect(composerCataloger.wants('/app/vendor/acme/logger/composer.lock')).toBe(false);
    expect(composerCataloger.wants('/app/installed.json')).toBe(false);
    expect(composerCataloger.wants('/app/vendor/composer/installed.php')).toBe(false);
    expect(composerCataloger.wants('/app/composer.json')).toBe(false);
  });
});

describe('merging, odd names and bad input', () => {
  test('one name@version in two projects is one package with both locations; dev only if dev everywhere', async () => {
    const a = '/srv/a/vendor/composer/installed.json';
    const b = '/srv/b/composer.lock';
    const { packages } = await composerCataloger.catalog({
      files: [
        file(a, { packages: [{ name: 'acme/test-tools', version: '0.9.0' }], dev: false, 'dev-package-names': [] }),
        file(b, { packages: [], 'packages-dev': [{ name: 'acme/test-tools', version: '0.9.0' }] }),
      ],
      allPaths: new Set(),
    });
    expect(packages).toHaveLength(1);
    expect(packages[0]!.locations.map((l) => l.path)).toEqual([a, b]);
    expect(packages[0]!.metadata).toBeUndefined();
  });

  test('purls for names with more than two parts or no vendor, as syft builds them', async () => {
    const { packages } = await composerCataloger.catalog({
      files: [
        file('/x/vendor/composer/installed.json', [
          { name: 'a/b/c', version: '1.0.0' },
          { name: 'solo', version: '2.0' },
        ]),
      ],
      allPaths: new Set(),
    });
    expect(packages.map((p) => p.purl)).toEqual(['pkg:composer/a/b-c@1.0.0', 'pkg:composer/solo@2.0']);
  });

  test('malformed JSON, a wrong shape and entries without version warn, naming the file; the rest is kept', async () => {
    const { packages, warnings } = await composerCataloger.catalog({
      files: [
        file('/a/vendor/composer/installed.json', '{"packages": [{"name": "x/y", "version": '),
        file('/b/vendor/composer/installed.json', { installed: [] }),
        file('/c/vendor/composer/installed.json', {
          packages: [{ name: 'x/nover' }, 'junk', { name: 'x/ok', version: '1.0.0', require: { php: '>=8' } }],
        }),
        file('/d/composer.lock', '[]'),
      ],
      allPaths: new Set(),
    });
    expect(packages.map((p) => p.id)).toEqual(['composer:x/ok@1.0.0']);
    expect(packages[0]!.dependsOn).toBeUndefined();
    expect(warnings).toHaveLength(5);
    expect(warnings[0]).toMatch(/^\/a\/vendor\/composer\/installed.json: not valid JSON/);
    expect(warnings[1]).toMatch(/^\/b\/vendor\/composer\/installed.json: neither a Composer 1/);
    expect(warnings[2]).toBe(
      '/c/vendor/composer/installed.json: packages[0]: package entry without name or version (x/nover); skipped',
    );
    expect(warnings[3]).toBe('/c/vendor/composer/installed.json: packages[1]: package entry is not an object; skipped');
    expect(warnings[4]).toMatch(/^\/d\/composer.lock: composer.lock without a "packages" array/);
  });

  test('platform requirement names and license joining', () => {
    for (const n of [
      'php',
      'php-64bit',
      'PHP',
      'hhvm',
      'ext-mbstring',
      'lib-pcre',
      'composer-plugin-api',
      'composer-runtime-api',
    ])
      expect(isPlatformRequirement(n)).toBe(true);
    for (const n of ['phpunit/phpunit', 'composer/semver', 'psr/log', 'php-http/client-common'])
      expect(isPlatformRequirement(n)).toBe(false);
    expect(composerLicense('MIT')).toBe('MIT');
    expect(composerLicense(['GPL-2.0-or-later', 'MIT', 'MIT'])).toBe('GPL-2.0-or-later OR MIT');
    expect(composerLicense([])).toBeUndefined();
  });
});
