import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { settleTag } from '../../src/attach/settle.ts';
import { readTagImage } from '../../src/attach/tag-image.ts';
import { signatureTag } from '../../src/attach/tags.ts';
import { sha256 } from '../../src/oci/digest.ts';
import { MediaType } from '../../src/oci/media-types.ts';
import { Registry } from '../../src/oci/registry/client.ts';
import { referrersTag } from '../../src/oci/registry/referrers.ts';
import { keySigner } from '../../src/sign/signers/index.ts';
import { signImage } from '../../src/workflows/sign-image.ts';
import { startRegistry, type TestRegistry } from '../harness/registry.ts';
import { runSigil } from '../helpers/cli.ts';

const SIGNERS = 8;
const ROUNDS = 3;
// The tag scheme rewrites a config blob per write, so its rounds are slower (1–3 s each under contention).
const TAG_ROUNDS = 2;
const PASSWORD = 'concurrency-key-pass';
let registry: TestRegistry;
let work: string;

beforeAll(async () => {
  registry = await startRegistry();
  work = await mkdtemp(join(tmpdir(), 'sigil-concurrency-'));
}, 60_000);
afterAll(async () => {
  await registry?.stop();
});

/** A fresh subject per round (an image with no layers, its config naming the round), so every round starts from no signatures. */
async function pushSubject(repo: string, name: string): Promise<string> {
  const client = new Registry(registry.host);
  const config = new TextEncoder().encode(JSON.stringify({ architecture: 'amd64', os: 'linux', round: name }));
  const configDesc = { mediaType: MediaType.OciConfig, size: config.byteLength, digest: sha256(config) };
  await client.pushBlob(repo, configDesc, async () =>
    (await import('node:stream')).Readable.from([Buffer.from(config)]),
  );
  const manifest = new TextEncoder().encode(
    JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciManifest, config: configDesc, layers: [] }),
  );
  await client.putManifest(repo, name, manifest, MediaType.OciManifest);
  return `${registry.host}/${repo}:${name}`;
}

function keys(n: number): { privateKey: KeyObject; publicKey: KeyObject }[] {
  return Array.from({ length: n }, () => generateKeyPairSync('ec', { namedCurve: 'P-256' }));
}

/** Each signer gets its own client, as separate processes would: no shared tokens or connections. */
const ownClient = () => ({ registry: {} });

describe(`${SIGNERS} concurrent signers of one image on distribution 2.8 lose no signature`, () => {
  it(`tag scheme: ${SIGNERS} keys → ${SIGNERS} .sig layers, ${TAG_ROUNDS} rounds`, async () => {
    for (let round = 0; round < TAG_ROUNDS; round++) {
      const image = await pushSubject('conc/tag', `r${round}`);
      const signers = keys(SIGNERS);
      const results = await Promise.all(
        signers.map((k) =>
          signImage(image, {
            signer: keySigner(k.privateKey),
            publicKey: k.publicKey,
            attach: 'tag',
            ...ownClient(),
          }),
        ),
      );
      const digest = results[0]!.digest;
      const sig = await readTagImage(new Registry(registry.host), 'conc/tag', signatureTag(digest));
      expect(sig!.layers, `round ${round}`).toHaveLength(SIGNERS);
      // Every signer's own signature is there (the payload is the same; the signatures differ).
      const sigs = new Set(sig!.layers.map((l) => l.annotations?.['dev.cosignproject.cosign/signature']));
      expect(sigs.size).toBe(SIGNERS);
      for (const r of results) expect(r.signatures[0]!.written).toBe(true);
    }
  }, 20_000);

  it(`referrers scheme: ${SIGNERS} referrers in the fallback index, ${ROUNDS} rounds`, async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const image = await pushSubject('conc/ref', `r${round}`);
      const results = await Promise.all(
        keys(SIGNERS).map((k) => signImage(image, { signer: keySigner(k.privateKey), ...ownClient() })),
      );
      const digest = results[0]!.digest;
      const index = await new Registry(registry.host).getManifest('conc/ref', referrersTag(digest));
      const listed = (JSON.parse(Buffer.from(index.bytes).toString()) as { manifests: { digest: string }[] }).manifests;
      expect(listed.map((m) => m.digest).sort(), `round ${round}`).toEqual(
        results.map((r) => r.signatures[0]!.manifest).sort(),
      );
    }
  }, 20_000);

  it(`${SIGNERS} sigil sign processes at once (referrers scheme) leave ${SIGNERS} referrers`, async () => {
    const env = { COSIGN_PASSWORD: PASSWORD, DOCKER_CONFIG: work };
    const gen = await runSigil(['generate-key-pair', '--output-key-prefix', join(work, 'cosign')], { env });
    expect(gen.code, gen.stderr).toBe(0);
    const image = await pushSubject('conc/cli', 'v1');
    const runs = await Promise.all(
      Array.from({ length: SIGNERS }, () =>
        runSigil(['sign', '-v', '-o', 'json', '--key', join(work, 'cosign.key'), '--tlog-upload=false', image], {
          env,
        }),
      ),
    );
    const manifests: string[] = [];
    let digest = '';
    for (const r of runs) {
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/registry requests: \d+ \(/);
      const out = JSON.parse(r.stdout) as { digest: string; signatures: { manifest: string }[] };
      digest = out.digest;
      manifests.push(out.signatures[0]!.manifest);
    }
    expect(new Set(manifests).size).toBe(SIGNERS);
    const index = await new Registry(registry.host).getManifest('conc/cli', referrersTag(digest as `sha256:${string}`));
    const listed = (JSON.parse(Buffer.from(index.bytes).toString()) as { manifests: { digest: string }[] }).manifests;
    expect(listed.map((m) => m.digest).sort()).toEqual(manifests.sort());
  }, 30_000);
});

