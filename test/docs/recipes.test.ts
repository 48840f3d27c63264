/**
 * The CI recipes run against the local stack: examples/github-actions/release.yml and
 * deploy-gate.yml, examples/gitlab-ci/.gitlab-ci.yml and the composite action.yml are parsed
 * (yaml package) and their steps executed as a runner would, with `${{ ... }}` expressions
 * and CI variables filled in by the test: a real registry (distribution 2.8) on 127.0.0.1,
 * keyless signing through the loopback Fulcio/Rekor/TSA of test/harness/sigstore-stack.ts
 * (handed to the recipes as their SIGSTORE_FLAGS variable), and for GitHub a loopback server
 * playing ACTIONS_ID_TOKEN_REQUEST_URL that hands out a token from the stand-in issuer.
 *
 * Not run here, and replaced: the image build (`docker/build-push-action`, `docker build`):
 * the test pushes a small image to the tag the recipe names and feeds its digest on as the
 * build's output. Skipped: actions/checkout, actions/setup-node (the Node 24 running the tests
 * is on PATH), docker/login-action (the registry is anonymous), actions/upload-artifact, and
 * GitLab's `git clone` + npm install lines (no internet; the action's install step, which is
 * the same `npm ci && npm install -g .`, runs offline from a copy of this checkout).
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { serveLoopback, type LoopbackServer } from '../harness/http-server.ts';
import { makeTempDir, untrackTempDir } from '../harness/processes.ts';
import { startRegistry, type TestRegistry } from '../harness/registry.ts';
import { sigstoreFlags, startSigstoreStack, type SigstoreStack } from '../harness/sigstore-stack.ts';
import { runSigil } from '../helpers/cli.ts';
import { pushAppImage } from './app-image.ts';
import { copyCheckout, offlineNpmEnv, runBash, scriptEnv, sigilPath, type ShellResult } from './shell.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const GH_ISSUER = 'https://token.actions.githubusercontent.com';
const GL_ISSUER = 'https://gitlab.com';
const REQUEST_TOKEN = 'runner-request-token';

interface Step {
  id?: string;
  name?: string;
  uses?: string;
  run?: string;
  if?: string;
  shell?: string;
  env?: Record<string, string>;
  with?: Record<string, string>;
}

const loadYaml = async (path: string) => parse(await readFile(join(ROOT, path), 'utf8')) as Record<string, unknown>;

/**
 * A GitHub Actions expression, as far as the recipes use them: a context path the test gave a
 * value, a 'string' literal, `a || b`, `a == b`, `a != b`. Anything else fails the test, so a
 * recipe cannot grow an expression this test does not fill in.
 */
function evaluate(expr: string, ctx: Record<string, string>): string | boolean {
  const e = expr.trim();
  let m = /^(.+?)\s*\|\|\s*(.+)$/.exec(e);
  if (m) {
    const left = evaluate(m[1]!, ctx);
    return left !== '' && left !== false ? left : evaluate(m[2]!, ctx);
  }
  m = /^(.+?)\s*(==|!=)\s*(.+)$/.exec(e);
  if (m) {
    const same = evaluate(m[1]!, ctx) === evaluate(m[3]!, ctx);
    return m[2] === '==' ? same : !same;
  }
  m = /^'(.*)'$/.exec(e);
  if (m) return m[1]!.replace(/''/g, "'");
  if (Object.hasOwn(ctx, e)) return ctx[e]!;
  throw new Error(`expression \${{ ${e} }}: the test gives it no value`);
}

function substitute(text: string, ctx: Record<string, string>): string {
  return text.replace(/\$\{\{(.*?)\}\}/g, (_, expr: string) => String(evaluate(expr, ctx)));
}

function substituteAll(map: Record<string, string> | undefined, ctx: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(map ?? {}).map(([k, v]) => [k, substitute(String(v), ctx)]));
}

let registry: TestRegistry;
let stack: SigstoreStack;
let oidc: LoopbackServer;
let oidcRequests = 0;
let tmp: string;

