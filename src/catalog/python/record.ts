/**
 * The files an installed distribution owns: `RECORD` for wheels (PEP 376 / PEP 627: CSV rows
 * `path,hash,size`, paths relative to the site-packages directory, or absolute) and
 * `installed-files.txt` for setuptools eggs (one path per line, relative to the egg-info directory).
 */
import { posix } from 'node:path';

/** RECORD rows' paths (first CSV column), resolved against `sitePackages` and normalised. */
export function filesFromRecord(content: string, sitePackages: string): string[] {
  const out = new Set<string>();
  for (const line of content.replace(/\r\n?/g, '\n').split('\n')) {
    if (line.trim() === '') continue;
    const path = firstCsvField(line);
    if (path !== '') out.add(resolve(sitePackages, path));
  }
  return [...out].sort();
}

/** `installed-files.txt`: `../foo/__init__.py`, `./`, `PKG-INFO`, relative to the egg-info directory. */
export function filesFromInstalledFiles(content: string, eggInfoDir: string): string[] {
  const out = new Set<string>();
  for (const line of content.replace(/\r\n?/g, '\n').split('\n')) {
    const path = line.trim();
    if (path === '' || path === '.' || path === './') continue;
    out.add(resolve(eggInfoDir, path));
  }
  return [...out].sort();
}

function resolve(base: string, path: string): string {
  return posix.normalize(path.startsWith('/') ? path : posix.join(base, path));
}

/**
 * The first field of a CSV row (Python's csv module, which writes RECORD, quotes fields holding a
 * comma or a quote and doubles the quotes inside).
 */
export function firstCsvField(line: string): string {
  if (!line.startsWith('"')) {
    const comma = line.indexOf(',');
    return comma < 0 ? line : line.slice(0, comma);
  }
  let out = '';
  for (let i = 1; i < line.length; i++) {
    const c = line[i]!;
    if (c !== '"') {
      out += c;
      continue;
    }
    if (line[i + 1] === '"') {
      out += '"';
      i++;
      continue;
    }
    break;
  }
  return out;
}
