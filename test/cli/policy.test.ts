import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runSigil } from '../helpers/cli.ts';

describe('sigil policy', () => {
  it('lint: the shipped examples load (warnings only, exit 0)', async () => {
    const r = await runSigil(['policy', 'lint', 'policies/examples']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/3 policies, 0 tests, \d+ warnings/);
    expect(r.stdout).toMatch(/mode warn/);
  });

  it('lint: a glob with a tag is an error naming file:line (exit 1); a missing path exit 2', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sigil-policy-'));
    writeFileSync(
      join(dir, 'p.yaml'),
      'apiVersion: sigil.dev/v1\nkind: Policy\nmetadata: { name: p }\nspec:\n  images:\n    - glob: ghcr.io/acme/app:*\n  authorities: [{ name: s, static: { action: pass } }]\n',
    );
    const r = await runSigil(['policy', 'lint', dir]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(
      `${join(dir, 'p.yaml')}:6: spec.images[0].glob: glob "ghcr.io/acme/app:*": globs match repositories`,
    );
    expect((await runSigil(['policy', 'lint', join(dir, 'absent')])).code).toBe(2);
  });

  it('match: normalised name and the selected policies, as JSON', async () => {
    const r = await runSigil([
      'policy',
      'match',
      'ghcr.io/acme/prod/api:1',
      '--policy',
      'policies/examples',
      '-o',
      'json',
    ]);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout) as { name: string; selected: { name: string }[] };
    expect(j.name).toBe('ghcr.io/acme/prod/api');
    expect(j.selected.map((s) => s.name).sort()).toEqual(['acme-github-release', 'acme-supply-chain']);
    const sandbox = await runSigil(['policy', 'match', 'ghcr.io/acme/sandbox/x', '--policy', 'policies/examples']);
    expect(sandbox.stdout).toMatch(/not selected acme-github-release: NOT_SELECTED_EXCLUDED/);
  });
});
