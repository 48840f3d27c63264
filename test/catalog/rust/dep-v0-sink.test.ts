import { readdirSync, readlinkSync } from 'node:fs';
import { deflateSync, inflateSync } from 'node:zlib';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ExtractSink, FileHeader } from '../../../src/catalog/cataloger.ts';
import {
  decodeDepV0Extract,
  DepV0Sink,
  type DepV0SinkOptions,
  depV0Extractor,
} from '../../../src/catalog/rust/dep-v0-sink.ts';
import { SPOOL_PREFIX } from '../../../src/catalog/rust/spool.ts';
import {
  auditJson,
  debianRipgrep,
  minimalElf,
  RIPGREP_CRATES,
  sectionTableFirst,
  withAuditData,
} from '../../../testdata/rust-binaries.ts';

const header = (bytes: Uint8Array, mode = 0o755): FileHeader => ({ path: '/usr/bin/rg', mode, size: bytes.length });

/** Feed `bytes` in chunks of `size` (or the given boundaries); report the extract and how far the sink read. */
function stream(
  sink: ExtractSink,
  bytes: Uint8Array,
  cuts: number | number[] = 65536,
): { extract?: Uint8Array; read: number } {
  const bounds = typeof cuts === 'number' ? [] : [...cuts].sort((a, b) => a - b);
  if (typeof cuts === 'number') for (let at = cuts; at < bytes.length; at += cuts) bounds.push(at);
  let from = 0;
  for (const to of [...bounds, bytes.length]) {
    if (to <= from) continue;
    const more = sink.write(bytes.subarray(from, to));
    from = to;
    if (!more) break;
  }
  const extract = sink.end();
  return extract === undefined ? { read: from } : { extract, read: from };
}

function jsonOf(extract: Uint8Array | undefined): string {
  expect(extract).toBeDefined();
  const e = decodeDepV0Extract(extract!);
  if (!e.ok) throw new Error(`expected JSON, got error: ${e.error}`);
  return new TextDecoder().decode(e.json);
}

function openSpoolFiles(): string[] {
  const out = [];
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      if (target.includes(SPOOL_PREFIX)) out.push(target);
    } catch {
      // fd closed meanwhile
    }
  }
  return out;
}

function tableFirstElf(): Buffer {
  const sections = [
    { name: '.text', data: Buffer.alloc(200_000, 0xcc) },
    { name: '.dep-v0', data: deflateSync(Buffer.from(json)) },
    { name: '.rodata', data: Buffer.alloc(100_000, 0x41) },
  ];
  return minimalElf({ is64: true, littleEndian: true, tableFirst: true, sections });
}

let rg: Buffer;
let auditable: Buffer;
const json = auditJson(RIPGREP_CRATES);

beforeAll(async () => {
  rg = await debianRipgrep();
  auditable = withAuditData(rg, json);
}, 120_000);

