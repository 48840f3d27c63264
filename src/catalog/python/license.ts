/**
 * A Python distribution's license, from the three places core metadata can declare it, in order
 * of how much they say:
 * 1. `License-Expression` (PEP 639, metadata 2.4): an SPDX expression by definition;
 * 2. `License`, when it names licenses that all resolve to SPDX ids (`MIT`, `BSD-3-Clause`);
 * 3. `License :: …` trove classifiers, mapped by the table below;
 * 4. `License` whatever it says (`LGPL` → `LicenseRef-LGPL`): honest, if vague.
 * `License` is free text: chardet writes `LGPL` and says which LGPL only in its classifier, others
 * paste the whole license text. Several license classifiers are ANDed: the metadata does not say
 * whether they are alternatives, and AND never claims a choice the project did not offer.
 */
import { toSpdxExpression } from '../license.ts';
import { type CoreMetadata, field, fieldAll } from './metadata.ts';

/**
 * Trove license classifiers (pypi.org/classifiers) that name exactly one SPDX license. Those that
 * do not say which version or variant (`BSD License`, `Apache Software License`, `GNU General
 * Public License (GPL)`, `Artistic License`, `Zope Public License`) are left out: they become a
 * LicenseRef rather than a guess.
 */
export const CLASSIFIER_LICENSES: ReadonlyMap<string, string> = new Map([
  ['Attribution Assurance License', 'AAL'],
  ['Blue Oak Model License (BlueOak-1.0.0)', 'BlueOak-1.0.0'],
  ['Boost Software License 1.0 (BSL-1.0)', 'BSL-1.0'],
  ['CC0 1.0 Universal (CC0 1.0) Public Domain Dedication', 'CC0-1.0'],
  ['CEA CNRS Inria Logiciel Libre License, version 2.1 (CeCILL-2.1)', 'CECILL-2.1'],
  ['Common Development and Distribution License 1.0 (CDDL-1.0)', 'CDDL-1.0'],
  ['Common Public License', 'CPL-1.0'],
  ['Eclipse Public License 1.0 (EPL-1.0)', 'EPL-1.0'],
  ['Eclipse Public License 2.0 (EPL-2.0)', 'EPL-2.0'],
  ['Educational Community License, Version 2.0 (ECL-2.0)', 'ECL-2.0'],
  ['European Union Public Licence 1.0 (EUPL 1.0)', 'EUPL-1.0'],
  ['European Union Public Licence 1.1 (EUPL 1.1)', 'EUPL-1.1'],
  ['European Union Public Licence 1.2 (EUPL 1.2)', 'EUPL-1.2'],
  ['GNU Affero General Public License v3', 'AGPL-3.0-only'],
  ['GNU Affero General Public License v3 or later (AGPLv3+)', 'AGPL-3.0-or-later'],
  ['GNU General Public License v2 (GPLv2)', 'GPL-2.0-only'],
  ['GNU General Public License v2 or later (GPLv2+)', 'GPL-2.0-or-later'],
  ['GNU General Public License v3 (GPLv3)', 'GPL-3.0-only'],
  ['GNU General Public License v3 or later (GPLv3+)', 'GPL-3.0-or-later'],
  ['GNU Lesser General Public License v2 (LGPLv2)', 'LGPL-2.0-only'],
  ['GNU Lesser General Public License v2 or later (LGPLv2+)', 'LGPL-2.0-or-later'],
  ['GNU Lesser General Public License v3 (LGPLv3)', 'LGPL-3.0-only'],
  ['GNU Lesser General Public License v3 or later (LGPLv3+)', 'LGPL-3.0-or-later'],
  ['Historical Permission Notice and Disclaimer (HPND)', 'HPND'],
  ['IBM Public License', 'IPL-1.0'],
  ['Intel Open Source License', 'Intel'],
  ['ISC License (ISCL)', 'ISC'],
  ['MirOS License (MirOS)', 'MirOS'],
  ['MIT License', 'MIT'],
  ['MIT No Attribution License (MIT-0)', 'MIT-0'],
  ['Mozilla Public License 1.0 (MPL)', 'MPL-1.0'],
  ['Mozilla Public License 1.1 (MPL 1.1)', 'MPL-1.1'],
  ['Mozilla Public License 2.0 (MPL 2.0)', 'MPL-2.0'],
  ['Mulan Permissive Software License v2 (MulanPSL-2.0)', 'MulanPSL-2.0'],
  ['Nethack General Public License', 'NGPL'],
  ['Nokia Open Source License', 'Nokia'],
  ['Open Group Test Suite License', 'OGTSL'],
  ['Open Software License 3.0 (OSL-3.0)', 'OSL-3.0'],
  ['PostgreSQL License', 'PostgreSQL'],
  ['Python License (CNRI Python License)', 'CNRI-Python'],
  ['Python Software Foundation License', 'PSF-2.0'],
  ['Qt Public License (QPL)', 'QPL-1.0'],
  ['Ricoh Source Code Public License', 'RSCPL'],
  ['SIL Open Font License 1.1 (OFL-1.1)', 'OFL-1.1'],
  ['Sleepycat License', 'Sleepycat'],
  ['Sun Industry Standards Source License (SISSL)', 'SISSL'],
  ['Sun Public License', 'SPL-1.0'],
  ['The Unlicense (Unlicense)', 'Unlicense'],
  ['Universal Permissive License (UPL)', 'UPL-1.0'],
  ['University of Illinois/NCSA Open Source License', 'NCSA'],
  ['Vovida Software License 1.0', 'VSL-1.0'],
  ['W3C License', 'W3C'],
  ['X.Net License', 'Xnet'],
  ['Zero-Clause BSD (0BSD)', '0BSD'],
  ['zlib/libpng License', 'Zlib'],
]);

/**
 * `License :: OSI Approved :: MIT License` → `MIT`; unmapped ones keep their last segment
 * (`BSD License`) for a LicenseRef; `License :: OSI Approved` alone names no license.
 */
export function classifierLicenses(classifiers: readonly string[]): string[] {
  const out: string[] = [];
  for (const c of classifiers) {
    const parts = c.split('::').map((p) => p.trim());
    if (parts[0] !== 'License' || parts.length < 2) continue;
    const last = parts.at(-1)!;
    if (parts.length === 2 && last === 'OSI Approved') continue;
    out.push(CLASSIFIER_LICENSES.get(last) ?? last);
  }
  return out;
}

/** The SPDX expression for a distribution's metadata, or undefined when it declares none. */
export function pythonLicense(meta: CoreMetadata): string | undefined {
  const expression = field(meta, 'License-Expression');
  if (expression !== undefined) {
    const r = toSpdxExpression([expression]);
    if (r.expression !== undefined) return r.expression;
  }
  // A multi-line License is a pasted license text, not a name: only its first line could be read.
  const license = field(meta, 'License')?.split('\n')[0]?.trim();
  // Many projects copy a classifier's name into License (`Python Software Foundation License`).
  const fromField = license === undefined ? undefined : toSpdxExpression([CLASSIFIER_LICENSES.get(license) ?? license]);
  const isLongText = (field(meta, 'License') ?? '').includes('\n');
  if (fromField?.expression !== undefined && fromField.unknown.length === 0 && !isLongText) return fromField.expression;
  const classified = classifierLicenses(fieldAll(meta, 'Classifier'));
  if (classified.length > 0) {
    const r = toSpdxExpression(classified);
    if (r.expression !== undefined) return r.expression;
  }
  return fromField?.expression;
}
