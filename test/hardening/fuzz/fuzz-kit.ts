/**
 * Shared parts of the hostile-input tests: mutators that turn a valid sample into a damaged one
 * (bytes flipped, cut, repeated; JSON fields dropped, retyped, blown up; lines dropped or
 * doubled), the "returns or throws a typed error" check, and the per-parser counters that end up
 * in test-results/fuzz-figures.md.
 *
 * Mutations of valid samples are the main source of inputs: arbitrary bytes almost never get
 * past a parser's first check, a sample with one field retyped reaches the code behind it.
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { isSigilError } from '../../../src/errors.ts';

// ---------------------------------------------------------------------------------------------
// Byte mutations

export type ByteOp =
  | { op: 'flip'; at: number; mask: number }
  | { op: 'set'; at: number; value: number }
  | { op: 'truncate'; at: number }
  | { op: 'delete'; at: number; length: number }
  | { op: 'insert'; at: number; bytes: Uint8Array }
  | { op: 'repeat'; at: number; length: number; times: number }
  | { op: 'blowup'; at: number; byte: number; length: number };

/**
 * Positions are fractions of the input length (0..1), so one op fits any sample. Unbiased: the
 * default bias towards small values would aim nearly every mutation at the first byte or the root.
 */
const pos = fc.noBias(fc.integer({ min: 0, max: 999_999 })).map((n) => n / 1_000_000);

export const byteOp: fc.Arbitrary<ByteOp> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({ op: fc.constant('flip' as const), at: pos, mask: fc.integer({ min: 1, max: 255 }) }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('set' as const),
      at: pos,
      value: fc.constantFrom(0x00, 0xff, 0x7f, 0x80, 0x2f, 0x2e, 0x22, 0x0a, 0x3a, 0x30, 0x39),
    }),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('truncate' as const), at: pos }) },
  {
    weight: 1,
    arbitrary: fc.record({ op: fc.constant('delete' as const), at: pos, length: fc.integer({ min: 1, max: 64 }) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('insert' as const),
      at: pos,
      bytes: fc.uint8Array({ minLength: 1, maxLength: 32 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('repeat' as const),
      at: pos,
      length: fc.integer({ min: 1, max: 512 }),
      times: fc.integer({ min: 2, max: 64 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('blowup' as const),
      at: pos,
      byte: fc.constantFrom(0x41, 0x00, 0xff, 0x30, 0x20),
      length: fc.integer({ min: 1024, max: 256 * 1024 }),
    }),
  },
);

export function applyByteOp(input: Uint8Array, m: ByteOp): Uint8Array {
  const n = input.length;
  const at = Math.min(n, Math.floor(m.at * n));
  const b = Buffer.from(input);
  switch (m.op) {
    case 'flip':
      if (n === 0) return b;
      b[Math.min(at, n - 1)]! ^= m.mask;
      return b;
    case 'set':
      if (n === 0) return b;
      b[Math.min(at, n - 1)] = m.value;
      return b;
    case 'truncate':
      return b.subarray(0, at);
    case 'delete':
      return Buffer.concat([b.subarray(0, at), b.subarray(at + m.length)]);
    case 'insert':
      return Buffer.concat([b.subarray(0, at), m.bytes, b.subarray(at)]);
    case 'repeat': {
      const slice = b.subarray(at, at + m.length);
      return Buffer.concat([b.subarray(0, at), ...Array.from({ length: m.times }, () => slice), b.subarray(at)]);
    }
    case 'blowup':
      return Buffer.concat([b.subarray(0, at), Buffer.alloc(m.length, m.byte), b.subarray(at)]);
  }
}

/** One to four byte mutations of `sample`. */
export function mutatedBytes(sample: Uint8Array, maxOps = 4): fc.Arbitrary<Uint8Array> {
  return fc.array(byteOp, { minLength: 1, maxLength: maxOps }).map((ops) => ops.reduce(applyByteOp, sample));
}

/** `arb` one time in four, else undefined: structural mutations should mostly reach the parser intact. */
export function sometimes<T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> {
  return fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: arb });
}

// ---------------------------------------------------------------------------------------------
// JSON mutations

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Replacement values: every JSON type, the empty ones, the huge ones, the edge numbers. */
export const hostileJsonValue: fc.Arbitrary<Json> = fc.oneof(
  fc.constantFrom<Json>(
    null,
    true,
    false,
    0,
    -1,
    1.5,
    1e308,
    -1e308,
    2 ** 53 + 1,
    '',
    ' ',
    '\u0000',
    '../../../../etc/passwd',
    '/',
    'sha256:',
    `sha256:${'0'.repeat(64)}`,
    [],
    {},
    [null],
    { '': null },
    { __proto__: 1 } as unknown as Json,
  ),
  fc.integer({ min: 1024, max: 200_000 }).map((n) => 'x'.repeat(n)),
  fc.integer({ min: 1, max: 5000 }).map((n) => Array.from({ length: n }, () => 0) as Json),
  fc.integer({ min: 100, max: 1000 }).map((depth) => {
    let v: Json = 1;
    for (let i = 0; i < depth; i++) v = [v];
    return v;
  }),
  fc.string({ maxLength: 20 }),
  fc.integer(),
  fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<Json>,
);

type JsonPath = (string | number)[];

function jsonPaths(v: Json, prefix: JsonPath = [], out: JsonPath[] = []): JsonPath[] {
  if (out.length >= 4000) return out;
  out.push(prefix);
  // A deep value planted by an earlier op is one target, not thousands.
  if (prefix.length >= 32) return out;
  if (Array.isArray(v)) v.forEach((x, i) => jsonPaths(x, [...prefix, i], out));
  else if (v !== null && typeof v === 'object') for (const k of Object.keys(v)) jsonPaths(v[k]!, [...prefix, k], out);
  return out;
}

export type JsonOp =
  | { op: 'drop'; at: number }
  | { op: 'replace'; at: number; value: Json }
  | { op: 'duplicate'; at: number; times: number }
  | { op: 'rename'; at: number; name: string };

export const jsonOp: fc.Arbitrary<JsonOp> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ op: fc.constant('drop' as const), at: pos }) },
  { weight: 5, arbitrary: fc.record({ op: fc.constant('replace' as const), at: pos, value: hostileJsonValue }) },
  {
    weight: 1,
    arbitrary: fc.record({ op: fc.constant('duplicate' as const), at: pos, times: fc.integer({ min: 2, max: 500 }) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('rename' as const),
      at: pos,
      name: fc.constantFrom('__proto__', 'constructor', 'toString', '', 'x'),
    }),
  },
);

