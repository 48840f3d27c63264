/**
 * Paths inside an image. Every path the filesystem API hands out is absolute and normalised
 * (`/etc/os-release`): tar names come as `./etc/x`, `etc/x`, `/etc/x` or with `..` in them, and
 * all of those must land on one key and never above the image root.
 */

/**
 * Normalise a tar entry name (or a hardlink's target) to an absolute path inside the root:
 * leading `./` and `/` dropped, `.` and empty components removed, `..` resolved lexically and
 * clamped at the root, so `../../etc/passwd` is `/etc/passwd`.
 */
export function normalizePath(name: string): string {
  const out: string[] = [];
  for (const part of name.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') out.pop();
    else out.push(part);
  }
  return `/${out.join('/')}`;
}

/** The components of a normalised absolute path; `[]` for the root. */
export function pathComponents(path: string): string[] {
  return path === '/' ? [] : path.slice(1).split('/');
}

export function parentPath(path: string): string {
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}

export function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

export function joinPath(dir: string, name: string): string {
  return dir === '/' ? `/${name}` : `${dir}/${name}`;
}

/** Code-point order, as the SBOM's file lists are sorted (not locale order, which varies by machine). */
export function comparePaths(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
