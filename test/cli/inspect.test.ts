import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoImage } from '../harness/images.ts';
import { startRegistry, type TestRegistry } from '../harness/registry.ts';
import { runSigil } from '../helpers/cli.ts';

describe('sigil digest / manifest / config / tags / logout against a registry', () => {
  let registry: TestRegistry;
  let work: string;
  let env: NodeJS.ProcessEnv;
  let image: string;
  let layout: string;

  beforeAll(async () => {
    registry = await startRegistry();
    work = await mkdtemp(join(tmpdir(), 'sigil-inspect-'));
    env = { DOCKER_CONFIG: join(work, 'docker'), REGISTRY_AUTH_FILE: '', XDG_RUNTIME_DIR: join(work, 'run') };
    layout = (await demoImage()).layoutDir;
    image = `${registry.host}/inspect/app:1.0`;
    const r = await runSigil(['copy', '-q', `oci-dir:${layout}:demo`, image], { env });
    expect(r.code).toBe(0);
    for (const tag of ['1.1', '2.0']) {
      expect((await runSigil(['copy', '-q', image, `${registry.host}/inspect/app:${tag}`], { env })).code).toBe(0);
    }
  });

  afterAll(async () => {
    await registry?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('manifest --raw is exactly the bytes the digest covers', async () => {
    const digest = (await runSigil(['digest', image], { env })).stdout.trim();
    const raw = await runSigil(['manifest', '--raw', image], { env });
    expect(`sha256:${createHash('sha256').update(raw.stdout).digest('hex')}`).toBe(digest);
    const json = JSON.parse((await runSigil(['manifest', '-o', 'json', image], { env })).stdout) as {
      descriptor: { digest: string; mediaType: string };
      manifest: { layers: unknown[] };
    };
    expect(json.descriptor.digest).toBe(digest);
    expect(json.descriptor.mediaType).toBe('application/vnd.oci.image.manifest.v1+json');
    expect(json.manifest.layers).toHaveLength(3);
  });

  it('config prints the image config blob', async () => {
    const r = await runSigil(['config', '--raw', image], { env });
    const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
    const manifest = JSON.parse(
      await readFile(join(layout, 'blobs/sha256', index.manifests[0]!.digest.slice(7)), 'utf8'),
    ) as { config: { digest: string } };
    expect(`sha256:${createHash('sha256').update(r.stdout).digest('hex')}`).toBe(manifest.config.digest);
  });

  it('tags lists every tag, as text and as JSON', async () => {
    const text = await runSigil(['tags', `${registry.host}/inspect/app`], { env });
    expect(text.stdout.trim().split('\n').sort()).toEqual(['1.0', '1.1', '2.0']);
    const json = await runSigil(['tags', '-o', 'json', `${registry.host}/inspect/app`], { env });
    expect((JSON.parse(json.stdout) as string[]).sort()).toEqual(['1.0', '1.1', '2.0']);
    const bad = await runSigil(['tags', `${registry.host}/inspect/app:1.0`], { env });
    expect(bad.code).toBe(2);
  });

  it('a missing tag is "not found" (exit 4) naming the registry code', async () => {
    const r = await runSigil(['digest', `${registry.host}/inspect/app:nope`], { env });
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/\[MANIFEST_UNKNOWN\].*inspect\/app/);
  });

  it('logout of a registry one never logged in to says so and succeeds', async () => {
    const r = await runSigil(['logout', registry.host], { env });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/Not logged in/);
  });
});
