/**
 * docs/reference.md against the CLI itself: the committed file is exactly what
 * scripts/reference.ts renders from the yargs definitions; every command, subcommand,
 * positional and flag that the real yargs parser shows in `sigil ... --help` is in it (so the
 * renderer's recorder misses nothing); every environment variable that src/ reads and every
 * exit code of src/cli/exit-codes.ts is documented.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { collectCommands, ENVIRONMENT, REFERENCE_FILE, renderReference } from '../../scripts/reference.ts';
import { ExitCode } from '../../src/cli/exit-codes.ts';
import { main } from '../../src/cli/main.ts';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));
const committed = readFileSync(REFERENCE_FILE, 'utf8');

/** `sigil ARGS --help` through the real yargs parser, in this process. */
async function help(args: string[]): Promise<string> {
  let text = '';
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      text += chunk.toString();
      done();
    },
  });
  const code = await main([...args, '--help'], {
    stdout: sink,
    stderr: sink,
    stdin: process.stdin,
    env: {},
  });
  expect(code, text).toBe(0);
  return text;
}

/** Names listed in one section (`Options:`, `Positionals:`, `Commands:`) of yargs' help. */
function section(text: string, title: string): string[] {
  const lines = text.split('\n');
  const start = lines.indexOf(`${title}:`);
  if (start < 0) return [];
  const names: string[] = [];
  for (const line of lines.slice(start + 1)) {
    if (line.trim() === '') break;
    const m =
      title === 'Options'
        ? /^\s+(?:-\w, )?--([\w-]+)/.exec(line)
        : title === 'Commands'
          ? /^\s+sigil ((?:[\w-]+ ?)+?)(?: [<[]|\s{2}|$)/.exec(line)
          : /^\s+([\w-]+)\s/.exec(line);
    if (m) names.push(m[1]!.trim());
  }
  return names;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => join(e.parentPath, e.name));
}

describe('docs/reference.md', () => {
  it('is what scripts/reference.ts renders (run `npm run reference`)', async () => {
    expect(committed).toBe(await renderReference());
  });

  it('has every command, subcommand, positional and flag that yargs shows in --help', async () => {
    const { commands } = collectCommands();
    const top = section(await help([]), 'Commands');
    expect(top.length).toBeGreaterThan(20);
    const queue: string[][] = top.map((c) => c.split(' '));
    let checked = 0;
    while (queue.length > 0) {
      const path = queue.shift()!;
      const text = await help(path);
      expect(committed, `sigil ${path.join(' ')}`).toContain(`sigil ${path.join(' ')}\n`);
      let doc = { subcommands: commands } as { subcommands: typeof commands };
      for (const word of path) doc = doc.subcommands.find((c) => c.path.at(-1) === word)!;
      expect(doc, `recorded sigil ${path.join(' ')}`).toBeDefined();
      const recorded = doc as (typeof commands)[number];
      const flags = section(text, 'Options').filter((f) => !['help', 'version'].includes(f));
      const globals = ['output', 'verbose', 'quiet', 'insecure-registry', 'plain-http', 'authfile'];
      expect(new Set(flags)).toEqual(new Set([...globals, ...recorded.options.map((o) => o.name)]));
      expect(section(text, 'Positionals')).toEqual(recorded.positionals.map((p) => p.name));
      for (const f of recorded.options) expect(committed).toContain(`| \`--${f.name}\``);
      for (const sub of section(text, 'Commands')) queue.push(sub.split(' '));
      checked++;
    }
    expect(checked).toBeGreaterThan(25);
  }, 60_000);

  it('documents every environment variable src/ reads', () => {
    const read = new Set<string>();
    for (const file of sourceFiles(SRC)) {
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/\benv\??\.([A-Z][A-Z0-9_]*)\b/g)) read.add(m[1]!);
      for (const m of text.matchAll(/\benv\[['"]([A-Z][A-Z0-9_]*)['"]\]/g)) read.add(m[1]!);
    }
    expect(read.size).toBeGreaterThan(10);
    const documented = ENVIRONMENT.map(([name]) => name);
    for (const name of read) {
      expect(documented, name).toContain(name);
      expect(committed).toMatch(new RegExp(`^\\| \`${name}\` +\\|`, 'm'));
    }
  });

  it('documents every exit code', () => {
    for (const code of Object.values(ExitCode)) expect(committed).toMatch(new RegExp(`^\\| ${code} +\\| \\S`, 'm'));
  });
});
