import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertRegistryConsistent } from './registry-consistency.ts';
import { startRegistry, type TestRegistry } from './registry.ts';

describe('assertRegistryConsistent', () => {
  let registry: TestRegistry;
  beforeAll(async () => {
    registry = await startRegistry();
  });
  afterAll(async () => {
    await registry?.stop();
  });

  it('counts a repository holding only blobs (no manifest, no tags) as consistent with no tags', async () => {
    const blob = randomBytes(512);
    const digest = `sha256:${createHash('sha256').update(blob).digest('hex')}`;
    const start = await fetch(`${registry.url}/v2/only/blobs/blobs/uploads/`, { method: 'POST' });
    const put = new URL(start.headers.get('location')!, registry.url);
    put.searchParams.set('digest', digest);
    expect((await fetch(put, { method: 'PUT', body: blob })).status).toBe(201);
    // What the fault matrix met after a failed copy: listed by the catalog, tag list 404.
    expect((await fetch(`${registry.url}/v2/only/blobs/tags/list`)).status).toBe(404);
    const snapshot = await assertRegistryConsistent(registry.url);
    expect(snapshot.tags.get('only/blobs')).toEqual(new Map());
  });
});
