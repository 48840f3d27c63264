/**
 * `sigil verify IMAGE... --policy DIR` as a user runs it: images signed keyless through the
 * loopback Sigstore stack with GitHub-Actions-like tokens, a policy folder whose authority names
 * the stack's trusted root, the text report and the §5 JSON report, §4 exit codes, warn mode,
 * --explain, --save-evidence and an --evidence replay with the registry stopped.
 */
import { mkdir, mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyImage } from '../../src/oci/copy.ts';
import { openSource, openTarget } from '../../src/oci/source.ts';
import { keylessSigner, witnesses } from '../../src/sign/signers/index.ts';
import type { DecisionReport } from '../../src/verify/policy/report.ts';
import { signImage } from '../../src/workflows/sign-image.ts';
import { startRegistry, type TestRegistry } from '../harness/registry.ts';
import { startSigstoreStack, type SigstoreStack } from '../harness/sigstore-stack.ts';
import { writeTinyOciLayout } from '../harness/tiny-oci-layout.ts';
import { runSigil } from '../helpers/cli.ts';

const GH_ISSUER = 'https://token.actions.githubusercontent.com';
let registry: TestRegistry;
let stack: SigstoreStack;
let work: string;
let policies: string;
const digests: Record<string, string> = {};
const ref = (name: string) => `${registry.host}/acme/${name}:1`;

async function sign(name: string, repo: string, gitRef: string) {
  const token = stack.mintIdentityToken({
    issuer: GH_ISSUER,
    subject: `https://github.com/${repo}/.github/workflows/release.yml@${gitRef}`,
    claims: {
      repository: repo,
      repository_owner: repo.split('/')[0],
      repository_id: '768213997',
      runner_environment: 'github-hosted',
      ref: gitRef,
      event_name: 'push',
    },
  });
  await signImage(ref(name), {
    signer: keylessSigner({ fulcioUrl: stack.fulcioUrl, identityToken: token }),
    witnesses: witnesses({ rekorUrl: stack.rekorUrl, tlogUpload: true, tsaUrl: stack.tsaUrl }),
  });
}

beforeAll(async () => {
  [registry, stack] = await Promise.all([startRegistry(), startSigstoreStack()]);
  work = await mkdtemp(join(tmpdir(), 'sigil-verify-policy-cli-'));
  policies = join(work, 'policies');
  await mkdir(join(policies, 'trust'), { recursive: true });
  await writeFile(join(policies, 'trust', 'root.json'), JSON.stringify(stack.trustedRoot()));
  for (const name of ['app', 'nightly', 'unsigned']) {
    const layout = await writeTinyOciLayout(join(work, 'layouts', name), 256);
    await copyImage(await openSource(`oci-dir:${layout.dir}:latest`), await openTarget(ref(name)));
    digests[name] = layout.manifestDigest;
  }
  await Promise.all([sign('app', 'acme/app', 'refs/tags/v1.0.0'), sign('nightly', 'acme/app', 'refs/heads/main')]);
  await writeFile(
    join(policies, 'release.yaml'),
    `apiVersion: sigil.dev/v1
kind: Policy
metadata:
  name: acme-release
spec:
  images:
    - glob: ${registry.host}/acme/**
  authorities:
    - name: release-workflow
      keyless:
        trustedRoot: trust/root.json
        identities:
          - issuer: ${GH_ISSUER}
            subjectRegExp: https://github\\.com/acme/[^/]+/\\.github/workflows/release\\.yml@refs/tags/v.*
            claims:
              sourceRepositoryOwnerURI: https://github.com/acme
              runnerEnvironment: github-hosted
              sourceRepositoryRef: { regexp: "refs/tags/v[0-9.]+" }
---
apiVersion: sigil.dev/v1
kind: Policy
metadata:
  name: elsewhere
spec:
  images:
    - glob: ghcr.io/other/**
  authorities:
    - name: nobody
      static: { action: fail }
`,
  );
}, 90_000);
afterAll(async () => {
  await Promise.all([registry?.stop(), stack?.stop()]);
});

