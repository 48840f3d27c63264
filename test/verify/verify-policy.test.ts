/**
 * verifyWithPolicies end to end: images signed by sigil through the loopback Sigstore stack with
 * GitHub-Actions-like tokens (the mock Fulcio turns the token's claims into the 1.3.6.1.4.1.57264.1.*
 * extensions, as real Fulcio does), policies loaded from YAML files whose keyless authority names
 * the stack's trusted_root.json, and the real checker (check.ts). POLICY.md §8 cases 1–5 and 13
 * against real certificates, many references sharing fetches, saved evidence replayed with the
 * registry stopped.
 */
import { mkdir, mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyImage } from '../../src/oci/copy.ts';
import { registryFor, type RegistryOptions } from '../../src/oci/registry/client.ts';
import { openSource, openTarget } from '../../src/oci/source.ts';
import { keylessSigner, witnesses } from '../../src/sign/signers/index.ts';
import { loadPolicies, reasonCodes, type ImageReport } from '../../src/verify/policy/index.ts';
import { checkEvidence } from '../../src/verify/check.ts';
import type { CandidateChecker } from '../../src/verify/policy/evaluate.ts';
import { verifyWithPolicies } from '../../src/verify/verify-policy.ts';
import { signImage } from '../../src/workflows/sign-image.ts';
import { startRegistry, type TestRegistry } from '../harness/registry.ts';
import { startSigstoreStack, type SigstoreStack } from '../harness/sigstore-stack.ts';
import { writeTinyOciLayout } from '../harness/tiny-oci-layout.ts';

const GH_ISSUER = 'https://token.actions.githubusercontent.com';
const RELEASE_SUBJECT = 'https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1.0.0';
let registry: TestRegistry;
let stack: SigstoreStack;
let work: string;
const digests: Record<string, string> = {};
const ref = (name: string) => `${registry.host}/acme/${name}:1`;

/** The claims GitHub Actions puts into its OIDC token (a subset); the mock Fulcio maps them to extensions. */
function githubClaims(repo: string, ref: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    repository: repo,
    repository_owner: repo.split('/')[0],
    repository_owner_id: '1234567',
    repository_id: '768213997',
    runner_environment: 'github-hosted',
    ref,
    event_name: 'push',
    workflow: 'release',
    sha: 'a'.repeat(40),
    job_workflow_ref: `${repo}/.github/workflows/release.yml@${ref}`,
    ...extra,
  };
}

async function keylessSign(
  reference: string,
  subject: string,
  claims: Record<string, unknown>,
  attach: 'referrers' | 'tag',
) {
  const token = stack.mintIdentityToken({ issuer: GH_ISSUER, subject, claims });
  await signImage(reference, {
    signer: keylessSigner({ fulcioUrl: stack.fulcioUrl, identityToken: token }),
    witnesses: witnesses({ rekorUrl: stack.rekorUrl, tlogUpload: true, tsaUrl: stack.tsaUrl }),
    attach,
  });
}

/** A policy folder with one keyless Policy; `identity` is YAML for the identities list entry. */
async function policyDir(name: string, identity: string, extra = ''): Promise<string> {
  const dir = join(work, 'policies', name);
  await mkdir(dir, { recursive: true });
  await writeFile(
    join(dir, 'policy.yaml'),
    `apiVersion: sigil.dev/v1
kind: Policy
metadata:
  name: ${name}
spec:
  images:
    - glob: ${registry.host}/acme/**
  authorities:
    - name: release-workflow
      keyless:
        trustedRoot: ../../trusted_root.json
        identities:
${identity
  .split('\n')
  .map((l) => `          ${l}`)
  .join('\n')}
${extra}`,
  );
  return dir;
}

const FULL_IDENTITY = `- issuer: ${GH_ISSUER}
  subjectRegExp: https://github\\.com/acme/app/\\.github/workflows/release\\.yml@refs/tags/v.*
  claims:
    sourceRepositoryOwnerURI: https://github.com/acme
    runnerEnvironment: github-hosted
    sourceRepositoryIdentifier: "768213997"`;

