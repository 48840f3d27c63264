// After `tsc`: write dist/build-id.json, a hash of the compiled code, by which caches key their
// entries (src/build-id.ts) so that a new build never reads what an older one cached. Plain
// JavaScript: `prepare` may run it under the host's Node before Node 24 is in place.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';

const dist = new URL('../dist/', import.meta.url).pathname;
const files = [];
const walk = (dir) => {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p);
    else if (e.isFile() && e.name !== 'build-id.json') files.push(relative(dist, p));
  }
};
walk(dist);
const h = createHash('sha256');
for (const f of files.sort())
  h.update(`${f}\0`)
    .update(readFileSync(join(dist, f)))
    .update('\0');
writeFileSync(join(dist, 'build-id.json'), `${JSON.stringify({ id: h.digest('hex') })}\n`);
