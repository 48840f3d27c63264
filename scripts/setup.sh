#!/usr/bin/env bash
# Everything `npm test`, `npm run demo` and `npm run bench` need on a fresh machine, and fast
# (seconds) when it is already there: Debian packages, the locked npm dependencies (which
# bring Node 24), and the build.
set -euo pipefail
cd "$(dirname "$0")/.."

# docker-registry: CNCF distribution 2.8, the real registry tests and demo run against.
# skopeo: the copy benchmark's peer. openssl: the token-auth test issuer's certificate.
# apache2-utils: htpasswd, which writes the credentials interop test's password file. dpkg/apt/xz-utils/zstd: test images
# are built from real .deb packages fetched with apt-get download. time: peak RSS in the benchmark.
# bsdutils: script(1) gives the progress test a terminal. util-linux: setpriv ties test registries to their parent.
# binutils: objcopy adds a cargo-auditable .dep-v0 section to a real Rust binary (testdata/rust-binaries.ts).
# strace: the key-file test watches every open and chmod of a private key for a moment of wider access.
packages=(docker-registry skopeo openssl ca-certificates dpkg apt xz-utils zstd apache2-utils time bsdutils util-linux binutils strace)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  echo "setup: installing Debian packages: ${missing[*]}" >&2
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # The package's init script may start a registry on :5000; ours run on free ports.
  $SUDO service docker-registry stop >/dev/null 2>&1 || true
fi

# Reinstall only when package-lock.json changed since the last install (or Node 24 is missing).
lock_sum=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -x node_modules/.bin/node ] || [ "$(cat node_modules/.sigil-lock 2>/dev/null)" != "$lock_sum" ]; then
  echo "setup: npm ci" >&2
  npm ci --no-audit --no-fund --loglevel=error
  echo "$lock_sum" > node_modules/.sigil-lock
fi

# node@24 (a devDependency) puts Node 24 first on PATH for npm scripts. Its binary comes from
# the package's install script: fail loudly if that did not run rather than run on the host's Node.
node_version=$(node_modules/.bin/node --version 2>/dev/null || echo missing)
case "$node_version" in
  v24.*) ;;
  *) echo "setup: error: node_modules/.bin/node is ${node_version}, expected Node 24 (was the install script of the node package blocked?)" >&2; exit 1 ;;
esac
echo "setup: Node ${node_version} from node_modules/.bin/node, npm $(npm --version 2>/dev/null)" >&2
node_modules/.bin/tsc -p tsconfig.build.json
node_modules/.bin/node scripts/build-id.mjs
