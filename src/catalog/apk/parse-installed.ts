/**
 * apk's installed database (`/lib/apk/db/installed`, apk-tools src/database.c): one record per
 * package, records separated by a blank line, every line `<letter>:<value>`. Most letters occur
 * once per record; the file list repeats `F:` (a directory, relative to the root) followed by that
 * directory's `R:` (file) lines, each file optionally with `a:` (acl) and `Z:` (checksum) lines.
 * Read leniently (CRLF, several blank lines, no final newline): a line that is not `X:value` is
 * skipped with a warning naming file and line, the rest of the record still counts.
 */

export interface ApkRecord {
  /** Single-valued fields by letter (`P`, `V`, `A`, `L`, `o`, `m`, `D`, `p`, …); the last one wins. */
  fields: Map<string, string>;
  /** Files the record owns, relative to the root (`usr/bin/ssl_client`), in database order. */
  files: string[];
  /** 1-based line of the record's first line. */
  line: number;
  /** The record's lines as written (line endings normalised): compared across layers to see what changed. */
  text: string;
}

export interface ParsedInstalled {
  records: ApkRecord[];
  warnings: string[];
}

/** Letters that repeat within a record as part of the file list, not package fields. */
const FILE_LIST_LETTERS = new Set(['F', 'R', 'M', 'a', 'Z']);

export function parseInstalled(content: string, path: string): ParsedInstalled {
  const lines = content.replace(/\r\n?/g, '\n').split('\n');
  const records: ApkRecord[] = [];
  const warnings: string[] = [];
  let current: (ApkRecord & { lines: string[]; dir: string }) | undefined;

  const finish = () => {
    if (current !== undefined) {
      records.push({
        fields: current.fields,
        files: current.files,
        line: current.line,
        text: current.lines.join('\n'),
      });
    }
    current = undefined;
  };

  lines.forEach((line, i) => {
    if (line.trim() === '') {
      finish();
      return;
    }
    current ??= { fields: new Map(), files: [], line: i + 1, text: '', lines: [], dir: '' };
    current.lines.push(line);
    if (line.length < 2 || line[1] !== ':') {
      warnings.push(`${path}:${i + 1}: "${line.slice(0, 60)}" is not an apk "X:value" line; skipped`);
      return;
    }
    const letter = line[0]!;
    const value = line.slice(2);
    if (letter === 'F') current.dir = value.replace(/^\/+|\/+$/g, '');
    else if (letter === 'R') current.files.push(current.dir === '' ? value : `${current.dir}/${value}`);
    else if (!FILE_LIST_LETTERS.has(letter)) current.fields.set(letter, value);
  });
  finish();
  return { records, warnings };
}
