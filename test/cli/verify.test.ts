import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyImage } from '../../src/oci/copy.ts';
import { registryFor } from '../../src/oci/registry/client.ts';
import { openSource, openTarget } from '../../src/oci/source.ts';
import { verifyImage } from '../../src/verify/verify-image.ts';
import { readPublicKey } from '../../src/verify/trust-material.ts';
import { demoImageLayout } from '../harness/images.ts';
import { startRegistry, type TestRegistry } from '../harness/registry.ts';
import { startSigstoreStack, type SigstoreStack, sigstoreFlags } from '../harness/sigstore-stack.ts';
import { runSigil } from '../helpers/cli.ts';

const PASSWORD = 'verify-cli-passphrase';
const EMAIL = 'builder@sigil.test';
let registry: TestRegistry;
let stack: SigstoreStack;
let work: string;
let root: string;
let digest: string;
const image = () => `${registry.host}/verify/app:1.0`;
const tagged = () => `${registry.host}/verify/legacy:1.0`;
const keyed = () => `${registry.host}/verify/keyed:1.0`;

function keylessSign(ref: string, attach: 'referrers' | 'tag') {
  return runSigil([
    'sign',
    '--identity-token',
    stack.mintIdentityToken({ email: EMAIL }),
    ...sigstoreFlags(stack),
    '--attach',
    attach,
    ref,
  ]);
}

beforeAll(async () => {
  [registry, stack] = await Promise.all([startRegistry(), startSigstoreStack()]);
  work = await mkdtemp(join(tmpdir(), 'sigil-verify-cli-'));
  root = join(work, 'trusted_root.json');
  await writeFile(root, JSON.stringify(stack.trustedRoot()));
  const layout = await demoImageLayout();
  for (const ref of [image(), tagged(), keyed()]) {
    await copyImage(await openSource(`oci-dir:${layout}:demo`), await openTarget(ref));
  }
  digest = (await registryFor(registry.host).headManifest('verify/app', '1.0'))!.digest;
  const gen = await runSigil(['generate-key-pair', '--output-key-prefix', join(work, 'cosign')], {
    env: { COSIGN_PASSWORD: PASSWORD },
  });
  expect(gen.code, gen.stderr).toBe(0);
  const signs = await Promise.all([
    keylessSign(image(), 'referrers'),
    keylessSign(tagged(), 'tag'),
    runSigil(
      ['sign', '--key', join(work, 'cosign.key'), '--tlog-upload=false', '--attach', 'tag', '-a', 'run=42', keyed()],
      {
        env: { COSIGN_PASSWORD: PASSWORD },
      },
    ),
  ]);
  for (const s of signs) expect(s.code, s.stderr).toBe(0);
}, 90_000);
afterAll(async () => {
  await Promise.all([registry?.stop(), stack?.stop()]);
});

const identity = () => ['--certificate-identity', EMAIL, '--certificate-oidc-issuer', stack.defaultIssuer];

