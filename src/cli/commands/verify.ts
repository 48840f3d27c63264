import type { Argv } from 'yargs';
import type { Authority, CandidateReason, IdentityMatcher } from '../../verify/authority.ts';
import type { CandidateResult, VerifyImageResult } from '../../verify/verify-image.ts';
import type { Method } from '../../oci/registry/transport.ts';
import type { Command } from '../command.ts';
import type { Context } from '../context.ts';
import { ExitCode, UsageError } from '../exit-codes.ts';
import { parseAnnotations } from './sign.ts';

/** cosign verify's flags (cosign-formats.md §6.1), shared by verify and verify-attestation. */
interface VerifyFlags {
  key?: string;
  'certificate-identity'?: string;
  'certificate-identity-regexp'?: string;
  'certificate-oidc-issuer'?: string;
  'certificate-oidc-issuer-regexp'?: string;
  'certificate-github-workflow-trigger'?: string;
  'certificate-github-workflow-sha'?: string;
  'certificate-github-workflow-name'?: string;
  'certificate-github-workflow-repository'?: string;
  'certificate-github-workflow-ref'?: string;
  annotations?: string[];
  'trusted-root'?: string;
  offline?: boolean;
  'insecure-ignore-tlog'?: boolean;
  'insecure-ignore-sct'?: boolean;
  'ca-roots'?: string;
  'ca-intermediates'?: string;
}

interface VerifyArgs extends VerifyFlags {
  images: string[];
  policy?: string;
  'save-evidence'?: string;
  evidence?: string;
  explain?: boolean;
  'max-workers'?: number;
  'no-match'?: 'deny' | 'warn' | 'allow';
  'dry-run'?: boolean;
  scope?: string;
  verbose?: boolean;
}

/** Flags of `verify` that only make sense with --policy (POLICY.md §3, §7). */
const POLICY_ONLY = ['save-evidence', 'evidence', 'explain', 'no-match', 'dry-run', 'scope'] as const;

/** Flags that describe one authority on the command line; a policy folder replaces them. */
const AUTHORITY_FLAGS = [
  'key',
  'certificate-identity',
  'certificate-identity-regexp',
  'certificate-oidc-issuer',
  'certificate-oidc-issuer-regexp',
  'annotations',
  'trusted-root',
  'ca-roots',
  'ca-intermediates',
];

/**
 * `verify IMAGE... --policy FILE|DIR`: every image against the policy folder in one call, one
 * DecisionReport (POLICY.md §5): the text rendering on stdout (or the report itself with -o json),
 * a WARN line on stderr per failing warn-mode policy, exit 0 allow / 1 deny / 2 error (§4).
 */