beforeAll(async () => {
  [registry, stack] = await Promise.all([startRegistry(), startSigstoreStack()]);
  work = await mkdtemp(join(tmpdir(), 'sigil-verify-policy-'));
  await writeFile(join(work, 'trusted_root.json'), JSON.stringify(stack.trustedRoot()));
  for (const name of ['app', 'legacy', 'unsigned', 'one', 'two']) {
    const layout = await writeTinyOciLayout(join(work, 'layouts', name), 512);
    await copyImage(await openSource(`oci-dir:${layout.dir}:latest`), await openTarget(ref(name)));
    digests[name] = layout.manifestDigest;
  }
  await Promise.all([
    keylessSign(ref('app'), RELEASE_SUBJECT, githubClaims('acme/app', 'refs/tags/v1.0.0'), 'referrers'),
    // A 2022-style certificate: only the deprecated 1.2–1.6 GitHub extensions (no runner, no 1.8+ claims).
    keylessSign(
      ref('legacy'),
      'https://github.com/acme/legacy/.github/workflows/release.yml@refs/tags/v0.1.0',
      { repository: 'acme/legacy', workflow: 'release', event_name: 'push', sha: 'b'.repeat(40) },
      'tag',
    ),
    keylessSign(ref('one'), RELEASE_SUBJECT, githubClaims('acme/app', 'refs/tags/v1.0.0'), 'referrers'),
    keylessSign(ref('two'), RELEASE_SUBJECT, githubClaims('acme/app', 'refs/tags/v1.0.0'), 'referrers'),
  ]);
  await keylessSign(ref('two'), RELEASE_SUBJECT, githubClaims('acme/app', 'refs/tags/v1.0.0'), 'referrers');
}, 90_000);
afterAll(async () => {
  await Promise.all([registry?.stop(), stack?.stop()]);
});

function candidateChecks(img: ImageReport) {
  return img.policies.flatMap((p) => p.authorities.flatMap((a) => a.candidates.flatMap((c) => c.checks)));
}