/** GitHub's token endpoint: `GET $ACTIONS_ID_TOKEN_REQUEST_URL&audience=sigstore` with the request token. */
function githubTokenEndpoint(req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://x');
  if (req.headers.authorization !== `bearer ${REQUEST_TOKEN}` || url.searchParams.get('audience') !== 'sigstore') {
    res.writeHead(403).end();
    return;
  }
  oidcRequests++;
  const repo = url.searchParams.get('repo')!;
  const ref = url.searchParams.get('ref')!;
  const token = stack.mintIdentityToken({
    issuer: GH_ISSUER,
    subject: `https://github.com/${repo}/.github/workflows/release.yml@${ref}`,
    audience: 'sigstore',
    claims: {
      repository: repo,
      repository_owner: repo.split('/')[0],
      ref,
      runner_environment: 'github-hosted',
      event_name: 'push',
    },
  });
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ value: token }));
}

beforeAll(async () => {
  [registry, stack, oidc] = await Promise.all([
    startRegistry(),
    startSigstoreStack(),
    serveLoopback(githubTokenEndpoint),
  ]);
  tmp = await makeTempDir('sigil-recipes-');
});

afterAll(async () => {
  await Promise.all([registry?.stop(), stack?.stop(), oidc?.stop()]);
  // The action's copy of the checkout with its node_modules: 360 MB, not left for a later run to sweep.
  if (tmp) {
    await rm(tmp, { recursive: true, force: true });
    untrackTempDir(tmp);
  }
});

/** A policy folder as a repository would keep it, naming the stand-in Sigstore's trusted root. */
async function writePolicies(dir: string, glob: string, issuer: string, subjectRegExp: string): Promise<void> {
  await mkdir(join(dir, 'trust'), { recursive: true });
  await writeFile(join(dir, 'trust', 'root.json'), JSON.stringify(stack.trustedRoot()));
  await writeFile(
    join(dir, 'release.yaml'),
    `apiVersion: sigil.dev/v1
kind: Policy
metadata:
  name: release
spec:
  images:
    - glob: ${glob}
  requireDigest: true
  authorities:
    - name: release-pipeline
      keyless:
        trustedRoot: trust/root.json
        identities:
          - issuer: ${issuer}
            subjectRegExp: ${JSON.stringify(subjectRegExp)}
  signatures:
    threshold: 1
  attestations:
    - name: sbom
      predicateType: https://cyclonedx.org/bom
      conditions:
        - name: has-packages
          expr: predicate.components.size() > 0
`,
  );
}

