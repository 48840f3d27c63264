/**
 * A module-mode Go binary with real dependencies, built offline by a real Go toolchain taken from
 * Debian 12's .debs (golang-1.19-go + golang-1.19-src): blackfriday v2.1.0 and pkg/errors v0.9.1
 * from Debian's golang-*-dev packages are vendored (pkg/errors behind a `replace`, plus a local
 * directory replacement), so the build needs no module proxy. `go version -m` of the same
 * toolchain gives the truth a test compares the cataloger against.
 *
 * The result is cached under testdata/cache/go-binary-<hash of the inputs>/, so CI builds it once.
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { access, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { DEFAULT_CACHE_DIR, debToLayerEntries, fetchDebs } from './debs.ts';

const TOOLCHAIN_DEBS = ['golang-1.19-go', 'golang-1.19-src'];
/** Debian package -> the module it holds (as vendored under that import path) and its version. */
const LIBRARIES = [
  {
    deb: 'golang-github-russross-blackfriday-v2-dev',
    source: 'usr/share/gocode/src/github.com/russross/blackfriday/v2/',
    vendorAs: 'github.com/russross/blackfriday/v2',
  },
  {
    deb: 'golang-github-pkg-errors-dev',
    source: 'usr/share/gocode/src/github.com/pkg/errors/',
    vendorAs: 'example.com/errors',
  },
];

const GO_MOD = `module example.com/sigil/gotest

go 1.19

require (
	example.com/errors v0.8.0
	example.com/local v0.0.0
	github.com/russross/blackfriday/v2 v2.1.0
)

replace example.com/errors v0.8.0 => github.com/pkg/errors v0.9.1

replace example.com/local => ./local
`;

const MODULES_TXT = `# example.com/errors v0.8.0 => github.com/pkg/errors v0.9.1
## explicit
example.com/errors
# example.com/local v0.0.0 => ./local
## explicit; go 1.19
example.com/local
# github.com/russross/blackfriday/v2 v2.1.0
## explicit
github.com/russross/blackfriday/v2
# example.com/errors v0.8.0 => github.com/pkg/errors v0.9.1
# example.com/local => ./local
`;

const LOCAL_GO = `package local

func Greeting() string { return "hello" }
`;

const MAIN_GO = `package main

import (
	"fmt"
	"os"

	"example.com/errors"
	"example.com/local"
	"github.com/russross/blackfriday/v2"
)

var version = "dev"

func main() {
	out := blackfriday.Run([]byte("# " + local.Greeting()))
	if len(os.Args) > 1 {
		fmt.Println(errors.Wrap(fmt.Errorf("x"), version))
	}
	os.Stdout.Write(out)
}
`;

// No -trimpath: with it the go command leaves -ldflags out of the build info, and the test wants
// it there (the main module's version comes from it, as syft reads it).
const LDFLAGS = '-X main.version=1.2.3';

export interface GoTestBinary {
  /** The built executable. */
  path: string;
  /** `go version -m <binary>` printed by the toolchain that built it. */
  versionM: string;
  /** `go version` of that toolchain (`go version go1.19.8 linux/amd64`). */
  toolchainVersion: string;
}

