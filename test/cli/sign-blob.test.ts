import { createHash, createPublicKey, verify as cryptoVerify } from 'node:crypto';
import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleFromJSON } from '@sigstore/bundle';
import { PublicKeyDetails, TrustedRoot } from '@sigstore/protobuf-specs';
import { toSignedEntity, toTrustMaterial, Verifier } from '@sigstore/verify';
import { parseStatement } from '../../src/sign/payloads/in-toto.ts';
import { publicKeyHint } from '../../src/sign/signers/index.ts';
import { startSigstoreStack, type SigstoreStack } from '../harness/sigstore-stack.ts';
import { runSigil } from '../helpers/cli.ts';

const PASSWORD = 'blob-signing-passphrase-91c2';
let stack: SigstoreStack;
let work: string;
let blobPath: string;
const blob = Buffer.from('sigil-1.0.0 release tarball bytes\n'.repeat(100));

beforeAll(async () => {
  stack = await startSigstoreStack();
  work = await mkdtemp(join(tmpdir(), 'sigil-sign-blob-cli-'));
  blobPath = join(work, 'sigil-1.0.0.tar.gz');
  await writeFile(blobPath, blob);
  const gen = await runSigil(['generate-key-pair', '--output-key-prefix', join(work, 'cosign')], {
    env: { COSIGN_PASSWORD: PASSWORD },
  });
  expect(gen.code, gen.stderr).toBe(0);
}, 60_000);
afterAll(async () => {
  await stack?.stop();
});

async function publicKey() {
  return createPublicKey(await readFile(join(work, 'cosign.pub')));
}

async function keyVerifier() {
  const pub = await publicKey();
  const material = toTrustMaterial(TrustedRoot.fromJSON(stack.trustedRoot()), {
    [publicKeyHint(pub)]: {
      rawBytes: pub.export({ format: 'der', type: 'spki' }),
      keyDetails: PublicKeyDetails.PKIX_ECDSA_P256_SHA_256,
    },
  });
  return new Verifier(material, { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 });
}

describe('sigil sign-blob', () => {
  it('--key --bundle --output-signature: a bundle that verifies over the file, not over a changed one', async () => {
    const bundlePath = join(work, 'key.sigstore.json');
    const sigPath = join(work, 'key.sig');
    const r = await runSigil(
      [
        'sign-blob',
        '-o',
        'json',
        '--key',
        join(work, 'cosign.key'),
        '--tlog-upload=false',
        '--bundle',
        bundlePath,
        '--output-signature',
        sigPath,
        blobPath,
      ],
      { env: { COSIGN_PASSWORD: PASSWORD } },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout + r.stderr).not.toContain(PASSWORD);
    const out = JSON.parse(r.stdout) as { sha256: string; signature: string };
    expect(out.sha256).toBe(createHash('sha256').update(blob).digest('hex'));
    expect(r.stderr).toContain(`wrote ${bundlePath}, ${sigPath}`);
    expect((await stat(bundlePath)).mode & 0o777).toBe(0o600);

    // --output-signature: the base64 signature, no newline, as cosign writes it.
    const sig = await readFile(sigPath, 'utf8');
    expect(sig).toBe(out.signature);
    expect(cryptoVerify('sha256', blob, await publicKey(), Buffer.from(sig, 'base64'))).toBe(true);

    const bundle = bundleFromJSON(JSON.parse(await readFile(bundlePath, 'utf8')));
    expect(bundle.mediaType).toBe('application/vnd.dev.sigstore.bundle.v0.3+json');
    const verifier = await keyVerifier();
    expect(() => verifier.verify(toSignedEntity(bundle, blob))).not.toThrow();
    const changed = Buffer.from(blob);
    changed[0] = (changed[0] ?? 0) ^ 1;
    expect(() => verifier.verify(toSignedEntity(bundle, changed))).toThrow();
  });

  it('keyless: --identity-token/--fulcio-url/--rekor-url; bundle and PEM certificate verify against the stack root', async () => {
    const token = stack.mintIdentityToken({ email: 'release@sigil.test', issuer: 'https://issuer.sigil.test' });
    const bundlePath = join(work, 'keyless.sigstore.json');
    const certPath = join(work, 'keyless.pem');
    const sigPath = join(work, 'keyless.sig');
    const r = await runSigil([
      'sign-blob',
      '--identity-token',
      token,
      '--fulcio-url',
      stack.fulcioUrl,
      '--rekor-url',
      stack.rekorUrl,
      '--bundle',
      bundlePath,
      '--output-certificate',
      certPath,
      '--output-signature',
      sigPath,
      blobPath,
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout + r.stderr).not.toContain(token);
    expect(r.stderr).toMatch(/Rekor log index \d+/);
    const pem = await readFile(certPath, 'utf8');
    expect(pem).toMatch(/^-----BEGIN CERTIFICATE-----\n/);
    const sig = Buffer.from(await readFile(sigPath, 'utf8'), 'base64');
    expect(cryptoVerify('sha256', blob, createPublicKey(pem), sig)).toBe(true);

    const verifier = new Verifier(toTrustMaterial(TrustedRoot.fromJSON(stack.trustedRoot())), {
      tlogThreshold: 1,
      ctlogThreshold: 1,
    });
    const bundle = bundleFromJSON(JSON.parse(await readFile(bundlePath, 'utf8')));
    const policy = {
      subjectAlternativeName: 'release@sigil.test',
      extensions: { issuer: 'https://issuer.sigil.test' },
    };
    expect(verifier.verify(toSignedEntity(bundle, blob), policy).identity?.subjectAlternativeName).toBe(
      'release@sigil.test',
    );
    expect(() => verifier.verify(toSignedEntity(bundle, Buffer.from('other bytes')), policy)).toThrow();
  });

  it('refuses to sign with nowhere to write the signature (cosign v3 requires --bundle)', async () => {
    const r = await runSigil(['sign-blob', '--key', join(work, 'cosign.key'), blobPath], {
      env: { COSIGN_PASSWORD: PASSWORD },
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--bundle');
  });
});

describe('sigil attest-blob', () => {
  it('a DSSE bundle whose statement names the file and its sha256, signed by the key', async () => {
    const predicatePath = join(work, 'provenance.json');
    await writeFile(predicatePath, JSON.stringify({ buildDefinition: { buildType: 'https://sigil.test/make' } }));
    const bundlePath = join(work, 'att.sigstore.json');
    const r = await runSigil(
      [
        'attest-blob',
        '--key',
        join(work, 'cosign.key'),
        '--tlog-upload=false',
        '--type',
        'slsaprovenance1',
        '--predicate',
        predicatePath,
        '--bundle',
        bundlePath,
        blobPath,
      ],
      { env: { COSIGN_PASSWORD: PASSWORD } },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('Attested (https://slsa.dev/provenance/v1)');
    const json = JSON.parse(await readFile(bundlePath, 'utf8')) as { dsseEnvelope: { payload: string } };
    const statement = parseStatement(Buffer.from(json.dsseEnvelope.payload, 'base64'));
    expect(statement.predicateType).toBe('https://slsa.dev/provenance/v1');
    expect(statement.subject).toEqual([
      { name: 'sigil-1.0.0.tar.gz', digest: { sha256: createHash('sha256').update(blob).digest('hex') } },
    ]);
    const verifier = await keyVerifier();
    expect(() => verifier.verify(toSignedEntity(bundleFromJSON(json)))).not.toThrow();
  });
});
