/**
 * Installed gem specifications (`<GEM_HOME>/specifications/<name>-<version>.gemspec`) read without
 * Ruby. RubyGems writes them with `Gem::Specification#to_ruby`: one `s.<attr> = <literal>` per line,
 * strings as `"…".freeze` with Ruby's `String#dump` escapes, arrays of those, and dependencies as
 * `s.add_runtime_dependency(%q<name>.freeze, ["~> 1.0"])`. RubyGems as old as Debian 12's (3.3) wraps the
 * dependencies in `if s.respond_to? :add_runtime_dependency then … else … end`, whose `else` branch
 * repeats every dependency, development ones included, as `add_dependency`: that branch is skipped.
 * Anything that is not a literal (a constant, a method call) is not evaluated: the attribute is
 * treated as absent, as syft's regex reader does.
 */

export interface GemDependency {
  name: string;
  /** Version requirements as written (`>= 0`, `~> 1.4`); empty means any version. */
  requirements: string[];
}

export interface Gemspec {
  name: string;
  version: string;
  /**
   * `s.platform` for gems built for one platform (`x86_64-linux`, `java`); undefined for pure-Ruby
   * gems, whose platform is `ruby` and which RubyGems writes without the line.
   */
  platform?: string;
  /** `s.licenses = [...]` or `s.license = "…"`, as written. */
  licenses: string[];
  authors: string[];
  email: string[];
  homepage?: string;
  summary?: string;
  /** Paths relative to the gem's directory (`<GEM_HOME>/gems/<name>-<version>/`). */
  files: string[];
  /** `add_runtime_dependency` and `add_dependency` (its alias); never `add_development_dependency`. */
  runtimeDependencies: GemDependency[];
  developmentDependencies: GemDependency[];
}

export interface ParsedGemspec {
  spec?: Gemspec;
  /** Why the file was not a usable specification, or what in it was skipped; each names the file. */
  warnings: string[];
}

type Value = string | Value[] | null;

// Gem::Specification::VALID_NAME_PATTERN and Gem::Version::VERSION_PATTERN (RubyGems 3.x).
const VALID_NAME = /^[A-Za-z0-9._-]+$/;
const VALID_VERSION = /^[0-9]+(?:\.[0-9a-zA-Z]+)*(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$/;

export function parseGemspec(content: string, path: string): ParsedGemspec {
  const warnings: string[] = [];
  const text = content.replace(/^\uFEFF/, '').replace(/\r\n?/g, '\n');
  const block = /Gem::Specification\.new\s+do\s*\|\s*([A-Za-z_]\w*)\s*\|/.exec(text);
  if (block === null)
    return { warnings: [`${path}: no "Gem::Specification.new do |s|" block; not a gem specification`] };
  const v = block[1]!;
  const assign = new RegExp(`^\\s*${v}\\.([a-z_]+)\\s*=\\s*(.*)$`);
  const call = new RegExp(
    `^\\s*${v}\\.(add_runtime_dependency|add_dependency|add_development_dependency)\\s*\\(?(.*)$`,
  );
  // One whitespace before `if`, not `\s+`: a leading `\s+` is tried from every blank of a long run
  // of blanks, quadratic (a 200 KB line of spaces took 80 s); the blanks before it are trimmed instead.
  const respondToGuard = new RegExp(`\\sif\\s+${v}\\.respond_to\\?`);

  const attrs = new Map<string, Value>();
  const runtime: GemDependency[] = [];
  const development: GemDependency[] = [];
  // Inside `else` of `if s.respond_to? :add_runtime_dependency then`: the fallback for RubyGems
  // older than 1.2, which lists development dependencies as plain `add_dependency`.
  let inFallback = false;
  let inDependencyIf = false;
  const lines = text.slice(block.index + block[0].length).split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    if (new RegExp(`^if\\s+${v}\\.respond_to\\?\\s*:add_runtime_dependency\\b`).test(line)) {
      inDependencyIf = true;
      continue;
    }
    if (inDependencyIf && line === 'else') {
      inFallback = true;
      continue;
    }
    if (inDependencyIf && line === 'end') {
      inDependencyIf = false;
      inFallback = false;
      continue;
    }
    const c = call.exec(line);
    if (c !== null) {
      if (inFallback) continue;
      const args = parseArguments(c[2]!);
      const name = args?.[0];
      if (typeof name !== 'string' || !VALID_NAME.test(name)) {
        warnings.push(`${path}: "${line.slice(0, 80)}" names no gem; dependency skipped`);
        continue;
      }
      const dep = { name, requirements: strings(args!.slice(1)) };
      (c[1] === 'add_development_dependency' ? development : runtime).push(dep);
      continue;
    }
    const a = assign.exec(line);
    if (a === null) continue;
    // `… if s.respond_to? :metadata=` guards only say which RubyGems can read the attribute.
    const guard = respondToGuard.exec(a[2]!);
    const src = guard === null ? a[2]! : a[2]!.slice(0, guard.index).trimEnd();
    const value = a[1] === 'platform' ? parsePlatform(src) : parseValue(src);
    if (value !== undefined && !attrs.has(a[1]!)) attrs.set(a[1]!, value);
  }

  const name = attrs.get('name');
  const version = attrs.get('version');
  if (typeof name !== 'string' || !VALID_NAME.test(name)) {
    warnings.push(`${path}: no literal gem name (s.name = "…"); specification skipped`);
    return { warnings };
  }
  if (typeof version !== 'string' || !VALID_VERSION.test(version.trim())) {
    warnings.push(`${path}: no valid literal version for gem ${name} (s.version = "…"); specification skipped`);
    return { warnings };
  }
  const spec: Gemspec = {
    name,
    version: version.trim(),
    licenses: strings([attrs.get('licenses') ?? null, attrs.get('license') ?? null]),
    authors: strings([attrs.get('authors') ?? null, attrs.get('author') ?? null]),
    email: strings([attrs.get('email') ?? null]),
    files: strings([attrs.get('files') ?? null]),
    runtimeDependencies: runtime,
    developmentDependencies: development,
  };
  const platform = attrs.get('platform');
  if (typeof platform === 'string' && platform.trim() !== '' && platform.trim() !== 'ruby')
    spec.platform = platform.trim();
  const homepage = attrs.get('homepage');
  if (typeof homepage === 'string' && homepage !== '') spec.homepage = homepage;
  const summary = attrs.get('summary');
  if (typeof summary === 'string' && summary !== '') spec.summary = summary;
  return { spec, warnings };
}

