import { execFileSync } from 'node:child_process';
import { createPrivateKey, sign } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Digest } from '../../src/oci/digest.ts';
import type { Authority } from '../../src/verify/authority.ts';
import { checkEvidence } from '../../src/verify/check.ts';
import { evidenceFromTagLayer } from '../../src/verify/evidence/index.ts';

/**
 * Extended key usage: a certificate that restricts its usage must allow codeSigning, anywhere in
 * the chain, as cosign requires; one without the extension allows any usage (as in Go, and as the
 * real custom-PKI vector's certificate has it). Certificates made by openssl, payload signed here.
 * The same chains carry a certificate whose SAN does not parse, which must fail as a candidate.
 */
const SUBJECT = 'sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae' as Digest;
let work: string;

function openssl(args: string[]): void {
  execFileSync('openssl', args, { cwd: work, stdio: ['ignore', 'ignore', 'pipe'] });
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'sigil-eku-'));
  await writeFile(
    join(work, 'ext.cnf'),
    [
      '[ca]',
      'basicConstraints=critical,CA:TRUE',
      'keyUsage=critical,keyCertSign,cRLSign',
      '[ca_server_only]',
      'basicConstraints=critical,CA:TRUE',
      'keyUsage=critical,keyCertSign,cRLSign',
      'extendedKeyUsage=serverAuth',
      '[code]',
      'keyUsage=critical,digitalSignature',
      'extendedKeyUsage=codeSigning',
      'subjectAltName=email:builder@example.com',
      '[server]',
      'keyUsage=critical,digitalSignature',
      'extendedKeyUsage=serverAuth,clientAuth',
      'subjectAltName=email:builder@example.com',
      '[none]',
      'keyUsage=critical,digitalSignature',
      'subjectAltName=email:builder@example.com',
      // A SAN whose otherName holds an empty SEQUENCE where its type-id OID belongs.
      '[bad_san]',
      'keyUsage=critical,digitalSignature',
      'extendedKeyUsage=codeSigning',
      '2.5.29.17=critical,DER:30:04:A0:02:30:00',
      '',
    ].join('\n'),
  );
  for (const ca of ['ca', 'ca_server_only']) {
    openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', `${ca}.key`]);
    openssl(['req', '-new', '-key', `${ca}.key`, '-subj', `/CN=${ca}`, '-out', `${ca}.csr`]);
    openssl([
      'x509',
      '-req',
      '-in',
      `${ca}.csr`,
      '-signkey',
      `${ca}.key`,
      '-days',
      '30',
      '-extfile',
      'ext.cnf',
      '-extensions',
      ca,
      '-out',
      `${ca}.pem`,
    ]);
  }
  openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'leaf.key']);
  openssl(['req', '-new', '-key', 'leaf.key', '-subj', '/CN=leaf', '-out', 'leaf.csr']);
  for (const [ca, ext] of [
    ['ca', 'code'],
    ['ca', 'server'],
    ['ca', 'none'],
    ['ca_server_only', 'code'],
    ['ca', 'bad_san'],
  ] as const) {
    openssl([
      'x509',
      '-req',
      '-in',
      'leaf.csr',
      '-CA',
      `${ca}.pem`,
      '-CAkey',
      `${ca}.key`,
      '-CAcreateserial',
      '-days',
      '7',
      '-extfile',
      'ext.cnf',
      '-extensions',
      ext,
      '-out',
      `${ca}-${ext}.pem`,
    ]);
  }
}, 30_000);

async function check(ca: string, ext: string) {
  const payload = Buffer.from(
    JSON.stringify({
      critical: {
        identity: { 'docker-reference': '127.0.0.1:5000/app' },
        image: { 'docker-manifest-digest': SUBJECT },
        type: 'cosign container image signature',
      },
      optional: null,
    }),
  );
  const key = createPrivateKey(await readFile(join(work, 'leaf.key')));
  const evidence = evidenceFromTagLayer(
    {
      mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json',
      payload,
      annotations: {
        'dev.cosignproject.cosign/signature': sign('sha256', payload, key).toString('base64'),
        'dev.sigstore.cosign/certificate': await readFile(join(work, `${ca}-${ext}.pem`), 'utf8'),
      },
    },
    { description: `${ca}-${ext}` },
  );
  const authority = {
    kind: 'keyless',
    name: 'private-ca',
    identities: [{ subject: 'builder@example.com' }],
    caRoots: join(work, `${ca}.pem`),
    sct: 'ignore',
    tlog: 'ignore',
  } as Authority;
  return checkEvidence(evidence, authority, { digest: SUBJECT });
}

describe('extended key usage of keyless certificates', () => {
  it('codeSigning passes, and so does a certificate without the extension', async () => {
    expect((await check('ca', 'code')).ok).toBe(true);
    expect((await check('ca', 'none')).ok).toBe(true);
  });

  it('a leaf restricted to serverAuth/clientAuth is CERT_CHAIN_INVALID naming its usages', async () => {
    const r = await check('ca', 'server');
    expect(r).toMatchObject({ ok: false, code: 'CERT_CHAIN_INVALID', check: 'certificateChain' });
    expect(!r.ok && r.message).toMatch(/signing certificate is not allowed to sign code/);
    expect(!r.ok && r.actual).toBe('1.3.6.1.5.5.7.3.1, 1.3.6.1.5.5.7.3.2');
  });

  it('a CA restricted to serverAuth cannot vouch for a code-signing leaf', async () => {
    const r = await check('ca_server_only', 'code');
    expect(r).toMatchObject({ ok: false, code: 'CERT_CHAIN_INVALID' });
    expect(!r.ok && r.message).toMatch(/certificate 1 of its chain/);
  });
});

describe('a keyless certificate whose identity does not parse', () => {
  it('a leaf from the trusted CA whose SAN does not parse fails as a candidate, without throwing', async () => {
    const r = await check('ca', 'bad_san');
    expect(r).toMatchObject({ ok: false, code: 'EVIDENCE_MALFORMED', check: 'certificate' });
    expect(!r.ok && r.message).toMatch(/certificate does not parse/);
  });
});
