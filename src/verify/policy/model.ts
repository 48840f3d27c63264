/**
 * Policies as loaded: every glob, regexp and CEL expression already compiled, every relative
 * path resolved, every key read. What evaluate.ts needs and nothing that can still fail to parse.
 */
import type { Authority } from '../authority.ts';
import type { CompiledCondition } from './cel.ts';
import type { CompiledGlob } from './glob.ts';

export type PolicyMode = 'enforce' | 'warn' | 'audit';
export type NoMatch = 'deny' | 'warn' | 'allow';
export type DiscoveryScheme = 'referrers' | 'tags';

export type PolicyAuthority = Authority | { kind: 'static'; name: string; action: 'pass' | 'fail'; message?: string };

export interface AttestationRequirement {
  name: string;
  /** Expanded from cosign's short names (`spdxjson` → `https://spdx.dev/Document`). */
  predicateType: string;
  /** Names of this policy's (non-static) authorities that may sign it. */
  authorities: string[];
  conditions: { name: string; expr: string; message?: string; compiled: CompiledCondition }[];
}

export interface Policy {
  name: string;
  description?: string;
  /** The file it came from, as given (relative to the loaded folder's parent when loaded from one). */
  file: string;
  line: number;
  mode: PolicyMode;
  images: CompiledGlob[];
  exclude: CompiledGlob[];
  requireDigest: boolean;
  signatureRepository?: string;
  discovery: DiscoveryScheme[];
  authorities: PolicyAuthority[];
  threshold: number;
  attestations: AttestationRequirement[];
}

export interface PolicySettings {
  noMatch: NoMatch;
  file?: string;
}

export interface PolicyTestCase {
  name: string;
  image: string;
  /** Resolved against the test file's directory. */
  evidence?: string;
  now?: Date;
  scope?: string;
  expect: { decision: 'allow' | 'deny' | 'error'; reasons: string[] };
}

export interface PolicyTest {
  name: string;
  file: string;
  line: number;
  cases: PolicyTestCase[];
}

export interface PolicySet {
  policies: Policy[];
  settings: PolicySettings;
  tests: PolicyTest[];
  /** Lint findings noticed while loading (the warnings of §9). */
  warnings: LintWarning[];
}

export interface LintWarning {
  file: string;
  line: number;
  path: string;
  message: string;
}