describe('verifyWithPolicies: keyless GitHub identities with the real checker (POLICY.md §8)', () => {
  it('case 1: issuer, anchored subject regexp and three Fulcio claims match → allow', async () => {
    const set = loadPolicies(await policyDir('case1', FULL_IDENTITY));
    const r = await verifyWithPolicies([ref('app')], { policies: set });
    const img = r.images[0]!;
    expect(img.decision, JSON.stringify(img, null, 1)).toBe('allow');
    expect(r.exitCode).toBe(0);
    expect(img.digest).toBe(digests['app']);
    expect(img.policies[0]!.authorities[0]!.result).toBe('pass');
    const checks = candidateChecks(img).map((c) => c.check);
    expect(checks).toEqual(
      expect.arrayContaining(['signature', 'tlog', 'certificateChain', 'sct', 'identity.issuer', 'identity.subject']),
    );
  });

  it('case 2: another owner URI → deny, THRESHOLD_NOT_MET with IDENTITY_CLAIM_MISMATCH naming both values', async () => {
    const set = loadPolicies(
      await policyDir('case2', FULL_IDENTITY.replace('https://github.com/acme', 'https://github.com/other')),
    );
    const r = await verifyWithPolicies([ref('app')], { policies: set });
    const img = r.images[0]!;
    expect(img.decision).toBe('deny');
    expect(r.exitCode).toBe(1);
    expect(img.policies[0]!.reasons.map((x) => x.code)).toEqual(['THRESHOLD_NOT_MET']);
    const bad = candidateChecks(img).find((c) => c.code === 'IDENTITY_CLAIM_MISMATCH')!;
    expect(bad.expected).toBe('https://github.com/other');
    expect(bad.actual).toBe('https://github.com/acme');
  });

  it('a denial reads the tags as well, yet checks the referrer signature once, not once per evaluation', async () => {
    const set = loadPolicies(
      await policyDir('once', FULL_IDENTITY.replace('https://github.com/acme', 'https://github.com/other')),
    );
    const checked: string[] = [];
    const check: CandidateChecker = (ev, auth, ctx) => {
      checked.push(`${ev.source.description} ${auth.name}`);
      return checkEvidence(ev, auth, ctx);
    };
    const r = await verifyWithPolicies([ref('app'), ref('app')], { policies: set, check });
    expect(r.images.map((i) => i.decision)).toEqual(['deny', 'deny']);
    // One referrer signature, one authority: one check for both references and both evaluations.
    expect(checked).toHaveLength(1);
  });

  it('every identity check of a failed candidate is listed in order, each failure with its values (POLICY.md §5)', async () => {
    const wrong = FULL_IDENTITY.replace('https://github.com/acme', 'https://github.com/other')
      .replace('release\\.yml', 'nightly\\.yml')
      .replace('"768213997"', '"1"');
    const r = await verifyWithPolicies([ref('app')], { policies: loadPolicies(await policyDir('all-ids', wrong)) });
    const checks = candidateChecks(r.images[0]!);
    const identity = checks.filter((c) => c.check.startsWith('identity.'));
    expect(identity.map((c) => [c.check, c.ok, c.code])).toEqual([
      ['identity.issuer', true, undefined],
      ['identity.subject', false, 'IDENTITY_SUBJECT_MISMATCH'],
      ['identity.claims.sourceRepositoryOwnerURI', false, 'IDENTITY_CLAIM_MISMATCH'],
      ['identity.claims.runnerEnvironment', true, undefined],
      ['identity.claims.sourceRepositoryIdentifier', false, 'IDENTITY_CLAIM_MISMATCH'],
    ]);
    expect(identity[1]).toMatchObject({ actual: RELEASE_SUBJECT });
    expect(identity[4]).toMatchObject({ expected: '1', actual: '768213997' });
    // The cryptographic checks before them passed and are listed once.
    expect(checks.slice(0, checks.indexOf(identity[0]!)).every((c) => c.ok)).toBe(true);
    expect(new Set(checks.map((c) => c.check)).size).toBe(checks.length);
  });

  it('case 3: an unanchored subject regexp is a full match → IDENTITY_SUBJECT_MISMATCH', async () => {
    const set = loadPolicies(await policyDir('case3', `- issuer: ${GH_ISSUER}\n  subjectRegExp: acme`));
    const r = await verifyWithPolicies([ref('app')], { policies: set });
    expect(r.images[0]!.decision).toBe('deny');
    expect(reasonCodes(r.images[0]!)).toContain('IDENTITY_SUBJECT_MISMATCH');
  });

  it('case 4: a 1.8+ claim absent from an old-style certificate is IDENTITY_CLAIM_MISSING; the deprecated claim passes', async () => {
    const identity = (claims: string) =>
      `- issuer: ${GH_ISSUER}\n  subjectRegExp: https://github\\.com/acme/legacy/.*\n  claims:\n    ${claims}`;
    const missing = await verifyWithPolicies([ref('legacy')], {
      policies: loadPolicies(await policyDir('case4a', identity('runnerEnvironment: github-hosted'))),
    });
    expect(missing.images[0]!.decision).toBe('deny');
    expect(reasonCodes(missing.images[0]!)).toContain('IDENTITY_CLAIM_MISSING');
    const legacy = await verifyWithPolicies([ref('legacy')], {
      policies: loadPolicies(await policyDir('case4b', identity('githubWorkflowRepository: acme/legacy'))),
    });
    expect(legacy.images[0]!.decision, JSON.stringify(legacy.images[0], null, 1)).toBe('allow');
    // The candidate came from the legacy .sig tag scheme.
    expect(legacy.images[0]!.policies[0]!.authorities[0]!.candidates[0]!.scheme).toBe('tag');
  });

  it('case 13: threshold 2 over two overlapping authorities: one signature denies, two allow', async () => {
    const second = `    - name: second-workflow
      keyless:
        trustedRoot: ../../trusted_root.json
        identities:
${FULL_IDENTITY.split('\n')
  .map((l) => `          ${l}`)
  .join('\n')}
  signatures:
    threshold: 2
`;
    const set = loadPolicies(await policyDir('case13', FULL_IDENTITY, second));
    const r = await verifyWithPolicies([ref('one'), ref('two')], { policies: set });
    const [one, two] = r.images;
    expect(one!.decision).toBe('deny');
    expect(one!.policies[0]!.reasons[0]).toMatchObject({ code: 'THRESHOLD_NOT_MET', expected: 2, actual: 1 });
    // Both authorities accept the one signature, yet it backs only one of them.
    expect(one!.policies[0]!.authorities.map((a) => a.result)).toEqual(['pass', 'pass']);
    expect(two!.decision, JSON.stringify(two, null, 1)).toBe('allow');
    expect(r.exitCode).toBe(1);
  });
});

