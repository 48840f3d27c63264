/**
 * The human-readable listing, syft's default on a terminal: NAME VERSION TYPE, sorted, columns
 * padded to the widest cell. The same name, version and type found in several places is one row,
 * with the count beside it, as syft's table does.
 */
import { compareBy, type SbomDocument, type SbomEncoder } from './document.ts';

const GAP = '   ';

export function encodeTable(doc: SbomDocument): string {
  if (doc.packages.length === 0) return 'No packages discovered\n';
  const counts = new Map<string, { row: [string, string, string]; n: number }>();
  for (const p of doc.packages) {
    const row: [string, string, string] = [p.name, p.version, p.type];
    const key = row.join('\0');
    const seen = counts.get(key);
    if (seen === undefined) counts.set(key, { row, n: 1 });
    else seen.n++;
  }
  const rows = [...counts.values()]
    .sort(
      compareBy(
        (r) => r.row[0],
        (r) => r.row[1],
        (r) => r.row[2],
      ),
    )
    .map(({ row, n }) => (n > 1 ? [...row, `(+${n - 1} duplicate${n > 2 ? 's' : ''})`] : row));
  const all = [['NAME', 'VERSION', 'TYPE'], ...rows];
  const widths = [0, 1, 2].map((i) => Math.max(...all.map((r) => width(r[i] ?? ''))));
  const lines = all.map((r) =>
    r
      .map((cell, i) => (i < 3 && i < r.length - 1 ? cell + ' '.repeat(widths[i]! - width(cell)) : cell))
      .join(GAP)
      .trimEnd(),
  );
  return `${lines.join('\n')}\n`;
}

/** Columns count code points, not UTF-16 units, so a non-ASCII name does not shift the row. */
function width(s: string): number {
  return [...s].length;
}

export const tableEncoder: SbomEncoder = { id: 'table', encode: (doc) => encodeTable(doc) };