/**
 * `"x86_64-linux".freeze`, or `Gem::Platform.new(["x86_64", "linux", nil])`, which `ruby_code`
 * writes when the original platform was an object: its parts joined as `Gem::Platform#to_s` does.
 */
function parsePlatform(src: string): Value | undefined {
  const m = /^\s*Gem::Platform\.new\((.*)\)\s*$/.exec(src);
  if (m === null) return parseValue(src);
  const parts = parseValue(m[1]!);
  if (!Array.isArray(parts)) return undefined;
  return parts.filter((p): p is string => typeof p === 'string' && p !== '').join('-');
}

/** Every non-empty string in a value, arrays flattened, in order, duplicates dropped. */
function strings(values: Value[]): string[] {
  const out: string[] = [];
  const walk = (x: Value) => {
    if (typeof x === 'string') {
      if (x.trim() !== '' && !out.includes(x.trim())) out.push(x.trim());
    } else if (Array.isArray(x)) x.forEach(walk);
  };
  values.forEach(walk);
  return out;
}

/**
 * One Ruby literal filling the rest of the line: a string, `nil`, or an array of them. Undefined for
 * anything else (a constant, `Gem::Requirement.new(…)`, a hash), which is then ignored.
 */
export function parseValue(src: string): Value | undefined {
  const r = new LiteralReader(src);
  const value = r.value();
  if (value === undefined) return undefined;
  r.skipSpace();
  return r.atEnd() ? value : undefined;
}

/** `(%q<name>.freeze, [">= 1".freeze, "< 3"])` → [name, [">= 1", "< 3"]]; undefined if not all literals. */
function parseArguments(src: string): Value[] | undefined {
  const r = new LiteralReader(src.replace(/\)\s*$/, ''));
  const out: Value[] = [];
  for (;;) {
    r.skipSpace();
    if (r.atEnd()) return out;
    const value = r.value();
    if (value === undefined) return out.length > 0 ? out : undefined;
    out.push(value);
    r.skipSpace();
    if (!r.eat(',')) return out;
  }
}

const PERCENT_CLOSE: Record<string, string> = { '<': '>', '(': ')', '[': ']', '{': '}' };

class LiteralReader {
  private i = 0;
  constructor(private readonly s: string) {}

  atEnd(): boolean {
    return this.i >= this.s.length;
  }