describe('sigil verify --policy', () => {
  it('allowed: exit 0, the text report names the policy, authority and passing candidate', async () => {
    const r = await runSigil(['verify', '--policy', policies, ref('app')]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toContain(`${ref('app')} (${registry.host}/acme/app@${digests['app']}): ALLOW`);
    expect(r.stdout).toContain('policy acme-release [enforce] pass');
    expect(r.stdout).toContain('authority release-workflow (keyless): pass');
  });

  it('-o json: the DecisionReport of POLICY.md §5 for several images; deny → exit 1 with reason codes', async () => {
    const r = await runSigil([
      'verify',
      '-o',
      'json',
      '--policy',
      policies,
      ref('app'),
      ref('nightly'),
      ref('unsigned'),
    ]);
    expect(r.code, r.stderr).toBe(1);
    const rep = JSON.parse(r.stdout) as DecisionReport;
    expect(rep).toMatchObject({ apiVersion: 'sigil.dev/v1', kind: 'DecisionReport', exitCode: 1 });
    expect(rep.images.map((i) => [i.input, i.decision, i.tag])).toEqual([
      [ref('app'), 'allow', '1'],
      [ref('nightly'), 'deny', '1'],
      [ref('unsigned'), 'deny', '1'],
    ]);
    const nightly = rep.images[1]!.policies[0]!;
    expect(nightly.reasons[0]!.code).toBe('THRESHOLD_NOT_MET');
    // The candidate's failing check names the expected pattern and every SAN found.
    const failed = nightly.authorities[0]!.candidates[0]!.checks.filter((c) => !c.ok);
    // Every identity check ran: the nightly workflow's ref claim differs as well.
    expect(failed.map((c) => [c.check, c.code])).toEqual([
      ['identity.subject', 'IDENTITY_SUBJECT_MISMATCH'],
      ['identity.claims.sourceRepositoryRef', 'IDENTITY_CLAIM_MISMATCH'],
    ]);
    expect(JSON.stringify(failed[0]!.actual)).toContain('release.yml@refs/heads/main');
    expect(rep.images[2]!.policies[0]!.authorities[0]!.reasons[0]!.code).toBe('NO_SIGNATURES_FOUND');
    expect(rep.images[0]!.notSelected).toBeUndefined();
  });

  it('--explain lists the policies not selected, with the reason', async () => {
    const r = await runSigil(['verify', '--explain', '--policy', policies, ref('app')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('policy elsewhere not selected: NOT_SELECTED_NO_GLOB_MATCH');
  });

  it('a warn-mode policy that fails: WARN on stderr, still exit 0', async () => {
    const dir = join(work, 'warn');
    await mkdir(dir, { recursive: true });
    await writeFile(
      join(dir, 'p.yaml'),
      `apiVersion: sigil.dev/v1
kind: Policy
metadata: { name: rollout }
spec:
  mode: warn
  images: [{ glob: "${registry.host}/**" }]
  authorities:
    - name: blocked
      static: { action: fail, message: not yet }
`,
    );
    const r = await runSigil(['verify', '--policy', dir, ref('unsigned')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`WARN ${ref('unsigned')}: policy rollout failed (STATIC_FAIL`);
    expect(r.stdout).toContain('(would deny)');
  });

  it('usage and load errors are exit 2: an invalid policy, --key with --policy, --evidence without --policy', async () => {
    const bad = join(work, 'bad');
    await mkdir(bad, { recursive: true });
    await writeFile(
      join(bad, 'p.yaml'),
      `apiVersion: sigil.dev/v1\nkind: Policy\nmetadata: { name: x }\nspec:\n  images: [{ glob: "*" }]\n`,
    );
    const load = await runSigil(['verify', '--policy', bad, ref('app')]);
    expect(load.code).toBe(2);
    expect(load.stderr).toContain('[POLICY_INVALID]');
    expect((await runSigil(['verify', '--policy', policies, '--key', 'k.pub', ref('app')])).code).toBe(2);
    expect((await runSigil(['verify', '--evidence', work, '--key', 'k.pub', ref('app')])).code).toBe(2);
  });

  it('--save-evidence, then --evidence --offline with the registry stopped: the same report', async () => {
    const dir = join(work, 'evidence');
    const refs = [ref('app'), ref('nightly'), ref('unsigned')];
    const saved = await runSigil(['verify', '-o', 'json', '--policy', policies, '--save-evidence', dir, ...refs]);
    expect(saved.code, saved.stderr).toBe(1);
    expect((await readdir(join(dir, 'images'))).length).toBe(3);
    await registry.stop();
    const replay = await runSigil([
      'verify',
      '-o',
      'json',
      '--policy',
      policies,
      '--evidence',
      dir,
      '--offline',
      ...refs,
    ]);
    expect(replay.code, replay.stderr).toBe(1);
    expect(JSON.parse(replay.stdout)).toEqual(JSON.parse(saved.stdout));
    // Without the saved evidence the stopped registry is an outage: error (exit 2), not a denial.
    const down = await runSigil(['verify', '-o', 'json', '--policy', policies, ref('app')]);
    expect(down.code).toBe(2);
    const rep = JSON.parse(down.stdout) as DecisionReport;
    expect(rep.images[0]!.decision).toBe('error');
    expect(rep.images[0]!.policies[0]!.authorities[0]!.reasons.map((x) => x.code)).toContain('REGISTRY_ERROR');
  });
});