async function runPolicyVerify(ctx: Context, a: VerifyArgs): Promise<number> {
  for (const flag of [...AUTHORITY_FLAGS, ...Object.keys(WORKFLOW_FLAGS)]) {
    if ((a as unknown as Record<string, unknown>)[flag] !== undefined) {
      throw new UsageError(`--${flag} describes an authority on the command line; with --policy the policy files do`);
    }
  }
  const workers = a['max-workers'] ?? 8;
  if (!Number.isSafeInteger(workers) || workers < 1)
    throw new UsageError(`--max-workers must be at least 1, got ${workers}`);
  const { loadPolicies, renderReport } = await import('../../verify/policy/index.ts');
  const { verifyWithPolicies } = await import('../../verify/verify-policy.ts');
  let set;
  try {
    set = loadPolicies(a.policy!);
  } catch (err) {
    // POLICY.md §4: an invalid policy folder is exit 2, nothing evaluated.
    ctx.out.error(err);
    return ExitCode.Usage;
  }
  for (const w of set.warnings) ctx.out.debug(`${w.file}:${w.line}: warning: ${w.path}: ${w.message}`);
  let report;
  try {
    report = await verifyWithPolicies(a.images, {
      policies: set,
      registry: ctx.registry,
      concurrency: workers,
      offline: a.offline === true || a.evidence !== undefined,
      ...(a.evidence !== undefined ? { evidenceDir: a.evidence } : {}),
      ...(a['save-evidence'] !== undefined ? { saveEvidenceDir: a['save-evidence'] } : {}),
      ...(a['no-match'] !== undefined ? { noMatch: a['no-match'] } : {}),
      ...(a['dry-run'] ? { dryRun: true } : {}),
      ...(a.explain ? { explain: true } : {}),
      ...(a.scope !== undefined ? { scope: a.scope } : {}),
      signal: ctx.signal,
    });
  } catch (err) {
    if ((err as { code?: string }).code === 'POLICY_EVIDENCE_INVALID') {
      ctx.out.error(err);
      return ExitCode.Usage;
    }
    throw err;
  }
  for (const img of report.images) {
    for (const p of img.policies) {
      if (p.mode === 'warn' && p.result !== 'pass') {
        const why = p.reasons.map((r) => r.code).join(', ') || p.result;
        ctx.out.info(`WARN ${img.input}: policy ${p.name} ${p.result}ed (${why})`);
      }
    }
  }
  if (a.verbose && a.evidence === undefined) {
    const { registryFor } = await import('../../oci/registry/client.ts');
    const { parseReference } = await import('../../oci/reference.ts');
    const { RequestCount } = await import('../../oci/registry/request-count.ts');
    const hosts = new Set(a.images.map((i) => parseReference(i).registry));
    const total = new RequestCount();
    for (const h of hosts) {
      const c = registryFor(h, ctx.registry).requests;
      ctx.out.debug(`registry requests to ${h}: ${c.toString()}`);
      total.total += c.total;
      for (const [m, n] of Object.entries(c.byMethod))
        total.byMethod[m as Method] = (total.byMethod[m as Method] ?? 0) + n;
    }
    ctx.out.debug(`registry requests: ${total.toString()}`);
  }
  ctx.out.result(report, renderReport(report, a.verbose === true));
  return report.exitCode;
}

interface VerifyAttestationArgs extends VerifyFlags {
  images: string[];
  type: string;
  condition?: string[];
}

/** The cosign flag → the deprecated Fulcio claim it compares (OIDs 1.2–1.6, POLICY.md §2.2). */
const WORKFLOW_FLAGS: Record<string, string> = {
  'certificate-github-workflow-trigger': 'githubWorkflowTrigger',
  'certificate-github-workflow-sha': 'githubWorkflowSHA',
  'certificate-github-workflow-name': 'githubWorkflowName',
  'certificate-github-workflow-repository': 'githubWorkflowRepository',
  'certificate-github-workflow-ref': 'githubWorkflowRef',
};

function verifyFlags<T>(c: Argv<T>): Argv<T> {
  let y = c
    .option('key', { type: 'string', describe: 'public key file (PEM / cosign .pub)' })
    .option('certificate-identity', { type: 'string', describe: 'exact SAN the certificate must carry' })
    .option('certificate-identity-regexp', { type: 'string', describe: 'RE2 regexp (full match) for a SAN' })
    .option('certificate-oidc-issuer', { type: 'string', describe: 'exact OIDC issuer of the certificate' })
    .option('certificate-oidc-issuer-regexp', { type: 'string', describe: 'RE2 regexp (full match) for the issuer' });
  for (const flag of Object.keys(WORKFLOW_FLAGS)) {
    y = y.option(flag, { type: 'string', describe: `exact value of the ${WORKFLOW_FLAGS[flag]} extension` });
  }
  return y
    .option('annotations', {
      alias: 'a',
      type: 'string',
      array: true,
      nargs: 1,
      describe: 'key=value the signed payload must carry (repeatable)',
    })
    .option('trusted-root', { type: 'string', describe: 'Sigstore trusted_root.json (default: embedded public good)' })
    .option('offline', {
      type: 'boolean',
      default: false,
      describe: 'no network lookups (tlog evidence must be attached)',
    })
    .option('insecure-ignore-tlog', {
      type: 'boolean',
      default: false,
      describe: 'do not require a transparency log entry',
    })
    .option('insecure-ignore-sct', { type: 'boolean', default: false, describe: 'do not require an embedded SCT' })
    .option('ca-roots', { type: 'string', describe: 'PEM CA roots for certificates outside Sigstore' })
    .option('ca-intermediates', { type: 'string', describe: 'PEM CA intermediates for --ca-roots' });
}

