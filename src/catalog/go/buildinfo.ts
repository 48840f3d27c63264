/**
 * Go build info as the go command embeds it (runtime/debug.BuildInfo): the blob the scanner kept
 * (header, Go version, modinfo) decoded into the main module, its dependencies and build settings.
 * Formats: golang/go src/debug/buildinfo/buildinfo.go (blob), src/runtime/debug/mod.go (text).
 */
import { BUILDINFO_HEADER_SIZE, BUILDINFO_MAGIC, FLAG_VERSION_INLINE, readUvarint } from './buildinfo-scanner.ts';

export type GoBuildInfoErrorCode = 'NOT_BUILDINFO' | 'TRUNCATED' | 'POINTER_FORMAT' | 'MALFORMED_MODINFO';

export class GoBuildInfoError extends Error {
  override name = 'GoBuildInfoError';
  readonly code: GoBuildInfoErrorCode;

  constructor(code: GoBuildInfoErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

export interface GoModule {
  path: string;
  /** `(devel)` for a main module built from a checkout; absent when the line carries none. */
  version?: string;
  /** The go.sum hash, `h1:<base64 sha256>`; absent for vendored and local modules. */
  sum?: string;
  /** What a `replace` directive swapped in: the code really linked. */
  replace?: GoModule;
}

export interface GoBuildInfo {
  /** As the binary says it, `go1.19.8`; may carry experiments (`go1.21.0 X:loopvar`). */
  goVersion: string;
  /** The main package's import path (`path` line). */
  path?: string;
  /** The main module (`mod` line); absent for GOPATH-mode builds such as Debian's. */
  main?: GoModule;
  deps: GoModule[];
  /** `build` lines in order: `-ldflags`, `CGO_ENABLED`, `GOARCH`, `GOOS`, `vcs.revision`, … */
  settings: [key: string, value: string][];
}

// The go command frames modinfo with these 16 bytes on either side (cmd/go/internal/modload
// infoStart/infoEnd) so the linker can find it; debug/buildinfo strips them.
const INFO_START_LENGTH = 16;
const decoder = new TextDecoder();

/** The Go version and modinfo text of a blob found by the scanner. */
export function decodeBuildInfoBlob(blob: Uint8Array): { goVersion: string; modinfo: string } {
  const buf = Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength);
  if (buf.length < BUILDINFO_HEADER_SIZE || !buf.subarray(0, BUILDINFO_MAGIC.length).equals(BUILDINFO_MAGIC)) {
    throw new GoBuildInfoError('NOT_BUILDINFO', `no build info header (${buf.length} bytes)`);
  }
  if ((buf[15]! & FLAG_VERSION_INLINE) === 0) {
    throw new GoBuildInfoError(
      'POINTER_FORMAT',
      'built before Go 1.18: its build info points into .rodata, which a forward-only layer scan has passed; modules not read',
    );
  }
  const strings: string[] = [];
  let off = BUILDINFO_HEADER_SIZE;
  for (const what of ['Go version', 'modinfo']) {
    const v = readUvarint(buf, off);
    if (v === 'short' || v === undefined || v.next + v.value > buf.length) {
      throw new GoBuildInfoError('TRUNCATED', `build info ends inside the ${what} string`);
    }
    strings.push(decoder.decode(buf.subarray(v.next, v.next + v.value)));
    off = v.next + v.value;
  }
  const [goVersion, framed] = strings as [string, string];
  // Same test as debug/buildinfo: a framed modinfo ends with "\n" + 16 sentinel bytes.
  const modinfo =
    framed.length >= 2 * INFO_START_LENGTH + 1 && framed[framed.length - INFO_START_LENGTH - 1] === '\n'
      ? framed.slice(INFO_START_LENGTH, framed.length - INFO_START_LENGTH)
      : '';
  return { goVersion, modinfo };
}

/**
 * Parse the modinfo text (runtime/debug.ParseBuildInfo's grammar): tab-separated lines `path`,
 * `mod`, `dep`, `=>` (replaces the module on the line before) and `build key=value`, where key and
 * value are Go-quoted when they hold spaces, tabs, quotes or `=`.
 */
export function parseModinfo(goVersion: string, text: string): GoBuildInfo {
  const info: GoBuildInfo = { goVersion, deps: [], settings: [] };
  let last: GoModule | undefined;
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n]!;
    if (line === '') continue;
    const bad = (why: string) => new GoBuildInfoError('MALFORMED_MODINFO', `modinfo line ${n + 1}: ${why}: "${line}"`);
    const tab = line.indexOf('\t');
    if (tab < 0) throw bad('no tab');
    const word = line.slice(0, tab);
    const rest = line.slice(tab + 1);
    switch (word) {
      case 'path':
        info.path = rest;
        break;
      case 'mod':
      case 'dep':
      case '=>': {
        const mod = parseModuleLine(rest);
        if (mod === undefined) throw bad('expected <path>\t<version>[\t<sum>]');
        if (word === 'mod') {
          info.main = mod;
        } else if (word === 'dep') {
          info.deps.push(mod);
        } else {
          if (last === undefined) throw bad('replacement with no module before it');
          last.replace = mod;
        }
        last = word === '=>' ? undefined : mod;
        break;
      }
      case 'build': {
        const kv = parseBuildSetting(rest);
        if (kv === undefined) throw bad('expected key=value');
        info.settings.push(kv);
        break;
      }
      default:
        throw bad(`unknown line kind "${word}"`);
    }
  }
  return info;
}