describe('verifyWithPolicies: many images share fetches', () => {
  it('20 references to 5 digests cost as many registry requests as the 5 distinct references', async () => {
    const set = loadPolicies(await policyDir('many', FULL_IDENTITY));
    const distinct = ['app', 'legacy', 'unsigned', 'one', 'two'].map(ref);
    const byDigest = (n: string) => `${registry.host}/acme/${n}@${digests[n]}`;
    const many = [
      ...distinct,
      ...distinct,
      ...distinct,
      byDigest('app'),
      byDigest('one'),
      byDigest('two'),
      byDigest('app'),
      byDigest('legacy'),
    ];
    expect(many).toHaveLength(20);

    const count = async (refs: string[]) => {
      const options: RegistryOptions = {}; // a fresh options object: fresh clients, fresh counters
      const started = performance.now();
      const r = await verifyWithPolicies(refs, { policies: set, registry: options, concurrency: 8 });
      return { r, requests: registryFor(registry.host, options).requests.total, ms: performance.now() - started };
    };
    const five = await count(distinct);
    const twenty = await count(many);
    const digestRefs = await count([byDigest('app'), byDigest('legacy')]);
    const digestRefsRepeated = await count(Array.from({ length: 10 }, (_, i) => byDigest(i % 2 ? 'app' : 'legacy')));
    console.log(
      `requests: 5 distinct refs ${five.requests} (${five.ms.toFixed(0)} ms); 20 refs/5 digests ${twenty.requests} (${twenty.ms.toFixed(0)} ms); ` +
        `2 digest refs ${digestRefs.requests}; same 2 repeated ×5 ${digestRefsRepeated.requests}`,
    );
    expect(twenty.r.images).toHaveLength(20);
    expect(twenty.r.images.map((i) => i.input)).toEqual(many);
    // The 15 repeats cost nothing; the 4 distinct digest references add one HEAD each (their
    // resolve), never a discovery: their digests were already discovered through the tags.
    expect(twenty.requests).toBe(five.requests + 4);
    expect(digestRefsRepeated.requests).toBe(digestRefs.requests);
    expect(twenty.r.images.find((i) => i.input === byDigest('app'))!.decision).toBe('allow');
    expect(twenty.r.images.find((i) => i.input === ref('unsigned'))!.decision).toBe('deny');
    expect(reasonCodes(twenty.r.images.find((i) => i.input === ref('unsigned'))!)).toContain('NO_SIGNATURES_FOUND');
    expect(twenty.r.exitCode).toBe(1);
  });

  it('concurrency 1 and 8 give the same report', async () => {
    const set = loadPolicies(await policyDir('conc', FULL_IDENTITY));
    const refs = ['app', 'legacy', 'unsigned', 'one', 'two'].map(ref);
    const a = await verifyWithPolicies(refs, { policies: set, concurrency: 1, registry: {} });
    const b = await verifyWithPolicies(refs, { policies: set, concurrency: 8, registry: {} });
    expect(b).toEqual(a);
  });
});

