/**
 * Licenses from `/usr/share/doc/<pkg>/copyright`. Two shapes exist in the wild:
 * - machine-readable (DEP-5, copyright-format 1.0): a `Format:` header naming the spec, then
 *   paragraphs whose `License:` field's first line is a license expression in DEP-5 syntax;
 * - free text (libc6, gcc, base-files still ship these): we take the references to
 *   `/usr/share/common-licenses/<NAME>` (as syft and trivy do) and read the version / "or later"
 *   wording around each reference, since "can be found in /usr/share/common-licenses/GPL" alone
 *   does not say which GPL.
 */
import { parseStanzas } from './parse-status.ts';

const FORMAT_HEADER = /^Format:\s*<?https?:\/\/www\.debian\.org\/doc\/packaging-manuals\/copyright-format\//;
const COMMON_LICENSE_REF = /\/usr\/share\/common-licenses\/([0-9A-Za-z_.+-]*[0-9A-Za-z_+])/g;

export function isMachineReadable(text: string): boolean {
  const first = text.replace(/^\s+/, '').split(/\r?\n/, 1)[0] ?? '';
  return FORMAT_HEADER.test(first);
}

/**
 * The license names a copyright file declares, in file order without duplicates, spelled as the
 * file spells them (normalise with `toSpdxExpression`).
 */
export function copyrightLicenses(text: string): string[] {
  const found = isMachineReadable(text) ? dep5Licenses(text) : commonLicenseReferences(text);
  return [...new Set(found)];
}

function dep5Licenses(text: string): string[] {
  const out: string[] = [];
  // Warnings are not reported: a sloppy copyright file should not drown the package's real warnings,
  // and a paragraph we cannot read costs at most one of several License: values.
  for (const stanza of parseStanzas(text, 'copyright').stanzas) {
    const value = stanza.fields.get('license');
    if (value === undefined) continue;
    const synopsis = value.split('\n', 1)[0]!.trim();
    if (synopsis !== '') out.push(synopsis);
  }
  return out;
}

/** `GPL-2`, `LGPL-2.1`, `GFDL-1.2` carry a version; `GPL`, `LGPL`, `GFDL` are symlinks to the newest. */
const VERSIONED_REF = /^(A?GPL|LGPL|GFDL)-(\d+(?:\.\d+)?)$/;
const UNVERSIONED_REF = /^(A?GPL|LGPL|GFDL)$/;

function commonLicenseReferences(text: string): string[] {
  const paragraphs = text.replace(/\r\n?/g, '\n').split(/\n[ \t]*\n/);
  const out: string[] = [];
  // The wording that gives a reference its version ("either version 2 of the License, or (at your
  // option) any later version") usually sits a paragraph or two above the "can be found in"
  // sentence: each reference reads the text since the previous paragraph with a reference.
  let context = '';
  for (const paragraph of paragraphs) {
    context += `\n${paragraph}`;
    const refs = [...paragraph.matchAll(COMMON_LICENSE_REF)].map((m) => m[1]!);
    if (refs.length === 0) continue;
    const window = context.replace(/\s+/g, ' ');
    const versionedFamilies = new Set(refs.map((r) => VERSIONED_REF.exec(r)?.[1]).filter((f) => f !== undefined));
    for (const ref of refs) {
      const versioned = VERSIONED_REF.exec(ref);
      if (versioned !== null) {
        out.push(`${ref}${orLater(window, versioned[2]!) ? '+' : ''}`);
        continue;
      }
      const family = UNVERSIONED_REF.exec(ref)?.[1];
      if (family === undefined) {
        out.push(ref);
        continue;
      }
      // "…is in /usr/share/common-licenses/GPL, version 3 of this license in …/GPL-3": the
      // versioned reference says it.
      if (versionedFamilies.has(family)) continue;
      const version = /\bversion (\d+(?:\.\d+)?)\b/i.exec(window)?.[1];
      if (version === undefined) {
        out.push(ref);
        continue;
      }
      out.push(`${family}-${version}${orLater(window, version) ? '+' : ''}`);
    }
    context = '';
  }
  return out;
}

/** "version 2 of the License, or (at your option) any later version", "version 2 or later". */
function orLater(window: string, version: string): boolean {
  const v = version.replace(/\./g, '\\.');
  return new RegExp(`version ${v}(?:\\.0)?\\b[^.]{0,80}?\\b(?:any later version|or later)`, 'i').test(window);
}
