/**
 * The fault matrix (issue 7): every command run as the real CLI through the fault proxy, for
 * every fault, each cell either a success or a clean one-line failure, and afterwards, checked
 * directly against the registry, nothing half-written: every tag points at a manifest whose
 * blobs and children exist, and no signature or fallback-index entry written before was lost.
 *
 * Columns with a transient schedule whose fault a retry cures (latency, 5xx, 429, resets) must
 * succeed; damaged bytes (truncated, flipped) may fail, cleanly; a `verify` never passes for an
 * image without a valid signature, nor when every signature byte it read was damaged.
 *
 * The table is printed and written to test-results/fault-matrix.md.
 */
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { access, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyImage } from '../../src/oci/copy.ts';
import { openSource, openTarget } from '../../src/oci/source.ts';
import { keySigner } from '../../src/sign/signers/index.ts';
import { attestImage, signImage } from '../../src/workflows/sign-image.ts';
import { buildImage, dir, file } from '../filesystem/layered-image.ts';
import {
  type AppliedFault,
  type FaultProxy,
  type FaultRule,
  type ProxiedExchange,
  scheduleFaults,
  startFaultProxy,
} from '../harness/fault-proxy.ts';
import {
  assertRegistryConsistent,
  fallbackIndexEntries,
  registryTags,
  tagImageLayers,
} from '../harness/registry-consistency.ts';
import { startRegistry, type TestRegistry } from '../harness/registry.ts';
import { type CliResult, runSigil } from '../helpers/cli.ts';

const PASSWORD = 'fault-matrix-key-passphrase';
/** CLI runs at once: the cells mostly wait (on Retry-After, backoff, the proxy), the machine has two cores. */
const CONCURRENCY = 6;
const RESULTS = fileURLToPath(new URL('../../test-results/fault-matrix.md', import.meta.url));

type Selector = (method: string, path: string) => boolean;
const any: Selector = () => true;
const reads: Selector = (m) => m === 'GET' || m === 'HEAD';
const writes: Selector = (m) => m === 'POST' || m === 'PUT' || m === 'PATCH';
const puts: Selector = (m) => m === 'PUT';
const blobGets: Selector = (m, p) => m === 'GET' && p.includes('/blobs/sha256:');
/** Everything read but the subject's own manifest (`:1`): signatures, indexes, tag images, blobs. */
const attachmentGets: Selector = (m, p) => m === 'GET' && !p.endsWith('/manifests/1');

interface Column {
  name: string;
  /** Must the command succeed (a retry cures this fault)? */
  retryWins: boolean;
  /** Every read of the row's body selector damaged, for good. */
  persistentDamage?: boolean;
  rules: (row: Row) => FaultRule[];
}

const first = (n: number) => ({ first: n });

const COLUMNS: Column[] = [
  {
    name: 'latency 100 ms',
    retryWins: true,
    rules: () => [{ match: any, fault: 'latency:100', schedule: 'always' }],
  },
  {
    name: '5xx burst',
    retryWins: true,
    // 500, 502, 503 on the first three matching requests (each rule counts them all).
    rules: (row) =>
      ([500, 502, 503] as const).map((s, i) => ({
        match: row.statusSel,
        fault: `status:${s}` as AppliedFault,
        schedule: first(i + 1),
      })),
  },
  {
    name: '429 Retry-After: 1',
    retryWins: true,
    // For writers, the PUTs: an upload's PUT is not retried alone but restarts the upload.
    rules: (row) => [{ match: row.statusSel === writes ? puts : row.statusSel, fault: '429:1', schedule: first(2) }],
  },
  {
    name: 'reset before response, every 3rd',
    retryWins: true,
    // Spread over the whole run: every kind of request (upload POST and PUT, manifest and
    // fallback-index PUT, each read) meets a reset, and its retry (the next match) goes through.
    rules: (row) => [{ match: row.statusSel, fault: 'reset', schedule: { every: 3 } }],
  },
  {
    name: 'answer lost after the registry acted, every 3rd',
    retryWins: true,
    // The request reaches the registry (a PUT is applied, an upload committed), only the answer
    // is lost: the retry must cope with the work already being done.
    rules: (row) => [{ match: row.statusSel, fault: 'lost-answer', schedule: { every: 3 } }],
  },
  {
    name: 'reset mid-body',
    retryWins: true,
    rules: (row) => [{ match: row.bodySel, fault: 'drop-after:100', schedule: first(2) }],
  },
  {
    name: 'truncated body',
    retryWins: false,
    rules: (row) => [{ match: row.bodySel, fault: 'truncate', schedule: first(2) }],
  },
  {
    name: 'wrong bytes',
    retryWins: false,
    rules: (row) => [{ match: row.bodySel, fault: 'flip', schedule: first(2) }],
  },
  {
    name: 'truncated, persistent',
    retryWins: false,
    persistentDamage: true,
    rules: (row) => [{ match: row.bodySel, fault: 'truncate', schedule: 'always' }],
  },
  {
    name: 'wrong bytes, persistent',
    retryWins: false,
    persistentDamage: true,
    rules: (row) => [{ match: row.bodySel, fault: 'flip', schedule: 'always' }],
  },
];