describe('GitHub Actions recipes and action.yml', () => {
  let workspace: string;
  let actionPath: string;
  let prefix: string;
  let baseEnv: NodeJS.ProcessEnv;
  const skipped: string[] = [];
  let installed = false;

  beforeAll(async () => {
    workspace = join(tmp, 'github-workspace');
    actionPath = join(tmp, 'action');
    prefix = join(tmp, 'npm-prefix');
    await mkdir(workspace, { recursive: true });
    await copyCheckout(actionPath);
    baseEnv = scriptEnv({
      ...offlineNpmEnv(prefix),
      DOCKER_CONFIG: join(tmp, 'github-docker'),
      GITHUB_ACTIONS: 'true',
      GITHUB_WORKSPACE: workspace,
    });
  });

  /** Runs one step as the runner would: `uses:` of sigil's action through action.yml, `run:` in bash. */
  async function runStep(
    step: Step,
    ctx: Record<string, string>,
    env: NodeJS.ProcessEnv,
  ): Promise<{ result?: ShellResult; outputs: Record<string, string> }> {
    if (step.uses?.startsWith('OWNER/sigil@')) {
      return runAction(substituteAll(step.with, ctx), env);
    }
    if (step.uses !== undefined) {
      expect(step.uses).toMatch(/^(actions\/checkout|docker\/login-action|actions\/upload-artifact)@/);
      skipped.push(step.uses);
      return { outputs: {} };
    }
    const outputFile = join(tmp, `github-output-${Math.random().toString(36).slice(2)}`);
    await writeFile(outputFile, '');
    const result = await runBash(substitute(step.run!, ctx), {
      cwd: workspace,
      env: { ...env, ...substituteAll(step.env, ctx), GITHUB_OUTPUT: outputFile },
      flags: ['-exo', 'pipefail'],
      timeoutMs: 300_000,
    });
    const outputs = Object.fromEntries(
      (await readFile(outputFile, 'utf8'))
        .split('\n')
        .filter((l) => l.includes('='))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    return { result, outputs };
  }

  /** action.yml's steps with `inputs`; the last shell result and the step outputs. */
  async function runAction(
    inputs: Record<string, string>,
    env: NodeJS.ProcessEnv,
  ): Promise<{ result?: ShellResult; outputs: Record<string, string> }> {
    const action = (await loadYaml('action.yml')) as {
      inputs: Record<string, { default: string }>;
      runs: { using: string; steps: Step[] };
    };
    expect(action.runs.using).toBe('composite');
    const ctx: Record<string, string> = {};
    for (const [name, spec] of Object.entries(action.inputs)) ctx[`inputs.${name}`] = inputs[name] ?? spec.default;
    let last: ShellResult | undefined;
    const outputs: Record<string, string> = {};
    for (const step of action.runs.steps) {
      if (step.uses !== undefined) {
        // actions/setup-node: the test's own Node 24 is on PATH already.
        expect(step.uses).toMatch(/^actions\/setup-node@/);
        expect(substituteAll(step.with, ctx)['node-version']).toBe('24');
        continue;
      }
      if (step.if !== undefined && !evaluate(step.if, ctx)) continue;
      expect(step.shell).toBe('bash');
      // Every job installs anew on a runner; here the first install's result is the same for
      // the later uses of the action in this test, so it runs once (npm ci takes a minute).
      if (step.name === 'Install sigil' && installed) continue;
      const r = await runStep(step, ctx, { ...env, GITHUB_ACTION_PATH: actionPath });
      last = r.result;
      if (step.id) Object.assign(outputs, r.outputs);
      if (r.result && r.result.code !== 0) return { result: r.result, outputs };
      if (step.name === 'Install sigil') installed = true;
    }
    return { ...(last ? { result: last } : {}), outputs };
  }

  it('release.yml builds (a pushed test image), installs sigil through action.yml, writes the SBOM, signs and attests keyless; deploy-gate.yml allows it and denies others', async () => {
    const workflow = (await loadYaml('examples/github-actions/release.yml')) as {
      permissions: Record<string, string>;
      env: Record<string, string>;
      jobs: { release: { steps: Step[] } };
    };
    expect(workflow.permissions['id-token']).toBe('write');
    const ctx: Record<string, string> = {
      'github.repository': 'acme/app',
      'github.ref_name': 'v1.0.0',
      'github.actor': 'acme-bot',
      'secrets.GITHUB_TOKEN': 'unused-here',
      'vars.REGISTRY': registry.host,
      'vars.SIGSTORE_FLAGS': sigstoreFlags(stack).join(' '),
    };
    const wfEnv = substituteAll(workflow.env, ctx);
    for (const [k, v] of Object.entries(wfEnv)) ctx[`env.${k}`] = v;
    expect(wfEnv.IMAGE).toBe(`${registry.host}/acme/app`);
    const env: NodeJS.ProcessEnv = {
      ...baseEnv,
      ...wfEnv,
      // What the runner sets for `permissions: id-token: write`; the query carries what the stand-in puts in the token.
      ACTIONS_ID_TOKEN_REQUEST_URL: `${oidc.origin}/token?repo=acme/app&ref=refs/tags/v1.0.0`,
      ACTIONS_ID_TOKEN_REQUEST_TOKEN: REQUEST_TOKEN,
    };

    let digest = '';
    let sigilSteps = 0;
    for (const step of workflow.jobs.release.steps) {
      if (step.uses?.startsWith('docker/build-push-action@')) {
        // The build: a pushed test image at the tag the step names, its digest as the step's output.
        const tags = substitute(step.with!.tags!, ctx);
        expect(tags).toBe(`${registry.host}/acme/app:v1.0.0`);
        digest = await pushAppImage(tags);
        ctx[`steps.${step.id}.outputs.digest`] = digest;
        continue;
      }
      const { result } = await runStep(step, ctx, env);
      if (result) {
        expect(result.code, `${step.name}\n${result.stdout}\n${result.stderr}`).toBe(0);
        sigilSteps++;
      }
    }
    expect(sigilSteps).toBe(4); // the install (action.yml, no args), SBOM, sign, attest
    expect(skipped).toEqual(['actions/checkout@v4', 'docker/login-action@v3', 'actions/upload-artifact@v4']);
    // Keyless signing asked the runner's endpoint for its token: sign, then attest.
    expect(oidcRequests).toBe(2);
    const cdx = JSON.parse(await readFile(join(workspace, 'sbom.cdx.json'), 'utf8')) as { components: unknown[] };
    expect(cdx.components.length).toBeGreaterThan(0);
    await readFile(join(workspace, 'sbom.spdx.json'));

    // deploy-gate.yml: the checked-out repository's policies/ name the release workflow.
    await writePolicies(
      join(workspace, 'policies'),
      `${registry.host}/acme/**`,
      GH_ISSUER,
      String.raw`https://github\.com/acme/app/\.github/workflows/release\.yml@refs/tags/v.*`,
    );
    const gate = (await loadYaml('examples/github-actions/deploy-gate.yml')) as {
      jobs: { verify: { steps: Step[] }; deploy: { needs: string } };
    };
    expect(gate.jobs.deploy.needs).toBe('verify');
    const gateEnv = { ...baseEnv };
    const runGate = async (image: string) => {
      const gctx = { 'inputs.image': image, 'github.actor': 'acme-bot', 'secrets.GITHUB_TOKEN': 'unused-here' };
      let outcome: { result?: ShellResult; outputs: Record<string, string> } = { outputs: {} };
      for (const step of gate.jobs.verify.steps) {
        const r = await runStep(step, gctx, gateEnv);
        if (r.result) outcome = r;
      }
      return outcome;
    };
    const allowed = await runGate(`${registry.host}/acme/app@${digest}`);
    expect(allowed.result?.code, allowed.result?.stdout + allowed.result!.stderr).toBe(0);
    expect(allowed.outputs['exit-code']).toBe('0');
    expect(allowed.result?.stdout).toMatch(/\): ALLOW$/m);
    expect(allowed.result?.stdout).toMatch(/^ {4}attestation sbom \(https:\/\/cyclonedx\.org\/bom\): pass$/m);

    // Unsigned: denied, and the action fails the job with sigil's exit code.
    const unsigned = await pushAppImage(`${registry.host}/acme/app:unsigned`, 'unsigned');
    const denied = await runGate(`${registry.host}/acme/app@${unsigned}`);
    expect(denied.result?.code, denied.result?.stdout).toBe(1);
    expect(denied.outputs['exit-code']).toBe('1');
    expect(denied.result?.stdout).toMatch(/\): DENY$/m);

    // Signed keyless, but by a workflow on a branch, not a version tag: denied as well.
    const branch = await pushAppImage(`${registry.host}/acme/app:main`, 'main');
    const token = stack.mintIdentityToken({
      issuer: GH_ISSUER,
      subject: 'https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main',
    });
    const signed = await runSigil(
      ['sign', ...sigstoreFlags(stack), '--identity-token', token, `${registry.host}/acme/app@${branch}`],
      { env: { ACTIONS_ID_TOKEN_REQUEST_URL: '', SIGSTORE_ID_TOKEN: '' } },
    );
    expect(signed.code, signed.stderr).toBe(0);
    const wrongIdentity = await runGate(`${registry.host}/acme/app@${branch}`);
    expect(wrongIdentity.result?.code, wrongIdentity.result?.stdout).toBe(1);
    expect(wrongIdentity.result?.stdout).toMatch(/^ {4}authority release-pipeline \(keyless\): (?!pass)/m);

    // A shell metacharacter in the input reaches sigil as text: no command runs.
    const injected = await runGate(`${registry.host}/acme/app@${digest};touch${'${IFS}'}pwned`);
    expect(injected.result?.code).toBe(2);
    await expect(readFile(join(workspace, 'pwned'))).rejects.toThrow();
  }, 600_000);
});

