import { describe, expect, it } from 'vitest';
import { bcryptHash, bcryptVerify } from './bcrypt.ts';

describe('bcrypt', () => {
  // Vectors from OpenBSD's regress suite (as carried by jBCrypt) and from glibc's libxcrypt
  // `crypt()` (python3 crypt module), which also fixes the salt's re-encoded last character.
  it.each([
    ['', '$2a$06$DCq7YPn5Rq63x1Lad4cll.', '$2a$06$DCq7YPn5Rq63x1Lad4cll.TV4S6ytwfsfvkgY8jIucDrjc8deX1s.'],
    ['abc', '$2a$06$If6bvum7DFjUnE9p2uDeDu', '$2a$06$If6bvum7DFjUnE9p2uDeDu0YHzrHM6tf.iqN8.yx.jNN1ILEf7h0i'],
    ['pw', '$2b$05$abcdefghijklmnopqrstuu', '$2b$05$abcdefghijklmnopqrstuuHIrMEWpUCQe2YqFR3sXwQ75u4od..9q'],
    [
      'pässwörd-with-üñíçødé',
      '$2b$04$0123456789abcdefghijkl',
      '$2b$04$0123456789abcdefghijkehOIXgHWAcZmanADnh3mQpW8rxXfiaL6',
    ],
    // Past 72 bytes the key is cut, so this equals the hash of the first 72 'a's.
    ['a'.repeat(80), '$2b$04$0123456789abcdefghijkl', '$2b$04$0123456789abcdefghijkeLttf6HPvpDBDwoSj1F7RVQxUmVb.azu'],
  ])('hashes %j with salt %s as reference implementations do', (password, setting, expected) => {
    const [, version, cost, salt] = setting.split('$');
    expect(bcryptHash(password, { version: version as '2a' | '2b', cost: Number(cost), salt: salt! })).toBe(expected);
  });

  it('makes $2y$ hashes with a random salt that verify only the right password', () => {
    const a = bcryptHash('secret');
    const b = bcryptHash('secret');
    expect(a).toMatch(/^\$2y\$04\$[./A-Za-z0-9]{53}$/);
    expect(a).not.toBe(b);
    expect(bcryptVerify('secret', a)).toBe(true);
    expect(bcryptVerify('Secret', a)).toBe(false);
    expect(bcryptVerify('secret', 'not a hash')).toBe(false);
  });

  it('rejects costs outside 4..31', () => {
    expect(() => bcryptHash('x', { cost: 3 })).toThrow(RangeError);
  });
});
