/**
 * `sigil policy test DIR` (POLICY.md §7): PolicyTest documents next to the policies, evidence
 * saved by `verify --policy --save-evidence`, every case evaluated offline (the registry is stopped
 * before the first run), pass/fail per case and exit 0 / 1 / 2.
 */
import { cp, mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyImage } from '../../src/oci/copy.ts';
import { openSource, openTarget } from '../../src/oci/source.ts';
import { keylessSigner, witnesses } from '../../src/sign/signers/index.ts';
import { signImage } from '../../src/workflows/sign-image.ts';
import { startRegistry, type TestRegistry } from '../harness/registry.ts';
import { startSigstoreStack, type SigstoreStack } from '../harness/sigstore-stack.ts';
import { writeTinyOciLayout } from '../harness/tiny-oci-layout.ts';
import { runSigil } from '../helpers/cli.ts';

const GH_ISSUER = 'https://token.actions.githubusercontent.com';
let registry: TestRegistry | undefined;
let stack: SigstoreStack;
let work: string;
let policies: string;
let host: string;
const digests: Record<string, string> = {};

const POLICY = (h: string) => `apiVersion: sigil.dev/v1
kind: Policy
metadata:
  name: acme-release
spec:
  images:
    - glob: ${h}/acme/**
  authorities:
    - name: release-workflow
      keyless:
        trustedRoot: trust/root.json
        identities:
          - issuer: ${GH_ISSUER}
            subjectRegExp: https://github\\.com/acme/[^/]+/\\.github/workflows/release\\.yml@refs/tags/v.*
            claims:
              runnerEnvironment: github-hosted
`;

function testDoc(cases: string): string {
  return `apiVersion: sigil.dev/v1
kind: PolicyTest
metadata:
  name: release-tests
spec:
  cases:
${cases}`;
}

beforeAll(async () => {
  [registry, stack] = await Promise.all([startRegistry(), startSigstoreStack()]);
  host = registry.host;
  work = await mkdtemp(join(tmpdir(), 'sigil-policy-test-'));
  policies = join(work, 'policies');
  await mkdir(join(policies, 'trust'), { recursive: true });
  await writeFile(join(policies, 'trust', 'root.json'), JSON.stringify(stack.trustedRoot()));
  await writeFile(join(policies, 'release.yaml'), POLICY(host));
  for (const [name, gitRef] of [
    ['app', 'refs/tags/v1.0.0'],
    ['nightly', 'refs/heads/main'],
  ] as const) {
    const layout = await writeTinyOciLayout(join(work, 'layouts', name), 256);
    const ref = `${host}/acme/${name}:1`;
    await copyImage(await openSource(`oci-dir:${layout.dir}:latest`), await openTarget(ref));
    digests[name] = layout.manifestDigest;
    const token = stack.mintIdentityToken({
      issuer: GH_ISSUER,
      subject: `https://github.com/acme/${name}/.github/workflows/release.yml@${gitRef}`,
      claims: { repository: `acme/${name}`, runner_environment: 'github-hosted', ref: gitRef },
    });
    await signImage(ref, {
      signer: keylessSigner({ fulcioUrl: stack.fulcioUrl, identityToken: token }),
      witnesses: witnesses({ rekorUrl: stack.rekorUrl, tlogUpload: true, tsaUrl: stack.tsaUrl }),
    });
  }
  // The evidence the tests replay, saved by verify itself; then the registry goes away.
  const saved = await runSigil([
    'verify',
    '--policy',
    policies,
    '--save-evidence',
    join(policies, 'testdata', 'evidence'),
    `${host}/acme/app:1`,
    `${host}/acme/nightly@${digests['nightly']}`,
  ]);
  expect(saved.code, saved.stderr + saved.stdout).toBe(1);
  await registry.stop();
  registry = undefined;
}, 90_000);
afterAll(async () => {
  await Promise.all([registry?.stop(), stack?.stop()]);
});

describe('sigil policy test', () => {
  it('every case as expected, offline: exit 0 with PASS per case', async () => {
    const now = new Date(Date.now() + 3_600_000).toISOString();
    await writeFile(
      join(policies, 'release.test.yaml'),
      testDoc(`    - name: tagged release passes
      image: ${host}/acme/app:1
      evidence: testdata/evidence/
      now: ${now}
      expect: { decision: allow }
    - name: the same release by digest
      image: ${host}/acme/app@${digests['app']}
      evidence: testdata/evidence/
      expect: { decision: allow }
    - name: nightly build is denied
      image: ${host}/acme/nightly@${digests['nightly']}
      evidence: testdata/evidence/
      expect: { decision: deny, reasons: [THRESHOLD_NOT_MET, IDENTITY_SUBJECT_MISMATCH] }
    - name: no policy selects another registry
      image: quay.io/other/img@${digests['app']}
      expect: { decision: deny, reasons: [NO_MATCHING_POLICY] }
`),
    );
    const r = await runSigil(['policy', 'test', policies]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toContain('PASS release-tests / tagged release passes: allow');
    expect(r.stdout).toContain('PASS release-tests / nightly build is denied: deny');
    expect(r.stdout).toContain('4 passed, 0 failed');
    const json = await runSigil(['policy', 'test', '-o', 'json', policies]);
    const doc = JSON.parse(json.stdout) as { passed: number; cases: { case: string; report: { digest: string } }[] };
    expect(doc.passed).toBe(4);
    expect(doc.cases[0]!.report.digest).toBe(digests['app']);
  });

  it('a case whose expectation differs: FAIL naming what was expected and found, exit 1', async () => {
    const dir = join(work, 'failing');
    await cp(policies, dir, { recursive: true });
    await writeFile(
      join(dir, 'release.test.yaml'),
      testDoc(`    - name: nightly wrongly expected to pass
      image: ${host}/acme/nightly@${digests['nightly']}
      evidence: testdata/evidence/
      expect: { decision: allow }
    - name: release expected with a reason it does not have
      image: ${host}/acme/app:1
      evidence: testdata/evidence/
      expect: { decision: allow, reasons: [ANNOTATION_MISMATCH] }
`),
    );
    const r = await runSigil(['policy', 'test', dir]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toContain('FAIL release-tests / nightly wrongly expected to pass: expected allow, got deny');
    expect(r.stdout).toContain('missing reasons ANNOTATION_MISMATCH');
    expect(r.stdout).toContain('0 passed, 2 failed');
  });

  it('a missing evidence folder or an invalid test file is exit 2', async () => {
    const dir = join(work, 'missing');
    await cp(policies, dir, { recursive: true });
    await writeFile(
      join(dir, 'release.test.yaml'),
      testDoc(`    - name: nowhere
      image: ${host}/acme/app:1
      evidence: testdata/nope/
      expect: { decision: allow }
`),
    );
    expect((await runSigil(['policy', 'test', dir])).code).toBe(2);
    await writeFile(
      join(dir, 'release.test.yaml'),
      testDoc(`    - name: no image\n      expect: { decision: allow }\n`),
    );
    const invalid = await runSigil(['policy', 'test', dir]);
    expect(invalid.code).toBe(2);
    expect(invalid.stderr).toContain('[POLICY_INVALID]');
  });
});
