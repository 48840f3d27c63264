/**
 * Rust binaries with cargo-auditable data, built by code from a real Rust ELF.
 *
 * Debian does not build with cargo-auditable (see /work/shared/vectors/sbom/rust-cargo-auditable),
 * so the section is added the way it ends up in an auditable binary: zlib-compressed
 * rust-audit-info JSON in an allocated, read-only `.dep-v0` section (`objcopy --add-section`, from
 * binutils). The ELF is ripgrep's `usr/bin/rg` from Debian 12's ripgrep 13.0.0-4+b2 (.deb sha256
 * feba1aea6022d84c67293686fe82132f7283d3c485a2cbd5af5c0e210615ecc2, rg sha256
 * a1c942be0be0c5637ac5a080dcad4b05e9fc9d61aef36b119bad86a4c68f2987 when written).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { debToLayerEntries, fetchDebs } from './debs.ts';

export interface FixtureCrate {
  name: string;
  version: string;
  source?: string;
  kind?: 'build' | 'runtime';
  /** Names of crates of the same list it depends on. */
  deps?: string[];
  root?: boolean;
}

/**
 * ripgrep 13's crates. Names and versions are the deb's own `X-Cargo-Built-Using` field (Debian's
 * `rust-<crate>` source packages linked into rg; `_` in crate names where crates.io has it).
 * Edges are each crate's [dependencies] at that version, written by hand from their Cargo.toml
 * (unix targets, default features). `cc` and `pkg-config` are pcre2-sys's build dependencies
 * (never linked, hence absent from X-Cargo-Built-Using): they carry `kind: build` as
 * cargo-auditable writes such crates.
 */