describe('GitLab CI recipe', () => {
  it('release job writes the SBOM, signs and attests keyless with the job ID token; verify job allows it, then denies an unsigned image', async () => {
    const work = join(tmp, 'gitlab');
    await mkdir(work, { recursive: true });
    const pipeline = (await loadYaml('examples/gitlab-ci/.gitlab-ci.yml')) as {
      variables: Record<string, string>;
      '.sigil': { before_script: string[] };
      release: { id_tokens: Record<string, { aud: string }>; script: string[] };
      verify: { script: string[] };
    };
    expect(pipeline.release.id_tokens.SIGSTORE_ID_TOKEN?.aud).toBe('sigstore');
    const project = 'group/project';
    const tag = 'v1.0.0';
    // GitLab's predefined variables, the CI/CD variable SIGSTORE_FLAGS and the ID token.
    const ci: Record<string, string> = {
      CI_REGISTRY: registry.host,
      CI_REGISTRY_IMAGE: `${registry.host}/${project}`,
      CI_REGISTRY_USER: 'gitlab-ci-token',
      CI_REGISTRY_PASSWORD: 'job-token',
      CI_COMMIT_TAG: tag,
      SIGSTORE_FLAGS: sigstoreFlags(stack).join(' '),
    };
    const variables = Object.fromEntries(
      Object.entries(pipeline.variables).map(([k, v]) => [
        k,
        String(v).replace(/\$(\w+)/g, (_, name: string) => ci[name] ?? ''),
      ]),
    );
    expect(variables.IMAGE).toBe(`${registry.host}/${project}`);
    // The build job: a pushed test image; its dotenv artifact hands DIGEST on.
    const digest = await pushAppImage(`${variables.IMAGE}:${tag}`);
    const env = scriptEnv({
      ...ci,
      ...variables,
      DIGEST: digest,
      PATH: await sigilPath(work),
      DOCKER_CONFIG: join(work, 'docker'),
      GITLAB_CI: 'true',
    });
    const idToken = stack.mintIdentityToken({
      issuer: GL_ISSUER,
      subject: `project_path:${project}:ref_type:tag:ref:${tag}`,
      claims: { project_path: project, ref: tag, ref_type: 'tag' },
    });

    // before_script: the sigil line runs; the clone and npm install need the internet.
    const before = pipeline['.sigil'].before_script.filter((l) => /\bsigil (?!\/)/.test(l) && !l.includes('npm '));
    expect(pipeline['.sigil'].before_script.filter((l) => !before.includes(l))).toEqual([
      expect.stringMatching(/^git clone /),
      expect.stringMatching(/npm ci .*&& npm install -g \./),
    ]);
    /** GitLab runs a job's lines in one shell, stopping at the first failing line. */
    const job = (lines: string[], extra: Record<string, string> = {}) =>
      runBash([...before, ...lines].join('\n'), { cwd: work, env: { ...env, ...extra }, flags: ['-exo', 'pipefail'] });

    const release = await job(pipeline.release.script, { SIGSTORE_ID_TOKEN: idToken });
    expect(release.code, release.stderr).toBe(0);
    expect(release.stderr).toContain('Login Succeeded');
    const cdx = JSON.parse(await readFile(join(work, 'sbom.cdx.json'), 'utf8')) as { components: unknown[] };
    expect(cdx.components.length).toBeGreaterThan(0);

    await writePolicies(
      join(work, 'policies'),
      `${registry.host}/group/**`,
      GL_ISSUER,
      String.raw`project_path:group/project:ref_type:tag:ref:v.*`,
    );
    const verify = await job(pipeline.verify.script);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    expect(verify.stdout).toMatch(/\): ALLOW$/m);

    const unsigned = await pushAppImage(`${variables.IMAGE}:unsigned`, 'unsigned');
    const denied = await job(pipeline.verify.script, { DIGEST: unsigned });
    expect(denied.code, denied.stdout).toBe(1);
    expect(denied.stdout).toMatch(/\): DENY$/m);
  }, 180_000);
});
