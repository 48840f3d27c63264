import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ReferrersRegistry, startReferrersRegistry } from './referrers-registry.ts';
import { writeTinyOciLayout } from './tiny-oci-layout.ts';

const execFileAsync = promisify(execFile);

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const OCI_EMPTY = 'application/vnd.oci.empty.v1+json';

function sha256(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

interface ErrorBody {
  errors: { code: string; message: string; detail?: unknown }[];
}

async function pushBlob(r: ReferrersRegistry, repo: string, data: Buffer): Promise<Response> {
  return fetch(`${r.url}/v2/${repo}/blobs/uploads/?digest=${sha256(data)}`, {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream' },
    body: data,
  });
}

function putManifest(r: ReferrersRegistry, repo: string, reference: string, body: Buffer, mediaType = OCI_MANIFEST) {
  return fetch(`${r.url}/v2/${repo}/manifests/${reference}`, {
    method: 'PUT',
    headers: { 'content-type': mediaType },
    body,
  });
}

describe.each([{ referrersApi: true }, { referrersApi: false }])(
  'startReferrersRegistry (referrers API: $referrersApi)',
  ({ referrersApi }) => {
    let r: ReferrersRegistry;
    const repo = 'stand/in';
    const layer = randomBytes(3000);
    const config = Buffer.from('{"architecture":"amd64","os":"linux"}');
    const empty = Buffer.from('{}');
    const image = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256(layer), size: layer.length }],
      }),
    );
    const subject = { mediaType: OCI_MANIFEST, digest: sha256(image), size: image.length };
    const artifact = (artifactType: string, note: string) =>
      Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: OCI_MANIFEST,
          artifactType,
          config: { mediaType: OCI_EMPTY, digest: sha256(empty), size: 2 },
          layers: [{ mediaType: OCI_EMPTY, digest: sha256(empty), size: 2 }],
          subject,
          annotations: { note },
        }),
      );
    const sbom = artifact('application/spdx+json', 'sbom');
    const sig = artifact('application/vnd.dev.sigstore.bundle.v0.3+json', 'signature');

    beforeAll(async () => {
      r = await startReferrersRegistry({ referrersApi });
    });
    afterAll(async () => {
      await r?.stop();
    });

    it('answers /v2/ with 200', async () => {
      const res = await fetch(`${r.url}/v2/`);
      expect(res.status).toBe(200);
      expect(res.headers.get('docker-distribution-api-version')).toBe('registry/2.0');
    });

    it('verifies digests of monolithic and chunked uploads', async () => {
      expect((await pushBlob(r, repo, config)).status).toBe(201);
      expect((await pushBlob(r, repo, empty)).status).toBe(201);

      const wrong = await fetch(`${r.url}/v2/${repo}/blobs/uploads/?digest=${sha256('something else')}`, {
        method: 'POST',
        body: layer,
      });
      expect(wrong.status).toBe(400);
      expect(((await wrong.json()) as ErrorBody).errors[0]?.code).toBe('DIGEST_INVALID');

      const start = await fetch(`${r.url}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
      expect(start.status).toBe(202);
      const location = new URL(start.headers.get('location')!, r.url);
      const first = await fetch(location, {
        method: 'PATCH',
        headers: { 'content-range': '0-999', 'content-type': 'application/octet-stream' },
        body: layer.subarray(0, 1000),
      });
      expect(first.status).toBe(202);
      expect(first.headers.get('range')).toBe('0-999');
      const outOfOrder = await fetch(location, {
        method: 'PATCH',
        headers: { 'content-range': '2000-2999' },
        body: layer.subarray(2000),
      });
      expect(outOfOrder.status).toBe(416);
      await fetch(location, { method: 'PATCH', headers: { 'content-range': '1000-2999' }, body: layer.subarray(1000) });
      location.searchParams.set('digest', sha256(layer));
      const done = await fetch(location, { method: 'PUT' });
      expect(done.status).toBe(201);
      expect(done.headers.get('docker-content-digest')).toBe(sha256(layer));

      const got = await fetch(`${r.url}/v2/${repo}/blobs/${sha256(layer)}`);
      expect(Buffer.from(await got.arrayBuffer()).equals(layer)).toBe(true);
      const ranged = await fetch(`${r.url}/v2/${repo}/blobs/${sha256(layer)}`, { headers: { range: 'bytes=2990-' } });
      expect(ranged.status).toBe(206);
      expect(Buffer.from(await ranged.arrayBuffer()).equals(layer.subarray(2990))).toBe(true);
    });

    it('mounts a blob from another repository only when that repository has it', async () => {
      const mounted = await fetch(`${r.url}/v2/other/repo/blobs/uploads/?mount=${sha256(layer)}&from=${repo}`, {
        method: 'POST',
      });
      expect(mounted.status).toBe(201);
      expect((await fetch(`${r.url}/v2/other/repo/blobs/${sha256(layer)}`, { method: 'HEAD' })).status).toBe(200);
      const notThere = await fetch(`${r.url}/v2/third/blobs/uploads/?mount=${sha256(layer)}&from=nowhere`, {
        method: 'POST',
      });
      expect(notThere.status).toBe(202);
      expect((await fetch(`${r.url}/v2/third/blobs/${sha256(layer)}`, { method: 'HEAD' })).status).toBe(404);
    });

    it('stores manifests with their media type and refuses missing blobs and wrong digests', async () => {
      const missing = await putManifest(r, 'empty/repo', 'v1', image);
      expect(missing.status).toBe(400);
      expect(((await missing.json()) as ErrorBody).errors[0]?.code).toBe('MANIFEST_BLOB_UNKNOWN');
      const wrongDigest = await putManifest(r, repo, sha256('nope'), image);
      expect(wrongDigest.status).toBe(400);
      expect(((await wrongDigest.json()) as ErrorBody).errors[0]?.code).toBe('DIGEST_INVALID');

      const put = await putManifest(r, repo, 'v1', image);
      expect(put.status).toBe(201);
      expect(put.headers.get('docker-content-digest')).toBe(subject.digest);
      expect(put.headers.get('oci-subject')).toBeNull();
      for (const ref of ['v1', subject.digest]) {
        const got = await fetch(`${r.url}/v2/${repo}/manifests/${ref}`);
        expect(got.headers.get('content-type')).toBe(OCI_MANIFEST);
        expect(got.headers.get('docker-content-digest')).toBe(subject.digest);
        expect(Buffer.from(await got.arrayBuffer()).equals(image)).toBe(true);
      }
      const unknown = await fetch(`${r.url}/v2/${repo}/manifests/v9`);
      expect(unknown.status).toBe(404);
      expect(((await unknown.json()) as ErrorBody).errors[0]?.code).toBe('MANIFEST_UNKNOWN');
    });

    it('round-trips manifests with a subject and lists them as referrers', async () => {
      for (const m of [sbom, sig]) {
        const put = await putManifest(r, repo, sha256(m), m);
        expect(put.status).toBe(201);
        expect(put.headers.get('oci-subject')).toBe(referrersApi ? subject.digest : null);
        const back = await fetch(`${r.url}/v2/${repo}/manifests/${sha256(m)}`);
        expect(Buffer.from(await back.arrayBuffer()).equals(m)).toBe(true);
      }

      const res = await fetch(`${r.url}/v2/${repo}/referrers/${subject.digest}`);
      if (!referrersApi) {
        expect(res.status).toBe(404);
        return;
      }
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe(OCI_INDEX);
      expect(res.headers.get('oci-filters-applied')).toBeNull();
      const index = (await res.json()) as { mediaType: string; manifests: Record<string, unknown>[] };
      expect(index.mediaType).toBe(OCI_INDEX);
      expect(index.manifests).toHaveLength(2);
      expect(index.manifests).toContainEqual({
        mediaType: OCI_MANIFEST,
        digest: sha256(sbom),
        size: sbom.length,
        artifactType: 'application/spdx+json',
        annotations: { note: 'sbom' },
      });

      const filtered = await fetch(
        `${r.url}/v2/${repo}/referrers/${subject.digest}?artifactType=application/spdx%2Bjson`,
      );
      expect(filtered.headers.get('oci-filters-applied')).toBe('artifactType');
      const only = (await filtered.json()) as { manifests: { digest: string }[] };
      expect(only.manifests.map((m) => m.digest)).toEqual([sha256(sbom)]);

      // A subject nobody refers to (or in an unknown repository) has an empty list, not a 404.
      const none = await fetch(`${r.url}/v2/nobody/here/referrers/${sha256(layer)}`);
      expect(none.status).toBe(200);
      expect(((await none.json()) as { manifests: unknown[] }).manifests).toEqual([]);

      // Deleting a referrer takes it off the list.
      expect((await fetch(`${r.url}/v2/${repo}/manifests/${sha256(sig)}`, { method: 'DELETE' })).status).toBe(202);
      const after = (await (await fetch(`${r.url}/v2/${repo}/referrers/${subject.digest}`)).json()) as {
        manifests: unknown[];
      };
      expect(after.manifests).toHaveLength(1);
      expect(r.requests()).toContain(`GET /v2/${repo}/referrers/${subject.digest}`);
    });

    it('paginates the tag list with n, last and a Link header', async () => {
      for (const tag of ['c', 'a', 'b', 'd']) expect((await putManifest(r, repo, tag, image)).status).toBe(201);
      const page1 = await fetch(`${r.url}/v2/${repo}/tags/list?n=2`);
      expect(await page1.json()).toEqual({ name: repo, tags: ['a', 'b'] });
      const link = page1.headers.get('link')!;
      expect(link).toBe(`</v2/${repo}/tags/list?n=2&last=b>; rel="next"`);
      const page2 = await fetch(new URL(/<([^>]+)>/.exec(link)![1]!, r.url));
      expect(await page2.json()).toEqual({ name: repo, tags: ['c', 'd'] });
      const page3 = await fetch(`${r.url}/v2/${repo}/tags/list?n=2&last=d`);
      expect(page3.headers.get('link')).toBeNull();
      expect(await page3.json()).toEqual({ name: repo, tags: ['v1'] });
      const unknown = await fetch(`${r.url}/v2/not/there/tags/list`);
      expect(unknown.status).toBe(404);
      expect(((await unknown.json()) as ErrorBody).errors[0]?.code).toBe('NAME_UNKNOWN');
    });

    // containers/image is a real client: if it can push and pull, the protocol is close enough.
    it('skopeo copies an image in and back out unchanged', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'sigil-harness-skopeo-'));
      try {
        const layout = await writeTinyOciLayout(join(dir, 'in'), 200_000);
        const ref = `docker://${r.host}/skopeo/tiny:v1`;
        const skopeo = (...args: string[]) =>
          execFileAsync('skopeo', ['--insecure-policy', 'copy', '--preserve-digests', ...args]);
        await skopeo('--dest-tls-verify=false', `oci:${layout.dir}:latest`, ref);
        await skopeo('--src-tls-verify=false', ref, `oci:${join(dir, 'out')}:latest`);
        const index = JSON.parse(await readFile(join(dir, 'out', 'index.json'), 'utf8')) as {
          manifests: { digest: string }[];
        };
        expect(index.manifests[0]?.digest).toBe(layout.manifestDigest);
        const layerHex = layout.layerDigest.slice('sha256:'.length);
        expect(sha256(await readFile(join(dir, 'out', 'blobs', 'sha256', layerHex)))).toBe(layout.layerDigest);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });

    it('deleting a manifest by digest removes its tags', async () => {
      const del = await fetch(`${r.url}/v2/${repo}/manifests/${subject.digest}`, { method: 'DELETE' });
      expect(del.status).toBe(202);
      expect((await fetch(`${r.url}/v2/${repo}/manifests/v1`, { method: 'HEAD' })).status).toBe(404);
      expect(((await (await fetch(`${r.url}/v2/${repo}/tags/list`)).json()) as { tags: string[] }).tags).toEqual([]);
    });
  },
);
