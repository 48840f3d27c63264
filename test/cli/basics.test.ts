import { describe, expect, it } from 'vitest';
import { runSigil } from '../helpers/cli.ts';

describe('sigil CLI basics', () => {
  it('--help lists the commands, examples and exit codes', async () => {
    const r = await runSigil(['--help']);
    expect(r.code).toBe(0);
    for (const c of ['digest', 'manifest', 'config', 'tags', 'copy', 'login', 'logout']) expect(r.stdout).toContain(c);
    expect(r.stdout).toContain('Exit codes:');
    const copy = await runSigil(['copy', '--help']);
    expect(copy.stdout).toMatch(/Examples:[\s\S]*sigil copy/);
  });

  it('--version prints the package version', async () => {
    const r = await runSigil(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('an unknown command is a usage error (exit 2) with a hint', async () => {
    const r = await runSigil(['frobnicate']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/sigil: error: /);
  });

  it('a missing argument is reported once and runs nothing (exit 2)', async () => {
    for (const args of [['sbom', '-v'], ['sign'], ['verify']]) {
      const r = await runSigil(args);
      expect(r.code, args.join(' ')).toBe(2);
      // One message and the hint: the handler did not run on undefined arguments.
      expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(2);
      expect(r.stderr).toMatch(/^sigil: error: Not enough non-option arguments/);
      expect(r.stderr).not.toMatch(/TypeError|Cannot read/);
    }
  });

  it('a bad reference is one clear line naming the bad part, exit 2, no stack', async () => {
    const r = await runSigil(['digest', 'Foo/Bar:1']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/\[REFERENCE_INVALID\].*lowercase/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('--verbose adds the stack trace', async () => {
    const r = await runSigil(['-v', 'digest', 'Foo/Bar:1']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/\n\s+at /);
  });

  it('contradictory flags are rejected', async () => {
    const r = await runSigil(['copy', '--platform', 'linux/amd64', '--all-platforms', 'a', 'b']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/mutually exclusive|not both/);
  });
});

describe('the -o flag', () => {
  it('takes text or json outside sbom, and names the bad value', async () => {
    const r = await runSigil(['digest', '-o', 'yaml', 'alpine']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/-o\/--output "yaml": expected text or json/);
  });
});
