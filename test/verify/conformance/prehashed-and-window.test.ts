/**
 * What verify-blob adds to @sigstore/verify: message signatures verified over a digest input
 * (prehashed ECDSA P-256/P-384, RSA), and the log-key validity window for entries proved by
 * checkpoint only (no SET), which sigstore-js never checks.
 */
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { signingBundle } from '../../../src/sign/bundle-builder.ts';
import { keySigner } from '../../../src/sign/signers/index.ts';
import { verifyBlob, verifyPrehashed, artifactArgument } from '../../../src/verify/verify-blob.ts';
import { trustRootWindowProblems } from '../../../src/verify/trust-window.ts';
import { caseAuthority } from './case-authority.ts';

const ASSETS = fileURLToPath(new URL('./assets/', import.meta.url));
const blob = Buffer.from('prehashed input test artifact\n');

describe('prehashed digest inputs', () => {
  for (const [curve, hash] of [
    ['P-256', 'sha256'],
    ['P-384', 'sha384'],
    ['P-384', 'sha256'],
  ] as const) {
    it(`ECDSA ${curve} over ${hash}: the right digest verifies, another does not`, () => {
      const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: curve });
      const sig = sign(hash, blob, privateKey);
      expect(verifyPrehashed(publicKey, createHash(hash).update(blob).digest(), sig)).toBe(true);
      expect(verifyPrehashed(publicKey, createHash(hash).update('other').digest(), sig)).toBe(false);
      const flipped = Buffer.from(sig);
      flipped[flipped.length - 1]! ^= 1;
      expect(verifyPrehashed(publicKey, createHash(hash).update(blob).digest(), flipped)).toBe(false);
    });
  }

  it('RSA PKCS#1 v1.5 over sha256', () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const sig = sign('sha256', blob, privateKey);
    expect(verifyPrehashed(publicKey, createHash('sha256').update(blob).digest(), sig)).toBe(true);
    expect(verifyPrehashed(publicKey, createHash('sha256').update('x').digest(), sig)).toBe(false);
  });

  it('a P-384 key bundle (cosign signs SHA-384 there) verifies from a sha384:HEX input, not from a wrong one', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    const bundle = await signingBundle({ signer: keySigner(privateKey), witnesses: [], kind: 'message', data: blob });
    const authority = { kind: 'key' as const, name: 'k', publicKey, tlog: 'ignore' as const };
    const hex = createHash('sha384').update(blob).digest('hex');
    // The bundle's messageDigest is SHA-256 (sigstore bundles name the artifact by sha256); the
    // signature is ECDSA-SHA384, so only the sha384 digest verifies it.
    const bad = await verifyBlob(bundle, { kind: 'digest', algorithm: 'sha384', hex: 'ab'.repeat(48) }, { authority });
    expect(bad.ok).toBe(false);
    const good = await verifyBlob(bundle, { kind: 'digest', algorithm: 'sha384', hex }, { authority });
    // A sha384 input cannot match the bundle's sha256 messageDigest hint: refused, with the reason.
    expect(good.ok ? 'ok' : good.code).toBe('SIGNATURE_INVALID');
  });

  it('a P-256 key bundle verifies from its sha256:HEX input through verifyBlob', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const bundle = await signingBundle({ signer: keySigner(privateKey), witnesses: [], kind: 'message', data: blob });
    const authority = { kind: 'key' as const, name: 'k', publicKey, tlog: 'ignore' as const };
    const hex = createHash('sha256').update(blob).digest('hex');
    const r = await verifyBlob(bundle, { kind: 'digest', algorithm: 'sha256', hex }, { authority });
    expect(r.ok, r.ok ? '' : r.message).toBe(true);
    const wrong = await verifyBlob(
      bundle,
      { kind: 'digest', algorithm: 'sha256', hex: '00'.repeat(32) },
      { authority },
    );
    expect(wrong.ok).toBe(false);
  });

  it('FILE_OR_DIGEST: a digest only when well-formed and not a path on disk', () => {
    const d = `sha256:${'a'.repeat(64)}`;
    expect(artifactArgument(d, () => false)).toBe('digest');
    expect(artifactArgument(d, () => true)).toBe('file');
    expect(artifactArgument(`sha256:${'a'.repeat(63)}`, () => false)).toBe('file');
    expect(artifactArgument('sha512:abc', () => false)).toBe('file');
  });
});

describe('trust-root validity window', () => {
  it('flags a window without start (sigstore-js reads it as the epoch); end null is open', () => {
    const root = JSON.parse(
      readFileSync(join(ASSETS, 'trust-root-tlog-missing-validity-start_fail', 'trusted_root.json'), 'utf8'),
    ) as Record<string, unknown>;
    expect(trustRootWindowProblems(root).join('\n')).toMatch(/tlogs\[\d+\].*validFor\.start is missing/);
    const ok = JSON.parse(readFileSync(join(ASSETS, 'rekor2-happy-path', 'trusted_root.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    expect(trustRootWindowProblems(ok)).toEqual([]);
  });

  it('a Rekor v2 entry (checkpoint, no SET) is refused when its log key was not valid at the TSA time', async () => {
    const src = join(ASSETS, 'rekor2-happy-path');
    const root = JSON.parse(readFileSync(join(src, 'trusted_root.json'), 'utf8')) as {
      tlogs: { logId: { keyId: string }; publicKey: { validFor: { start: string; end?: string } } }[];
    };
    const bundleJson = JSON.parse(readFileSync(join(src, 'bundle.sigstore.json'), 'utf8')) as {
      verificationMaterial: { tlogEntries: { logId: { keyId: string } }[] };
    };
    const logId = bundleJson.verificationMaterial.tlogEntries[0]!.logId.keyId;
    const tlog = root.tlogs.find((t) => t.logId.keyId === logId)!;
    expect(tlog).toBeDefined();
    const dir = mkdtempSync(join(tmpdir(), 'sigil-window-'));
    // The entry's TSA time is 2025-06-12T12:02:20Z (trust-root-tsa-validity-end-inclusive):
    // retire the log key a day before it.
    tlog.publicKey.validFor = { start: tlog.publicKey.validFor.start, end: '2025-06-11T00:00:00Z' };
    writeFileSync(join(dir, 'trusted_root.json'), JSON.stringify(root));
    const authority = caseAuthority(src);
    const bytes = readFileSync(join(ASSETS, 'a.txt'));
    const before = await verifyBlob(
      readFileSync(join(src, 'bundle.sigstore.json')),
      { kind: 'bytes', bytes },
      { authority },
    );
    expect(before.ok, before.ok ? '' : before.message).toBe(true);
    const after = await verifyBlob(
      readFileSync(join(src, 'bundle.sigstore.json')),
      { kind: 'bytes', bytes },
      { authority: { ...authority, trustedRoot: join(dir, 'trusted_root.json') } },
    );
    expect(after.ok).toBe(false);
    if (!after.ok) {
      expect(after.code).toBe('TLOG_ENTRY_INVALID');
      expect(after.check).toBe('tlog.validity');
    }
  });
});
