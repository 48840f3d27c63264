/**
 * Node's module lookup (nodejs.org/api/modules.html, "Loading from node_modules folders"): a
 * package at /app/node_modules/a requires `b` from /app/node_modules/a/node_modules/b, then
 * /app/node_modules/b, then /node_modules/b — the nearest node_modules upwards wins.
 */
export function resolveDependency(
  fromDir: string,
  name: string,
  installed: ReadonlyMap<string, unknown>,
): string | undefined {
  let dir = fromDir;
  for (;;) {
    if (!dir.endsWith('/node_modules')) {
      const candidate = `${dir}/node_modules/${name}`;
      if (installed.has(candidate)) return candidate;
    }
    if (dir === '') return undefined;
    dir = dir.slice(0, dir.lastIndexOf('/'));
  }
}
