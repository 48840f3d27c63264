/**
 * Strict loading of policy folders (POLICY.md §1–§2, §7): YAML 1.2 core schema, unique keys,
 * no unknown fields, every glob/regexp/CEL compiled now, so evaluation never meets a malformed
 * policy. Every problem is a PolicyLoadError naming file, line and field path.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { LineCounter, parseAllDocuments, type Document } from 'yaml';
import { PREDICATE_TYPES } from '../../sign/payloads/in-toto.ts';
import type { IdentityMatcher, TlogRequirement } from '../authority.ts';
import { VerifyError } from '../errors.ts';
import { CelLoadError, compileCondition } from './cel.ts';
import { GlobError, compileGlob, type CompiledGlob } from './glob.ts';
import type {
  AttestationRequirement,
  DiscoveryScheme,
  LintWarning,
  Policy,
  PolicyAuthority,
  PolicySet,
  PolicySettings,
  PolicyTest,
  PolicyTestCase,
} from './model.ts';
import { RegExpError, compileRegExp, hasUnescapedHostDot, isUnanchored } from './regexp.ts';

export const API_VERSION = 'sigil.dev/v1';

/** Fulcio extension claims by sigstore-go name (POLICY.md §2.2 table). */
export const CLAIM_KEYS = [
  'buildSignerURI',
  'buildSignerDigest',
  'runnerEnvironment',
  'sourceRepositoryURI',
  'sourceRepositoryDigest',
  'sourceRepositoryRef',
  'sourceRepositoryIdentifier',
  'sourceRepositoryOwnerURI',
  'sourceRepositoryOwnerIdentifier',
  'buildConfigURI',
  'buildConfigDigest',
  'buildTrigger',
  'runInvocationURI',
  'sourceRepositoryVisibilityAtSigning',
  'deploymentEnvironment',
  'githubWorkflowTrigger',
  'githubWorkflowSHA',
  'githubWorkflowName',
  'githubWorkflowRepository',
  'githubWorkflowRef',
] as const;

const NAME_RE = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const GITHUB_ISSUER = 'https://token.actions.githubusercontent.com';

export class PolicyLoadError extends VerifyError {
  override name = 'PolicyLoadError';
  readonly file: string;
  readonly line: number;
  readonly path: string;
  constructor(file: string, line: number, path: string, message: string, options?: ErrorOptions) {
    super('POLICY_INVALID', `${file}:${line}: ${path ? `${path}: ` : ''}${message}`, options);
    this.file = file;
    this.line = line;
    this.path = path;
  }
}

type Path = (string | number)[];

/** One YAML document being read: values from toJS(), lines from the node at the same path. */
class Reader {
  constructor(
    readonly file: string,
    readonly dir: string,
    private readonly doc: Document,
    private readonly lines: LineCounter,
    readonly warnings: LintWarning[],
  ) {}

  line(path: Path): number {
    for (let n = path.length; n >= 0; n--) {
      const node = n === 0 ? this.doc.contents : this.doc.getIn(path.slice(0, n), true);
      const range = (node as { range?: [number, number, number] } | null)?.range;
      if (range) return this.lines.linePos(range[0]).line;
    }
    return 1;
  }

  fail(path: Path, message: string, cause?: unknown): never {
    throw new PolicyLoadError(this.file, this.line(path), fmt(path), message, cause ? { cause } : undefined);
  }

  warn(path: Path, message: string): void {
    this.warnings.push({ file: this.file, line: this.line(path), path: fmt(path), message });
  }

  map(v: unknown, path: Path, allowed: readonly string[], required: readonly string[] = []): Record<string, unknown> {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) this.fail(path, `must be a mapping, got ${kind(v)}`);
    const m = v as Record<string, unknown>;
    for (const k of Object.keys(m)) {
      if (!allowed.includes(k)) this.fail([...path, k], `unknown field "${k}" (allowed: ${allowed.join(', ')})`);
    }
    for (const k of required) if (m[k] === undefined) this.fail(path, `missing required field "${k}"`);
    return m;
  }

  str(v: unknown, path: Path): string {
    if (typeof v !== 'string') this.fail(path, `must be a string, got ${kind(v)}`);
    return v;
  }

  optStr(v: unknown, path: Path): string | undefined {
    return v === undefined ? undefined : this.str(v, path);
  }

  list(v: unknown, path: Path, min = 0): unknown[] {
    if (!Array.isArray(v)) this.fail(path, `must be a list, got ${kind(v)}`);
    if (v.length < min) this.fail(path, `must have at least ${min} entr${min === 1 ? 'y' : 'ies'}`);
    return v;
  }

  oneOf<T extends string>(v: unknown, path: Path, values: readonly T[], dflt: T): T {
    if (v === undefined) return dflt;
    const s = this.str(v, path);
    if (!(values as readonly string[]).includes(s)) this.fail(path, `must be one of ${values.join(' | ')}, got "${s}"`);
    return s as T;
  }
}