describe('settleTag against a slower writer (real registry, scripted interleaving)', () => {
  // The entries are kept as annotation keys of an empty index: distribution checks that listed
  // manifests exist, and these tests are about the interleaving, not the content.
  const indexBytes = (entries: string[]) =>
    new TextEncoder().encode(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaType.OciIndex,
        manifests: [],
        annotations: Object.fromEntries(entries.map((e) => [e, 'x'])),
      }),
    );
  const steps = (client: Registry, repo: string, tag: string, ours: string, afterWrite: () => Promise<void>) => ({
    what: `${repo}:${tag}`,
    read: async () => {
      try {
        const m = await client.getManifest(repo, tag);
        return Object.keys((JSON.parse(Buffer.from(m.bytes).toString()) as { annotations: object }).annotations);
      } catch {
        return undefined;
      }
    },
    has: (s: string[] | undefined) => s?.includes(ours) ?? false,
    write: async (s: string[] | undefined) => {
      await client.putManifest(repo, tag, indexBytes([...(s ?? []), ours]), MediaType.OciIndex);
      await afterWrite();
    },
  });
  const d = (c: string) => `entry-${c}`;

  it('a stale PUT landing after ours (it read before our write) is noticed and our entry merged back', async () => {
    const client = new Registry(registry.host);
    const repo = 'conc/settle';
    await client.putManifest(repo, 'idx', indexBytes([d('a')]), MediaType.OciIndex);
    let stale = true;
    // The slower writer read [a] before our PUT and writes [a, b] just after it.
    const slower = async () => {
      if (!stale) return;
      stale = false;
      await new Promise((r) => setTimeout(r, 10));
      await client.putManifest(repo, 'idx', indexBytes([d('a'), d('b')]), MediaType.OciIndex);
    };
    const r = await settleTag(steps(client, repo, 'idx', d('c'), slower));
    expect(r.writes).toBe(2);
    expect(r.state.sort()).toEqual([d('a'), d('b'), d('c')]);
  });

  it('fails naming the tag, never returning with the entry missing, when it keeps being dropped', async () => {
    const client = new Registry(registry.host);
    const repo = 'conc/settle';
    const clobber = () => client.putManifest(repo, 'idx2', indexBytes([d('e')]), MediaType.OciIndex).then(() => {});
    await expect(settleTag(steps(client, repo, 'idx2', d('f'), clobber), { maxRounds: 3 })).rejects.toThrow(
      /conc\/settle:idx2: concurrent writers kept replacing it; our entry is still missing after 3 writes/,
    );
  });
});