/** Mutations that would grow a document past this are skipped: the inputs stay within what a test can hold. */
const MAX_MUTATED_JSON = 1024 * 1024;

function applyJsonOp(doc: Json, m: JsonOp): Json {
  const out = applyJsonOpUnbounded(doc, m);
  return JSON.stringify(out).length > MAX_MUTATED_JSON ? doc : out;
}

function applyJsonOpUnbounded(doc: Json, m: JsonOp): Json {
  const paths = jsonPaths(doc);
  const path = paths[Math.min(paths.length - 1, Math.floor(m.at * paths.length))]!;
  if (path.length === 0) {
    if (m.op === 'replace') return m.value;
    if (m.op === 'duplicate') return Array.from({ length: Math.min(m.times, 50) }, () => doc);
    return doc;
  }
  const copy = structuredClone(doc);
  let parent = copy as Record<string | number, Json>;
  for (const key of path.slice(0, -1)) parent = parent[key] as Record<string | number, Json>;
  const last = path.at(-1)!;
  const current = parent[last]!;
  switch (m.op) {
    case 'drop':
      if (Array.isArray(parent)) parent.splice(last as number, 1);
      else delete parent[last];
      break;
    case 'replace':
      parent[last] = m.value;
      break;
    case 'duplicate':
      if (Array.isArray(parent)) parent.splice(last as number, 0, ...Array.from({ length: m.times }, () => current));
      else parent[last] = Array.from({ length: m.times }, () => current);
      break;
    case 'rename':
      if (!Array.isArray(parent)) {
        delete parent[last];
        Object.defineProperty(parent, m.name, { value: current, enumerable: true, configurable: true, writable: true });
      }
      break;
  }
  return copy;
}

/** A valid JSON sample with one to three structural mutations, sometimes also byte-mutated. */
export function mutatedJson(sample: unknown, maxOps = 3): fc.Arbitrary<Uint8Array> {
  const doc = sample as Json;
  return fc.tuple(fc.array(jsonOp, { minLength: 1, maxLength: maxOps }), sometimes(byteOp)).map(([ops, bytes]) => {
    const text = Buffer.from(JSON.stringify(ops.reduce(applyJsonOp, doc)));
    return bytes === undefined ? text : applyByteOp(text, bytes);
  });
}

/** The mutated JSON as a parsed value (for parsers that take an object); undefined when a byte op broke it. */
export function mutatedJsonValue(sample: unknown, maxOps = 3): fc.Arbitrary<unknown> {
  const doc = sample as Json;
  return fc.array(jsonOp, { minLength: 1, maxLength: maxOps }).map((ops) => ops.reduce(applyJsonOp, doc));
}

// ---------------------------------------------------------------------------------------------
// Line mutations (dpkg status, METADATA, MANIFEST.MF, YAML)

