import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listAttachments } from '../../src/attach/discovery.ts';
import { AttachAnnotation, AttachMediaType, cosignArtifactType } from '../../src/attach/media-types.ts';
import { copyImage } from '../../src/oci/copy.ts';
import type { Digest } from '../../src/oci/digest.ts';
import { registryFor } from '../../src/oci/registry/client.ts';
import { openSource, openTarget } from '../../src/oci/source.ts';
import { dsseEnvelope, pae, parseEnvelope } from '../../src/sign/payloads/dsse.ts';
import { inTotoStatement, parseStatement } from '../../src/sign/payloads/in-toto.ts';
import { simpleSigningPayload } from '../../src/sign/payloads/simple-signing.ts';
import { signBytes } from '../../src/sign/raw-signature.ts';
import { demoImageLayout } from '../harness/images.ts';
import { startRegistry, type TestRegistry } from '../harness/registry.ts';
import { runSigil } from '../helpers/cli.ts';

const PASSWORD = 'attach-cli-passphrase-3e1d';
let registry: TestRegistry;
let work: string;
const layoutPromise = demoImageLayout();

beforeAll(async () => {
  registry = await startRegistry();
  work = await mkdtemp(join(tmpdir(), 'sigil-attach-cli-'));
  const gen = await runSigil(['generate-key-pair', '--output-key-prefix', join(work, 'cosign')], {
    env: { COSIGN_PASSWORD: PASSWORD },
  });
  expect(gen.code, gen.stderr).toBe(0);
}, 60_000);
afterAll(async () => {
  await registry?.stop();
});

async function pushImage(repo: string): Promise<{ image: string; digest: Digest }> {
  const image = `${registry.host}/${repo}:1.0`;
  await copyImage(await openSource(`oci-dir:${await layoutPromise}:demo`), await openTarget(image));
  const head = await registryFor(registry.host).headManifest(repo, '1.0');
  return { image, digest: head!.digest };
}

const list = (repo: string, digest: Digest) => listAttachments(registryFor(registry.host), repo, digest);