/** The authority the flags describe; usage errors as cosign reports them. */
async function authorityFrom(a: VerifyFlags): Promise<Authority> {
  const annotations = parseAnnotations(a.annotations);
  const tlog = a['insecure-ignore-tlog'] ? 'ignore' : 'required';
  const identityGiven =
    a['certificate-identity'] !== undefined ||
    a['certificate-identity-regexp'] !== undefined ||
    a['certificate-oidc-issuer'] !== undefined ||
    a['certificate-oidc-issuer-regexp'] !== undefined;
  const { readPublicKey } = await import('../../verify/trust-material.ts');
  if (a.key !== undefined) {
    if (identityGiven)
      throw new UsageError('--key and --certificate-identity/--certificate-oidc-issuer exclude each other');
    return {
      kind: 'key',
      name: 'key',
      publicKey: readPublicKey(a.key),
      tlog,
      ...(a['trusted-root'] !== undefined ? { trustedRoot: a['trusted-root'] } : {}),
      annotations,
    };
  }
  const subject = a['certificate-identity'];
  const subjectRegExp = a['certificate-identity-regexp'];
  const issuer = a['certificate-oidc-issuer'];
  const issuerRegExp = a['certificate-oidc-issuer-regexp'];
  if (subject === undefined && subjectRegExp === undefined) {
    throw new UsageError('give --key, or --certificate-identity or --certificate-identity-regexp for keyless');
  }
  if (issuer === undefined && issuerRegExp === undefined && a['ca-roots'] === undefined) {
    throw new UsageError('keyless needs --certificate-oidc-issuer or --certificate-oidc-issuer-regexp');
  }
  const { RE2JS } = await import('@bufbuild/re2');
  for (const [flag, re] of [
    ['--certificate-identity-regexp', subjectRegExp],
    ['--certificate-oidc-issuer-regexp', issuerRegExp],
  ] as const) {
    if (re === undefined) continue;
    try {
      RE2JS.compile(re);
    } catch (e) {
      throw new UsageError(`${flag} "${re}": not an RE2 regexp (${(e as Error).message})`);
    }
  }
  const identity: IdentityMatcher = {
    ...(subject !== undefined ? { subject } : {}),
    ...(subjectRegExp !== undefined ? { subjectRegExp } : {}),
    ...(issuer !== undefined ? { issuer } : {}),
    ...(issuerRegExp !== undefined ? { issuerRegExp } : {}),
  };
  const claims: Record<string, string> = {};
  for (const [flag, claim] of Object.entries(WORKFLOW_FLAGS)) {
    const v = (a as Record<string, unknown>)[flag];
    if (typeof v === 'string') claims[claim] = v;
  }
  if (Object.keys(claims).length > 0) identity.claims = claims;
  return {
    kind: 'keyless',
    name: 'keyless',
    identities: [identity],
    ...(a['trusted-root'] !== undefined ? { trustedRoot: a['trusted-root'] } : {}),
    ...(a['ca-roots'] !== undefined ? { caRoots: a['ca-roots'] } : {}),
    ...(a['ca-intermediates'] !== undefined ? { caIntermediates: a['ca-intermediates'] } : {}),
    sct: a['insecure-ignore-sct'] ? 'ignore' : 'required',
    tlog,
    annotations,
  };
}