  skipSpace(): void {
    while (this.i < this.s.length && /\s/.test(this.s[this.i]!)) this.i++;
  }

  eat(token: string): boolean {
    if (!this.s.startsWith(token, this.i)) return false;
    this.i += token.length;
    return true;
  }

  value(): Value | undefined {
    this.skipSpace();
    let v: Value | undefined;
    const c = this.s[this.i];
    if (c === '"') v = this.doubleQuoted();
    else if (c === "'") v = this.singleQuoted();
    else if (c === '%' && /^%q[<([{]/.test(this.s.slice(this.i, this.i + 3))) v = this.percentQ();
    else if (c === '[') v = this.array();
    else if (this.s.startsWith('nil', this.i) && !/\w/.test(this.s[this.i + 3] ?? '')) {
      this.i += 3;
      v = null;
    }
    if (v === undefined) return undefined;
    // RubyGems >= 2.7 freezes every string it writes; the call changes nothing about the value.
    while (this.eat('.freeze')) {
      /* skip */
    }
    return v;
  }

  private array(): Value[] | undefined {
    this.i++; // [
    const out: Value[] = [];
    for (;;) {
      this.skipSpace();
      if (this.eat(']')) return out;
      const v = this.value();
      if (v === undefined) return undefined;
      out.push(v);
      this.skipSpace();
      if (this.eat(']')) return out;
      if (!this.eat(',')) return undefined;
    }
  }

  private singleQuoted(): string | undefined {
    let out = '';
    for (this.i++; this.i < this.s.length; this.i++) {
      const c = this.s[this.i]!;
      if (c === "'") {
        this.i++;
        return out;
      }
      if (c === '\\' && (this.s[this.i + 1] === "'" || this.s[this.i + 1] === '\\')) out += this.s[++this.i]!;
      else out += c;
    }
    return undefined;
  }

  private percentQ(): string | undefined {
    const open = this.s[this.i + 2]!;
    const close = PERCENT_CLOSE[open]!;
    let depth = 0;
    let out = '';
    for (this.i += 3; this.i < this.s.length; this.i++) {
      const c = this.s[this.i]!;
      if (c === '\\' && (this.s[this.i + 1] === close || this.s[this.i + 1] === '\\')) {
        out += this.s[++this.i]!;
        continue;
      }
      if (c === open) depth++;
      if (c === close && depth-- === 0) {
        this.i++;
        return out;
      }
      out += c;
    }
    return undefined;
  }

  /** The escapes `String#dump` writes (RubyGems' `ruby_code`): `\n \t \" \\ \#`, `\e`, `\uXXXX`, `\u{…}`, `\xHH`. */
  private doubleQuoted(): string | undefined {
    let out = '';
    const bytes: number[] = [];
    const flush = () => {
      if (bytes.length > 0) out += Buffer.from(bytes.splice(0)).toString('utf8');
    };
    for (this.i++; this.i < this.s.length; this.i++) {
      const c = this.s[this.i]!;
      if (c === '"') {
        flush();
        this.i++;
        return out;
      }
      // `#{…}` is interpolation: the value is computed, so it is not a literal we can read.
      if (c === '#' && this.s[this.i + 1] === '{') return undefined;
      if (c !== '\\') {
        flush();
        out += c;
        continue;
      }
      const e = this.s[++this.i];
      if (e === undefined) return undefined;
      const hex = (re: RegExp) => {
        const m = re.exec(this.s.slice(this.i + 1));
        if (m === null) return undefined;
        this.i += m[0].length;
        return m;
      };
      if (e === 'x') {
        const m = hex(/^[0-9A-Fa-f]{1,2}/);
        if (m === undefined) return undefined;
        bytes.push(parseInt(m[0], 16));
        continue;
      }
      flush();
      if (e === 'u') {
        const m = hex(/^(?:([0-9A-Fa-f]{4})|\{([0-9A-Fa-f ]+)\})/);
        if (m === undefined) return undefined;
        const points = (m[1] ?? m[2]!).trim().split(/\s+/);
        for (const p of points) out += String.fromCodePoint(parseInt(p, 16));
        continue;
      }
      out += SIMPLE_ESCAPES[e] ?? e;
    }
    return undefined;
  }
}

const SIMPLE_ESCAPES: Record<string, string> = {
  n: '\n',
  t: '\t',
  r: '\r',
  f: '\f',
  v: '\v',
  a: '\x07',
  b: '\b',
  e: '\x1b',
  s: ' ',
  '0': '\0',
};