interface Cell {
  row: Row;
  column: Column;
  /** Unique per cell, for repositories and directories. */
  slug: string;
  /** The proxy host(s) the command talks to. */
  host: string;
  dstHost: string;
  state: Record<string, unknown>;
}

interface Row {
  name: string;
  statusSel: Selector;
  bodySel: Selector;
  /** A second proxy (same faults) for the destination, so a copy reads and writes over the wire instead of mounting. */
  twoProxies?: boolean;
  /** Must fail whatever happens (an image without a valid signature). */
  mustFail?: boolean;
  prepare?: (cell: Cell) => Promise<void>;
  args: (cell: Cell) => string[];
  /** How this row's command reports a failure, when not as `sigil: error [CODE]: …` (the policy report). */
  failure?: (r: CliResult) => { code: string; message: string } | string;
  /** The row's invariants after the run; `r.code` may be anything the column allows. */
  check: (cell: Cell, r: CliResult) => Promise<void>;
}

let registry: TestRegistry;
let work: string;
let env: NodeJS.ProcessEnv;
let baseDigest: string;
let otherKey: ReturnType<typeof keySigner>;
const baselines = new Map<string, CliResult>();

/** Whatever names the proxy, as the direct run names the registry. */
function normalise(text: string, cell: Cell): string {
  return text.split(cell.host).join(registry.host).split(cell.dstHost).join(registry.host);
}

async function sha256File(path: string): Promise<string> {
  return `sha256:${createHash('sha256')
    .update(await readFile(path))
    .digest('hex')}`;
}

async function seed(repo: string): Promise<string> {
  const ref = `${registry.host}/${repo}:1`;
  await copyImage(await openSource(`${registry.host}/base/app:1`), await openTarget(ref));
  return ref;
}

