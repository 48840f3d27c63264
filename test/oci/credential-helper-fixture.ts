/**
 * Real docker-credential-* programs for tests: a working helper that keeps its entries in a JSON
 * file (the protocol of docker/docker-credential-helpers), and a broken one that fails the way a
 * locked keychain does and echoes its stdin, to prove secrets are redacted from errors.
 */
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface HelperFixture {
  /** Directory to put first on PATH. */
  readonly bin: string;
  /** The working helper's entries: ServerURL -> { Username, Secret }. */
  readonly storePath: string;
  /** One line per call: `<action> <ServerURL>` (never the secret). */
  readonly logPath: string;
  /** An env with the helpers first on PATH and the store/log paths set. */
  env(extra?: NodeJS.ProcessEnv): NodeJS.ProcessEnv;
  entries(): Promise<Record<string, { Username: string; Secret: string }>>;
  calls(): Promise<string[]>;
  seed(entries: Record<string, { Username: string; Secret: string }>): Promise<void>;
  cleanup(): Promise<void>;
}

const WORKING_HELPER = `
const fs = require('node:fs');
const [store, log] = [process.env.SIGILTEST_STORE, process.env.SIGILTEST_LOG];
const action = process.argv[2];
const input = fs.readFileSync(0, 'utf8');
const db = fs.existsSync(store) ? JSON.parse(fs.readFileSync(store, 'utf8')) : {};
const save = () => fs.writeFileSync(store, JSON.stringify(db));
const notFound = () => { process.stdout.write('credentials not found in native keychain\\n'); process.exit(1); };
const serverUrl = action === 'store' ? JSON.parse(input).ServerURL : input.trim();
fs.appendFileSync(log, action + ' ' + serverUrl + '\\n');
if (action === 'get') {
  const e = db[serverUrl];
  if (!e) notFound();
  process.stdout.write(JSON.stringify({ ServerURL: serverUrl, Username: e.Username, Secret: e.Secret }));
} else if (action === 'store') {
  const c = JSON.parse(input);
  if (!c.ServerURL) { process.stdout.write('no credentials server URL\\n'); process.exit(1); }
  db[c.ServerURL] = { Username: c.Username, Secret: c.Secret };
  save();
} else if (action === 'erase') {
  if (!db[serverUrl]) notFound();
  delete db[serverUrl];
  save();
} else if (action === 'list') {
  process.stdout.write(JSON.stringify(Object.fromEntries(Object.entries(db).map(([k, v]) => [k, v.Username]))));
} else {
  process.stdout.write('unknown action ' + action + '\\n');
  process.exit(1);
}
`;

// Fails like a locked keychain and echoes what it was sent (a badly written helper could).
const BROKEN_HELPER = `#!/bin/sh
input=$(cat)
echo "keychain is locked; input was: $input"
exit 3
`;

export async function makeHelperFixture(): Promise<HelperFixture> {
  const bin = await mkdtemp(join(tmpdir(), 'sigil-cred-helpers-'));
  const storePath = join(bin, 'store.json');
  const logPath = join(bin, 'calls.log');
  // The Node running the tests, by absolute path: PATH may not lead to a node in the helper's env.
  await writeFile(join(bin, 'docker-credential-sigiltest'), `#!${process.execPath}\n${WORKING_HELPER}`);
  await writeFile(join(bin, 'docker-credential-sigilbroken'), BROKEN_HELPER);
  await chmod(join(bin, 'docker-credential-sigiltest'), 0o755);
  await chmod(join(bin, 'docker-credential-sigilbroken'), 0o755);
  await writeFile(logPath, '');
  return {
    bin,
    storePath,
    logPath,
    env: (extra = {}) => ({
      PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}`,
      SIGILTEST_STORE: storePath,
      SIGILTEST_LOG: logPath,
      ...extra,
    }),
    entries: async () => {
      try {
        return JSON.parse(await readFile(storePath, 'utf8'));
      } catch {
        return {};
      }
    },
    calls: async () => (await readFile(logPath, 'utf8')).split('\n').filter((l) => l !== ''),
    seed: async (entries) => writeFile(storePath, JSON.stringify(entries)),
    cleanup: () => rm(bin, { recursive: true, force: true }),
  };
}
