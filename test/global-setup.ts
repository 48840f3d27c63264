import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** CLI tests run the built binary; build it once per test run so `npx vitest` alone is enough. */
export default function setup(): void {
  // For library-only runs while the tree is mid-change elsewhere; CI never sets it.
  if (process.env.SIGIL_SKIP_BUILD === '1') return;
  const root = fileURLToPath(new URL('..', import.meta.url));
  execFileSync(process.execPath, [`${root}/node_modules/typescript/bin/tsc`, '-p', 'tsconfig.build.json'], {
    cwd: root,
    stdio: 'inherit',
  });
}
