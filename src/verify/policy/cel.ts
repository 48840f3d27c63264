/**
 * CEL conditions on attestation predicates (POLICY.md §2.4) through @bufbuild/cel, which runs the
 * CEL conformance suite and matches `matches()` with RE2. Parse and planning errors surface at
 * load; a run-time error (missing field, wrong type) is returned, never thrown, because
 * predicates are untrusted input and a missing field must deny, not crash.
 */
import { celEnv, isCelError, parse, plan } from '@bufbuild/cel';
import { strings } from '@bufbuild/cel/ext';
import type { Expr } from '@bufbuild/cel-spec/cel/expr/syntax_pb.js';

/** The variables a condition may use. */
export const CEL_VARIABLES = ['predicate', 'statement', 'predicateType', 'subject', 'image', 'signer'] as const;

export type ConditionOutcome = { ok: true; value: boolean } | { ok: false; error: string };

export interface CompiledCondition {
  expr: string;
  evaluate(bindings: Record<string, unknown>): ConditionOutcome;
}

export class CelLoadError extends Error {}

const env = celEnv({ funcs: strings });

export function compileCondition(expr: string): CompiledCondition {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(expr);
  } catch (err) {
    throw new CelLoadError(`CEL parse error: ${(err as Error).message}`);
  }
  const unknown = freeIdentifiers(parsed.expr).filter((n) => !(CEL_VARIABLES as readonly string[]).includes(n));
  if (unknown.length > 0) {
    throw new CelLoadError(
      `CEL expression uses undeclared ${unknown.map((n) => `"${n}"`).join(', ')}; available: ${CEL_VARIABLES.join(', ')}`,
    );
  }
  const literal = literalType(parsed.expr);
  if (literal !== undefined && literal !== 'bool') {
    throw new CelLoadError(`CEL expression must return a bool, this one is a ${literal} literal`);
  }
  let program: ReturnType<typeof plan>;
  try {
    program = plan(env, parsed);
  } catch (err) {
    throw new CelLoadError(`CEL planning error: ${(err as Error).message}`);
  }
  return {
    expr,
    evaluate(bindings) {
      let result: unknown;
      try {
        const celBindings: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(bindings)) celBindings[k] = toCel(v);
        result = program(celBindings as never);
      } catch (err) {
        return { ok: false, error: (err as Error).message };
      }
      if (isCelError(result)) return { ok: false, error: result.message };
      if (typeof result !== 'boolean') return { ok: false, error: `expression returned a non-bool value` };
      return { ok: true, value: result };
    },
  };
}

/** JSON data → CEL input: objects become maps (so `has()` and field selection work), numbers stay double. */
export function toCel(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(toCel);
  if (value instanceof Uint8Array) return value;
  if (value !== null && typeof value === 'object') {
    return new Map(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, toCel(v)]));
  }
  return value === undefined ? null : value;
}

/** Identifiers not bound by a comprehension (macros like `all(x, …)` bind their iteration variable). */
function freeIdentifiers(e: Expr | undefined, bound: ReadonlySet<string> = new Set()): string[] {
  if (!e) return [];
  const k = e.exprKind;
  switch (k.case) {
    case 'identExpr':
      return bound.has(k.value.name) ? [] : [k.value.name];
    case 'selectExpr':
      return freeIdentifiers(k.value.operand, bound);
    case 'callExpr':
      return [...freeIdentifiers(k.value.target, bound), ...k.value.args.flatMap((a) => freeIdentifiers(a, bound))];
    case 'listExpr':
      return k.value.elements.flatMap((a) => freeIdentifiers(a, bound));
    case 'structExpr':
      return k.value.entries.flatMap((en) => [
        ...(en.keyKind.case === 'mapKey' ? freeIdentifiers(en.keyKind.value, bound) : []),
        ...freeIdentifiers(en.value, bound),
      ]);
    case 'comprehensionExpr': {
      const c = k.value;
      const inner = new Set([...bound, c.iterVar, c.accuVar, ...(c.iterVar2 ? [c.iterVar2] : [])]);
      return [
        ...freeIdentifiers(c.iterRange, bound),
        ...freeIdentifiers(c.accuInit, bound),
        ...freeIdentifiers(c.loopCondition, inner),
        ...freeIdentifiers(c.loopStep, inner),
        ...freeIdentifiers(c.result, inner),
      ];
    }
    default:
      return [];
  }
}

function literalType(e: Expr): string | undefined {
  if (e.exprKind.case !== 'constExpr') return undefined;
  const c = e.exprKind.value.constantKind.case;
  if (c === 'boolValue') return 'bool';
  return c?.replace(/Value$/, '') ?? 'null';
}

export { isCelError };