/** cosign's stderr header: what was checked on each signature (cosign-formats.md §6.4). */
function header(ctx: Context, ref: string, authority: Authority, verified: CandidateResult[]) {
  const lines = [`Verification for ${ref} --`, 'The following checks were performed on each of these signatures:'];
  if (authority.annotations && Object.keys(authority.annotations).length > 0) {
    lines.push('  - The specified annotations were verified.');
  }
  lines.push('  - The cosign claims were validated');
  if (verified.some((v) => v.ok && v.checks.includes('tlog'))) {
    lines.push('  - Existence of the claims in the transparency log was verified offline');
    if (authority.kind === 'keyless') {
      lines.push('  - The signatures were integrated into the transparency log when the certificate was valid');
    }
  }
  lines.push(
    authority.kind === 'key'
      ? '  - The signatures were verified against the specified public key'
      : '  - The code-signing certificate was verified using trusted certificate authority certificates',
  );
  for (const l of lines) ctx.out.info(l);
}

/**
 * One verified signature as cosign prints it: the simple-signing payload with `optional`
 * augmented by the certificate fields and the Rekor bundle (legacy), or for a bundle the
 * synthesized element of cosign's transformOutput (§6.4).
 */
function cosignPayload(ref: string, c: CandidateResult): unknown {
  const e = c.evidence;
  if (e.claim?.type === 'in-toto') {
    const subject = e.claim.subjects.find((s) => s.digest['sha256'] !== undefined);
    return {
      critical: {
        identity: { 'docker-reference': ref },
        image: { 'docker-manifest-digest': subject ? `sha256:${subject.digest['sha256']}` : '' },
        type: e.claim.predicateType,
      },
      optional: subject?.annotations ?? {},
    };
  }
  const doc = JSON.parse(Buffer.from(e.payload!).toString('utf8')) as { critical: unknown; optional: unknown };
  const extra: Record<string, unknown> = {};
  if (c.ok && c.signer.kind === 'certificate') {
    const s = c.signer;
    if (s.subjectAlternativeNames[0] !== undefined) extra['Subject'] = s.subjectAlternativeNames[0];
    extra['Issuer'] = s.issuer;
    extra['1.3.6.1.4.1.57264.1.1'] = s.issuer;
    const gh: [string, string, number][] = [
      ['githubWorkflowTrigger', 'githubWorkflowTrigger', 2],
      ['githubWorkflowSha', 'githubWorkflowSHA', 3],
      ['githubWorkflowName', 'githubWorkflowName', 4],
      ['githubWorkflowRepository', 'githubWorkflowRepository', 5],
      ['githubWorkflowRef', 'githubWorkflowRef', 6],
    ];
    for (const [out, name, n] of gh) {
      const v = s.extensions[name];
      if (v) {
        extra[out] = v;
        extra[`1.3.6.1.4.1.57264.1.${n}`] = v;
      }
    }
  }
  const tlog = e.bundle?.verificationMaterial.tlogEntries[0];
  if (tlog?.inclusionPromise) {
    extra['Bundle'] = {
      SignedEntryTimestamp: Buffer.from(tlog.inclusionPromise.signedEntryTimestamp).toString('base64'),
      Payload: {
        body: Buffer.from(tlog.canonicalizedBody).toString('base64'),
        integratedTime: Number(tlog.integratedTime),
        logIndex: Number(tlog.logIndex),
        logID: Buffer.from(tlog.logId.keyId).toString('hex'),
      },
    };
  }
  const optional =
    Object.keys(extra).length === 0
      ? doc.optional
      : Object.fromEntries(
          Object.entries({ ...((doc.optional as Record<string, unknown> | null) ?? {}), ...extra }).sort(([a], [b]) =>
            a < b ? -1 : a > b ? 1 : 0,
          ),
        );
  return { critical: doc.critical, optional };
}

function describeFailure(c: CandidateResult): string {
  if (c.ok) return '';
  const vals =
    c.expected !== undefined || c.actual !== undefined
      ? ` (expected ${c.expected ?? '?'}, found ${c.actual ?? '?'})`
      : '';
  return `  [${c.code}] ${c.evidence.source.description}: ${c.message}${vals}`;
}