export type LineOp =
  | { op: 'drop'; at: number }
  | { op: 'duplicate'; at: number; times: number }
  | { op: 'swap'; at: number; with: number }
  | { op: 'insert'; at: number; line: string }
  | { op: 'cut'; at: number; keep: number };

const hostileLine = fc.oneof(
  fc.constantFrom(
    '',
    ' ',
    ':',
    ' .',
    '\t',
    '---',
    '...',
    '- ',
    '{',
    '[',
    '&a [*a]',
    '*a',
    '!!binary AAAA',
    'Package:',
    'Version: ',
    'P:',
    'V:',
    'Name:',
    'Metadata-Version: 2.1',
    'Manifest-Version: 1.0',
    '%YAML 1.2',
    '\u0000',
    '\uFEFF',
  ),
  fc.integer({ min: 1024, max: 200_000 }).map((n) => `Key: ${'v'.repeat(n)}`),
  fc.string({ maxLength: 40 }),
);

export const lineOp: fc.Arbitrary<LineOp> = fc.oneof(
  fc.record({ op: fc.constant('drop' as const), at: pos }),
  fc.record({ op: fc.constant('duplicate' as const), at: pos, times: fc.integer({ min: 2, max: 500 }) }),
  fc.record({ op: fc.constant('swap' as const), at: pos, with: pos }),
  fc.record({ op: fc.constant('insert' as const), at: pos, line: hostileLine }),
  fc.record({ op: fc.constant('cut' as const), at: pos, keep: pos }),
);

function applyLineOp(lines: string[], m: LineOp): string[] {
  const out = [...lines];
  const i = Math.min(Math.max(0, out.length - 1), Math.floor(m.at * out.length));
  switch (m.op) {
    case 'drop':
      out.splice(i, 1);
      break;
    case 'duplicate':
      out.splice(i, 0, ...Array.from({ length: m.times }, () => out[i] ?? ''));
      break;
    case 'swap': {
      const j = Math.min(Math.max(0, out.length - 1), Math.floor(m.with * out.length));
      [out[i], out[j]] = [out[j] ?? '', out[i] ?? ''];
      break;
    }
    case 'insert':
      out.splice(i, 0, m.line);
      break;
    case 'cut':
      out[i] = (out[i] ?? '').slice(0, Math.floor(m.keep * (out[i] ?? '').length));
      break;
  }
  return out;
}

/** A text sample with one to four line mutations, sometimes also byte-mutated. */
export function mutatedText(sample: string, maxOps = 4): fc.Arbitrary<string> {
  const lines = sample.split('\n');
  return fc.tuple(fc.array(lineOp, { minLength: 1, maxLength: maxOps }), sometimes(byteOp)).map(([ops, bytes]) => {
    const text = ops.reduce(applyLineOp, lines).join('\n');
    return bytes === undefined ? text : Buffer.from(applyByteOp(Buffer.from(text), bytes)).toString('utf8');
  });
}

// ---------------------------------------------------------------------------------------------
// The property and its counters

/** An error a caller can act on: one of sigil's typed errors, or a reader's own typed error with a code. */
export type TypedCheck = (e: unknown) => boolean;
export const sigilTyped: TypedCheck = isSigilError;

export interface ParserFigures {
  parser: string;
  inputs: number;
  /** Inputs the parser accepted (returned a result). */
  accepted: number;
  /** Inputs refused with a typed error. */
  refused: number;
  crashes: number;
  /** Slowest single input, ms. */
  slowestMs: number;
}

/** Per-file counters; `write()` in afterAll adds them to test-results/fuzz-figures.md. */
export class FuzzFigures {
  private readonly rows = new Map<string, ParserFigures>();
  readonly family: string;
  constructor(family: string) {
    this.family = family;
  }

  row(parser: string): ParserFigures {
    let r = this.rows.get(parser);
    if (!r) {
      r = { parser, inputs: 0, accepted: 0, refused: 0, crashes: 0, slowestMs: 0 };
      this.rows.set(parser, r);
    }
    return r;
  }

  all(): ParserFigures[] {
    return [...this.rows.values()];
  }