describe('DepV0Sink on ripgrep', () => {
  it('returns the inflated .dep-v0 JSON of an auditable binary', () => {
    const r = stream(new DepV0Sink(header(auditable)), auditable);
    expect(jsonOf(r.extract)).toBe(json);
  });

  it('gives no extract for the plain Debian rg (no .dep-v0)', () => {
    const sink = new DepV0Sink(header(rg));
    expect(stream(sink, rg).extract).toBeUndefined();
  });

  it('stops at the first chunk for non-ELF content and never spools it', () => {
    const script = Buffer.from('#!/bin/sh\nexec rg "$@"\n'.repeat(10000));
    const sink = new DepV0Sink(header(script));
    const r = stream(sink, script, 4096);
    expect(r).toEqual({ read: 4096 });
    expect(sink.stats.peakMemoryBytes).toBe(0);
  });

  it('stops right after the header when the ELF has no section table', () => {
    const stripped = Buffer.from(rg);
    stripped.writeBigUInt64LE(0n, 0x28); // e_shoff = 0, as sstrip leaves it
    const r = stream(new DepV0Sink(header(stripped)), stripped, 1000);
    expect(r).toEqual({ read: 1000 });
  });

  it('only extracts for executables', () => {
    const ex = depV0Extractor();
    expect(ex.wants({ path: '/usr/bin/rg', mode: 0o755, size: 4_000_000 })).toBe(true);
    expect(ex.wants({ path: '/usr/bin/rg', mode: 0o100, size: 4_000_000 })).toBe(true);
    expect(ex.wants({ path: '/usr/lib/x.so', mode: 0o644, size: 4_000_000 })).toBe(false);
    expect(ex.wants({ path: '/usr/bin/tiny', mode: 0o755, size: 20 })).toBe(false);
  });

  it('reports corrupted section bytes as an error extract, not a throw', () => {
    const bad = withAuditData(rg, json);
    const z = deflateSync(Buffer.from(json), { level: 9 });
    const at = bad.indexOf(z);
    expect(at).toBeGreaterThan(0);
    bad.fill(0x55, at, at + 16); // smash the zlib header and the first deflate block
    const e = decodeDepV0Extract(stream(new DepV0Sink(header(bad)), bad).extract!);
    expect(e.ok).toBe(false);
    expect(!e.ok && e.error).toMatch(/\.dep-v0 is not zlib data/);
  });

  it('caps the inflated size (zlib bomb)', () => {
    const bomb = withAuditData(rg, Buffer.alloc(9 * 1024 * 1024, 0x20));
    const e = decodeDepV0Extract(stream(new DepV0Sink(header(bomb)), bomb).extract!);
    expect(!e.ok && e.error).toMatch(/inflates to more than 8388608 bytes/);
  });

  it('reads a real binary whose section table was moved to the front', () => {
    const early = sectionTableFirst(auditable);
    expect(jsonOf(stream(new DepV0Sink(header(early), { memoryLimit: 1024 * 1024 }), early).extract)).toBe(json);
    const none = sectionTableFirst(Buffer.from(rg));
    expect(stream(new DepV0Sink(header(none)), none).extract).toBeUndefined();
  });

  it('decides mid-stream when the table and .shstrtab come first', () => {
    const data = deflateSync(Buffer.from(json));
    const code = Buffer.alloc(3 * 1024 * 1024, 0xcc);
    const sections = [
      { name: '.dep-v0', data },
      { name: '.text', data: code },
    ];
    const withDep = minimalElf({ is64: true, littleEndian: true, tableFirst: true, sections });
    const sink = new DepV0Sink(header(withDep), { memoryLimit: 1024 * 1024 });
    const r = stream(sink, withDep, 4096);
    expect(jsonOf(r.extract)).toBe(json);
    expect(r.read).toBeLessThan(64 * 1024); // stopped once .dep-v0 had gone by, 3 MiB of .text unread
    expect(sink.stats.spilled).toBe(false);

    const withoutDep = minimalElf({ is64: false, littleEndian: false, tableFirst: true, sections: [sections[1]!] });
    const r2 = stream(new DepV0Sink(header(withoutDep)), withoutDep, 4096);
    expect(r2).toEqual({ read: 4096 }); // no .dep-v0 in the table: stop at once

    // .dep-v0 after the big section: only the section's bytes are kept from the moment it is known.
    const late = minimalElf({
      is64: true,
      littleEndian: true,
      tableFirst: true,
      sections: [sections[1]!, sections[0]!],
    });
    const lateSink = new DepV0Sink(header(late), { memoryLimit: 1024 * 1024 });
    expect(jsonOf(stream(lateSink, late, 4096).extract)).toBe(json);
    expect(lateSink.stats.spilled).toBe(false);
    expect(lateSink.stats.peakMemoryBytes).toBeLessThanOrEqual(1024 * 1024);
  });

  it('gives the same extract whatever the chunk boundaries (property)', () => {
    const small = sectionTableFirst(auditable);
    fc.assert(
      fc.property(
        fc.constantFrom(auditable, small, rg, tableFirstElf()),
        fc.array(fc.nat({ max: auditable.length + 10 }), { maxLength: 40 }),
        fc.constantFrom<DepV0SinkOptions>({}, { memoryLimit: 64 * 1024 }),
        (bytes, cuts, options) => {
          const expected = stream(new DepV0Sink(header(bytes), options), bytes, 1 << 20).extract;
          const got = stream(new DepV0Sink(header(bytes), options), bytes, cuts).extract;
          expect(got === undefined ? undefined : Buffer.from(got)).toEqual(
            expected === undefined ? undefined : Buffer.from(expected),
          );
        },
      ),
      { numRuns: 40 },
    );
  });

  it('reads 32- and 64-bit ELF in both byte orders', () => {
    const data = deflateSync(Buffer.from('{"packages":[{"name":"a","version":"1.0.0","source":"crates.io"}]}'));
    for (const is64 of [false, true]) {
      for (const littleEndian of [false, true]) {
        const elf = minimalElf({
          is64,
          littleEndian,
          sections: [
            { name: '.text', data: Buffer.alloc(100, 0xcc) },
            { name: '.dep-v0', data },
          ],
        });
        const r = stream(new DepV0Sink(header(elf)), elf, 7);
        expect(jsonOf(r.extract), `is64=${is64} le=${littleEndian}`).toBe(inflateSync(data).toString());
      }
    }
  });

  it('falls back to rust-audit 0.1 `.rust-deps-v0`', () => {
    const data = deflateSync(Buffer.from('{"packages":[]}'));
    const elf = minimalElf({ is64: true, littleEndian: true, sections: [{ name: '.rust-deps-v0', data }] });
    expect(jsonOf(stream(new DepV0Sink(header(elf)), elf).extract)).toBe('{"packages":[]}');
  });

  it('streams a 25 MB ELF with bounded memory through a temp file that is gone afterwards', () => {
    const padding = Buffer.alloc(21 * 1024 * 1024);
    for (let i = 0; i < padding.length; i += 4) padding.writeUInt32LE((i * 2654435761) >>> 0, i);
    const big = withAuditData(rg, json, [{ name: '.sigil-padding', data: padding }]);
    expect(big.length).toBeGreaterThan(25 * 1024 * 1024);
    const sink = new DepV0Sink(header(big), { memoryLimit: 4 * 1024 * 1024 });
    let sawSpool = false;
    let from = 0;
    while (from < big.length) {
      const more = sink.write(big.subarray(from, from + 65536));
      from += 65536;
      if (from === 10 * 65536 * 16) sawSpool = openSpoolFiles().length > 0;
      if (!more) break;
    }
    expect(sawSpool).toBe(true); // spooled past the memory limit, through an already-unlinked file
    expect(readdirSync(process.env.TMPDIR ?? '/tmp').filter((f) => f.startsWith(SPOOL_PREFIX))).toEqual([]);
    expect(jsonOf(sink.end())).toBe(json);
    expect(sink.stats.spilled).toBe(true);
    expect(sink.stats.peakMemoryBytes).toBeLessThanOrEqual(5 * 1024 * 1024 + 1);
    expect(openSpoolFiles()).toEqual([]);
  });

  it('dispose() closes the temp file of a sink that never reaches end()', () => {
    const sink = new DepV0Sink({ path: '/x', mode: 0o755, size: 8 * 1024 * 1024 }, { memoryLimit: 1024 * 1024 });
    sink.write(rg.subarray(0, 2 * 1024 * 1024));
    expect(openSpoolFiles().length).toBe(1);
    sink.dispose();
    expect(openSpoolFiles()).toEqual([]);
    expect(sink.write(rg.subarray(0, 10))).toBe(false);
  });
});