describe('sigil attach sbom', () => {
  it('--sbom F --type cyclonedx: the .sbom tag, media type from the file name; a second one replaces it', async () => {
    const { image, digest } = await pushImage('cli-attach/sbom');
    const file = join(work, 'app.cdx.json');
    await writeFile(file, '{"bomFormat":"CycloneDX","specVersion":"1.6"}\n');
    const r = await runSigil(['attach', 'sbom', '--sbom', file, '--type', 'cyclonedx', image]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(`sbom -> ${digest.replace(':', '-')}.sbom`);
    expect(r.stderr).toContain('not signed');
    let sboms = (await list('cli-attach/sbom', digest)).attachments.filter((a) => a.kind === 'sbom');
    expect(sboms).toHaveLength(1);
    expect(sboms[0]!.layers[0]!.descriptor.mediaType).toBe('application/vnd.cyclonedx+json');

    const xml = join(work, 'app.cdx.xml');
    await writeFile(xml, '<bom xmlns="http://cyclonedx.org/schema/bom/1.6"/>\n');
    const again = await runSigil(['attach', 'sbom', '--sbom', xml, '--type', 'cyclonedx', '-o', 'json', image]);
    expect(again.code, again.stderr).toBe(0);
    expect((JSON.parse(again.stdout) as { attached: { replaced?: string }[] }).attached[0]!.replaced).toMatch(
      /^sha256:/,
    );
    sboms = (await list('cli-attach/sbom', digest)).attachments.filter((a) => a.kind === 'sbom');
    expect(sboms).toHaveLength(1);
    expect(sboms[0]!.layers[0]!.descriptor.mediaType).toBe('application/vnd.cyclonedx+xml');
    expect(Buffer.from(await sboms[0]!.layers[0]!.fetch()).toString()).toContain('<bom');

    const bad = await runSigil(['attach', 'sbom', '--sbom', xml, '--type', 'syft', '--input-format', 'xml', image]);
    expect(bad.code).not.toBe(0);
  });

  it('--attach referrers: a referrer with cosign’s sbom artifact type', async () => {
    const { image, digest } = await pushImage('cli-attach/sbom-ref');
    const file = join(work, 'app.spdx.json');
    await writeFile(file, '{"spdxVersion":"SPDX-2.3"}\n');
    const r = await runSigil(['attach', 'sbom', '--sbom', file, '--attach', 'referrers', image]);
    expect(r.code, r.stderr).toBe(0);
    const s = (await list('cli-attach/sbom-ref', digest)).attachments.find((a) => a.kind === 'sbom')!;
    expect(s).toMatchObject({ scheme: 'referrers', artifactType: cosignArtifactType('sbom') });
    expect(s.layers[0]!.descriptor.mediaType).toBe('text/spdx+json');
  });
});

describe('sigil attach signature', () => {
  it('sign-blob over the payload, then --payload --signature --certificate: a .sig layer carrying them', async () => {
    const { image, digest } = await pushImage('cli-attach/sig');
    const payloadPath = join(work, 'payload.json');
    await writeFile(
      payloadPath,
      simpleSigningPayload({ dockerReference: `${registry.host}/cli-attach/sig`, manifestDigest: digest }),
    );
    const sigPath = join(work, 'payload.sig');
    const signed = await runSigil(
      [
        'sign-blob',
        '--key',
        join(work, 'cosign.key'),
        '--tlog-upload=false',
        '--output-signature',
        sigPath,
        payloadPath,
      ],
      { env: { COSIGN_PASSWORD: PASSWORD } },
    );
    expect(signed.code, signed.stderr).toBe(0);
    const certPath = join(work, 'signer.pem');
    const cert = '-----BEGIN CERTIFICATE-----\nMIIBdemo\n-----END CERTIFICATE-----\n';
    await writeFile(certPath, cert);
    const r = await runSigil([
      'attach',
      'signature',
      '--payload',
      payloadPath,
      '--signature',
      sigPath,
      '--certificate',
      certPath,
      image,
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(`signature -> ${digest.replace(':', '-')}.sig`);

    const sig = (await list('cli-attach/sig', digest)).attachments.find((a) => a.kind === 'signature')!;
    expect(sig.scheme).toBe('tag');
    expect(sig.layers[0]!.descriptor.mediaType).toBe(AttachMediaType.SimpleSigning);
    expect(sig.annotations[AttachAnnotation.Signature]).toBe(await readFile(sigPath, 'utf8'));
    expect(sig.annotations[AttachAnnotation.Certificate]).toBe(cert);
    expect(Buffer.from(await sig.layers[0]!.fetch())).toEqual(await readFile(payloadPath));

    // The signature verifies under the key pair's public key over the stored payload.
    const { createPublicKey, verify } = await import('node:crypto');
    const pub = createPublicKey(await readFile(join(work, 'cosign.pub')));
    const ok = verify(
      'sha256',
      await sig.layers[0]!.fetch(),
      pub,
      Buffer.from(sig.annotations[AttachAnnotation.Signature]!, 'base64'),
    );
    expect(ok).toBe(true);

    const missing = await runSigil(['attach', 'signature', '--payload', payloadPath, image]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--signature');
  });

  it('--bundle with a Sigstore attestation bundle: stored as a bundle referrer', async () => {
    const { image, digest } = await pushImage('cli-attach/bundle');
    const predicate = join(work, 'vuln.json');
    await writeFile(predicate, '{"scanner":{"uri":"https://sigil.test"}}');
    const bundlePath = join(work, 'image.att.json');
    const made = await runSigil(
      [
        'attest-blob',
        '--key',
        join(work, 'cosign.key'),
        '--tlog-upload=false',
        '--type',
        'vuln',
        '--predicate',
        predicate,
        '--bundle',
        bundlePath,
        predicate,
      ],
      { env: { COSIGN_PASSWORD: PASSWORD } },
    );
    expect(made.code, made.stderr).toBe(0);
    const r = await runSigil(['attach', 'signature', '--bundle', bundlePath, image]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(
      'attestation (Sigstore bundle, https://cosign.sigstore.dev/attestation/vuln/v1) -> referrer',
    );
    const b = (await list('cli-attach/bundle', digest)).attachments.find((a) => a.bundle)!;
    expect(b.annotations[AttachAnnotation.BundlePredicateType]).toBe('https://cosign.sigstore.dev/attestation/vuln/v1');
    expect(JSON.parse(Buffer.from(await b.layers[0]!.fetch()).toString())).toEqual(
      JSON.parse(await readFile(bundlePath, 'utf8')),
    );
  });
});

describe('sigil attach attestation', () => {
  it('--attestation twice (tag) and --attach referrers: envelopes found with kind attestation', async () => {
    const { image, digest } = await pushImage('cli-attach/att');
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const files: string[] = [];
    for (const [i, pt] of ['https://cyclonedx.org/bom', 'https://openvex.dev/ns'].entries()) {
      const payload = inTotoStatement({
        version: 'v0.1',
        subjects: [{ name: `${registry.host}/cli-attach/att`, digest: { sha256: digest.slice(7) } }],
        predicateType: pt,
        predicate: {},
      });
      const sig = signBytes(privateKey, pae('application/vnd.in-toto+json', payload));
      const file = join(work, `env${i}.json`);
      await writeFile(
        file,
        dsseEnvelope({ payloadType: 'application/vnd.in-toto+json', payload, signatures: [{ sig }] }),
      );
      files.push(file);
    }
    const r = await runSigil(['attach', 'attestation', '--attestation', files[0]!, '--attestation', files[1]!, image]);
    expect(r.code, r.stderr).toBe(0);
    const ref = await runSigil(['attach', 'attestation', '--attach', 'referrers', '--attestation', files[0]!, image]);
    expect(ref.code, ref.stderr).toBe(0);

    const atts = (await list('cli-attach/att', digest)).attachments.filter((a) => a.kind === 'attestation');
    const tagged = atts.filter((a) => a.scheme === 'tag');
    expect(tagged).toHaveLength(2);
    const types = await Promise.all(
      tagged.map(async (a) => parseStatement(parseEnvelope(await a.layers[0]!.fetch()).payload).predicateType),
    );
    expect(types).toEqual(['https://cyclonedx.org/bom', 'https://openvex.dev/ns']);
    const referrer = atts.find((a) => a.scheme === 'referrers')!;
    expect(referrer.artifactType).toBe('application/vnd.in-toto+json');
    expect(parseEnvelope(await referrer.layers[0]!.fetch()).signatures).toHaveLength(1);
  });
});

describe('sigil sbom --attest', () => {
  const env = () => ({
    COSIGN_PASSWORD: PASSWORD,
    XDG_CACHE_HOME: join(work, 'cache'),
    SOURCE_DATE_EPOCH: '1700000000',
  });

  it('generates, signs (cyclonedx-json by default) and attaches: the predicate is the SBOM, the subject the digest', async () => {
    const { image, digest } = await pushImage('cli-attach/sbom-attest');
    const sbomFile = join(work, 'attest.cdx.json');
    const r = await runSigil(
      [
        'sbom',
        image,
        '--attest',
        '--key',
        join(work, 'cosign.key'),
        '--tlog-upload=false',
        '-o',
        `cyclonedx-json=${sbomFile}`,
      ],
      { env: env() },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout + r.stderr).not.toContain(PASSWORD);
    expect(r.stderr).toMatch(new RegExp(`${digest}: \\d+ packages`));
    expect(r.stderr).toContain(
      `Attested SBOM (https://cyclonedx.org/bom) of ${registry.host}/cli-attach/sbom-attest@${digest} -> referrer sha256:`,
    );

    const atts = (await list('cli-attach/sbom-attest', digest)).attachments.filter((a) => a.kind === 'attestation');
    expect(atts).toHaveLength(1);
    const a = atts[0]!;
    expect(a).toMatchObject({ scheme: 'referrers', bundle: true });
    expect(a.annotations[AttachAnnotation.BundlePredicateType]).toBe('https://cyclonedx.org/bom');
    const bundle = JSON.parse(Buffer.from(await a.layers[0]!.fetch()).toString()) as {
      dsseEnvelope: Record<string, unknown>;
    };
    const env0 = parseEnvelope(bundle.dsseEnvelope);
    const statement = parseStatement(env0.payload);
    expect(statement.subject).toEqual([
      { name: `${registry.host}/cli-attach/sbom-attest`, digest: { sha256: digest.slice(7) } },
    ]);
    expect(statement.predicateType).toBe('https://cyclonedx.org/bom');
    const written = JSON.parse(await readFile(sbomFile, 'utf8')) as { components: { name: string }[] };
    expect(statement.predicate).toEqual(written);
    expect(written.components.length).toBeGreaterThan(0);

    // The envelope signature verifies under the key pair's public key.
    const { createPublicKey, verify } = await import('node:crypto');
    const pub = createPublicKey(await readFile(join(work, 'cosign.pub')));
    expect(verify('sha256', pae(env0.payloadType, env0.payload), pub, env0.signatures[0]!.sig)).toBe(true);
  });

  it('--attest-format spdx-json --attach tag: an .att layer with the SPDX document', async () => {
    const { image, digest } = await pushImage('cli-attach/sbom-attest-spdx');
    const r = await runSigil(
      [
        'sbom',
        image,
        '--attest',
        '--attest-format',
        'spdx-json',
        '--attach',
        'tag',
        '--key',
        join(work, 'cosign.key'),
        '--tlog-upload=false',
        '-o',
        'table',
      ],
      { env: env() },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`-> ${digest.replace(':', '-')}.att`);
    const att = (await list('cli-attach/sbom-attest-spdx', digest)).attachments.find((a) => a.kind === 'attestation')!;
    expect(att.scheme).toBe('tag');
    expect(att.annotations[AttachAnnotation.PredicateType]).toBe('https://spdx.dev/Document');
    const statement = parseStatement(parseEnvelope(await att.layers[0]!.fetch()).payload);
    expect(statement.predicate).toMatchObject({ spdxVersion: 'SPDX-2.3' });
  });

  it('signing flags without --attest, or --attest on a local layout, are usage errors', async () => {
    const noAttest = await runSigil(['sbom', `${registry.host}/x/y:1`, '--key', join(work, 'cosign.key')]);
    expect(noAttest.code).toBe(2);
    expect(noAttest.stderr).toContain('--key applies only with --attest');
    const local = await runSigil(['sbom', `oci-dir:${await layoutPromise}:demo`, '--attest', '--key', 'k']);
    expect(local.code).toBe(2);
    expect(local.stderr).toContain('--attest needs a registry image');
  });
});
