/**
 * dpkg's database format: deb822 paragraphs (Debian Policy §5.1, deb822(5)) separated by blank
 * lines, `Field: value` lines with continuation lines starting with a space or tab. Read leniently
 * (CRLF, a missing final newline, several blank lines) but never guessed at: a paragraph with a line
 * that is neither a field nor a continuation is dropped with a warning naming file and line, and the
 * rest of the file is still read.
 */

export interface Stanza {
  /** Field names lower-cased (deb822 field names are case-insensitive); values without the leading space. */
  fields: Map<string, string>;
  /** 1-based line of the paragraph's first line. */
  line: number;
  /** The paragraph's lines as written (line endings normalised): compared across layers to see what changed. */
  text: string;
}

export interface ParsedStanzas {
  stanzas: Stanza[];
  warnings: string[];
}

export function parseStanzas(content: string, path: string): ParsedStanzas {
  const lines = content.replace(/\r\n?/g, '\n').split('\n');
  const stanzas: Stanza[] = [];
  const warnings: string[] = [];
  let current: { fields: Map<string, string>; line: number; lines: string[]; lastField?: string } | undefined;
  let broken = false;

  const finish = () => {
    if (current !== undefined && !broken) {
      stanzas.push({ fields: current.fields, line: current.line, text: current.lines.join('\n') });
    }
    current = undefined;
    broken = false;
  };

  lines.forEach((line, i) => {
    const lineNo = i + 1;
    if (line.trim() === '') {
      finish();
      return;
    }
    if (current === undefined) {
      // dpkg never writes comments to its database, but control files do carry them (deb822(5)).
      if (line.startsWith('#')) return;
      current = { fields: new Map(), line: lineNo, lines: [] };
    }
    current.lines.push(line);
    if (broken) return;
    if (line.startsWith(' ') || line.startsWith('\t')) {
      if (current.lastField === undefined) {
        warnings.push(`${path}:${lineNo}: continuation line before any field; paragraph skipped`);
        broken = true;
        return;
      }
      const prev = current.fields.get(current.lastField) ?? '';
      current.fields.set(current.lastField, `${prev}\n${line.slice(1)}`);
      return;
    }
    const m = /^([!-9;-~][!-9;-~]*):[ \t]*(.*)$/.exec(line);
    if (m === null) {
      warnings.push(`${path}:${lineNo}: "${line.slice(0, 60)}" is not a "Field: value" line; paragraph skipped`);
      broken = true;
      return;
    }
    const name = m[1]!.toLowerCase();
    if (current.fields.has(name)) {
      warnings.push(`${path}:${lineNo}: field "${m[1]!}" appears twice in one paragraph; paragraph skipped`);
      broken = true;
      return;
    }
    current.fields.set(name, m[2]!.trimEnd());
    current.lastField = name;
  });
  finish();
  return { stanzas, warnings };
}

/**
 * Whether dpkg counts the package as installed. `Status: <want> <flag> <state>`: the state must be
 * `installed` and the selection `install` or `hold`; `deinstall ok config-files` (removed, not
 * purged) and a `deinstall` selection are not (syft skips any `deinstall`). Distroless status.d
 * files carry no Status field at all: each file is there because its package is installed.
 */
export function isInstalled(stanza: Stanza): boolean {
  const status = stanza.fields.get('status');
  if (status === undefined) return true;
  const [want, , state] = status.trim().split(/\s+/);
  return (want === 'install' || want === 'hold') && state === 'installed';
}