describe('sigil verify (keyless, the loopback Sigstore stack)', () => {
  it('a bundle referrer: exit 0, cosign header on stderr, the payload array on stdout', async () => {
    const r = await runSigil(['verify', ...identity(), '--trusted-root', root, image()]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`Verification for ${image()} --`);
    expect(r.stderr).toContain('The following checks were performed on each of these signatures:');
    expect(r.stderr).toContain(
      '  - The code-signing certificate was verified using trusted certificate authority certificates',
    );
    expect(r.stderr).toContain('  - Existence of the claims in the transparency log was verified offline');
    expect(r.stdout.startsWith('\n')).toBe(true);
    const out = JSON.parse(r.stdout) as { critical: { image: Record<string, string>; type: string } }[];
    expect(out).toHaveLength(1);
    expect(out[0]!.critical.image['docker-manifest-digest']).toBe(digest);
    expect(out[0]!.critical.type).toBe('https://sigstore.dev/cosign/sign/v1');
  });

  it('a legacy .sig layer: the simple-signing payload with Subject, Issuer and Bundle in optional', async () => {
    const r = await runSigil(['verify', ...identity(), '--trusted-root', root, tagged()]);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { critical: { type: string }; optional: Record<string, unknown> }[];
    expect(out[0]!.critical.type).toBe('cosign container image signature');
    expect(out[0]!.optional).toMatchObject({ Subject: EMAIL, Issuer: stack.defaultIssuer });
    expect(out[0]!.optional['Bundle']).toMatchObject({ Payload: { logIndex: expect.any(Number) as number } });
  });

  it('the wrong identity: exit 1 with the reason code and both values', async () => {
    const r = await runSigil([
      'verify',
      '--certificate-identity',
      'someone@else.test',
      '--certificate-oidc-issuer',
      stack.defaultIssuer,
      '--trusted-root',
      root,
      image(),
    ]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('[IDENTITY_SUBJECT_MISMATCH]');
    expect(r.stderr).toContain('someone@else.test');
    expect(r.stderr).toContain(EMAIL);
  });

  it('-o json: the full decision with every candidate and its checks', async () => {
    const r = await runSigil(['verify', '-o', 'json', ...identity(), '--trusted-root', root, image()]);
    expect(r.code, r.stderr).toBe(0);
    const d = JSON.parse(r.stdout) as {
      digest: string;
      verified: boolean;
      candidates: { ok: boolean; checks: string[] }[];
    };
    expect(d).toMatchObject({ digest, verified: true });
    expect(d.candidates[0]!.checks).toEqual([
      'signature',
      'digest',
      'tlog',
      'timestamp',
      'certificateChain',
      'sct',
      'identity.issuer',
      'identity.subject',
    ]);
  });

  it("another Sigstore instance's bundle against the embedded public-good root fails", async () => {
    const r = await runSigil(['verify', ...identity(), image()]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/\[(TLOG_ENTRY_INVALID|CERT_CHAIN_INVALID)\]/);
  });

  it('usage: no key and no identity is exit 2; an unknown image is exit 4', async () => {
    expect((await runSigil(['verify', image()])).code).toBe(2);
    expect((await runSigil(['verify', ...identity(), `${registry.host}/verify/none:1`])).code).toBe(4);
  });
});

describe('sigil verify --key', () => {
  it('key signature without tlog: needs --insecure-ignore-tlog; -a checks annotations', async () => {
    const key = join(work, 'cosign.pub');
    const strict = await runSigil(['verify', '--key', key, keyed()]);
    expect(strict.code).toBe(1);
    expect(strict.stderr).toContain('[TLOG_ENTRY_MISSING]');
    const r = await runSigil(['verify', '--key', key, '--insecure-ignore-tlog', '-a', 'run=42', keyed()]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('  - The specified annotations were verified.');
    expect(r.stderr).toContain('  - The signatures were verified against the specified public key');
    const out = JSON.parse(r.stdout) as { optional: Record<string, string> }[];
    expect(out[0]!.optional).toEqual({ run: '42' });
    const bad = await runSigil(['verify', '--key', key, '--insecure-ignore-tlog', '-a', 'run=43', keyed()]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('[ANNOTATION_MISMATCH]');
  });

  it('verifyImage (library): keyless evidence offered to a key authority is KEY_MISMATCH', async () => {
    const r = await verifyImage(image(), {
      authority: { kind: 'key', name: 'ci', publicKey: readPublicKey(join(work, 'cosign.pub')), tlog: 'ignore' },
    });
    expect(r.digest).toBe(digest);
    expect(r.verified).toEqual([]);
    expect(r.rejected.map((c) => !c.ok && c.code)).toContain('KEY_MISMATCH');
  });
});

describe('sigil verify-attestation', () => {
  it('--type with CEL conditions over the verified predicate; a false condition denies, naming it', async () => {
    const predicate = join(work, 'bom.json');
    await writeFile(predicate, JSON.stringify({ bomFormat: 'CycloneDX', specVersion: '1.5' }));
    const att = await runSigil(
      [
        'attest',
        '--key',
        join(work, 'cosign.key'),
        '--tlog-upload=false',
        '--type',
        'cyclonedx',
        '--predicate',
        predicate,
        keyed(),
      ],
      { env: { COSIGN_PASSWORD: PASSWORD } },
    );
    expect(att.code, att.stderr).toBe(0);
    const base = [
      'verify-attestation',
      '--key',
      join(work, 'cosign.pub'),
      '--insecure-ignore-tlog',
      '--type',
      'cyclonedx',
    ];
    const ok = await runSigil([...base, '--condition', 'predicate.bomFormat == "CycloneDX"', keyed()]);
    expect(ok.code, ok.stderr).toBe(0);
    const env = JSON.parse(ok.stdout.trim().split('\n')[0]!) as { payload: string };
    const statement = JSON.parse(Buffer.from(env.payload, 'base64').toString('utf8')) as { predicateType: string };
    expect(statement.predicateType).toBe('https://cyclonedx.org/bom');
    const no = await runSigil([...base, '--condition', 'predicate.specVersion == "1.6"', keyed()]);
    expect(no.code).toBe(1);
    expect(no.stderr).toContain('[CONDITION_FALSE]');
    expect(no.stderr).toContain('predicate.specVersion == "1.6"');
    const other = await runSigil([...base.slice(0, -1), 'spdxjson', keyed()]);
    expect(other.code).toBe(1);
  });
});
