/**
 * The sigstore-conformance client protocol end to end through the built CLI: sign-bundle
 * against the loopback Sigstore stack (keyless and key, message and --in-toto), verify-bundle
 * on what it wrote (file and sha256:HEX inputs), and verify-bundle / verify-blob on vendored
 * conformance cases. Exit codes: 0 verified, 1 refused, 2 usage.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSigstoreStack, type SigstoreStack } from '../harness/sigstore-stack.ts';
import { runSigil } from '../helpers/cli.ts';

const ASSETS = fileURLToPath(new URL('../verify/conformance/assets/', import.meta.url));
const BEACON =
  'https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main';
const GHA = 'https://token.actions.githubusercontent.com';
const PASSWORD = 'conformance-key-password-19c2';

let stack: SigstoreStack;
let work: string;
let root: string;
let config: string;
let artifact: string;
let artifactHex: string;
let statement: string;

beforeAll(async () => {
  stack = await startSigstoreStack();
  work = await mkdtemp(join(tmpdir(), 'sigil-conformance-'));
  root = join(work, 'trusted_root.json');
  config = join(work, 'signing_config.json');
  await writeFile(root, JSON.stringify(stack.trustedRoot()));
  await writeFile(config, JSON.stringify(stack.signingConfig()));
  artifact = join(work, 'release.tar');
  const bytes = Buffer.from('release artifact bytes\n'.repeat(100));
  await writeFile(artifact, bytes);
  artifactHex = createHash('sha256').update(bytes).digest('hex');
  statement = join(work, 'statement.json');
  await writeFile(
    statement,
    JSON.stringify({
      _type: 'https://in-toto.io/Statement/v1',
      subject: [{ name: 'release.tar', digest: { sha256: artifactHex } }],
      predicateType: 'https://slsa.dev/provenance/v1',
      predicate: { buildDefinition: { buildType: 'https://sigil.test/build' } },
    }),
  );
  const gen = await runSigil(['generate-key-pair', '--output-key-prefix', join(work, 'cosign')], {
    env: { COSIGN_PASSWORD: PASSWORD },
  });
  expect(gen.code, gen.stderr).toBe(0);
}, 60_000);
afterAll(async () => {
  await stack?.stop();
});

const identity = ['--certificate-identity', 'builder@sigil.test'];
const issuer = () => ['--certificate-oidc-issuer', stack.defaultIssuer];

describe('sign-bundle -> verify-bundle (loopback stack)', () => {
  it('keyless message signature: file and sha256:HEX verify; wrong identity, digest or file are refused', async () => {
    const token = stack.mintIdentityToken({ email: 'builder@sigil.test' });
    const bundle = join(work, 'keyless.sigstore.json');
    const s = await runSigil([
      'sign-bundle',
      '--identity-token',
      token,
      '--bundle',
      bundle,
      '--trusted-root',
      root,
      '--signing-config',
      config,
      artifact,
    ]);
    expect(s.code, s.stderr).toBe(0);
    expect(s.stdout + s.stderr).not.toContain(token);
    const written = JSON.parse(await readFile(bundle, 'utf8')) as Record<string, Record<string, unknown>>;
    expect(written.messageSignature).toBeDefined();
    expect(written.verificationMaterial!.certificate).toBeDefined();

    const verify = (extra: string[], file: string) =>
      runSigil(['verify-bundle', '--bundle', bundle, ...extra, '--trusted-root', root, file]);
    let r = await verify([...identity, ...issuer()], artifact);
    expect(r.code, r.stderr).toBe(0);
    r = await verify([...identity, ...issuer()], `sha256:${artifactHex}`);
    expect(r.code, r.stderr).toBe(0);
    r = await verify(['--certificate-identity', 'someone@else.test', ...issuer()], artifact);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('[IDENTITY_SUBJECT_MISMATCH]');
    r = await verify([...identity, ...issuer()], `sha256:${'0'.repeat(64)}`);
    expect(r.code).toBe(1);
    r = await verify([...identity, ...issuer()], statement);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/\[(SIGNATURE_INVALID|PAYLOAD_DIGEST_MISMATCH)\]/);
    // verify-blob (cosign's name) gives the same answer
    r = await runSigil(['verify-blob', '--bundle', bundle, ...identity, ...issuer(), '--trusted-root', root, artifact]);
    expect(r.code, r.stderr).toBe(0);
    // without the stack's root the public-good root does not know this CA
    r = await runSigil(['verify-bundle', '--bundle', bundle, ...identity, ...issuer(), artifact]);
    expect(r.code).toBe(1);
  });

  it('keyless --in-toto: the statement is signed as DSSE; its subject (file or digest) verifies, another file does not', async () => {
    const token = stack.mintIdentityToken({ email: 'builder@sigil.test' });
    const bundle = join(work, 'intoto.sigstore.json');
    const s = await runSigil([
      'sign-bundle',
      '--in-toto',
      '--identity-token',
      token,
      '--bundle',
      bundle,
      '--trusted-root',
      root,
      '--signing-config',
      config,
      statement,
    ]);
    expect(s.code, s.stderr).toBe(0);
    const written = JSON.parse(await readFile(bundle, 'utf8')) as { dsseEnvelope: { payloadType: string } };
    expect(written.dsseEnvelope.payloadType).toBe('application/vnd.in-toto+json');
    const verify = (file: string) =>
      runSigil(['verify-bundle', '--bundle', bundle, ...identity, ...issuer(), '--trusted-root', root, file]);
    expect((await verify(artifact)).code).toBe(0);
    expect((await verify(`sha256:${artifactHex}`)).code).toBe(0);
    const other = await verify(statement);
    expect(other.code).toBe(1);
    expect(other.stderr).toContain('[PAYLOAD_DIGEST_MISMATCH]');
  });

  it('--in-toto refuses a file that is not a statement (usage, exit 2)', async () => {
    const r = await runSigil([
      'sign-bundle',
      '--in-toto',
      '--identity-token',
      stack.mintIdentityToken({ email: 'builder@sigil.test' }),
      '--bundle',
      join(work, 'never.json'),
      '--signing-config',
      config,
      artifact,
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('not an in-toto statement');
  });

  it('key (sigil extension --key): message signature with a Rekor entry verifies with --key, file and digest', async () => {
    const bundle = join(work, 'key.sigstore.json');
    const s = await runSigil(
      [
        'sign-bundle',
        '--key',
        join(work, 'cosign.key'),
        '--bundle',
        bundle,
        '--trusted-root',
        root,
        '--signing-config',
        config,
        artifact,
      ],
      { env: { COSIGN_PASSWORD: PASSWORD } },
    );
    expect(s.code, s.stderr).toBe(0);
    const pub = join(work, 'cosign.pub');
    const verify = (file: string, key = pub) =>
      runSigil(['verify-bundle', '--bundle', bundle, '--key', key, '--trusted-root', root, file]);
    expect((await verify(artifact)).code).toBe(0);
    expect((await verify(`sha256:${artifactHex}`)).code).toBe(0);
    expect((await verify(`sha256:${'1'.repeat(64)}`)).code).toBe(1);
    const wrongKey = await verify(artifact, join(ASSETS, 'managed-key-happy-path', 'key.pub'));
    expect(wrongKey.code).toBe(1);
    expect(wrongKey.stderr).toContain('[KEY_MISMATCH]');
  });

  it('usage: neither --key nor an identity, or both, exit 2', async () => {
    const a = await runSigil(['verify-bundle', '--bundle', join(work, 'key.sigstore.json'), artifact]);
    expect(a.code).toBe(2);
    const b = await runSigil([
      'verify-bundle',
      '--bundle',
      join(work, 'key.sigstore.json'),
      '--key',
      join(work, 'cosign.pub'),
      ...identity,
      ...issuer(),
      artifact,
    ]);
    expect(b.code).toBe(2);
    const c = await runSigil([
      'verify-bundle',
      '--staging',
      '--bundle',
      join(work, 'key.sigstore.json'),
      '--key',
      join(work, 'cosign.pub'),
      artifact,
    ]);
    expect(c.code).toBe(2);
    expect(c.stderr).toContain('staging');
  });
});

describe('verify-bundle on vendored conformance cases', () => {
  const keyless = (dir: string, file: string, extra: string[] = []) =>
    runSigil([
      'verify-bundle',
      '--bundle',
      join(ASSETS, dir, 'bundle.sigstore.json'),
      '--certificate-identity',
      BEACON,
      '--certificate-oidc-issuer',
      GHA,
      ...extra,
      file,
    ]);

  it('happy-path-v0.3 verifies with the embedded public-good root; a.txt by digest too', async () => {
    expect((await keyless('happy-path-v0.3', join(ASSETS, 'a.txt'))).code).toBe(0);
    const hex = createHash('sha256')
      .update(await readFile(join(ASSETS, 'a.txt')))
      .digest('hex');
    expect((await keyless('happy-path-v0.3', `sha256:${hex}`)).code).toBe(0);
  });

  it('intoto-with-custom-trust-root verifies by subject digest with its root', async () => {
    const dir = 'intoto-with-custom-trust-root';
    const hex = createHash('sha256')
      .update(await readFile(join(ASSETS, dir, 'artifact')))
      .digest('hex');
    const r = await keyless(dir, `sha256:${hex}`, ['--trusted-root', join(ASSETS, dir, 'trusted_root.json')]);
    expect(r.code, r.stderr).toBe(0);
  });

  it('managed-key-happy-path verifies with --key; managed-key-wrong-key_fail (a corrupt key) is refused', async () => {
    const run = (dir: string) =>
      runSigil([
        'verify-bundle',
        '--bundle',
        join(ASSETS, dir, 'bundle.sigstore.json'),
        '--key',
        join(ASSETS, dir, 'key.pub'),
        join(ASSETS, 'a.txt'),
      ]);
    expect((await run('managed-key-happy-path')).code).toBe(0);
    // The case's key.pub is itself corrupt ("…wrongkey=="): an unreadable key is a usage error (2).
    const wrong = await run('managed-key-wrong-key_fail');
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain('public key');
  });

  it('trust-root-tlog-missing-validity-start_fail is refused with TRUST_ROOT_ERROR', async () => {
    const dir = 'trust-root-tlog-missing-validity-start_fail';
    const r = await keyless(dir, join(ASSETS, 'a.txt'), ['--trusted-root', join(ASSETS, dir, 'trusted_root.json')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('[TRUST_ROOT_ERROR]');
    expect(r.stderr).toContain('validFor.start is missing');
  });

  it('a malformed bundle is refused (exit 1), not a crash', async () => {
    const r = await keyless('bundle-malformed-json_fail', join(ASSETS, 'a.txt'));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('[EVIDENCE_MALFORMED]');
  });
});
