import { createHash, generateKeyPairSync, sign as cryptoSign, type KeyObject } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  fulcioHandler,
  initializeCA,
  initializeCTLog,
  initializeTLog,
  initializeTSA,
  rekorHandler,
  tsaHandler,
  type HandlerFn,
} from '@sigstore/mock';
import { HashAlgorithm, PublicKeyDetails, TrustedRoot } from '@sigstore/protobuf-specs';
import { serveLoopback, type LoopbackServer } from './http-server.ts';

/**
 * Fulcio, Rekor (v1 API) and an RFC 3161 TSA from @sigstore/mock's transport-agnostic building
 * blocks, each on its own 127.0.0.1 port so a test can stop one ("Fulcio down") and keep the
 * others. @sigstore/mock-server is private on npm, and the nock-based mocks only intercept
 * in-process fetches, so a CLI process could never reach them; these are real HTTP servers.
 *
 * Three deviations from the bare mock, each making it behave like the real service:
 * - Fulcio picks the SAN claim per token (email if present, else sub), as real Fulcio does per
 *   issuer type; the mock handler is fixed to one claim.
 * - Rekor stores the canonical dsse body (envelopeHash, payloadHash, signatures) instead of the
 *   proposed entry verbatim, so dsse entries (cosign v3's kind) verify.
 * - The TSA writes whole-second genTime: pkijs drops trailing zeros of the milliseconds
 *   (`.25Z`), which @sigstore/core rejects as "invalid time" about one time in ten.
 */
export interface SigstoreStack {
  fulcioUrl: string;
  rekorUrl: string;
  /** Base URL; the timestamp endpoint is `${tsaUrl}/api/v1/timestamp`. */
  tsaUrl: string;
  /** The issuer mintIdentityToken uses unless told otherwise. */
  defaultIssuer: string;
  mintIdentityToken(opts?: MintOptions): string;
  /** trusted_root.json (protobuf-specs JSON) for this stack's CA, CT log, Rekor and TSA. */
  trustedRoot(): Record<string, unknown>;
  /** signing config v0.2 JSON pointing at the loopback URLs. */
  signingConfig(): Record<string, unknown>;
  /** Per-service stop, to simulate one service being down. */
  stopFulcio(): Promise<void>;
  stopRekor(): Promise<void>;
  stopTSA(): Promise<void>;
  /** Number of requests each service has answered (tests assert a witness was or was not used). */
  requests: { fulcio: number; rekor: number; tsa: number };
  stop(): Promise<void>;
}

export interface MintOptions {
  issuer?: string;
  /** `sub` claim; without email it becomes the certificate's (URI) SAN. */
  subject?: string;
  /** `email` claim (with `email_verified: true` unless overridden in claims); becomes the SAN. */
  email?: string;
  /** Extra or overriding claims (e.g. GitHub's workflow_ref, repository, or `exp`). */
  claims?: Record<string, unknown>;
  /** Seconds until `exp`; negative mints an expired token. Default 600. */
  expiresIn?: number;
  audience?: string;
}

function b64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

/** ES256-signed JWT. The mock Fulcio only decodes it, but a signed token is what real IdPs issue. */
function mintJwt(key: KeyObject, opts: MintOptions, defaultIssuer: string): string {
  const now = Math.floor(Date.now() / 1000);
  const payload: Record<string, unknown> = {
    iss: opts.issuer ?? defaultIssuer,
    sub: opts.subject ?? opts.email ?? 'https://github.com/sigil/sigil/.github/workflows/release.yml@refs/heads/main',
    aud: opts.audience ?? 'sigstore',
    iat: now,
    nbf: now,
    exp: now + (opts.expiresIn ?? 600),
  };
  if (opts.email !== undefined) {
    payload.email = opts.email;
    payload.email_verified = true;
  }
  Object.assign(payload, opts.claims);
  const header = b64url(JSON.stringify({ alg: 'ES256', typ: 'JWT', kid: 'sigil-test' }));
  const body = b64url(JSON.stringify(payload));
  const sig = cryptoSign('sha256', Buffer.from(`${header}.${body}`), { key, dsaEncoding: 'ieee-p1363' });
  return `${header}.${body}.${b64url(sig)}`;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function answer(res: ServerResponse, fn: HandlerFn, body: string): Promise<void> {
  const { statusCode, response, contentType } = await fn(body);
  const bytes =
    typeof response === 'string'
      ? Buffer.from(response)
      : Buffer.from(response.buffer, response.byteOffset, response.byteLength);
  res.writeHead(statusCode, { 'content-type': contentType ?? 'text/plain', 'content-length': bytes.length });
  res.end(bytes);
}

function route(path: string, count: () => void, fn: (body: string) => ReturnType<HandlerFn>) {
  return async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method !== 'POST' || url.pathname !== path) {
      res.writeHead(404).end();
      return;
    }
    count();
    await answer(res, fn, await readBody(req));
  };
}

