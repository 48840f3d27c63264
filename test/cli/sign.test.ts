import { createPublicKey } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listAttachments } from '../../src/attach/discovery.ts';
import { copyImage } from '../../src/oci/copy.ts';
import { registryFor } from '../../src/oci/registry/client.ts';
import { openSource, openTarget } from '../../src/oci/source.ts';
import { parseEnvelope, pae } from '../../src/sign/payloads/dsse.ts';
import { parseStatement } from '../../src/sign/payloads/in-toto.ts';
import { verifyBytes } from '../../src/sign/raw-signature.ts';
import { demoImageLayout } from '../harness/images.ts';
import { startRegistry, type TestRegistry } from '../harness/registry.ts';
import { startSigstoreStack, type SigstoreStack, sigstoreFlags } from '../harness/sigstore-stack.ts';
import { runSigil } from '../helpers/cli.ts';

const PASSWORD = 'ci-signing-key-passphrase-7f3a';
let registry: TestRegistry;
let stack: SigstoreStack;
let work: string;
let image: string;

beforeAll(async () => {
  [registry, stack] = await Promise.all([startRegistry(), startSigstoreStack()]);
  work = await mkdtemp(join(tmpdir(), 'sigil-sign-cli-'));
  image = `${registry.host}/cli/app:1.0`;
  await copyImage(await openSource(`oci-dir:${await demoImageLayout()}:demo`), await openTarget(image));
  const gen = await runSigil(['generate-key-pair', '--output-key-prefix', join(work, 'cosign')], {
    env: { COSIGN_PASSWORD: PASSWORD },
  });
  expect(gen.code, gen.stderr).toBe(0);
}, 60_000);
afterAll(async () => {
  await Promise.all([registry?.stop(), stack?.stop()]);
});

async function bundleOf(digest: string, manifest: string): Promise<Record<string, unknown>> {
  const { attachments } = await listAttachments(registryFor(registry.host), 'cli/app', digest as `sha256:${string}`);
  const a = attachments.find((x) => x.manifest.digest === manifest)!;
  return JSON.parse(Buffer.from(await a.layers[0]!.fetch()).toString('utf8')) as Record<string, unknown>;
}

