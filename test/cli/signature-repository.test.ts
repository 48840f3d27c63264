import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyImage } from '../../src/oci/copy.ts';
import { registryFor } from '../../src/oci/registry/client.ts';
import { openSource, openTarget } from '../../src/oci/source.ts';
import { demoImageLayout } from '../harness/images.ts';
import { startRegistry, type TestRegistry } from '../harness/registry.ts';
import { runSigil } from '../helpers/cli.ts';

/**
 * COSIGN_REPOSITORY: signatures and attestations written to, and read from, another repository
 * on another registry, while the payload still names the image.
 */
const PASSWORD = 'sig-repo-pass';
let images: TestRegistry;
let signatures: TestRegistry;
let work: string;

beforeAll(async () => {
  [images, signatures] = await Promise.all([startRegistry(), startRegistry()]);
  work = await mkdtemp(join(tmpdir(), 'sigil-sigrepo-'));
}, 60_000);
afterAll(async () => {
  await Promise.all([images?.stop(), signatures?.stop()]);
});

describe('COSIGN_REPOSITORY', () => {
  it('sign, attest, tree, triangulate and verify use the other repository; the image repository stays untouched', async () => {
    const image = `${images.host}/app/web:1.0`;
    await copyImage(await openSource(`oci-dir:${await demoImageLayout()}:demo`), await openTarget(image));
    const store = `${signatures.host}/sigs/web`;
    const env = { COSIGN_PASSWORD: PASSWORD, DOCKER_CONFIG: work };
    const withRepo = { ...env, COSIGN_REPOSITORY: store };
    const key = join(work, 'cosign');
    expect((await runSigil(['generate-key-pair', '--output-key-prefix', key], { env })).code).toBe(0);
    const base = ['--key', `${key}.key`, '--tlog-upload=false'];

    const signed = await runSigil(['sign', '-o', 'json', ...base, image], { env: withRepo });
    expect(signed.code, signed.stderr).toBe(0);
    expect(JSON.parse(signed.stdout)).toMatchObject({ repository: store });
    const tagged = await runSigil(['sign', ...base, '--attach', 'tag', image], { env: withRepo });
    expect(tagged.code, tagged.stderr).toBe(0);
    const predicate = join(work, 'prov.json');
    await writeFile(predicate, '{"buildDefinition":{}}');
    const attested = await runSigil(['attest', ...base, '--type', 'slsaprovenance1', '--predicate', predicate, image], {
      env: withRepo,
    });
    expect(attested.code, attested.stderr).toBe(0);

    const digest = (await runSigil(['digest', image])).stdout.trim();
    const hex = digest.slice('sha256:'.length);
    const tagsIn = async (host: string, repo: string) => {
      const out: string[] = [];
      try {
        for await (const t of registryFor(host).listTags(repo)) out.push(t);
      } catch {
        // no such repository: no tags
      }
      return out.sort();
    };
    expect(await tagsIn(images.host, 'app/web')).toEqual(['1.0']);
    expect(await tagsIn(signatures.host, 'sigs/web')).toEqual([`sha256-${hex}`, `sha256-${hex}.sig`]);

    const tri = await runSigil(['triangulate', image], { env: withRepo });
    expect(tri.stdout.trim()).toBe(`${store}:sha256-${hex}.sig`);
    const tree = await runSigil(['tree', '-o', 'json', image], { env: withRepo });
    expect(tree.code, tree.stderr).toBe(0);
    const doc = JSON.stringify(JSON.parse(tree.stdout));
    expect(doc).toContain('application/vnd.dev.sigstore.bundle.v0.3+json');
    expect(doc).toContain(`sha256-${hex}.sig`);

    const verify = (e: NodeJS.ProcessEnv) =>
      runSigil(['verify', '--key', `${key}.pub`, '--insecure-ignore-tlog', image], { env: e });
    const ok = await verify(withRepo);
    expect(ok.code, ok.stderr).toBe(0);
    // Beside the image there is nothing to find.
    const none = await verify(env);
    expect(none.code).not.toBe(0);
    expect(none.stderr).toMatch(/no (matching )?signatures/i);
  }, 60_000);

  it('attach sbom and attach signature write to the other repository; tree finds them there', async () => {
    const image = `${images.host}/app/api:1.0`;
    await copyImage(await openSource(`oci-dir:${await demoImageLayout()}:demo`), await openTarget(image));
    const store = `${signatures.host}/sigs/api`;
    const withRepo = { DOCKER_CONFIG: work, COSIGN_REPOSITORY: store };
    const sbom = join(work, 'api.spdx.json');
    await writeFile(sbom, '{"spdxVersion":"SPDX-2.3"}');
    const attached = await runSigil(['attach', 'sbom', '-o', 'json', '--sbom', sbom, image], { env: withRepo });
    expect(attached.code, attached.stderr).toBe(0);
    expect(JSON.parse(attached.stdout)).toMatchObject({ repository: store });
    const signature = join(work, 'api.sig');
    await writeFile(signature, Buffer.from('not checked when attaching').toString('base64'));
    const sig = await runSigil(['attach', 'signature', '--signature', signature, image], { env: withRepo });
    expect(sig.code, sig.stderr).toBe(0);

    const hex = (await runSigil(['digest', image])).stdout.trim().slice('sha256:'.length);
    const tags = async (host: string, repo: string) => {
      const out: string[] = [];
      for await (const t of registryFor(host).listTags(repo)) out.push(t);
      return out.sort();
    };
    expect(await tags(images.host, 'app/api')).toEqual(['1.0']);
    expect(await tags(signatures.host, 'sigs/api')).toEqual([`sha256-${hex}.sbom`, `sha256-${hex}.sig`]);
    const tree = await runSigil(['tree', '-o', 'json', image], { env: withRepo });
    expect(tree.code, tree.stderr).toBe(0);
    expect(tree.stdout).toContain(`sha256-${hex}.sbom`);
  }, 60_000);

  it('a malformed COSIGN_REPOSITORY is a usage error naming the variable', async () => {
    const r = await runSigil(['triangulate', `${images.host}/app/web:1.0`], {
      env: { COSIGN_REPOSITORY: 'Bad/Repo:tag' },
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('COSIGN_REPOSITORY');
  });
});