const ROWS: Row[] = [
  {
    name: 'copy registry → registry',
    statusSel: writes,
    bodySel: blobGets,
    twoProxies: true,
    args: (c) => ['copy', '-q', `${c.host}/base/app:1`, `${c.dstHost}/m/copy-${c.slug}:1`],
    check: async (c, r) => {
      const head = await fetch(`${registry.url}/v2/m/copy-${c.slug}/manifests/1`, {
        method: 'HEAD',
        headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
      });
      if (r.code === 0) expect(head.headers.get('docker-content-digest')).toBe(baseDigest);
      else expect(head.status, 'a failed copy leaves no tag').toBe(404);
    },
  },
  {
    name: 'copy registry → OCI layout',
    statusSel: reads,
    bodySel: blobGets,
    args: (c) => ['copy', '-q', `${c.host}/base/app:1`, `oci-dir:${join(work, 'layouts', c.slug)}:app`],
    check: async (c, r) => {
      const out = join(work, 'layouts', c.slug);
      if (r.code !== 0) {
        await expect(access(out), 'a failed copy leaves no layout').rejects.toThrow();
        return;
      }
      const index = JSON.parse(await readFile(join(out, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
      expect(index.manifests.map((m) => m.digest)).toEqual([baseDigest]);
      const manifestPath = join(out, 'blobs', 'sha256', baseDigest.slice(7));
      const manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as {
        config: { digest: string };
        layers: { digest: string }[];
      };
      for (const d of [baseDigest, manifest.config.digest, ...manifest.layers.map((l) => l.digest)]) {
        expect(await sha256File(join(out, 'blobs', 'sha256', d.slice(7)))).toBe(d);
      }
    },
  },
  {
    name: 'sbom',
    statusSel: reads,
    bodySel: blobGets,
    args: (c) => ['sbom', '--no-cache', '-o', 'json', `${c.host}/base/app:1`],
    check: async (c, r) => {
      if (r.code === 0) expect(normalise(r.stdout, c)).toBe(baselines.get('sbom')!.stdout);
    },
  },
  {
    name: 'sign (key, referrers fallback tag)',
    statusSel: writes,
    bodySel: (m, p) => m === 'GET' && p.includes('/manifests/') && !p.endsWith('/manifests/1'),
    prepare: async (c) => {
      const ref = await seed(`m/sign-${c.slug}`);
      // Two signatures already there: one in the fallback index, one in the .sig tag.
      await signImage(ref, { signer: otherKey, witnesses: [], attach: 'referrers' });
      await signImage(ref, { signer: otherKey, witnesses: [], attach: 'tag' });
      c.state.index = await fallbackIndexEntries(registry.url, `m/sign-${c.slug}`, baseDigest);
      c.state.sig = await tagImageLayers(registry.url, `m/sign-${c.slug}`, `${baseDigest.replace(':', '-')}.sig`);
      expect(c.state.index).toHaveLength(1);
      expect(c.state.sig).toHaveLength(1);
    },
    args: (c) => [
      'sign',
      '-o',
      'json',
      '--key',
      join(work, 'cosign.key'),
      '--tlog-upload=false',
      `${c.host}/m/sign-${c.slug}:1`,
    ],
    check: async (c, r) => {
      const repo = `m/sign-${c.slug}`;
      const index = await fallbackIndexEntries(registry.url, repo, baseDigest);
      for (const d of c.state.index as string[]) expect(index, 'an earlier fallback-index entry is lost').toContain(d);
      expect(await tagImageLayers(registry.url, repo, `${baseDigest.replace(':', '-')}.sig`)).toEqual(c.state.sig);
      if (r.code === 0) {
        const out = JSON.parse(r.stdout) as { signatures: { manifest: string; via: string }[] };
        expect(out.signatures[0]!.via).toBe('fallback-tag');
        expect(index, 'the new signature is in the fallback index').toContain(out.signatures[0]!.manifest);
        expect(index).toHaveLength(2);
      }
    },
  },
  {
    name: 'attest (key, .att tag)',
    statusSel: writes,
    bodySel: (m, p) => m === 'GET' && p.includes('/manifests/') && !p.endsWith('/manifests/1'),
    prepare: async (c) => {
      const ref = await seed(`m/attest-${c.slug}`);
      await attestImage(ref, {
        signer: otherKey,
        witnesses: [],
        attach: 'tag',
        predicateType: 'https://example.test/earlier/v1',
        predicate: { earlier: true },
      });
      c.state.att = await tagImageLayers(registry.url, `m/attest-${c.slug}`, `${baseDigest.replace(':', '-')}.att`);
      expect(c.state.att).toHaveLength(1);
    },
    args: (c) => [
      'attest',
      '-o',
      'json',
      '--key',
      join(work, 'cosign.key'),
      '--tlog-upload=false',
      '--type',
      'https://example.test/matrix/v1',
      '--predicate',
      join(work, 'predicate.json'),
      '--attach',
      'tag',
      `${c.host}/m/attest-${c.slug}:1`,
    ],
    check: async (c, r) => {
      const repo = `m/attest-${c.slug}`;
      const tag = `${baseDigest.replace(':', '-')}.att`;
      const layers = await tagImageLayers(registry.url, repo, tag);
      for (const d of c.state.att as string[]) expect(layers, 'an earlier attestation is lost').toContain(d);
      if (r.code === 0) {
        const out = JSON.parse(r.stdout) as { signatures: { manifest: string; tag: string }[] };
        expect(out.signatures[0]!.tag).toBe(tag);
        expect(layers).toHaveLength(2);
        const head = await fetch(`${registry.url}/v2/${repo}/manifests/${tag}`, {
          method: 'HEAD',
          headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
        });
        expect(head.headers.get('docker-content-digest')).toBe(out.signatures[0]!.manifest);
      } else {
        expect(layers).toEqual(c.state.att);
      }
    },
  },
  {
    name: 'verify --key (signed)',
    statusSel: reads,
    bodySel: attachmentGets,
    args: (c) => ['verify', '--key', join(work, 'matrix.pub'), '--insecure-ignore-tlog', `${c.host}/base/app:1`],
    check: async (c, r) => {
      if (c.column.persistentDamage) expect(r.code, 'verify passed on damaged signature bytes').not.toBe(0);
      if (r.code === 0) expect(normalise(r.stdout, c)).toBe(baselines.get('verify --key (signed)')!.stdout);
    },
  },
  {
    name: 'verify --policy (key, signature + attestation)',
    statusSel: reads,
    bodySel: attachmentGets,
    args: (c) => ['verify', '-o', 'json', '--policy', join(work, 'policy.yaml'), `${c.host}/base/app:1`],
    failure: policyFailure,
    check: async (c, r) => {
      if (c.column.persistentDamage) expect(r.code, 'the policy allowed on damaged signature bytes').not.toBe(0);
      if (r.code === 0) {
        expect(normalise(r.stdout, c)).toBe(baselines.get('verify --policy (key, signature + attestation)')!.stdout);
      }
    },
  },
  {
    name: 'verify --key (not validly signed)',
    statusSel: reads,
    bodySel: attachmentGets,
    mustFail: true,
    args: (c) => ['verify', '--key', join(work, 'matrix.pub'), '--insecure-ignore-tlog', `${c.host}/base/unsigned:1`],
    check: async (_c, r) => {
      expect(r.code, 'verify passed for an image without a valid signature').not.toBe(0);
    },
  },
  {
    name: 'tree',
    statusSel: reads,
    bodySel: attachmentGets,
    args: (c) => ['tree', '-o', 'json', `${c.host}/base/app:1`],
    check: async (c, r) => {
      if (r.code === 0) expect(normalise(r.stdout, c)).toBe(baselines.get('tree')!.stdout);
    },
  },
];

/**
 * A policy decision other than allow, as the JSON DecisionReport states it: exit 1 (deny) or 2
 * (error), every reason with a code and a message, the first one taken as the cell's code.
 */
function policyFailure(r: CliResult): { code: string; message: string } | string {
  if (/^\s+at |TypeError|\[object Object\]/m.test(r.stderr)) return `an internal error leaks:\n${r.stderr}`;
  let report: { images?: { decision?: string }[] };
  try {
    report = JSON.parse(r.stdout) as typeof report;
  } catch {
    return `no JSON decision report:\n${r.stdout}\n${r.stderr}`;
  }
  const image = report.images?.[0];
  if (!image || image.decision === 'allow') return `exit ${r.code} with decision ${image?.decision}`;
  const reasons: { code: string; message: string }[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (typeof v === 'object' && v !== null) {
      const o = v as Record<string, unknown>;
      if (typeof o.code === 'string' && typeof o.message === 'string')
        reasons.push({ code: o.code, message: o.message });
      Object.values(o).forEach(walk);
    }
  };
  walk(image);
  const bad = reasons.find(
    (x) => !/^[A-Z_]+$/.test(x.code) || x.message === '' || /undefined|TypeError/.test(x.message),
  );
  if (reasons.length === 0 || bad) return `a ${image.decision} without a clear reason: ${JSON.stringify(bad ?? image)}`;
  // NOT_EVALUATED says only that evidence could not be fetched; the reason after it says why.
  return reasons.find((x) => x.code !== 'NOT_EVALUATED') ?? reasons[0]!;
}

/** `sigil: error [CODE]: message` as the one line a failure must be, or a reason it is not. */
function cleanFailure(r: CliResult): { code: string; message: string } | string {
  const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
  if (lines.some((l) => /^\s+at /.test(l))) return `a stack trace:\n${r.stderr}`;
  // verify's rejection, as cosign words it: a header naming the image, then one line per signature.
  if (/^Error: no matching signatures for \S+ \(sha256:[0-9a-f]{64}\):$/.test(lines[0] ?? '')) {
    const reasons = lines.slice(1);
    const bad = reasons.find((l) => !/^ {2}\[[A-Z_]+\] \S/.test(l) || /TypeError|undefined|\[object Object\]/.test(l));
    if (reasons.length === 0 || bad !== undefined) return `a rejection with an unclear reason: ${bad ?? '(none)'}`;
    return { code: /\[([A-Z_]+)\]/.exec(reasons[0]!)![1]!, message: reasons[0]! };
  }
  const errors = lines.filter((l) => l.startsWith('sigil: error'));
  if (errors.length !== 1) return `expected one "sigil: error" line, got ${errors.length}:\n${r.stderr}`;
  if (/TypeError|ReferenceError|RangeError|SyntaxError|undefined|\[object Object\]/.test(errors[0]!)) {
    return `an internal error leaks: ${errors[0]}`;
  }
  const m = /^sigil: error \[([A-Z_]+)\]: (.+)$/.exec(errors[0]!);
  if (!m) return `no [CODE] in: ${errors[0]}`;
  const [, code, message] = m as unknown as [string, string, string];
  if ((code === 'DIGEST_MISMATCH' || code === 'SIZE_MISMATCH') && !/sha256:[0-9a-f]{64}/.test(message)) {
    return `${code} without naming the digest: ${message}`;
  }
  return { code, message };
}

function label(row: Row, r: CliResult, faults: number, ms: number): string {
  const took = `${(ms / 1000).toFixed(1)} s`;
  if (r.code === 0) return `ok, ${faults} fault${faults === 1 ? '' : 's'} injected, ${took}`;
  const f = (row.failure ?? cleanFailure)(r);
  if (typeof f === 'string') return `exit ${r.code} UNCLEAN`;
  const digest = /sha256:([0-9a-f]{8})[0-9a-f]{56}/.exec(f.message)?.[1];
  return `exit ${r.code} ${f.code}${digest ? ` sha256:${digest}…` : ''}, ${faults} faults, ${took}`;
}

/** A function that runs what it is given at most `limit` at a time, in the order given. */
function limiter(limit: number): <T>(task: () => Promise<T>) => Promise<T> {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async (task) => {
    while (active >= limit) await new Promise<void>((resolve) => waiting.push(resolve));
    active++;
    try {
      return await task();
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
}

const table = new Map<string, Map<string, string>>();

beforeAll(async () => {
  registry = await startRegistry();
  work = await mkdtemp(join(tmpdir(), 'sigil-fault-matrix-'));
  await mkdir(join(work, 'layouts'));
  env = {
    DOCKER_CONFIG: join(work, 'docker'),
    XDG_CACHE_HOME: join(work, 'cache'),
    SOURCE_DATE_EPOCH: '1700000000',
    COSIGN_PASSWORD: PASSWORD,
  };
  // A small Debian-like image: a dpkg status file (two packages) and a ~96 KiB layer of random
  // bytes, big enough that a connection dropped after 100 bytes breaks it mid-way.
  const status = [
    'Package: base-files\nStatus: install ok installed\nVersion: 12.4\nArchitecture: amd64\n',
    'Package: tzdata\nStatus: install ok installed\nVersion: 2024a-0\nArchitecture: all\n',
  ].join('\n');
  const built = await buildImage([
    {
      entries: [
        dir('etc'),
        file('etc/os-release', 'ID=debian\nVERSION_ID="12"\nPRETTY_NAME="Debian GNU/Linux 12"\n'),
        dir('var'),
        dir('var/lib'),
        dir('var/lib/dpkg'),
        file('var/lib/dpkg/status', status),
      ],
    },
    { entries: [dir('opt'), file('opt/data.bin', randomBytes(96 * 1024))] },
  ]);
  await copyImage(await openSource(`oci-dir:${built.dir}`), await openTarget(`${registry.host}/base/app:1`));
  await rm(built.dir, { recursive: true, force: true });
  const head = await fetch(`${registry.url}/v2/base/app/manifests/1`, {
    method: 'HEAD',
    headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
  });
  baseDigest = head.headers.get('docker-content-digest')!;

  // The CLI signs with a cosign key file; what was signed before the runs (and what verify
  // checks) is signed in-process with `matrixKey`, whose public key is matrix.pub.
  const gen = runSigil(['generate-key-pair', '--output-key-prefix', join(work, 'cosign')], { env });
  await writeFile(join(work, 'predicate.json'), JSON.stringify({ matrix: true }));
  const matrix = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  await writeFile(join(work, 'matrix.pub'), matrix.publicKey.export({ type: 'spki', format: 'pem' }));
  await writeFile(
    join(work, 'policy.yaml'),
    [
      'apiVersion: sigil.dev/v1',
      'kind: Policy',
      'metadata:',
      '  name: matrix',
      'spec:',
      '  images:',
      '    - glob: "**"',
      '  authorities:',
      '    - name: matrix-key',
      '      key:',
      '        path: matrix.pub',
      '      tlog: ignore',
      '  signatures:',
      '    threshold: 1',
      '  attestations:',
      '    - name: base',
      '      predicateType: https://example.test/base/v1',
      '',
    ].join('\n'),
  );
  const matrixKey = keySigner(matrix.privateKey);
  otherKey = keySigner(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey);

  // base/app: signed with matrixKey (fallback index and .sig tag) and attested; base/unsigned:
  // the same image, signed only by another key.
  const app = `${registry.host}/base/app:1`;
  const signing = { signer: matrixKey, witnesses: [] };
  await signImage(app, { ...signing, attach: 'referrers' });
  await signImage(app, { ...signing, attach: 'tag' });
  await attestImage(app, { ...signing, attach: 'tag', predicateType: 'https://example.test/base/v1', predicate: {} });
  await signImage(await seed('base/unsigned'), { signer: otherKey, witnesses: [], attach: 'referrers' });

  // What each read-only command says without any fault in the way.
  const direct: Cell = {
    row: ROWS[0]!,
    column: COLUMNS[0]!,
    slug: 'direct',
    host: registry.host,
    dstHost: registry.host,
    state: {},
  };
  const readOnly = ROWS.filter((r) => ['sbom', 'tree'].includes(r.name) || r.name.startsWith('verify'));
  const runs = await Promise.all([gen, ...readOnly.map((row) => runSigil(row.args({ ...direct, row }), { env }))]);
  expect(runs[0]!.code, runs[0]!.stderr).toBe(0);
  readOnly.forEach((row, i) => {
    const r = runs[i + 1]!;
    baselines.set(row.name, r);
    if (row.mustFail) expect(r.code).not.toBe(0);
    else expect(r.code, r.stderr).toBe(0);
  });
  startAllCells();
}, 120_000);

afterAll(async () => {
  const lines = [
    `| command | ${COLUMNS.map((c) => c.name).join(' | ')} |`,
    `|---|${COLUMNS.map(() => '---').join('|')}|`,
    ...ROWS.map(
      (r) => `| ${r.name} | ${COLUMNS.map((c) => table.get(r.name)?.get(c.name) ?? 'not run').join(' | ')} |`,
    ),
  ];
  const md = `# Fault matrix\n\n${lines.join('\n')}\n`;
  console.log(md);
  await mkdir(join(RESULTS, '..'), { recursive: true });
  await writeFile(RESULTS, md);
  await registry?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

interface Outcome {
  cell: Cell;
  r: CliResult;
  faults: number;
  exchanges: ProxiedExchange[];
}

/** What a retry of this exchange looks like: the same request; for an upload's PUT (whose retry is a new upload), a PUT of the same digest. */
function operation(e: ProxiedExchange): string {
  const url = new URL(e.url, 'http://proxy');
  if (e.method === 'PUT' && url.pathname.includes('/blobs/uploads/'))
    return `PUT upload ${url.searchParams.get('digest')}`;
  return `${e.method} ${url.pathname}`;
}

/** Each 429 answer, with how long the client waited before trying that operation again. */
function retryAfterWaits(exchanges: ProxiedExchange[]): { url: string; waited: number | undefined }[] {
  const sorted = [...exchanges].sort((a, b) => a.at - b.at);
  return sorted
    .filter((e) => e.fault?.startsWith('429:'))
    .map((e) => {
      const again = sorted.find((x) => x.at > e.at && operation(x) === operation(e));
      return { url: `${e.method} ${e.url.split('?')[0]}`, waited: again && again.at - e.at };
    });
}

/** Runs one cell: its own proxy (or two) with the column's schedule, the row's setup, the CLI. */
async function runCell(row: Row, column: Column, slug: string): Promise<Outcome> {
  const fault = scheduleFaults(column.rules(row));
  const proxies: FaultProxy[] = [await startFaultProxy(registry.url, { fault })];
  if (row.twoProxies) proxies.push(await startFaultProxy(registry.url, { fault }));
  const cell: Cell = { row, column, slug, host: proxies[0]!.host, dstHost: proxies.at(-1)!.host, state: {} };
  try {
    await row.prepare?.(cell);
    const started = Date.now();
    const r = await runSigil(row.args(cell), { env });
    const ms = Date.now() - started;
    const exchanges = proxies.flatMap((p) => p.exchanges());
    const faults = exchanges.filter((e) => e.fault !== undefined).length;
    table.set(row.name, (table.get(row.name) ?? new Map<string, string>()).set(column.name, label(row, r, faults, ms)));
    return { cell, r, faults, exchanges };
  } finally {
    await Promise.all(proxies.map((p) => p.stop()));
  }
}

/** Every cell, started once the registry is set up, a few at a time; each row's test awaits its own. */
const outcomesByRow = new Map<Row, Promise<Outcome[]>>();

function startAllCells(): void {
  const limit = limiter(CONCURRENCY);
  for (const row of ROWS) {
    const mine = Promise.all(COLUMNS.map((column, i) => limit(() => runCell(row, column, `c${i}`))));
    mine.catch(() => {});
    outcomesByRow.set(row, mine);
  }
}

describe('the fault matrix: command x fault through the fault proxy', () => {
  for (const row of ROWS) {
    it(`${row.name}: every fault ends in success or a clean failure, nothing half-written`, async () => {
      const outcomes = await outcomesByRow.get(row)!;
      const problems: string[] = [];
      for (const { cell, r, faults, exchanges } of outcomes) {
        const where = `${row.name} x ${cell.column.name}`;
        try {
          expect(faults, `${where}: no fault was injected`).toBeGreaterThan(0);
          if (r.code !== 0) {
            const f = (row.failure ?? cleanFailure)(r);
            if (typeof f === 'string') throw new Error(`not a clean failure: ${f}`);
          }
          if (row.mustFail) {
            expect(r.code, `${where}: ${r.stderr}`).not.toBe(0);
            if (cell.column.retryWins) {
              // A cured fault fails the same way as no fault at all.
              const want = cleanFailure(baselines.get(row.name)!);
              const got = cleanFailure(r);
              expect(typeof got === 'string' ? got : got.code, where).toBe(typeof want === 'string' ? want : want.code);
            }
          } else if (cell.column.retryWins) {
            expect(r.code, `${where}: ${r.stderr}`).toBe(0);
          }
          if (r.code === 0) {
            // Retry-After: 1 was honoured: each rate-limited operation came back a second later, not sooner.
            for (const w of retryAfterWaits(exchanges)) {
              expect(w.waited, `${where}: ${w.url} retried after ${w.waited} ms`).toBeGreaterThanOrEqual(950);
            }
          }
          await row.check(cell, r);
        } catch (e) {
          problems.push(`${where}: ${(e as Error).message}`);
        }
      }
      await assertRegistryConsistent(registry.url);
      expect(problems).toEqual([]);
    }, 180_000);
  }

  it('the registry as a whole is consistent and every earlier tag is still there', async () => {
    const snapshot = await assertRegistryConsistent(registry.url);
    const tags = await registryTags(registry.url);
    expect(tags.get('base/app')?.get('1')).toBe(baseDigest);
    expect(snapshot.checked).toBeGreaterThan(ROWS.length * COLUMNS.length);
  });
});