describe('sigil sign', () => {
  it('--key signs the digest the tag resolves to and reports the referrer; the password never shows', async () => {
    const r = await runSigil(
      ['sign', '-v', '-o', 'json', '--key', join(work, 'cosign.key'), '--tlog-upload=false', '-a', 'run=42', image],
      { env: { COSIGN_PASSWORD: PASSWORD } },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout + r.stderr).not.toContain(PASSWORD);
    const out = JSON.parse(r.stdout) as {
      digest: string;
      signatures: { manifest: string; scheme: string; via: string }[];
    };
    const head = await registryFor(registry.host).headManifest('cli/app', '1.0');
    expect(out.digest).toBe(head!.digest);
    expect(r.stderr).toContain(`Signed ${registry.host}/cli/app@${out.digest} (from ${image})`);
    expect(out.signatures[0]).toMatchObject({ scheme: 'referrers', via: 'fallback-tag' });

    const bundle = await bundleOf(out.digest, out.signatures[0]!.manifest);
    const env = parseEnvelope(bundle.dsseEnvelope as Record<string, unknown>);
    const pub = createPublicKey(await readFile(join(work, 'cosign.pub')));
    expect(verifyBytes(pub, pae(env.payloadType, env.payload), env.signatures[0]!.sig)).toBe(true);
    expect(parseStatement(env.payload).subject[0]).toMatchObject({ annotations: { run: '42' } });
  });

  it('keyless through --fulcio-url/--rekor-url/--timestamp-server-url; the token never shows', async () => {
    const token = stack.mintIdentityToken({ email: 'builder@sigil.test' });
    const r = await runSigil(['sign', '-v', '-o', 'json', '--identity-token', token, ...sigstoreFlags(stack), image]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout + r.stderr).not.toContain(token);
    expect(r.stderr).toContain('signing as builder@sigil.test');
    const out = JSON.parse(r.stdout) as {
      digest: string;
      signatures: { manifest: string; tlog: { logIndex: string } }[];
    };
    expect(out.signatures[0]!.tlog.logIndex).toMatch(/^\d+$/);
    const bundle = (await bundleOf(out.digest, out.signatures[0]!.manifest)) as {
      verificationMaterial: {
        certificate?: unknown;
        tlogEntries: unknown[];
        timestampVerificationData: { rfc3161Timestamps: unknown[] };
      };
    };
    expect(bundle.verificationMaterial.certificate).toBeDefined();
    expect(bundle.verificationMaterial.tlogEntries).toHaveLength(1);
    expect(bundle.verificationMaterial.timestampVerificationData.rfc3161Timestamps).toHaveLength(1);
  });

  it('SIGSTORE_ID_TOKEN is read from the environment (CI)', async () => {
    const r = await runSigil(
      ['sign', '--fulcio-url', stack.fulcioUrl, '--tlog-upload=false', '--attach', 'tag', image],
      { env: { SIGSTORE_ID_TOKEN: stack.mintIdentityToken({ email: 'env@sigil.test' }) } },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/sha256:[0-9a-f]{64} -> sha256-[0-9a-f]{64}\.sig/);
  });

  it('without a key or any token source: exit 3 naming what to set', async () => {
    const r = await runSigil(['sign', '--tlog-upload=false', image], {
      env: { SIGSTORE_ID_TOKEN: '', ACTIONS_ID_TOKEN_REQUEST_URL: '', ACTIONS_ID_TOKEN_REQUEST_TOKEN: '' },
    });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/sigil: error \[IDENTITY_TOKEN\]: .*SIGSTORE_ID_TOKEN/);
  });

  it('a wrong key password: exit 3, KEY_PASSWORD, nothing pushed, the wrong password not echoed', async () => {
    const before = await registryFor(registry.host).tags('cli/app');
    const r = await runSigil(['sign', '--key', join(work, 'cosign.key'), '--tlog-upload=false', image], {
      env: { COSIGN_PASSWORD: 'not-the-password-91c2' },
    });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('[KEY_PASSWORD]');
    expect(r.stderr).not.toContain('not-the-password-91c2');
    expect(await registryFor(registry.host).tags('cli/app')).toEqual(before);
  });
});

describe('sigil attest', () => {
  it('attests a CycloneDX SBOM made by sigil sbom, in the .att tag', async () => {
    const sbomFile = join(work, 'app.cdx.json');
    const sbom = await runSigil(['sbom', '--no-cache', '-o', `cyclonedx-json=${sbomFile}`, image]);
    expect(sbom.code, sbom.stderr).toBe(0);
    const r = await runSigil(
      [
        'attest',
        '-o',
        'json',
        '--key',
        join(work, 'cosign.key'),
        '--tlog-upload=false',
        '--type',
        'cyclonedx',
        '--predicate',
        sbomFile,
        '--attach',
        'tag',
        image,
      ],
      { env: { SIGIL_PASSWORD: PASSWORD } },
    );
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { digest: string; signatures: { tag: string }[] };
    expect(out.signatures[0]!.tag).toBe(`${out.digest.replace(':', '-')}.att`);
    const { attachments } = await listAttachments(
      registryFor(registry.host),
      'cli/app',
      out.digest as `sha256:${string}`,
    );
    const att = attachments.filter((a) => a.scheme === 'tag' && a.kind === 'attestation').at(-1)!;
    const st = parseStatement(parseEnvelope(await att.layers[0]!.fetch()).payload);
    expect(st.predicateType).toBe('https://cyclonedx.org/bom');
    expect((st.predicate as { bomFormat: string }).bomFormat).toBe('CycloneDX');
  });

  it('a predicate that is not JSON is a usage error (exit 2) before anything is signed', async () => {
    const bad = join(work, 'bad.json');
    await writeFile(bad, 'not json');
    const r = await runSigil(
      ['attest', '--key', join(work, 'cosign.key'), '--type', 'slsaprovenance', '--predicate', bad, image],
      {
        env: { COSIGN_PASSWORD: PASSWORD },
      },
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--predicate .*bad\.json: not JSON/);
  });
});
