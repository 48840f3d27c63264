import { OciError } from './errors.ts';
import type { Descriptor, ImageIndex, Platform } from './manifest.ts';

export const LINUX_AMD64: Platform = Object.freeze({ os: 'linux', architecture: 'amd64' });

const PART = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** Parse `os/arch[/variant]` as given on the command line (`linux/arm64/v8`). */
export function parsePlatform(s: string): Platform {
  const parts = s.split('/');
  if (parts.length < 2 || parts.length > 3 || !parts.every((p) => PART.test(p))) {
    throw new OciError(
      'INVALID_OPTIONS',
      `invalid platform "${s}": expected os/arch[/variant], e.g. linux/amd64 or linux/arm64/v8`,
    );
  }
  const [os, architecture, variant] = parts as [string, string, string?];
  return variant === undefined ? { os, architecture } : { os, architecture, variant };
}

export function formatPlatform(p: Platform): string {
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}`;
}

/**
 * Normalise as containerd's platforms package (database.go normalizeOS/normalizeArch) does, so
 * that spellings from `uname -m`, Debian and Go all compare equal: x86_64 → amd64,
 * aarch64 → arm64, armhf → arm/v7. Default variants are filled in (arm64 → v8, arm → v7), where
 * containerd instead clears arm64's v8; filling keeps "v8" and "" equal all the same.
 */
export function normalizePlatform(p: Platform): { os: string; architecture: string; variant: string } {
  let os = p.os.toLowerCase();
  if (os === 'macos') os = 'darwin';
  let arch = p.architecture.toLowerCase();
  let variant = (p.variant ?? '').toLowerCase();
  switch (arch) {
    case 'i386':
      arch = '386';
      variant = '';
      break;
    case 'x86_64':
    case 'x86-64':
    case 'amd64':
      arch = 'amd64';
      if (variant === 'v1') variant = '';
      break;
    case 'aarch64':
    case 'arm64':
      arch = 'arm64';
      if (variant === '' || variant === '8' || variant === 'v8.0') variant = 'v8';
      else if (variant === '9' || variant === '9.0' || variant === 'v9.0') variant = 'v9';
      break;
    case 'armhf':
      arch = 'arm';
      variant = 'v7';
      break;
    case 'armel':
      arch = 'arm';
      variant = 'v6';
      break;
    case 'arm':
      if (variant === '' || variant === '7') variant = 'v7';
      else if (variant === '5' || variant === '6' || variant === '8') variant = `v${variant}`;
      break;
  }
  return { os, architecture: arch, variant };
}

/**
 * Does an image for `have` satisfy a request for `want`? OS and architecture must be equal after
 * normalisation; a variant in `want` must equal `have`'s (defaults filled in on both sides),
 * while no variant in `want` accepts any. `os.version` and `os.features`, when wanted, must be
 * present in `have` (go-containerregistry's platform.Satisfies rules; they matter for Windows).
 */
export function platformMatches(want: Platform, have: Platform): boolean {
  const w = normalizePlatform(want);
  const h = normalizePlatform(have);
  if (w.os !== h.os || w.architecture !== h.architecture) return false;
  if (want.variant && w.variant !== h.variant) return false;
  if (want['os.version'] && want['os.version'] !== have['os.version']) return false;
  const features = have['os.features'] ?? [];
  return (want['os.features'] ?? []).every((f) => features.includes(f));
}

/**
 * BuildKit stores provenance/SBOM attestations in the index as extra manifests marked with this
 * annotation and the platform unknown/unknown; they are never a runnable image.
 */
function isAttestation(d: Descriptor): boolean {
  return (
    d.annotations?.['vnd.docker.reference.type'] === 'attestation-manifest' ||
    (d.platform?.os === 'unknown' && d.platform.architecture === 'unknown')
  );
}

/**
 * Pick the manifest for `want` from an index. Among entries that match, one whose variant equals
 * `want`'s default variant wins over the first match: asking for linux/arm in an index listing
 * arm/v6 before arm/v7 should give v7, as docker and containerd would. `what` names the index
 * in the error ("docker.io/library/alpine:3.19").
 */
export function selectManifest(index: ImageIndex, want: Platform, what: string): Descriptor {
  const candidates = index.manifests.filter(
    (d): d is Descriptor & { platform: Platform } => d.platform !== undefined && !isAttestation(d),
  );
  const matches = candidates.filter((d) => platformMatches(want, d.platform));
  const w = normalizePlatform(want);
  const best = matches.find((d) => normalizePlatform(d.platform).variant === w.variant) ?? matches[0];
  if (best) return best;
  const available = candidates.map((d) => formatPlatform(d.platform));
  throw new OciError(
    'PLATFORM_NOT_FOUND',
    `${what}: no manifest for ${formatPlatform(want)}; available: ${available.length ? available.join(', ') : 'none'}`,
  );
}