function fmt(path: Path): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

function kind(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v} ${JSON.stringify(v)}`;
}

/** Every `*.yaml`/`*.yml` under `path` in byte order of the relative path, or `path` itself. */
export function policyFiles(path: string): string[] {
  let st;
  try {
    st = statSync(path);
  } catch (err) {
    throw new VerifyError('POLICY_UNREADABLE', `${path}: ${(err as Error).message}`, { cause: err });
  }
  if (st.isFile()) return [path];
  if (!st.isDirectory()) throw new VerifyError('POLICY_UNREADABLE', `${path}: not a file or folder`);
  const found: string[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && /\.ya?ml$/.test(e.name)) found.push(p);
    }
  };
  walk(path);
  return found.sort((a, b) => Buffer.compare(Buffer.from(relative(path, a)), Buffer.from(relative(path, b))));
}

/** Load a policy file or folder completely; throws PolicyLoadError (POLICY_INVALID) on the first problem. */
export function loadPolicies(path: string): PolicySet {
  const files = policyFiles(path);
  const set: PolicySet = { policies: [], settings: { noMatch: 'deny' }, tests: [], warnings: [] };
  let settingsSeen: { file: string } | undefined;
  const names = new Map<string, string>();
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new VerifyError('POLICY_UNREADABLE', `${file}: ${(err as Error).message}`, { cause: err });
    }
    for (const doc of parsePolicyText(text, file, set.warnings)) {
      if (doc.kind === 'Policy') {
        const prev = names.get(doc.policy.name);
        if (prev !== undefined) {
          throw new PolicyLoadError(
            file,
            doc.policy.line,
            'metadata.name',
            `duplicate policy name "${doc.policy.name}" (also in ${prev})`,
          );
        }
        names.set(doc.policy.name, file);
        set.policies.push(doc.policy);
      } else if (doc.kind === 'PolicySettings') {
        if (settingsSeen) {
          throw new PolicyLoadError(file, doc.line, 'kind', `a second PolicySettings (first in ${settingsSeen.file})`);
        }
        settingsSeen = { file };
        set.settings = doc.settings;
      } else {
        set.tests.push(doc.test);
      }
    }
  }
  return set;
}

export type LoadedDocument =
  | { kind: 'Policy'; policy: Policy }
  | { kind: 'PolicySettings'; settings: PolicySettings; line: number }
  | { kind: 'PolicyTest'; test: PolicyTest };

/** Parse the documents of one file (named `file` in errors; relative paths resolve against its folder). */
export function parsePolicyText(text: string, file: string, warnings: LintWarning[] = []): LoadedDocument[] {
  const lines = new LineCounter();
  const docs = parseAllDocuments(text, {
    lineCounter: lines,
    version: '1.2',
    schema: 'core',
    uniqueKeys: true,
    strict: true,
    prettyErrors: false,
  });
  const list = Array.isArray(docs) ? docs : [];
  if (!Array.isArray(docs)) {
    // parseAllDocuments returns an EmptyStream for an empty file.
    return [];
  }
  const out: LoadedDocument[] = [];
  for (const doc of list) {
    const err = doc.errors[0];
    if (err) {
      const line = err.linePos?.[0]?.line ?? lines.linePos(err.pos[0]).line;
      throw new PolicyLoadError(file, line, '', `YAML: ${err.message.split('\n')[0]}`);
    }
    if (doc.contents === null) continue;
    const r = new Reader(file, dirname(resolve(file)), doc, lines, warnings);
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (err) {
      // yaml throws a plain ReferenceError when the alias cap stops an alias bomb.
      throw new PolicyLoadError(file, r.line([]), '', `YAML: ${(err as Error).message}`, { cause: err });
    }
    // An empty document (a trailing `---`, comments only) declares nothing.
    if (value === null || value === undefined) continue;
    const top = r.map(value, [], ['apiVersion', 'kind', 'metadata', 'spec'], ['apiVersion', 'kind']);
    if (top['apiVersion'] !== API_VERSION) {
      r.fail(['apiVersion'], `must be "${API_VERSION}", got ${kind(top['apiVersion'])}`);
    }
    const k = r.str(top['kind'], ['kind']);
    if (k === 'Policy') out.push({ kind: 'Policy', policy: readPolicy(r, top) });
    else if (k === 'PolicySettings') {
      const spec = r.map(top['spec'] ?? {}, ['spec'], ['noMatch']);
      if (top['metadata'] !== undefined) r.map(top['metadata'], ['metadata'], ['name', 'description']);
      out.push({
        kind: 'PolicySettings',
        settings: { noMatch: r.oneOf(spec['noMatch'], ['spec', 'noMatch'], ['deny', 'warn', 'allow'], 'deny'), file },
        line: r.line(['kind']),
      });
    } else if (k === 'PolicyTest') out.push({ kind: 'PolicyTest', test: readTest(r, top) });
    else r.fail(['kind'], `unknown kind "${k}" (Policy, PolicySettings or PolicyTest)`);
  }
  return out;
}

function readMetadata(r: Reader, top: Record<string, unknown>): { name: string; description?: string } {
  const meta = r.map(top['metadata'], ['metadata'], ['name', 'description'], ['name']);
  const name = r.str(meta['name'], ['metadata', 'name']);
  if (!NAME_RE.test(name)) r.fail(['metadata', 'name'], `"${name}" must match [a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?`);
  const description = r.optStr(meta['description'], ['metadata', 'description']);
  return description === undefined ? { name } : { name, description };
}

function readGlobs(r: Reader, v: unknown, path: Path, min: number): CompiledGlob[] {
  return r.list(v, path, min).map((entry, i) => {
    const m = r.map(entry, [...path, i], ['glob'], ['glob']);
    const pattern = r.str(m['glob'], [...path, i, 'glob']);
    let g: CompiledGlob;
    try {
      g = compileGlob(pattern);
    } catch (err) {
      if (err instanceof GlobError) r.fail([...path, i, 'glob'], err.message);
      throw err;
    }
    if (g.registryImplied)
      r.warn([...path, i, 'glob'], `glob "${pattern}" names no registry: it matches ${g.expanded}`);
    if (g.doubleStarInsideSegment) {
      r.warn([...path, i, 'glob'], `glob "${pattern}": "**" not at a segment boundary also matches across "/"`);
    }
    return g;
  });
}

const SPEC_FIELDS = [
  'mode',
  'images',
  'exclude',
  'requireDigest',
  'signatureRepository',
  'discovery',
  'authorities',
  'signatures',
  'attestations',
] as const;

function readPolicy(r: Reader, top: Record<string, unknown>): Policy {
  const meta = readMetadata(r, top);
  const spec = r.map(top['spec'], ['spec'], SPEC_FIELDS, ['images', 'authorities']);
  const mode = r.oneOf(spec['mode'], ['spec', 'mode'], ['enforce', 'warn', 'audit'], 'enforce');
  if (mode !== 'enforce') r.warn(['spec', 'mode'], `mode ${mode}: failures do not block; switch to enforce when ready`);
  const images = readGlobs(r, spec['images'], ['spec', 'images'], 1);
  const exclude = spec['exclude'] === undefined ? [] : readGlobs(r, spec['exclude'], ['spec', 'exclude'], 0);
  let requireDigest = false;
  if (spec['requireDigest'] !== undefined) {
    if (typeof spec['requireDigest'] !== 'boolean') r.fail(['spec', 'requireDigest'], `must be true or false`);
    requireDigest = spec['requireDigest'];
  }
  const signatureRepository = r.optStr(spec['signatureRepository'], ['spec', 'signatureRepository']);
  let discovery: DiscoveryScheme[] = ['referrers', 'tags'];
  if (spec['discovery'] !== undefined) {
    discovery = r
      .list(spec['discovery'], ['spec', 'discovery'], 1)
      .map((d, i) => r.oneOf(d, ['spec', 'discovery', i], ['referrers', 'tags'] as const, 'referrers'));
  }
  const authorities = r
    .list(spec['authorities'], ['spec', 'authorities'], 1)
    .map((a, i) => readAuthority(r, a, ['spec', 'authorities', i]));
  const seen = new Set<string>();
  authorities.forEach((a, i) => {
    if (seen.has(a.name)) r.fail(['spec', 'authorities', i, 'name'], `duplicate authority name "${a.name}"`);
    seen.add(a.name);
  });
  let threshold = 1;
  if (spec['signatures'] !== undefined) {
    const sig = r.map(spec['signatures'], ['spec', 'signatures'], ['threshold']);
    if (sig['threshold'] !== undefined) {
      const t = sig['threshold'];
      if (typeof t !== 'number' || !Number.isInteger(t) || t < 0) {
        r.fail(['spec', 'signatures', 'threshold'], `must be a non-negative integer, got ${kind(t)}`);
      }
      threshold = t;
    }
  }
  if (threshold > authorities.length) {
    r.fail(
      ['spec', 'signatures', 'threshold'],
      `threshold ${threshold} is more than the ${authorities.length} authorit${authorities.length === 1 ? 'y' : 'ies'} of this policy`,
    );
  }
  const attestations =
    spec['attestations'] === undefined
      ? []
      : r
          .list(spec['attestations'], ['spec', 'attestations'])
          .map((a, i) => readAttestation(r, a, ['spec', 'attestations', i], authorities));
  const attNames = new Set<string>();
  attestations.forEach((a, i) => {
    if (attNames.has(a.name)) r.fail(['spec', 'attestations', i, 'name'], `duplicate attestation name "${a.name}"`);
    attNames.add(a.name);
  });
  if (threshold === 0 && attestations.length === 0) {
    r.fail(['spec', 'signatures', 'threshold'], 'threshold 0 requires at least one attestation entry');
  }
  if (threshold > 1) lintOverlap(r, authorities);
  const policy: Policy = {
    name: meta.name,
    file: r.file,
    line: r.line(['metadata', 'name']),
    mode,
    images,
    exclude,
    requireDigest,
    discovery,
    authorities,
    threshold,
    attestations,
  };
  if (meta.description !== undefined) policy.description = meta.description;
  if (signatureRepository) policy.signatureRepository = signatureRepository;
  return policy;
}

function readAuthority(r: Reader, v: unknown, path: Path): PolicyAuthority {
  const m = r.map(v, path, ['name', 'keyless', 'key', 'static', 'tlog', 'annotations'], ['name']);
  const name = r.str(m['name'], [...path, 'name']);
  if (!NAME_RE.test(name)) r.fail([...path, 'name'], `"${name}" must match [a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?`);
  const kinds = (['keyless', 'key', 'static'] as const).filter((k) => m[k] !== undefined);
  if (kinds.length !== 1) {
    r.fail(
      path,
      `exactly one of keyless | key | static is required, found ${kinds.length ? kinds.join(', ') : 'none'}`,
    );
  }
  const which = kinds[0]!;
  if (which === 'static') {
    for (const f of ['tlog', 'annotations']) {
      if (m[f] !== undefined) r.fail([...path, f], `a static authority looks at no signature: "${f}" does not apply`);
    }
    const s = r.map(m['static'], [...path, 'static'], ['action', 'message'], ['action']);
    const action = r.oneOf(s['action'], [...path, 'static', 'action'], ['pass', 'fail'], 'pass');
    const message = r.optStr(s['message'], [...path, 'static', 'message']);
    return message === undefined ? { kind: 'static', name, action } : { kind: 'static', name, action, message };
  }
  const tlog: TlogRequirement = r.oneOf(m['tlog'], [...path, 'tlog'], ['required', 'optional', 'ignore'], 'required');
  let annotations: Record<string, string> | undefined;
  if (m['annotations'] !== undefined) {
    const a = r.map(m['annotations'], [...path, 'annotations'], Object.keys((m['annotations'] as object) ?? {}));
    annotations = {};
    for (const [k, val] of Object.entries(a)) annotations[k] = r.str(val, [...path, 'annotations', k]);
  }
  const extra = annotations ? { annotations } : {};
  if (which === 'key') {
    const k = r.map(m['key'], [...path, 'key'], ['path', 'pem', 'hashAlgorithm']);
    if ((k['path'] === undefined) === (k['pem'] === undefined)) {
      r.fail([...path, 'key'], 'exactly one of path | pem is required');
    }
    r.oneOf(k['hashAlgorithm'], [...path, 'key', 'hashAlgorithm'], ['sha256', 'sha384', 'sha512'], 'sha256');
    let pemText: string;
    let where: Path;
    if (k['path'] !== undefined) {
      where = [...path, 'key', 'path'];
      const file = resolve(r.dir, r.str(k['path'], where));
      try {
        pemText = readFileSync(file, 'utf8');
      } catch (err) {
        r.fail(where, `cannot read key file ${file}: ${(err as Error).message}`, err);
      }
    } else {
      where = [...path, 'key', 'pem'];
      pemText = r.str(k['pem'], where);
    }
    return { kind: 'key', name, publicKey: readPublicKey(r, pemText, where), tlog, ...extra };
  }
  const kl = r.map(m['keyless'], [...path, 'keyless'], ['trustedRoot', 'sct', 'identities'], ['identities']);
  const identities = r
    .list(kl['identities'], [...path, 'keyless', 'identities'], 1)
    .map((id, i) => readIdentity(r, id, [...path, 'keyless', 'identities', i]));
  const sct = r.oneOf(kl['sct'], [...path, 'keyless', 'sct'], ['required', 'ignore'], 'required');
  let trustedRoot: string | undefined;
  if (kl['trustedRoot'] !== undefined) {
    trustedRoot = resolve(r.dir, r.str(kl['trustedRoot'], [...path, 'keyless', 'trustedRoot']));
    if (tlog === 'ignore' && !trustedRootHasTsa(trustedRoot)) {
      r.warn([...path, 'tlog'], `tlog: ignore on a keyless authority whose trusted root has no timestamp authority`);
    }
  }
  const authority: PolicyAuthority = { kind: 'keyless', name, identities, sct, tlog, ...extra };
  if (trustedRoot !== undefined) authority.trustedRoot = trustedRoot;
  return authority;
}

function trustedRootHasTsa(file: string): boolean {
  try {
    const root = JSON.parse(readFileSync(file, 'utf8')) as { timestampAuthorities?: unknown[] };
    return (root.timestampAuthorities?.length ?? 0) > 0;
  } catch {
    return false;
  }
}

function readPublicKey(r: Reader, pemText: string, path: Path): KeyObject {
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pemText)) {
    r.fail(path, 'this is a private key: give the public key (cosign public-key --key …)');
  }
  let key: KeyObject;
  try {
    key = createPublicKey(pemText);
  } catch (err) {
    r.fail(path, `not a PEM public key: ${(err as Error).message}`, err);
  }
  const t = key.asymmetricKeyType;
  if (t === 'rsa' && (key.asymmetricKeyDetails?.modulusLength ?? 0) < 2048)
    r.fail(path, 'RSA keys must be ≥ 2048 bits');
  if (t === 'ec' && !['prime256v1', 'secp384r1', 'secp521r1'].includes(key.asymmetricKeyDetails?.namedCurve ?? '')) {
    r.fail(path, `unsupported curve ${key.asymmetricKeyDetails?.namedCurve ?? '?'}`);
  }
  if (t !== 'rsa' && t !== 'ec' && t !== 'ed25519') r.fail(path, `unsupported key type ${t ?? '?'}`);
  return key;
}

function regexpField(r: Reader, v: unknown, path: Path): string {
  const pattern = r.str(v, path);
  try {
    compileRegExp(pattern);
  } catch (err) {
    if (err instanceof RegExpError) r.fail(path, err.message);
    throw err;
  }
  if (isUnanchored(pattern)) {
    r.warn(
      path,
      `regexp ${JSON.stringify(pattern)} is matched in full; cosign would match it anywhere (add ^…$ to say so)`,
    );
  }
  return pattern;
}

function readIdentity(r: Reader, v: unknown, path: Path): IdentityMatcher {
  const m = r.map(v, path, ['issuer', 'issuerRegExp', 'subject', 'subjectRegExp', 'claims']);
  const id: IdentityMatcher = {};
  if ((m['issuer'] === undefined) === (m['issuerRegExp'] === undefined)) {
    r.fail(path, 'an identity must constrain the issuer with exactly one of issuer | issuerRegExp');
  }
  if ((m['subject'] === undefined) === (m['subjectRegExp'] === undefined)) {
    r.fail(path, 'an identity must constrain the subject with exactly one of subject | subjectRegExp');
  }
  if (m['issuer'] !== undefined) id.issuer = r.str(m['issuer'], [...path, 'issuer']);
  if (m['issuerRegExp'] !== undefined) id.issuerRegExp = regexpField(r, m['issuerRegExp'], [...path, 'issuerRegExp']);
  if (m['subject'] !== undefined) id.subject = r.str(m['subject'], [...path, 'subject']);
  if (m['subjectRegExp'] !== undefined) {
    id.subjectRegExp = regexpField(r, m['subjectRegExp'], [...path, 'subjectRegExp']);
    if (hasUnescapedHostDot(id.subjectRegExp)) {
      r.warn([...path, 'subjectRegExp'], 'unescaped "." in the host name matches any character (write \\.)');
    }
  }
  if (m['claims'] !== undefined) {
    const c = r.map(m['claims'], [...path, 'claims'], CLAIM_KEYS);
    id.claims = {};
    for (const [k, val] of Object.entries(c)) {
      const p = [...path, 'claims', k];
      if (typeof val === 'string') id.claims[k] = val;
      else {
        const cm = r.map(val, p, ['regexp', 'oneOf']);
        if ((cm['regexp'] === undefined) === (cm['oneOf'] === undefined)) {
          r.fail(p, 'a claim is a string, {regexp: …} or {oneOf: […]}');
        }
        if (cm['regexp'] !== undefined) id.claims[k] = { regexp: regexpField(r, cm['regexp'], [...p, 'regexp']) };
        else
          id.claims[k] = { oneOf: r.list(cm['oneOf'], [...p, 'oneOf'], 1).map((s, i) => r.str(s, [...p, 'oneOf', i])) };
      }
    }
  }
  if (id.issuer === GITHUB_ISSUER && id.subjectRegExp !== undefined) {
    const scoped = [
      'sourceRepositoryOwnerURI',
      'sourceRepositoryOwnerIdentifier',
      'sourceRepositoryURI',
      'sourceRepositoryIdentifier',
      'githubWorkflowRepository',
    ].some((k) => id.claims?.[k] !== undefined);
    const owner = /github\\?\.com\/([^/]*)\//.exec(id.subjectRegExp)?.[1];
    if (!scoped && (owner === undefined || /[[.*+(\\]/.test(owner))) {
      r.warn([...path], 'GitHub identity allows any owner: add a sourceRepositoryOwnerURI or repository claim');
    }
  }
  return id;
}

function lintOverlap(r: Reader, authorities: PolicyAuthority[]): void {
  const keyless = authorities.flatMap((a, i) => (a.kind === 'keyless' ? [{ a, i }] : []));
  for (let x = 0; x < keyless.length; x++) {
    for (let y = x + 1; y < keyless.length; y++) {
      const A = keyless[x]!;
      const B = keyless[y]!;
      if (A.a.kind !== 'keyless' || B.a.kind !== 'keyless') continue;
      const overlap = A.a.identities.some((p) => B.a.identities.some((q) => identitiesOverlap(p, q)));
      if (overlap) {
        r.warn(
          ['spec', 'authorities', B.i],
          `authorities "${A.a.name}" and "${B.a.name}" accept overlapping identities while threshold > 1 (one signature counts for one of them only)`,
        );
      }
    }
  }
}

function identitiesOverlap(p: IdentityMatcher, q: IdentityMatcher): boolean {
  const sameOrMatch = (exactA?: string, reA?: string, exactB?: string, reB?: string): boolean => {
    if (exactA !== undefined && exactB !== undefined) return exactA === exactB;
    if (exactA !== undefined && reB !== undefined) return compileRegExp(reB).matches(exactA);
    if (exactB !== undefined && reA !== undefined) return compileRegExp(reA).matches(exactB);
    return true; // two regexps: assume they may overlap
  };
  return (
    sameOrMatch(p.issuer, p.issuerRegExp, q.issuer, q.issuerRegExp) &&
    sameOrMatch(p.subject, p.subjectRegExp, q.subject, q.subjectRegExp)
  );
}

function readAttestation(r: Reader, v: unknown, path: Path, authorities: PolicyAuthority[]): AttestationRequirement {
  const m = r.map(v, path, ['name', 'predicateType', 'authorities', 'conditions'], ['name', 'predicateType']);
  const name = r.str(m['name'], [...path, 'name']);
  const type = r.str(m['predicateType'], [...path, 'predicateType']);
  const predicateType = PREDICATE_TYPES[type] ?? type;
  let names: string[];
  if (m['authorities'] !== undefined) {
    names = r.list(m['authorities'], [...path, 'authorities'], 1).map((a, i) => {
      const n = r.str(a, [...path, 'authorities', i]);
      const found = authorities.find((x) => x.name === n);
      if (!found) r.fail([...path, 'authorities', i], `no authority named "${n}" in this policy`);
      if (found.kind === 'static') r.fail([...path, 'authorities', i], `"${n}" is static: it cannot sign attestations`);
      return n;
    });
  } else {
    names = authorities.filter((a) => a.kind !== 'static').map((a) => a.name);
    if (names.length === 0) r.fail(path, 'no key or keyless authority in this policy can sign attestations');
  }
  const conditions =
    m['conditions'] === undefined
      ? []
      : r.list(m['conditions'], [...path, 'conditions']).map((c, i) => {
          const p = [...path, 'conditions', i];
          const cm = r.map(c, p, ['name', 'expr', 'message'], ['name', 'expr']);
          const cname = r.str(cm['name'], [...p, 'name']);
          const expr = r.str(cm['expr'], [...p, 'expr']);
          const message = r.optStr(cm['message'], [...p, 'message']);
          let compiled;
          try {
            compiled = compileCondition(expr);
          } catch (err) {
            if (err instanceof CelLoadError) r.fail([...p, 'expr'], err.message);
            throw err;
          }
          return message === undefined ? { name: cname, expr, compiled } : { name: cname, expr, message, compiled };
        });
  return { name, predicateType, authorities: names, conditions };
}

function readTest(r: Reader, top: Record<string, unknown>): PolicyTest {
  const meta = readMetadata(r, top);
  const spec = r.map(top['spec'], ['spec'], ['cases'], ['cases']);
  const cases = r.list(spec['cases'], ['spec', 'cases'], 1).map((c, i): PolicyTestCase => {
    const p = ['spec', 'cases', i];
    const m = r.map(c, p, ['name', 'image', 'evidence', 'now', 'scope', 'expect'], ['name', 'image', 'expect']);
    const e = r.map(m['expect'], [...p, 'expect'], ['decision', 'reasons'], ['decision']);
    const tc: PolicyTestCase = {
      name: r.str(m['name'], [...p, 'name']),
      image: r.str(m['image'], [...p, 'image']),
      expect: {
        decision: r.oneOf(e['decision'], [...p, 'expect', 'decision'], ['allow', 'deny', 'error'], 'allow'),
        reasons:
          e['reasons'] === undefined
            ? []
            : r.list(e['reasons'], [...p, 'expect', 'reasons']).map((x, j) => r.str(x, [...p, 'expect', 'reasons', j])),
      },
    };
    if (m['evidence'] !== undefined) tc.evidence = resolve(r.dir, r.str(m['evidence'], [...p, 'evidence']));
    if (m['scope'] !== undefined) tc.scope = r.str(m['scope'], [...p, 'scope']);
    if (m['now'] !== undefined) {
      const s = r.str(m['now'], [...p, 'now']);
      const d = new Date(s);
      if (Number.isNaN(d.getTime())) r.fail([...p, 'now'], `"${s}" is not an RFC 3339 time`);
      tc.now = d;
    }
    return tc;
  });
  return { name: meta.name, file: r.file, line: r.line(['metadata', 'name']), cases };
}