function parseModuleLine(rest: string): GoModule | undefined {
  const f = rest.split('\t');
  // `mod path (devel)` has no sum; a replacement by a directory is `=> ./dir (devel)` or, before
  // Go 1.18, `=> ./dir` with no version at all.
  if (f.length < 1 || f.length > 3 || f[0] === '') return undefined;
  const mod: GoModule = { path: f[0]! };
  if (f[1] !== undefined && f[1] !== '') mod.version = f[1];
  if (f[2] !== undefined && f[2] !== '') mod.sum = f[2];
  return mod;
}

function parseBuildSetting(rest: string): [string, string] | undefined {
  let key: string;
  let after: string;
  if (rest.startsWith('"')) {
    const q = readQuoted(rest);
    if (q === undefined || rest[q.end] !== '=') return undefined;
    key = q.value;
    after = rest.slice(q.end + 1);
  } else {
    const eq = rest.indexOf('=');
    if (eq <= 0) return undefined;
    key = rest.slice(0, eq);
    after = rest.slice(eq + 1);
  }
  if (after.startsWith('"')) {
    const q = readQuoted(after);
    if (q === undefined || q.end !== after.length) return undefined;
    return [key, q.value];
  }
  return [key, after];
}

const SIMPLE_ESCAPES: Record<string, string> = {
  a: '\x07',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
  '\\': '\\',
  '"': '"',
  "'": "'",
};

/** A Go interpreted string literal (strconv.Quote's output) at the start of `s`. */
function readQuoted(s: string): { value: string; end: number } | undefined {
  const bytes: number[] = [];
  const enc = new TextEncoder();
  let i = 1;
  while (i < s.length) {
    const c = s[i]!;
    if (c === '"') return { value: Buffer.from(bytes).toString('utf8'), end: i + 1 };
    if (c !== '\\') {
      const cp = s.codePointAt(i)!;
      const ch = String.fromCodePoint(cp);
      bytes.push(...enc.encode(ch));
      i += ch.length;
      continue;
    }
    const e = s[i + 1];
    if (e === undefined) return undefined;
    const simple = SIMPLE_ESCAPES[e];
    if (simple !== undefined) {
      bytes.push(simple.charCodeAt(0));
      i += 2;
      continue;
    }
    // \xHH is one byte, \uHHHH and \UHHHHHHHH a code point, \ooo an octal byte.
    const hexLen = e === 'x' ? 2 : e === 'u' ? 4 : e === 'U' ? 8 : 0;
    if (hexLen > 0) {
      const hex = s.slice(i + 2, i + 2 + hexLen);
      if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== hexLen) return undefined;
      const v = Number.parseInt(hex, 16);
      if (e === 'x') bytes.push(v);
      else if (v > 0x10ffff) return undefined;
      else bytes.push(...enc.encode(String.fromCodePoint(v)));
      i += 2 + hexLen;
      continue;
    }
    const oct = s.slice(i + 1, i + 4);
    if (!/^[0-7]{3}$/.test(oct)) return undefined;
    bytes.push(Number.parseInt(oct, 8) & 0xff);
    i += 4;
  }
  return undefined;
}

/** The blob straight to build info; throws GoBuildInfoError. */
export function parseBuildInfo(blob: Uint8Array): GoBuildInfo {
  const { goVersion, modinfo } = decodeBuildInfoBlob(blob);
  return parseModinfo(goVersion, modinfo);
}