function decision(r: VerifyImageResult) {
  const view = (c: CandidateResult) => {
    const { evidence, ...result } = c;
    return {
      source: evidence.source,
      scheme: evidence.scheme,
      kind: evidence.kind,
      ...result,
      ...(result.ok && result.signedAt ? { signedAt: result.signedAt.toISOString() } : {}),
    };
  };
  return {
    reference: r.reference,
    repository: r.repository,
    digest: r.digest,
    verified: r.verified.length > 0,
    candidates: [...r.verified, ...r.rejected].map(view),
  };
}

async function runVerify(
  ctx: Context,
  a: VerifyFlags & { images: string[] },
  attestation?: { predicateType: string; conditions: string[] },
): Promise<number> {
  const authority = await authorityFrom(a);
  const { verifyImage } = await import('../../verify/verify-image.ts');
  const compiled = attestation
    ? await (async () => {
        const { compileCondition } = await import('../../verify/policy/cel.ts');
        return attestation.conditions.map((expr) => {
          try {
            return compileCondition(expr);
          } catch (e) {
            throw new UsageError(`--condition ${expr}: ${(e as Error).message}`);
          }
        });
      })()
    : [];
  const { RequestCount } = await import('../../oci/registry/request-count.ts');
  // Every HTTP attempt this command sends to a registry, for --verbose (as sign prints it).
  const requests = new RequestCount();
  const registry = { ...ctx.registry, onRequest: requests.add.bind(requests) };
  const json = ctx.out.format === 'json';
  let failed = false;
  const payloads: unknown[] = [];
  const decisions: unknown[] = [];
  for (const image of a.images) {
    const r = await verifyImage(image, {
      authority,
      registry,
      signal: ctx.signal,
      offline: a.offline ?? false,
      kind: attestation ? 'attestation' : 'signature',
      ...(ctx.signatureRepository ? { signatureRepository: ctx.signatureRepository } : {}),
    });
    if (attestation) {
      // Only statements of the requested predicate type count; conditions deny with their name.
      const keep: CandidateResult[] = [];
      for (const c of r.verified) {
        const claim = c.evidence.claim;
        if (claim?.type !== 'in-toto' || claim.predicateType !== attestation.predicateType) continue;
        const statement = JSON.parse(Buffer.from(c.evidence.payload!).toString('utf8')) as Record<string, unknown>;
        const bad = compiled
          .map((cond) => ({ cond, out: cond.evaluate({ predicate: statement['predicate'], statement }) }))
          .find(({ out }) => !out.ok || !out.value);
        if (bad) {
          // CONDITION_FALSE / CONDITION_ERROR are attestation-level codes (POLICY.md §5), reported
          // in the candidate's place: the signature verified, its statement was refused.
          const code = (bad.out.ok ? 'CONDITION_FALSE' : 'CONDITION_ERROR') as CandidateReason;
          r.rejected.push({
            ok: false,
            authority: c.authority,
            code,
            check: 'condition',
            message: `condition ${bad.cond.expr} ${bad.out.ok ? 'is false' : `failed: ${bad.out.error}`}`,
            checks: c.checks,
            evidence: c.evidence,
          });
          continue;
        }
        keep.push(c);
      }
      r.verified = keep;
    }
    decisions.push(decision(r));
    if (r.verified.length === 0) {
      failed = true;
      const what = attestation ? `attestations of type ${attestation.predicateType}` : 'signatures';
      const lines = [`Error: no matching ${what} for ${image} (${r.digest}):`];
      if (r.rejected.length === 0) lines.push('  no signatures found');
      for (const c of r.rejected) lines.push(describeFailure(c));
      ctx.out.info(lines.join('\n'));
      continue;
    }
    header(ctx, image, authority, r.verified);
    for (const c of r.verified) {
      if (attestation) {
        payloads.push({
          payloadType: 'application/vnd.in-toto+json',
          payload: Buffer.from(c.evidence.payload!).toString('base64'),
        });
      } else payloads.push(cosignPayload(image, c));
    }
  }
  ctx.out.debug(`registry requests: ${requests.toString()}`);
  if (json) ctx.out.result(decisions.length === 1 ? decisions[0] : decisions, '');
  else if (payloads.length > 0) {
    if (attestation) for (const p of payloads) ctx.io.stdout.write(`${JSON.stringify(p)}\n`);
    else ctx.io.stdout.write(`\n${JSON.stringify(payloads)}\n`);
  }
  return failed ? ExitCode.Failure : ExitCode.Ok;
}