export const RIPGREP_CRATES: FixtureCrate[] = [
  {
    name: 'ripgrep',
    version: '13.0.0',
    source: 'local',
    root: true,
    deps: ['bstr', 'clap', 'grep', 'ignore', 'lazy_static', 'log', 'num_cpus', 'regex', 'serde_json', 'termcolor'],
  },
  { name: 'aho-corasick', version: '0.7.19', deps: ['memchr'] },
  { name: 'atty', version: '0.2.14', deps: ['libc'] },
  { name: 'base64', version: '0.13.0' },
  { name: 'bitflags', version: '1.3.2' },
  { name: 'bstr', version: '0.2.17', deps: ['memchr', 'once_cell', 'regex-automata', 'serde'] },
  { name: 'bytecount', version: '0.6.3' },
  { name: 'byteorder', version: '1.4.3' },
  { name: 'cc', version: '1.0.73', kind: 'build' },
  { name: 'cfg-if', version: '1.0.0' },
  { name: 'clap', version: '2.34.0', deps: ['atty', 'bitflags', 'strsim', 'textwrap', 'unicode-width'] },
  { name: 'crossbeam-utils', version: '0.8.12', deps: ['cfg-if', 'once_cell'] },
  { name: 'encoding_rs', version: '0.8.31', deps: ['cfg-if'] },
  { name: 'encoding_rs_io', version: '0.1.7', deps: ['encoding_rs'] },
  { name: 'fnv', version: '1.0.7' },
  { name: 'globset', version: '0.4.9', deps: ['aho-corasick', 'bstr', 'fnv', 'log', 'regex'] },
  {
    name: 'grep',
    version: '0.2.10',
    deps: ['grep-cli', 'grep-matcher', 'grep-pcre2', 'grep-printer', 'grep-regex', 'grep-searcher'],
  },
  {
    name: 'grep-cli',
    version: '0.1.6',
    deps: ['atty', 'bstr', 'globset', 'lazy_static', 'log', 'regex', 'same-file', 'termcolor'],
  },
  { name: 'grep-matcher', version: '0.1.5', deps: ['memchr'] },
  { name: 'grep-pcre2', version: '0.1.5', deps: ['grep-matcher', 'pcre2'] },
  {
    name: 'grep-printer',
    version: '0.1.6',
    deps: ['base64', 'bstr', 'grep-matcher', 'grep-searcher', 'serde', 'serde_json', 'termcolor'],
  },
  {
    name: 'grep-regex',
    version: '0.1.10',
    deps: ['aho-corasick', 'bstr', 'grep-matcher', 'log', 'regex', 'regex-syntax', 'thread_local'],
  },
  {
    name: 'grep-searcher',
    version: '0.1.10',
    deps: ['bstr', 'bytecount', 'encoding_rs', 'encoding_rs_io', 'grep-matcher', 'log', 'memmap2'],
  },
  {
    name: 'ignore',
    version: '0.4.18',
    deps: [
      'crossbeam-utils',
      'globset',
      'lazy_static',
      'log',
      'memchr',
      'regex',
      'same-file',
      'thread_local',
      'walkdir',
    ],
  },
  { name: 'itoa', version: '1.0.1' },
  { name: 'lazy_static', version: '1.4.0' },
  { name: 'libc', version: '0.2.139' },
  { name: 'log', version: '0.4.17', deps: ['cfg-if'] },
  { name: 'memchr', version: '2.5.0' },
  { name: 'memmap2', version: '0.5.7', deps: ['libc'] },
  { name: 'num_cpus', version: '1.14.0', deps: ['libc'] },
  { name: 'once_cell', version: '1.16.0' },
  { name: 'pcre2', version: '0.2.3', deps: ['libc', 'log', 'pcre2-sys', 'thread_local'] },
  { name: 'pcre2-sys', version: '0.2.5', deps: ['cc', 'libc', 'pkg-config'] },
  { name: 'pkg-config', version: '0.3.25', kind: 'build' },
  { name: 'regex', version: '1.7.0', deps: ['aho-corasick', 'memchr', 'regex-syntax'] },
  { name: 'regex-automata', version: '0.1.8' },
  { name: 'regex-syntax', version: '0.6.27' },
  { name: 'ryu', version: '1.0.2' },
  { name: 'same-file', version: '1.0.6' },
  { name: 'serde', version: '1.0.147' },
  { name: 'serde_json', version: '1.0.87', deps: ['itoa', 'ryu', 'serde'] },
  { name: 'smawk', version: '0.3.1' },
  { name: 'strsim', version: '0.10.0' },
  { name: 'termcolor', version: '1.1.2' },
  { name: 'textwrap', version: '0.16.0', deps: ['smawk', 'unicode-linebreak', 'unicode-width'] },
  { name: 'thread_local', version: '1.1.4', deps: ['once_cell'] },
  { name: 'unicode-linebreak', version: '0.1.4' },
  { name: 'unicode-width', version: '0.1.10' },
  { name: 'walkdir', version: '2.3.2', deps: ['same-file'] },
];

/**
 * The JSON as cargo-auditable's auditable-serde writes it: fields in struct order, those at their
 * default (`kind` runtime, empty `dependencies`, `root` false) left out, dependencies as indexes
 * into `packages`. Sorted by name, as cargo-auditable sorts them.
 */
export function auditJson(crates: readonly FixtureCrate[]): string {
  const sorted = [...crates].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const index = new Map(sorted.map((c, i) => [c.name, i]));
  const packages = sorted.map((c) => {
    const p: Record<string, unknown> = { name: c.name, version: c.version, source: c.source ?? 'crates.io' };
    if (c.kind === 'build') p.kind = 'build';
    const deps = (c.deps ?? []).map((d) => {
      const i = index.get(d);
      if (i === undefined) throw new Error(`fixture crate ${c.name} depends on unknown ${d}`);
      return i;
    });
    if (deps.length > 0) p.dependencies = deps.sort((a, b) => a - b);
    if (c.root === true) p.root = true;
    return p;
  });
  return JSON.stringify({ packages });
}

