import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { assertDigest, DigestVerifier, isDigest, sha256, verifyBytes } from '../../src/oci/digest.ts';
import { OciError } from '../../src/oci/errors.ts';

async function drain(data: Buffer[], expected: string, size?: number): Promise<number> {
  const v = new DigestVerifier(expected, { ...(size === undefined ? {} : { size }), what: 'layer test' });
  let n = 0;
  await pipeline(Readable.from(data), v, async (src) => {
    for await (const c of src) n += (c as Buffer).length;
  });
  return n;
}

describe('digests', () => {
  it('accepts only well-formed sha256/sha512 digests', () => {
    expect(isDigest(sha256('x'))).toBe(true);
    expect(isDigest(`sha512:${'a'.repeat(128)}`)).toBe(true);
    for (const bad of [
      'sha256:abc',
      `sha256:${'A'.repeat(64)}`,
      `md5:${'a'.repeat(32)}`,
      '',
      `sha256:${'a'.repeat(65)}`,
    ]) {
      expect(isDigest(bad)).toBe(false);
      expect(() => assertDigest(bad)).toThrow(OciError);
    }
  });

  it('verifyBytes names what failed and both digests', () => {
    const data = Buffer.from('hello');
    expect(() => verifyBytes(data, sha256(data), 'x')).not.toThrow();
    const wrong = sha256('other');
    expect(() => verifyBytes(data, wrong, 'manifest m')).toThrow(
      /manifest m: content digest sha256:[0-9a-f]{64} does not match expected/,
    );
  });

  it('streams content through unchanged and checks it, for any chunking', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.uint8Array({ maxLength: 2000 }), { maxLength: 20 }), async (parts) => {
        const chunks = parts.map((p) => Buffer.from(p));
        const whole = Buffer.concat(chunks);
        expect(await drain(chunks, sha256(whole), whole.length)).toBe(whole.length);
        if (whole.length > 0) {
          const flipped = Buffer.from(whole);
          flipped[0] = flipped[0]! ^ 1;
          await expect(drain([flipped], sha256(whole), whole.length)).rejects.toMatchObject({
            code: 'DIGEST_MISMATCH',
          });
        }
      }),
      { numRuns: 50 },
    );
  });

  it('fails on short and long content with SIZE_MISMATCH before hashing further', async () => {
    const data = Buffer.from('0123456789');
    await expect(drain([data.subarray(0, 5)], sha256(data), 10)).rejects.toMatchObject({ code: 'SIZE_MISMATCH' });
    await expect(drain([data, Buffer.from('x')], sha256(data), 10)).rejects.toMatchObject({ code: 'SIZE_MISMATCH' });
  });

  it('continues a hash from an offset (Range resume)', async () => {
    const data = Buffer.from('abcdefghij');
    const hash = createHash('sha256').update(data.subarray(0, 4));
    const v = new DigestVerifier(sha256(data), { size: 10, hash, offset: 4 });
    await pipeline(Readable.from([data.subarray(4)]), v, async (s) => {
      for await (const _ of s);
    });
    expect(v.bytes).toBe(10);
  });
});
