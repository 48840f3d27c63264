/**
 * Hostile key files, from the cosign key vectors mutated: encrypted cosign/sigstore private keys
 * (PEM armour, the JSON inside, the scrypt and secretbox parameters), public keys, and the
 * unencrypted keys import-key-pair reads. Every failure must be a SignError with a code; a key
 * file must never make sigil derive with parameters it did not choose (scrypt N is checked first).
 */
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, test } from 'vitest';
import { decryptCosignKey, parseEncryptedCosignKey } from '../../../src/sign/keys/encrypted-key.ts';
import { importKeyPair, loadPublicKey } from '../../../src/sign/keys/key-pair.ts';
import { decodePem } from '../../../src/sign/keys/pem.ts';
import { VECTORS_DIR } from '../../helpers/vectors.ts';
import { FuzzFigures, fuzz, mutatedBytes, mutatedJsonValue, mutatedText } from './fuzz-kit.ts';

const figures = new FuzzFigures('keys');
afterAll(() => figures.write());

const KEYS = join(VECTORS_DIR, 'cosign/keyfiles');
const read = (n: string) => readFileSync(join(KEYS, n), 'utf8');
const encrypted = ['cosign-label-hello.key', 'sigstore-label-hello.key', 'sigstore-label-emptypw-n65536.key'].map(read);
const publics = ['cosign-label-hello.pub', 'sigstore-label-emptypw-n65536.pub'].map(read);
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ed = generateKeyPairSync('ed25519');
const privates = [
  ec.privateKey.export({ type: 'sec1', format: 'pem' }).toString(),
  ec.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  rsa.privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(),
  ed.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
];

/** PEM text mutated as text, or its DER mutated and re-armoured (which reaches the DER parser). */
function mutatedPem(pem: string): fc.Arbitrary<string> {
  const block = decodePem(pem)!;
  const armour = (der: Uint8Array) =>
    `-----BEGIN ${block.type}-----\n${(
      Buffer.from(der)
        .toString('base64')
        .match(/.{1,64}/g) ?? []
    ).join('\n')}\n-----END ${block.type}-----\n`;
  return fc.oneof(mutatedText(pem, 3), mutatedBytes(block.bytes, 3).map(armour));
}

/** The JSON inside an encrypted key mutated field by field, armoured again. */
function mutatedEncryptedKey(pem: string): fc.Arbitrary<string> {
  const block = decodePem(pem)!;
  const doc = JSON.parse(block.bytes.toString()) as unknown;
  return mutatedJsonValue(doc).map(
    (d) =>
      `-----BEGIN ${block.type}-----\n${Buffer.from(JSON.stringify(d) ?? '').toString('base64')}\n-----END ${block.type}-----\n`,
  );
}

describe('key files', () => {
  test('parseEncryptedCosignKey: mutated encrypted cosign and sigstore keys', async () => {
    const input = fc.oneof(
      fc.constantFrom(...encrypted).chain(mutatedPem),
      fc.constantFrom(...encrypted).chain(mutatedEncryptedKey),
      fc.string({ maxLength: 300 }),
    );
    await fuzz(figures, 'encrypted private key (parse)', input, (pem) => parseEncryptedCosignKey(pem), {
      numRuns: 1500,
    });
  });

  test('decryptCosignKey: mutated ciphertext, nonce and salt under the real password (scrypt runs: few inputs)', async () => {
    // Only mutations that keep the parameters valid get as far as scrypt; each costs ~0.1-0.3 s.
    const input = fc.constantFrom(...encrypted.slice(0, 2)).chain(mutatedEncryptedKey);
    await fuzz(figures, 'encrypted private key (decrypt)', input, (pem) => decryptCosignKey(pem, 'hello'), {
      numRuns: 40,
      perInputMs: 5000,
    });
  });

  test('loadPublicKey: mutated PUBLIC KEY files, private keys and certificates given as public keys', async () => {
    const input = fc.oneof(
      fc.constantFrom(...publics).chain(mutatedPem),
      fc.constantFrom(...privates).chain(mutatedPem),
      fc.string({ maxLength: 300 }),
    );
    await fuzz(figures, 'public key', input, (pem) => loadPublicKey(pem), { numRuns: 1500 });
  });

  test('importKeyPair: mutated SEC1, PKCS#1 and PKCS#8 private keys', async () => {
    const input = fc.oneof(fc.constantFrom(...privates).chain(mutatedPem), fc.constantFrom(...publics));
    await fuzz(figures, 'private key import', input, (pem) => importKeyPair(pem), { numRuns: 1000 });
  });

  test('decodePem stays linear on many unterminated BEGIN lines', async () => {
    const input = fc.integer({ min: 1000, max: 20_000 }).map((n) => '-----BEGIN PUBLIC KEY-----\nAAAA\n'.repeat(n));
    await fuzz(figures, 'PEM armour (unterminated blocks)', input, (t) => loadPublicKey(t), {
      numRuns: 20,
      perInputMs: 1000,
    });
  });

  test('regression: a valid key after 1 MiB of unterminated BEGIN lines loads in well under a second (was 9 s)', () => {
    const junk = '-----BEGIN JUNK-----\nAAAA\n'.repeat(30_000);
    const started = performance.now();
    const key = loadPublicKey(junk + publics[0]!);
    expect(performance.now() - started).toBeLessThan(1000);
    expect(key.asymmetricKeyType).toBe('ec');
  });

  test('decodePem finds the same block as the single back-referencing regexp it replaced', () => {
    const OLD =
      /-----BEGIN ([\x21-\x2c\x2e-\x7e](?:[\x20-\x2c\x2e-\x7e]*[\x21-\x2c\x2e-\x7e])?)-----\r?\n([\s\S]*?)-----END \1-----/;
    const piece = fc.constantFrom(
      '-----BEGIN A-----\n',
      '-----BEGIN B-----\r\n',
      '-----BEGIN A B-----\n',
      '-----BEGIN A-----',
      '-----END A-----',
      '-----END B-----',
      '-----END A B-----',
      '------END A-----',
      'QUJD\n',
      'x: y\n\n',
      '\n',
      '-',
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 12 }), (pieces) => {
        const text = pieces.join('');
        const old = OLD.exec(text);
        const got = decodePem(text);
        const oldBlock = old === null ? undefined : decodePem(old[0]);
        expect(got).toEqual(oldBlock);
      }),
      { numRuns: 2000 },
    );
  });
});
