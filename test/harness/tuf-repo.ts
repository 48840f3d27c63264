import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { canonicalize } from '@tufjs/canonical-json';
import { Key, Metadata, MetaFile, Root, Signature, Snapshot, TargetFile, Targets, Timestamp } from '@tufjs/models';
import { serveLoopback, type LoopbackServer } from './http-server.ts';

/**
 * A real TUF repository laid out as Sigstore's (consistent snapshots: `N.root.json`,
 * `timestamp.json`, `N.snapshot.json`, `N.targets.json`, `targets/<sha256>.<name>`), signed with
 * fresh ed25519 keys and served on 127.0.0.1, so tuf-js checks every signature, version, expiry
 * and hash as against tuf-repo-cdn.sigstore.dev. Tests rotate the root, publish, expire and tamper.
 */
export interface TufRepo {
  /** Base URL, `http://127.0.0.1:PORT`: what `--mirror` takes. */
  mirror: string;
  /** The `N.root.json` bytes as served (default version 1): a client's initial root. */
  root(version?: number): Buffer;
  rootVersion(): number;
  /** Publishes a target: new targets, snapshot and timestamp versions, signed by the current keys. */
  publish(name: string, bytes: Buffer | string, opts?: { timestampExpires?: Date }): void;
  /**
   * Root version N+1 with fresh keys for every role, signed by the new root key and (unless
   * `signedByOld: false`, an illegitimate rotation) the old one; then republishes the rest with the new keys.
   */
  rotateRoot(opts?: { signedByOld?: boolean }): void;
  /** Serves `bytes` where the current `name` target is expected, while targets.json keeps the true hash. */
  tamperTarget(name: string, bytes: Buffer | string): void;
  /** Request paths in order. */
  requests: string[];
  stop(): Promise<void>;
}

interface Signer {
  key: Key;
  privateKey: KeyObject;
}

const ROLES = ['root', 'targets', 'snapshot', 'timestamp'] as const;
type Role = (typeof ROLES)[number];

function newSigner(): Signer {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url');
  const fields = { keytype: 'ed25519', scheme: 'ed25519', keyval: { public: raw.toString('hex') } };
  // The key ID is the sha256 of the key's canonical JSON, as the TUF spec (and Sigstore's repo) has it.
  const keyID = createHash('sha256').update(canonicalize(fields)).digest('hex');
  return {
    key: new Key({ keyID, keyType: fields.keytype, scheme: fields.scheme, keyVal: fields.keyval }),
    privateKey,
  };
}

function signedBytes<T extends Root | Targets | Snapshot | Timestamp>(signed: T, signers: Signer[]): Buffer {
  const md = new Metadata<T>(signed);
  for (const s of signers) {
    md.sign((data) => new Signature({ keyID: s.key.keyID, sig: sign(null, data, s.privateKey).toString('hex') }));
  }
  return Buffer.from(JSON.stringify(md.toJSON()));
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
/** TUF dates are whole seconds. */
const tufDate = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');
const inADay = () => new Date(Date.now() + 86_400_000);

export async function startTufRepo(): Promise<TufRepo> {
  const files = new Map<string, Buffer>();
  const targets = new Map<string, Buffer>();
  const roots: Buffer[] = [];
  const requests: string[] = [];
  let signers = Object.fromEntries(ROLES.map((r) => [r, newSigner()])) as Record<Role, Signer>;
  let version = 0; // targets, snapshot and timestamp move together

  function rootMetadata(v: number, s: Record<Role, Signer>): Root {
    const root = new Root({ version: v, specVersion: '1.0.31', expires: tufDate(inADay()), consistentSnapshot: true });
    for (const role of ROLES) root.addKey(s[role].key, role);
    return root;
  }

  function republish(timestampExpires = inADay()): void {
    version += 1;
    const expires = tufDate(inADay());
    const t = new Targets({ version, specVersion: '1.0.31', expires });
    for (const [name, bytes] of targets) {
      t.addTarget(new TargetFile({ path: name, length: bytes.length, hashes: { sha256: sha256(bytes) } }));
      files.set(`/targets/${sha256(bytes)}.${name}`, bytes);
    }
    const targetsBytes = signedBytes(t, [signers.targets]);
    files.set(`/${version}.targets.json`, targetsBytes);
    const snapshot = new Snapshot({
      version,
      specVersion: '1.0.31',
      expires,
      meta: { 'targets.json': new MetaFile({ version }) },
    });
    const snapshotBytes = signedBytes(snapshot, [signers.snapshot]);
    files.set(`/${version}.snapshot.json`, snapshotBytes);
    const timestamp = new Timestamp({
      version,
      specVersion: '1.0.31',
      expires: tufDate(timestampExpires),
      snapshotMeta: new MetaFile({ version, length: snapshotBytes.length, hashes: { sha256: sha256(snapshotBytes) } }),
    });
    files.set('/timestamp.json', signedBytes(timestamp, [signers.timestamp]));
  }

  const first = signedBytes(rootMetadata(1, signers), [signers.root]);
  roots.push(first);
  files.set('/1.root.json', first);

  const server: LoopbackServer = await serveLoopback((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    requests.push(path);
    const body = files.get(path);
    if (!body) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length }).end(body);
  });

  return {
    mirror: server.origin,
    root: (v = 1) => roots[v - 1]!,
    rootVersion: () => roots.length,
    publish(name, bytes, opts = {}) {
      targets.set(name, Buffer.from(bytes));
      republish(opts.timestampExpires);
    },
    rotateRoot(opts = {}) {
      const next = Object.fromEntries(ROLES.map((r) => [r, newSigner()])) as Record<Role, Signer>;
      const v = roots.length + 1;
      const by = opts.signedByOld === false ? [next.root] : [signers.root, next.root];
      const bytes = signedBytes(rootMetadata(v, next), by);
      roots.push(bytes);
      files.set(`/${v}.root.json`, bytes);
      signers = next;
      republish();
    },
    tamperTarget(name, bytes) {
      const real = targets.get(name);
      if (!real) throw new Error(`no target ${name}`);
      files.set(`/targets/${sha256(real)}.${name}`, Buffer.from(bytes));
    },
    requests,
    stop: () => server.stop(),
  };
}