  /** Write this file's rows, then rebuild the table from every file's rows. */
  write(): void {
    const dir = join(RESULTS_DIR, 'fuzz-figures');
    mkdirSync(dir, { recursive: true });
    const tmp = join(dir, `.${this.family}.${process.pid}.tmp`);
    writeFileSync(tmp, JSON.stringify({ family: this.family, at: new Date().toISOString(), rows: this.all() }));
    renameSync(tmp, join(dir, `${this.family}.json`));
    const families = readdirSync(dir)
      .filter((n) => n.endsWith('.json'))
      .sort()
      .map(
        (n) => JSON.parse(readFileSync(join(dir, n), 'utf8')) as { family: string; at: string; rows: ParserFigures[] },
      );
    const lines = [
      '# Fuzzing figures',
      '',
      `Written by test/hardening/fuzz; each family's rows are from its latest run. Seed: ${
        fc.readConfigureGlobal().seed ?? 'random (set CI or SIGIL_FC_SEED for a fixed one)'
      }.`,
      '',
      '| family | parser | inputs tried | accepted | refused (typed error) | crashes | slowest input (ms) |',
      '| --- | --- | ---: | ---: | ---: | ---: | ---: |',
    ];
    let total = 0;
    let crashes = 0;
    for (const f of families) {
      for (const r of f.rows) {
        lines.push(
          `| ${f.family} | ${r.parser} | ${r.inputs} | ${r.accepted} | ${r.refused} | ${r.crashes} | ${Math.round(r.slowestMs)} |`,
        );
        total += r.inputs;
        crashes += r.crashes;
      }
    }
    lines.push(`| **total** | | **${total}** | | | **${crashes}** | |`, '');
    const md = join(RESULTS_DIR, 'fuzz-figures.md');
    const mdTmp = `${md}.${process.pid}.tmp`;
    writeFileSync(mdTmp, lines.join('\n'));
    renameSync(mdTmp, md);
    process.stdout.write(
      `\n${this.family}: parser | inputs tried | crashes\n${this.all()
        .map((r) => `  ${r.parser} | ${r.inputs} | ${r.crashes}`)
        .join('\n')}\n`,
    );
  }
}

export const RESULTS_DIR = fileURLToPath(new URL('../../../test-results/', import.meta.url));

/**
 * The run counts are sized for CI on two shared cores (the folder in about a minute);
 * SIGIL_FUZZ_SCALE=10 tries ten times as many inputs per parser for a longer local session.
 */
const RUN_SCALE = Number(process.env.SIGIL_FUZZ_SCALE ?? '1') || 1;

/** Longest one input may take: a parser that needs more on a few hundred KiB is hanging. */
export const PER_INPUT_MS = 2000;

export interface FuzzOptions {
  numRuns: number;
  /** Which thrown errors count as a clean refusal; default sigil's typed errors. */
  typed?: TypedCheck;
  perInputMs?: number;
}

function describeInput(input: unknown): string {
  if (Array.isArray(input)) return input.map(describeInput).join(', ');
  if (input instanceof Uint8Array)
    return `${input.length} bytes: ${JSON.stringify(Buffer.from(input.subarray(0, 300)).toString('latin1'))}`;
  const s = typeof input === 'string' ? input : JSON.stringify(input);
  return `${s?.length ?? 0} chars: ${JSON.stringify((s ?? '').slice(0, 300))}`;
}

/**
 * The property every parser must hold: on any input it returns, or throws a typed error; it never
 * throws anything else and never takes longer than `perInputMs`. Counts into `figures`.
 */
export async function fuzz<T>(
  figures: FuzzFigures,
  parser: string,
  arb: fc.Arbitrary<T>,
  run: (input: T) => unknown,
  options: FuzzOptions,
): Promise<void> {
  const row = figures.row(parser);
  const typed = options.typed ?? sigilTyped;
  const numRuns = Math.max(1, Math.round(options.numRuns * RUN_SCALE));
  const limit = options.perInputMs ?? PER_INPUT_MS;
  await fc.assert(
    fc.asyncProperty(arb, async (input) => {
      row.inputs++;
      const started = performance.now();
      let timer: NodeJS.Timeout | undefined;
      // A promise that never settles is a hang too; the elapsed-time check below cannot see it.
      const hang = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${parser}: no answer after ${limit * 5} ms`)), limit * 5);
      });
      try {
        await Promise.race([Promise.resolve().then(() => run(input)), hang]);
        row.accepted++;
      } catch (e) {
        if (!typed(e)) {
          row.crashes++;
          throw new Error(
            `${parser}: untyped ${(e as Error)?.name}: ${(e as Error)?.message}\ninput ${describeInput(input)}`,
            {
              cause: e,
            },
          );
        }
        row.refused++;
      } finally {
        clearTimeout(timer);
        const ms = performance.now() - started;
        row.slowestMs = Math.max(row.slowestMs, ms);
        if (ms > limit) {
          row.crashes++;
          // eslint-disable-next-line no-unsafe-finally
          throw new Error(
            `${parser}: ${Math.round(ms)} ms on one input (limit ${limit})\ninput ${describeInput(input)}`,
          );
        }
      }
    }),
    { numRuns, endOnFailure: true },
  );
}