/** Build (or take from the cache) the module-mode test binary. */
export async function goModuleBinary(cacheDir = DEFAULT_CACHE_DIR): Promise<GoTestBinary> {
  const debs = await fetchDebs([...TOOLCHAIN_DEBS, ...LIBRARIES.map((l) => l.deb)]);
  const key = createHash('sha256')
    .update(JSON.stringify([debs.map((d) => basename(d)), GO_MOD, MODULES_TXT, LOCAL_GO, MAIN_GO, LDFLAGS]))
    .digest('hex')
    .slice(0, 12);
  const out = join(cacheDir, `go-binary-${key}`);
  const result = async (): Promise<GoTestBinary> => ({
    path: join(out, 'gotest'),
    versionM: await readFile(join(out, 'version-m.txt'), 'utf8'),
    toolchainVersion: (await readFile(join(out, 'go-version.txt'), 'utf8')).trim(),
  });
  if (await exists(join(out, 'version-m.txt'))) return result();

  const goroot = await toolchain(debs.slice(0, 2), cacheDir);
  // Build in a private directory, then move: two test workers may build at once.
  const tmp = join(cacheDir, `.go-build-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    const src = join(tmp, 'src');
    await writeFiles(src, {
      'go.mod': GO_MOD,
      'main.go': MAIN_GO,
      'local/go.mod': 'module example.com/local\n\ngo 1.19\n',
      'local/local.go': LOCAL_GO,
      'vendor/modules.txt': MODULES_TXT,
      'vendor/example.com/local/local.go': LOCAL_GO,
    });
    for (const [i, lib] of LIBRARIES.entries()) {
      const deb = await debToLayerEntries(debs[2 + i]!);
      for (const e of deb.entries) {
        if (e.type !== 'file' || !e.path.startsWith(lib.source)) continue;
        const rel = e.path.slice(lib.source.length);
        // Only the package's own sources: a vendored package's tests are not built.
        if (rel.includes('/') || !rel.endsWith('.go') || rel.endsWith('_test.go')) continue;
        await writeFiles(join(src, 'vendor', lib.vendorAs), { [rel]: e.data! });
      }
    }
    const env = {
      PATH: `${join(goroot, 'bin')}:/usr/bin:/bin`,
      GOROOT: goroot,
      HOME: join(tmp, 'home'),
      GOCACHE: join(tmp, 'gocache'),
      GOPATH: join(tmp, 'gopath'),
      GOFLAGS: '-mod=vendor',
      GOTOOLCHAIN: 'local',
      GOPROXY: 'off',
      GOWORK: 'off',
      CGO_ENABLED: '0',
      GOOS: 'linux',
      GOARCH: 'amd64',
    };
    const go = join(goroot, 'bin', 'go');
    await run(go, ['build', '-buildvcs=false', '-ldflags', LDFLAGS, '-o', join(tmp, 'gotest'), '.'], src, env);
    await writeFile(join(tmp, 'version-m.txt'), await run(go, ['version', '-m', join(tmp, 'gotest')], src, env));
    await writeFile(join(tmp, 'go-version.txt'), await run(go, ['version'], src, env));
    await rm(src, { recursive: true, force: true });
    await rm(join(tmp, 'gocache'), { recursive: true, force: true });
    await rm(join(tmp, 'gopath'), { recursive: true, force: true, maxRetries: 2 });
    await rm(join(tmp, 'home'), { recursive: true, force: true });
    await rename(tmp, out).catch(async (e: NodeJS.ErrnoException) => {
      // Another worker finished first: its result is the same build.
      if (e.code !== 'ENOTEMPTY' && e.code !== 'EEXIST') throw e;
    });
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  // The unpacked toolchain is ~470 MB and only needed to build: the .debs stay cached to redo it.
  await rm(join(goroot, '../../..'), { recursive: true, force: true });
  return result();
}

/** GOROOT of the toolchain unpacked from the .debs (dpkg-deb -x), cached by their file names. */
async function toolchain(debs: string[], cacheDir: string): Promise<string> {
  const key = createHash('sha256')
    .update(debs.map((d) => basename(d)).join('\n'))
    .digest('hex')
    .slice(0, 12);
  const dir = join(cacheDir, `go-toolchain-${key}`);
  const goroot = join(dir, 'usr/lib/go-1.19');
  if (await exists(join(goroot, 'bin/go'))) return goroot;
  const tmp = `${dir}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    for (const deb of debs) await run('dpkg-deb', ['-x', deb, tmp], cacheDir, process.env);
    await rename(tmp, dir).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOTEMPTY' && e.code !== 'EEXIST') throw e;
    });
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  return goroot;
}

async function writeFiles(root: string, files: Record<string, string | Uint8Array>): Promise<void> {
  for (const [rel, data] of Object.entries(files)) {
    const p = join(root, rel);
    await mkdir(dirname(p), { recursive: true });
    await writeFile(p, data);
  }
}

async function exists(p: string): Promise<boolean> {
  return access(p).then(
    () => true,
    () => false,
  );
}

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(Buffer.concat(out).toString());
      else reject(new Error(`${cmd} ${args.join(' ')}: exit ${code}: ${Buffer.concat(err).toString().trim()}`));
    });
  });
}