export const verifyCommand: Command = {
  register: (y, run) =>
    y.command(
      'verify <images..>',
      'Verify image signatures (both schemes) against a key or a keyless identity, as cosign verify',
      (c) =>
        verifyFlags(c)
          .positional('images', { type: 'string', array: true, demandOption: true, describe: 'image references' })
          .option('policy', {
            type: 'string',
            describe: 'policy file or folder (POLICY.md): exit 0 allow, 1 deny, 2 error',
          })
          .option('save-evidence', {
            type: 'string',
            describe: 'with --policy: write everything the decision used here',
          })
          .option('evidence', {
            type: 'string',
            describe: 'with --policy: replay a --save-evidence folder, no registry',
          })
          .option('explain', { type: 'boolean', describe: 'with --policy: also list policies not selected, and why' })
          .option('max-workers', { type: 'number', describe: 'with --policy: images verified at once (default 8)' })
          .option('no-match', {
            choices: ['deny', 'warn', 'allow'] as const,
            describe: 'with --policy: decision when no policy selects an image (default: PolicySettings, else deny)',
          })
          .option('dry-run', { type: 'boolean', describe: 'with --policy: evaluate every policy as audit' })
          .option('scope', { type: 'string', describe: 'with --policy: repository an OCI layout stands for' })
          .example('$0 verify --policy policies/ ghcr.io/acme/app@sha256:… ghcr.io/acme/api:1.2', '')
          .example('$0 verify --key cosign.pub registry.example/app:1.0', '')
          .example(
            '$0 verify --certificate-identity-regexp "https://github\\.com/acme/.*" --certificate-oidc-issuer https://token.actions.githubusercontent.com ghcr.io/acme/app:1',
            '',
          ),
      (argv) =>
        run<VerifyArgs>(argv, (ctx, a) => {
          if (a.policy !== undefined) return runPolicyVerify(ctx, a);
          for (const flag of POLICY_ONLY) {
            if (a[flag] !== undefined && a[flag] !== false) throw new UsageError(`--${flag} needs --policy`);
          }
          return runVerify(ctx, a);
        }),
    ),
};

export const verifyAttestationCommand: Command = {
  register: (y, run) =>
    y.command(
      'verify-attestation <images..>',
      'Verify in-toto attestations of a predicate type, with CEL conditions over the predicate',
      (c) =>
        verifyFlags(c)
          .positional('images', { type: 'string', array: true, demandOption: true, describe: 'image references' })
          .option('type', { type: 'string', default: 'custom', describe: 'predicate type or cosign shorthand' })
          .option('condition', {
            type: 'string',
            array: true,
            nargs: 1,
            describe: 'CEL expression over predicate and statement that must be true (repeatable)',
          }),
      (argv) =>
        run<VerifyAttestationArgs>(argv, async (ctx, a) => {
          const { predicateTypeFor } = await import('../../sign/payloads/in-toto.ts');
          let predicateType: string;
          try {
            predicateType = predicateTypeFor(a.type);
          } catch (e) {
            throw new UsageError(`--type ${a.type}: ${(e as Error).message}`);
          }
          return runVerify(ctx, a, { predicateType, conditions: a.condition ?? [] });
        }),
    ),
};