describe('saved evidence', () => {
  it('case 5: a tampered envelope in saved evidence is SIGNATURE_INVALID although its log entry is genuine', async () => {
    const set = loadPolicies(await policyDir('case5', FULL_IDENTITY));
    const dir = join(work, 'evidence-tamper');
    const online = await verifyWithPolicies([ref('app')], { policies: set, saveEvidenceDir: dir });
    expect(online.images[0]!.decision).toBe('allow');
    // Replace the bundle blob by one whose DSSE payload says something else, and point the index at it.
    const indexPath = join(dir, 'images', digests['app']!.replace(':', '-'), 'index.json');
    const index = JSON.parse(await readFile(indexPath, 'utf8')) as {
      repositories: Record<string, { attachments: { layers: { descriptor: { digest: string; size: number } }[] }[] }>;
    };
    const layer = Object.values(index.repositories)[0]!.attachments[0]!.layers[0]!.descriptor;
    const bundle = JSON.parse(await readFile(join(dir, 'blobs', 'sha256', layer.digest.slice(7)), 'utf8')) as {
      dsseEnvelope: { payload: string };
    };
    const statement = JSON.parse(Buffer.from(bundle.dsseEnvelope.payload, 'base64').toString('utf8')) as Record<
      string,
      unknown
    >;
    statement['predicate'] = { tampered: true };
    bundle.dsseEnvelope.payload = Buffer.from(JSON.stringify(statement)).toString('base64');
    const bytes = Buffer.from(JSON.stringify(bundle));
    const { createHash } = await import('node:crypto');
    const hex = createHash('sha256').update(bytes).digest('hex');
    await writeFile(join(dir, 'blobs', 'sha256', hex), bytes);
    layer.digest = `sha256:${hex}`;
    layer.size = bytes.length;
    await writeFile(indexPath, JSON.stringify(index));
    const r = await verifyWithPolicies([ref('app')], { policies: set, evidenceDir: dir, offline: true });
    const img = r.images[0]!;
    expect(img.decision).toBe('deny');
    const cand = img.policies[0]!.authorities[0]!.candidates[0]!;
    expect(cand.code).toBe('SIGNATURE_INVALID');
    expect(cand.checks.filter((c) => !c.ok).map((c) => c.check)).toEqual(['signature']);
  });

  it('--save-evidence then --evidence with the registry stopped: the same decisions', async () => {
    const set = loadPolicies(await policyDir('replay', FULL_IDENTITY));
    const dir = join(work, 'evidence');
    const refs = [ref('app'), ref('legacy'), ref('unsigned'), `${registry.host}/acme/two@${digests['two']}`];
    const online = await verifyWithPolicies(refs, { policies: set, saveEvidenceDir: dir, registry: {} });
    expect(online.images.map((i) => i.decision)).toEqual(['allow', 'deny', 'deny', 'allow']);
    // Content-addressed blobs, one index per image digest, the trusted root snapshot.
    const blobs = await readdir(join(dir, 'blobs', 'sha256'));
    expect(blobs.length).toBeGreaterThanOrEqual(7);
    const images = await readdir(join(dir, 'images'));
    expect(images.sort()).toEqual(
      ['app', 'legacy', 'unsigned', 'two'].map((n) => digests[n]!.replace(':', '-')).sort(),
    );
    const appIndex = JSON.parse(
      await readFile(join(dir, 'images', digests['app']!.replace(':', '-'), 'index.json'), 'utf8'),
    ) as { trustedRoots: { source: string; digest: string }[] };
    expect(appIndex.trustedRoots).toHaveLength(1);
    expect(blobs).toContain(appIndex.trustedRoots[0]!.digest.slice(7));
    await registry.stop();
    const offline = await verifyWithPolicies(refs, { policies: set, evidenceDir: dir, offline: true, registry: {} });
    expect(offline).toEqual(online);
    // A reference that was never saved is an error (exit 2), never a denial.
    const missing = await verifyWithPolicies([ref('nope')], { policies: set, evidenceDir: dir });
    expect(missing.images[0]!.decision).toBe('error');
    expect(missing.exitCode).toBe(2);
  });
});