interface ProposedDsse {
  apiVersion: string;
  kind: 'dsse';
  spec: { proposedContent: { envelope: string; verifiers: string[] } };
}

/** What Rekor v1 stores for a proposed dsse 0.0.1 entry (rekor pkg/types/dsse/v0.0.1). */
function canonicalDsseEntry(entry: ProposedDsse): object {
  const envelope = JSON.parse(entry.spec.proposedContent.envelope) as {
    payload: string;
    signatures: { sig: string }[];
  };
  const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
  const verifier = entry.spec.proposedContent.verifiers[0];
  return {
    apiVersion: entry.apiVersion,
    kind: 'dsse',
    spec: {
      envelopeHash: { algorithm: 'sha256', value: sha256(entry.spec.proposedContent.envelope) },
      payloadHash: { algorithm: 'sha256', value: sha256(Buffer.from(envelope.payload, 'base64')) },
      signatures: envelope.signatures.map((s) => ({ signature: s.sig, verifier })),
    },
  };
}

function claimsOf(body: string): Record<string, unknown> {
  try {
    const token = (JSON.parse(body) as { credentials?: { oidcIdentityToken?: string } }).credentials?.oidcIdentityToken;
    const part = token?.split('.')[1];
    return part ? (JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** The CLI flags that point `sigil sign`/`attest` at the stack, as a user points it at a private Sigstore. */
export function sigstoreFlags(stack: Pick<SigstoreStack, 'fulcioUrl' | 'rekorUrl' | 'tsaUrl'>): string[] {
  return ['--fulcio-url', stack.fulcioUrl, '--rekor-url', stack.rekorUrl, '--timestamp-server-url', stack.tsaUrl];
}

export async function startSigstoreStack(): Promise<SigstoreStack> {
  // Validity starts a minute back so certificates issued "now" fall inside it despite clock rounding.
  const validFrom = new Date(Date.now() - 60_000);
  const keyPair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const oidcKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const defaultIssuer = 'https://issuer.sigil.test';
  const requests = { fulcio: 0, rekor: 0, tsa: 0 };

  const ctlog = await initializeCTLog(keyPair);
  const ca = await initializeCA(keyPair, ctlog);
  const byEmail = fulcioHandler(ca, { strict: true, subjectClaim: 'email' });
  const bySub = fulcioHandler(ca, { strict: true, subjectClaim: 'sub' });
  const fulcio = await serveLoopback(
    route(
      '/api/v2/signingCert',
      () => requests.fulcio++,
      (body) => (typeof claimsOf(body).email === 'string' ? byEmail.fn(body) : bySub.fn(body)),
    ),
  );

  // Rekor's URL is baked into its checkpoint origin, so the server listens before the log exists.
  let rekorFn: HandlerFn = () => Promise.resolve({ statusCode: 503, response: 'starting' });
  const rekor = await serveLoopback(
    route(
      '/api/v1/log/entries',
      () => requests.rekor++,
      (b) => rekorFn(b),
    ),
  );
  const tlog = await initializeTLog(rekor.origin, keyPair);
  const plainRekor = rekorHandler(tlog, { strict: true });
  rekorFn = async (body) => {
    const proposed = JSON.parse(body) as { kind?: string };
    if (proposed.kind !== 'dsse') return plainRekor.fn(body);
    return plainRekor.fn(JSON.stringify(canonicalDsseEntry(proposed as ProposedDsse)));
  };

  const tsa = await initializeTSA(keyPair);
  (tsa as unknown as { getCurrentTime: () => Date }).getCurrentTime = () => {
    const d = new Date();
    d.setMilliseconds(0);
    return d;
  };
  const tsaH = tsaHandler(tsa, { strict: true });
  const tsaServer = await serveLoopback(
    route(
      '/api/v1/timestamp',
      () => requests.tsa++,
      (b) => tsaH.fn(b),
    ),
  );

  const der = (v: ArrayBufferView) => Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  const root = TrustedRoot.fromJSON({}) as TrustedRoot;
  const rootValue: TrustedRoot = {
    ...root,
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    certificateAuthorities: [
      {
        subject: { organization: 'sigstore.mock', commonName: 'sigstore' },
        uri: fulcio.origin,
        certChain: { certificates: [{ rawBytes: der(ca.rootCertificate) }] },
        validFor: { start: validFrom, end: undefined },
        operator: 'sigil-test',
      },
    ],
    ctlogs: [
      {
        baseUrl: 'https://ctfe.sigil.test',
        hashAlgorithm: HashAlgorithm.SHA2_256,
        publicKey: {
          rawBytes: ctlog.publicKey,
          keyDetails: PublicKeyDetails.PKIX_ECDSA_P256_SHA_256,
          validFor: { start: validFrom, end: undefined },
        },
        logId: { keyId: der(ctlog.logID) },
        checkpointKeyId: undefined,
        operator: 'sigil-test',
      },
    ],
    tlogs: [
      {
        baseUrl: rekor.origin,
        hashAlgorithm: HashAlgorithm.SHA2_256,
        publicKey: {
          rawBytes: tlog.publicKey,
          keyDetails: PublicKeyDetails.PKIX_ECDSA_P256_SHA_256,
          validFor: { start: validFrom, end: undefined },
        },
        logId: { keyId: createHash('sha256').update(tlog.publicKey).digest() },
        checkpointKeyId: undefined,
        operator: 'sigil-test',
      },
    ],
    timestampAuthorities: [
      {
        subject: { organization: 'sigstore.mock', commonName: 'tsa' },
        uri: tsaServer.origin,
        certChain: { certificates: [{ rawBytes: der(tsa.intCertificate) }, { rawBytes: der(tsa.rootCertificate) }] },
        validFor: { start: validFrom, end: undefined },
        operator: 'sigil-test',
      },
    ],
  };
  const trustedRootJson = TrustedRoot.toJSON(rootValue) as Record<string, unknown>;

  const service = (url: string) => ({
    url,
    majorApiVersion: 1,
    validFor: { start: validFrom.toISOString() },
    operator: 'sigil-test',
  });
  const signingConfigJson = {
    mediaType: 'application/vnd.dev.sigstore.signingconfig.v0.2+json',
    caUrls: [service(fulcio.origin)],
    oidcUrls: [service(defaultIssuer)],
    rekorTlogUrls: [service(rekor.origin)],
    tsaUrls: [service(`${tsaServer.origin}/api/v1/timestamp`)],
    rekorTlogConfig: { selector: 'ANY' },
    tsaConfig: { selector: 'ANY' },
  };

  const stopped = new Set<LoopbackServer>();
  const stopOne = async (s: LoopbackServer) => {
    if (stopped.has(s)) return;
    stopped.add(s);
    await s.stop();
  };

  return {
    fulcioUrl: fulcio.origin,
    rekorUrl: rekor.origin,
    tsaUrl: tsaServer.origin,
    defaultIssuer,
    requests,
    mintIdentityToken: (opts = {}) => mintJwt(oidcKey, opts, defaultIssuer),
    trustedRoot: () => structuredClone(trustedRootJson),
    signingConfig: () => structuredClone(signingConfigJson),
    stopFulcio: () => stopOne(fulcio),
    stopRekor: () => stopOne(rekor),
    stopTSA: () => stopOne(tsaServer),
    stop: async () => {
      await Promise.all([stopOne(fulcio), stopOne(rekor), stopOne(tsaServer)]);
    },
  };
}
