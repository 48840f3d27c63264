import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CredentialStore } from '../../../src/oci/credentials.ts';
import type { Descriptor } from '../../../src/oci/manifest.ts';
import { MediaType } from '../../../src/oci/media-types.ts';
import { Registry } from '../../../src/oci/registry/client.ts';
import { openRegistrySource, openRegistryTarget } from '../../../src/oci/registry/source.ts';
import { startRegistry, type TestRegistry } from '../../harness/registry.ts';

function digestOf(b: Uint8Array): string {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`;
}

function blob(bytes: Buffer, mediaType: string = MediaType.OciLayerGzip): { desc: Descriptor; bytes: Buffer } {
  return { desc: { mediaType, digest: digestOf(bytes), size: bytes.length }, bytes };
}

/** Streams `bytes` in uneven pieces, as a file or a socket would. */
function opener(bytes: Buffer): () => Promise<Readable> {
  return async () => {
    const parts: Buffer[] = [];
    for (let i = 0, step = 1000; i < bytes.length; i += step, step = ((step * 7) % 5000) + 300) {
      parts.push(bytes.subarray(i, i + step));
    }
    return Readable.from(parts);
  };
}

function imageManifest(config: Descriptor, layers: Descriptor[], note: string): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      config,
      layers,
      annotations: { note },
    }),
  );
}

function credentialsFor(r: TestRegistry, password = r.password): CredentialStore | undefined {
  if (r.mode === 'none') return undefined;
  return { get: async (host) => (host === r.host ? { username: r.username!, password: password! } : undefined) };
}

const SMALL_CHUNKS = { chunkThreshold: 10_000, chunkSize: 4096 };

describe.each(['none', 'basic', 'token'] as const)('Registry against distribution 2.8 (auth: %s)', (mode) => {
  let r: TestRegistry;
  let client: Registry;
  const config = blob(
    Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } })),
    MediaType.OciConfig,
  );
  const small = blob(randomBytes(3000));
  const large = blob(randomBytes(50_000)); // > threshold: 13 PATCHes of 4 KiB

  beforeAll(async () => {
    r = await startRegistry({ auth: mode });
    client = new Registry(r.host, { credentials: credentialsFor(r), ...SMALL_CHUNKS });
  }, 20_000);
  afterAll(async () => {
    await r?.stop();
  });

  it('pushes blobs monolithically and in chunks, and reads them back verified', async () => {
    const progress: number[] = [];
    await client.pushBlob('app/one', config.desc, opener(config.bytes));
    await client.pushBlob('app/one', small.desc, opener(small.bytes), { onProgress: (n) => progress.push(n) });
    await client.pushBlob('app/one', large.desc, opener(large.bytes), { onProgress: (n) => progress.push(n) });
    expect(progress.at(-1)).toBe(large.desc.size);
    expect(progress.filter((n) => n % 4096 === 0 && n > 0).length).toBeGreaterThanOrEqual(12);
    expect(await client.hasBlob('app/one', large.desc.digest)).toBe(true);
    expect(await client.hasBlob('app/one', digestOf(Buffer.from('absent')))).toBe(false);
    expect(await buffer(await client.getBlob('app/one', large.desc))).toEqual(large.bytes);
    expect(await buffer(await client.getBlob('app/one', small.desc))).toEqual(small.bytes);
  });

  it('refuses to upload bytes that do not match the descriptor', async () => {
    const wrong = blob(randomBytes(2000));
    await expect(client.pushBlob('app/one', wrong.desc, opener(randomBytes(2000)))).rejects.toMatchObject({
      code: 'DIGEST_MISMATCH',
    });
    const wrongLarge = blob(randomBytes(20_000));
    await expect(client.pushBlob('app/one', wrongLarge.desc, opener(randomBytes(20_000)))).rejects.toMatchObject({
      code: 'DIGEST_MISMATCH',
    });
    expect(await client.hasBlob('app/one', wrong.desc.digest)).toBe(false);
    expect(await client.hasBlob('app/one', wrongLarge.desc.digest)).toBe(false);
  });

  it('puts a manifest by tag, gets it back byte for byte, HEADs it, lists tags page by page, deletes it', async () => {
    const bytes = imageManifest(config.desc, [small.desc, large.desc], 'v1');
    const digest = await client.putManifest('app/one', 'v1', bytes, MediaType.OciManifest);
    expect(digest).toBe(digestOf(bytes));

    const byTag = await client.getManifest('app/one', 'v1');
    expect(Buffer.from(byTag.bytes)).toEqual(bytes);
    expect(byTag.descriptor).toEqual({ mediaType: MediaType.OciManifest, digest, size: bytes.length });
    const byDigest = await client.getManifest('app/one', digest);
    expect(Buffer.from(byDigest.bytes)).toEqual(bytes);
    expect(await client.headManifest('app/one', 'v1')).toEqual(byTag.descriptor);
    expect(await client.headManifest('app/one', 'nope')).toBeUndefined();

    const tags = ['v1'];
    for (const t of ['a', 'b', 'c', 'd']) {
      const m = imageManifest(config.desc, [small.desc], t);
      await client.putManifest('app/one', t, m, MediaType.OciManifest);
      tags.push(t);
    }
    // distribution 2.8 ignores `n` and does not sort; pagination proper is tested against the stand-in.
    expect((await client.tags('app/one', { pageSize: 2 })).sort()).toEqual([...tags].sort());
    expect((await client.tags('app/one')).sort()).toEqual([...tags].sort());

    await client.deleteManifest('app/one', digest);
    expect(await client.headManifest('app/one', digest)).toBeUndefined();
    await expect(client.getManifest('app/one', 'v1')).rejects.toMatchObject({ code: 'MANIFEST_UNKNOWN', status: 404 });
  });

  it('mounts a blob from another repository (201) instead of uploading it', async () => {
    let opened = 0;
    await client.pushBlob(
      'app/two',
      large.desc,
      async () => {
        opened++;
        return opener(large.bytes)();
      },
      { mountFrom: { registry: r.host, repository: 'app/one' } },
    );
    expect(opened).toBe(0);
    expect(await buffer(await client.getBlob('app/two', large.desc))).toEqual(large.bytes);
    // From a repository that lacks it, the registry answers 202 and the bytes are uploaded.
    const fresh = blob(randomBytes(1500));
    await client.pushBlob('app/three', fresh.desc, opener(fresh.bytes), {
      mountFrom: { registry: r.host, repository: 'app/one' },
    });
    expect(await client.hasBlob('app/three', fresh.desc.digest)).toBe(true);
  });

  it('copies through RegistrySource and RegistryTarget', async () => {
    const bytes = imageManifest(config.desc, [small.desc], 'copied');
    await client.putManifest('app/one', 'src', bytes, MediaType.OciManifest);
    const options = { credentials: credentialsFor(r) };
    const src = openRegistrySource(r.host, 'app/one', 'src', options);
    const dst = openRegistryTarget(r.host, 'app/copy', 'dst', options);
    const root = await src.resolveRoot();
    for (const d of [config.desc, small.desc]) {
      if (!(await dst.hasBlob(d))) {
        await dst.pushBlob(d, () => src.fetchBlob(d), { mountFrom: src.origin });
      }
    }
    await dst.commit(root);
    expect((await client.getManifest('app/copy', 'dst')).descriptor.digest).toBe(root.descriptor.digest);
  });

  if (mode !== 'none') {
    it('without credentials: UNAUTHORIZED with a login hint', async () => {
      const anon = new Registry(r.host);
      const err = await anon.getManifest('app/one', 'a').catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'UNAUTHORIZED', status: 401 });
      expect((err as Error).message).toContain(`401 Unauthorized; run "sigil login ${r.host}"`);
      await expect(anon.ping()).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
    });

    it('with a wrong password: UNAUTHORIZED, and the password appears nowhere in the message', async () => {
      const bad = new Registry(r.host, { credentials: credentialsFor(r, 'not-the-password') });
      const err = await bad.getManifest('app/one', 'a').catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'UNAUTHORIZED' });
      expect((err as Error).message).toContain('rejected');
      expect((err as Error).message).not.toContain('not-the-password');
      await expect(bad.ping()).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
      await expect(client.ping()).resolves.toBeUndefined();
    });
  }

  if (mode === 'token') {
    it('caches tokens per scope, and asks for push only when pushing', async () => {
      const fresh = new Registry(r.host, { credentials: credentialsFor(r) });
      const before = r.tokenRequests!();
      for (let i = 0; i < 5; i++) await fresh.getManifest('app/one', 'a');
      await fresh.hasBlob('app/one', small.desc.digest);
      expect(r.tokenRequests!() - before).toBe(1);
      const pullGrant = r.tokenGrants!().at(-1)!;
      expect(pullGrant.requested).toEqual([{ type: 'repository', name: 'app/one', actions: ['pull'] }]);

      const b = blob(randomBytes(100));
      await fresh.pushBlob('app/pushed', b.desc, opener(b.bytes));
      await fresh
        .putManifest('app/pushed', 'x', imageManifest(config.desc, [], 'x'), MediaType.OciManifest)
        .catch(() => {
          // config is not in app/pushed: MANIFEST_BLOB_UNKNOWN; only the scope matters here.
        });
      const grants = r.tokenGrants!().slice(-1);
      expect(grants[0]!.requested[0]!.actions.sort()).toEqual(['pull', 'push']);
      // The push token also serves later pulls of that repository.
      const n = r.tokenRequests!();
      await fresh.getBlob('app/pushed', b.desc).then(buffer);
      expect(r.tokenRequests!()).toBe(n);
    });
  }
});
