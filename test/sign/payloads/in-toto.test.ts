import { describe, expect, it } from 'vitest';
import {
  COSIGN_CUSTOM_PREDICATE_TYPE,
  PREDICATE_TYPES,
  customPredicate,
  imageSubject,
  inTotoStatement,
  parseStatement,
  predicateTypeFor,
} from '../../../src/sign/payloads/in-toto.ts';

const enc = new TextEncoder();
const dec = new TextDecoder();
const digest = `sha256:${'1'.repeat(64)}`;

describe('predicateTypeFor', () => {
  it('maps cosign --type shorthands', () => {
    expect(predicateTypeFor('custom')).toBe('https://cosign.sigstore.dev/attestation/v1');
    expect(predicateTypeFor('slsaprovenance')).toBe('https://slsa.dev/provenance/v0.2');
    expect(predicateTypeFor('slsaprovenance02')).toBe('https://slsa.dev/provenance/v0.2');
    expect(predicateTypeFor('slsaprovenance1')).toBe('https://slsa.dev/provenance/v1');
    expect(predicateTypeFor('spdx')).toBe('https://spdx.dev/Document');
    expect(predicateTypeFor('spdxjson')).toBe('https://spdx.dev/Document');
    expect(predicateTypeFor('cyclonedx')).toBe('https://cyclonedx.org/bom');
    expect(predicateTypeFor('link')).toBe('https://in-toto.io/Link/v1');
    expect(predicateTypeFor('vuln')).toBe('https://cosign.sigstore.dev/attestation/vuln/v1');
    expect(predicateTypeFor('openvex')).toBe('https://openvex.dev/ns');
    expect(Object.keys(PREDICATE_TYPES)).toHaveLength(10);
  });

  it('passes URIs through as Go url.ParseRequestURI would, and rejects the rest', () => {
    for (const ok of [
      'https://example.com/predicate/v1',
      'urn:example:thing',
      '/abs/path',
      'https://in-toto.io/attestation/vulns/v0.1',
    ]) {
      expect(predicateTypeFor(ok)).toBe(ok);
    }
    for (const bad of ['', 'slsa', 'spdx-json', 'relative/path', ':nope', 'https://a b/c', 'https://x/\n']) {
      expect(() => predicateTypeFor(bad), JSON.stringify(bad)).toThrow(
        expect.objectContaining({ code: 'PAYLOAD_INVALID' }),
      );
    }
  });
});

describe('inTotoStatement', () => {
  it('writes v0.1 in encoding/json order with the custom predicate {Data, Timestamp}', () => {
    const bytes = inTotoStatement({
      version: 'v0.1',
      subjects: [imageSubject(digest, 'ghcr.io/o/r')],
      predicateType: COSIGN_CUSTOM_PREDICATE_TYPE,
      predicate: customPredicate('<x>&\n', new Date('2025-02-28T19:18:11.123Z')),
    });
    expect(dec.decode(bytes)).toBe(
      `{"_type":"https://in-toto.io/Statement/v0.1","predicateType":"https://cosign.sigstore.dev/attestation/v1","subject":[{"name":"ghcr.io/o/r","digest":{"sha256":"${'1'.repeat(64)}"}}],"predicate":{"Data":"\\u003cx\\u003e\\u0026\\n","Timestamp":"2025-02-28T19:18:11Z"}}`,
    );
  });

  it('writes v1 in protojson order and sorts predicate map keys', () => {
    const bytes = inTotoStatement({
      version: 'v1',
      subjects: [{ digest: { sha256: '2'.repeat(64) }, annotations: { b: '1', a: '2' } }],
      predicateType: 'https://example.com/p',
      predicate: { z: [1, 2.5, true, null], a: { y: 'x', b: 1e21 } },
    });
    expect(dec.decode(bytes)).toBe(
      `{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"sha256":"${'2'.repeat(64)}"},"annotations":{"a":"2","b":"1"}}],"predicateType":"https://example.com/p","predicate":{"a":{"b":1e+21,"y":"x"},"z":[1,2.5,true,null]}}`,
    );
    expect(parseStatement(bytes).subject[0]!.annotations).toEqual({ a: '2', b: '1' });
  });

  it('refuses statements without subjects', () => {
    expect(() => inTotoStatement({ version: 'v1', subjects: [], predicateType: 'x:y' })).toThrow(
      expect.objectContaining({ code: 'PAYLOAD_INVALID' }),
    );
  });
});

describe('parseStatement', () => {
  it('rejects wrong shapes', () => {
    const s = (o: unknown) => enc.encode(JSON.stringify(o));
    const good = {
      _type: 'https://in-toto.io/Statement/v1',
      subject: [{ digest: { sha256: 'ab' } }],
      predicateType: 'x:y',
    };
    expect(parseStatement(s(good)).predicateType).toBe('x:y');
    for (const bad of [
      { ...good, _type: 'https://in-toto.io/Statement/v2' },
      { ...good, subject: [] },
      { ...good, subject: [{ name: 'n' }] },
      { ...good, subject: [{ digest: { sha256: 1 } }] },
      { ...good, predicateType: '' },
      { ...good, predicate: 'string' },
      [good],
    ]) {
      expect(() => parseStatement(s(bad)), JSON.stringify(bad)).toThrow(
        expect.objectContaining({ code: 'PAYLOAD_INVALID' }),
      );
    }
    expect(() => parseStatement(new Uint8Array([0xff]))).toThrow(expect.objectContaining({ code: 'PAYLOAD_INVALID' }));
  });
});
