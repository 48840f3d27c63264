import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * A policy folder with one key authority (no transparency log) over the images `glob` matches:
 * `dir/key.pub` and `dir/policy.yaml`. For tests and benchmarks of `verify --policy` over
 * key-signed images; plain Node (no src/ imports), so benchmarks can use it too.
 */
export async function writeKeyPolicy(
  dir: string,
  o: { name: string; glob: string; publicKeyPem: string },
): Promise<string> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'key.pub'), o.publicKeyPem);
  await writeFile(
    join(dir, 'policy.yaml'),
    [
      'apiVersion: sigil.dev/v1',
      'kind: Policy',
      'metadata:',
      `  name: ${o.name}`,
      'spec:',
      '  images:',
      `    - glob: "${o.glob}"`,
      '  authorities:',
      '    - name: ci',
      '      key:',
      '        path: key.pub',
      '      tlog: ignore',
      '',
    ].join('\n'),
  );
  return dir;
}