/** ripgrep's rg from the Debian 12 .deb (downloaded once into testdata/cache/debs). */
export async function debianRipgrep(): Promise<Buffer> {
  const [deb] = await fetchDebs(['ripgrep']);
  const pkg = await debToLayerEntries(deb!);
  const rg = pkg.entries.find((e) => e.path === 'usr/bin/rg');
  if (rg?.data === undefined) throw new Error(`${deb}: no usr/bin/rg`);
  return rg.data;
}

/** The deb's `X-Cargo-Built-Using` field, to check RIPGREP_CRATES against. */
export async function ripgrepBuiltUsing(): Promise<string> {
  const [deb] = await fetchDebs(['ripgrep']);
  const pkg = await debToLayerEntries(deb!);
  const m = /^X-Cargo-Built-Using: (.*)$/m.exec(pkg.statusParagraph);
  return m?.[1] ?? '';
}

/**
 * Add sections to an ELF with objcopy, each allocated and read-only like cargo-auditable's.
 * Sections are written in the order given, after the existing ones.
 */
export function addSections(elf: Uint8Array, sections: readonly { name: string; data: Uint8Array }[]): Buffer {
  const dir = mkdtempSync(join(tmpdir(), 'sigil-objcopy-'));
  try {
    const input = join(dir, 'in');
    const output = join(dir, 'out');
    writeFileSync(input, elf);
    const args: string[] = [];
    sections.forEach((s, i) => {
      const file = join(dir, `section-${i}`);
      writeFileSync(file, s.data);
      args.push('--add-section', `${s.name}=${file}`, '--set-section-flags', `${s.name}=alloc,readonly`);
    });
    const r = spawnSync('objcopy', [...args, input, output], { encoding: 'utf8' });
    if (r.error !== undefined) throw new Error(`objcopy: ${r.error.message} (install binutils)`);
    if (r.status !== 0) throw new Error(`objcopy failed: ${r.stderr}`);
    return readFileSync(output);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A Rust ELF carrying `json` as cargo-auditable does (zlib-compressed in `.dep-v0`). */
export function withAuditData(
  elf: Uint8Array,
  json: string | Uint8Array,
  before: { name: string; data: Uint8Array }[] = [],
): Buffer {
  const data = deflateSync(typeof json === 'string' ? Buffer.from(json) : json, { level: 9 });
  return addSections(elf, [...before, { name: '.dep-v0', data }]);
}

/**
 * The same ELF with its section header table moved right after the file header (sections'
 * offsets shifted to match): a layout post-processing tools can produce, where a reader learns
 * early where `.dep-v0` is. Only section offsets are fixed up, so the result is for parsers, not for running.
 */
export function sectionTableFirst(elf: Buffer): Buffer {
  if (elf[4] !== 2 || elf[5] !== 1) throw new Error('sectionTableFirst: ELF64 little-endian only');
  const shoff = Number(elf.readBigUInt64LE(0x28));
  const shentsize = elf.readUInt16LE(0x3a);
  const shnum = elf.readUInt16LE(0x3c);
  const tableLength = shentsize * shnum;
  const table = Buffer.from(elf.subarray(shoff, shoff + tableLength));
  // Keep the rest 16-aligned so sections stay as aligned as they were.
  const shift = Math.ceil(tableLength / 16) * 16;
  for (let i = 0; i < shnum; i++) {
    const at = i * shentsize + 24;
    const type = table.readUInt32LE(i * shentsize + 4);
    if (type !== 0) table.writeBigUInt64LE(table.readBigUInt64LE(at) + BigInt(shift), at);
  }
  const rest = Buffer.concat([elf.subarray(64, shoff), elf.subarray(shoff + tableLength)]);
  const head = Buffer.from(elf.subarray(0, 64));
  head.writeBigUInt64LE(64n, 0x28);
  // Everything after the header moves by `shift`, minus the 64 bytes of header it already follows.
  const out = Buffer.concat([head, table, Buffer.alloc(shift - tableLength), rest]);
  // Sections after the old table moved back by tableLength: fix those too.
  for (let i = 0; i < shnum; i++) {
    const at = 64 + i * shentsize + 24;
    const type = out.readUInt32LE(64 + i * shentsize + 4);
    const original = Number(out.readBigUInt64LE(at)) - shift;
    if (type !== 0 && original >= shoff + tableLength) out.writeBigUInt64LE(BigInt(original - tableLength + shift), at);
  }
  return out;
}

/**
 * A minimal relocatable-style ELF written from scratch, for the classes and byte orders no Debian
 * amd64 binary has (32-bit, big-endian): file header, the sections' bytes, `.shstrtab`, then the
 * section header table at the end as linkers place it.
 */
export function minimalElf(opts: {
  is64: boolean;
  littleEndian: boolean;
  sections: readonly { name: string; data: Uint8Array }[];
  /** Put the section header table and `.shstrtab` first, right after the file header. */
  tableFirst?: boolean;
}): Buffer {
  const { is64, littleEndian: le } = opts;
  const ehsize = is64 ? 64 : 52;
  const shentsize = is64 ? 64 : 40;
  const names = ['', ...opts.sections.map((s) => s.name), '.shstrtab'];
  const nameOffsets: number[] = [];
  let strtab = '';
  for (const n of names) {
    nameOffsets.push(n === '' ? 0 : strtab.length);
    if (n !== '' || strtab === '') strtab += `${n}\0`;
  }
  const bodies = [...opts.sections.map((s) => Buffer.from(s.data)), Buffer.from(strtab, 'latin1')];
  const shnum = bodies.length + 1;
  const offsets: number[] = new Array<number>(bodies.length);
  let at = ehsize;
  let shoff: number;
  if (opts.tableFirst === true) {
    shoff = at;
    at += shnum * shentsize;
    offsets[bodies.length - 1] = at;
    at += bodies.at(-1)!.length;
    for (let i = 0; i < bodies.length - 1; i++) {
      offsets[i] = at;
      at += bodies[i]!.length;
    }
  } else {
    for (let i = 0; i < bodies.length; i++) {
      offsets[i] = at;
      at += bodies[i]!.length;
    }
    shoff = Math.ceil(at / 8) * 8;
    at = shoff + shnum * shentsize;
  }
  const out = Buffer.alloc(at);
  out.set([0x7f, 0x45, 0x4c, 0x46, is64 ? 2 : 1, le ? 1 : 2, 1], 0);
  const u16 = (v: number, o: number): number => (le ? out.writeUInt16LE(v, o) : out.writeUInt16BE(v, o));
  const u32 = (v: number, o: number): number => (le ? out.writeUInt32LE(v, o) : out.writeUInt32BE(v, o));
  const addr = (v: number, o: number): number =>
    is64 ? (le ? out.writeBigUInt64LE(BigInt(v), o) : out.writeBigUInt64BE(BigInt(v), o)) : u32(v, o);
  u16(2, 16); // ET_EXEC
  u16(is64 ? 62 : 3, 18); // EM_X86_64 / EM_386 (only informative here)
  u32(1, 20);
  addr(shoff, is64 ? 0x28 : 0x20);
  const h = is64 ? 0x34 : 0x28;
  u16(ehsize, h);
  u16(shentsize, h + 6);
  u16(shnum, h + 8);
  u16(shnum - 1, h + 10);
  bodies.forEach((b, i) => {
    out.set(b, offsets[i]!);
    const s = shoff + (i + 1) * shentsize;
    u32(nameOffsets[i + 1]!, s);
    u32(i === bodies.length - 1 ? 3 : 1, s + 4); // SHT_STRTAB for .shstrtab, else SHT_PROGBITS
    addr(offsets[i]!, s + (is64 ? 24 : 16));
    addr(b.length, s + (is64 ? 32 : 20));
  });
  return out;
}
