/**
 * The vendored sigstore-conformance bundle-verify cases in both input forms of the client
 * protocol (cli_protocol.md, `verify-bundle ... FILE_OR_sha256:HEX`): the artifact's bytes, and
 * `sha256:HEX` of those bytes, as the suite passes it. Every case runs both ways: for a DSSE
 * bundle the digest is matched against the statement's subjects, for a message signature it is
 * the prehashed input of the signature check. Both forms must give the suite's answer.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { digestInput, verifyBlob, type BlobInput } from '../../../src/verify/verify-blob.ts';
import { ASSETS, caseAuthority } from './case-authority.ts';

const cases = readdirSync(ASSETS, { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name)
  .sort();

type Form = 'file' | 'digest';
const tally: Record<Form, { pass: number; refused: number; wrong: string[] }> = {
  file: { pass: 0, refused: 0, wrong: [] },
  digest: { pass: 0, refused: 0, wrong: [] },
};

async function run(dir: string, form: Form): Promise<{ ok: boolean; why: string }> {
  const artifactPath = existsSync(join(dir, 'artifact')) ? join(dir, 'artifact') : join(ASSETS, 'a.txt');
  const bytes = readFileSync(artifactPath);
  const input: BlobInput =
    form === 'file'
      ? { kind: 'bytes', bytes }
      : digestInput(`sha256:${createHash('sha256').update(bytes).digest('hex')}`);
  try {
    const r = await verifyBlob(readFileSync(join(dir, 'bundle.sigstore.json')), input, {
      authority: caseAuthority(dir),
    });
    return { ok: r.ok, why: r.ok ? r.checks.join(',') : `[${r.code}] ${r.check}: ${r.message}` };
  } catch (err) {
    return { ok: false, why: `threw ${(err as Error).message}` };
  }
}

describe('sigstore-conformance bundle-verify cases, artifact file and sha256:HEX digest', () => {
  for (const name of cases) {
    const expectPass = !name.endsWith('_fail');
    for (const form of ['file', 'digest'] as const) {
      it(`${name} (${form}): ${expectPass ? 'verifies' : 'is refused'}`, async () => {
        const { ok, why } = await run(join(ASSETS, name), form);
        if (ok === expectPass) tally[form][ok ? 'pass' : 'refused']++;
        else tally[form].wrong.push(name);
        expect(ok, why).toBe(expectPass);
      });
    }
  }
  afterAll(() => {
    for (const form of ['file', 'digest'] as const) {
      const t = tally[form];
      console.log(
        `conformance ${form} form: ${t.pass + t.refused}/${cases.length} as the suite expects ` +
          `(${t.pass} verify, ${t.refused} refused)${t.wrong.length ? `; wrong: ${t.wrong.join(', ')}` : ''}`,
      );
    }
  });
});
