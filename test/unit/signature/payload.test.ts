import { describe, expect, it } from 'vitest';
import { buildPayload, parsePayload } from '../../../shared/signature/payload.ts';
import { digestOf } from '../../../shared/oci/digest.ts';

const D = digestOf('manifest');
const enc = (o: unknown): Uint8Array => new TextEncoder().encode(typeof o === 'string' ? o : JSON.stringify(o));
const good = () => ({
  critical: { type: 'atomic container signature', image: { 'docker-manifest-digest': D }, identity: { 'docker-reference': 'example.com/ns/app:1' } },
  optional: { creator: 'x', timestamp: 1 },
});

describe('signature payloads', () => {
  it('round-trips the containers-signature(5) payload', () => {
    const c = parsePayload('simple-signing', buildPayload('simple-signing', D, 'busybox:latest', { creator: 'skiff', timestamp: 5 }));
    expect(c.manifestDigest).toBe(D);
    expect(c.dockerReference).toBe('busybox:latest');
    expect(c.identity).toEqual({ registry: 'docker.io', path: 'library/busybox', tag: 'latest' });
    expect(c.creator).toBe('skiff');
    expect(c.timestamp).toBe(5);
    expect(JSON.parse(new TextDecoder().decode(buildPayload('sigstore', D, 'a.io/b:1'))).critical.type).toBe('cosign container image signature');
  });

  it('SG-05 strict critical section', () => {
    const mutate = (f: (p: any) => void): Uint8Array => {
      const p = good();
      f(p);
      return enc(p);
    };
    expect(() => parsePayload('simple-signing', enc(good()))).not.toThrow();
    const cases: [string, Uint8Array][] = [
      ['extra in critical', mutate((p) => (p.critical.extra = 1))],
      ['extra in image', mutate((p) => (p.critical.image.extra = 1))],
      ['extra in identity', mutate((p) => (p.critical.identity.extra = 1))],
      ['wrong type', mutate((p) => (p.critical.type = 'cosign container image signature'))],
      ['invalid digest', mutate((p) => (p.critical.image['docker-manifest-digest'] = 'sha256:../../x'))],
      ['invalid reference', mutate((p) => (p.critical.identity['docker-reference'] = 'UPPER/Case:'))],
      ['extra top-level', mutate((p) => (p.extra = {}))],
      ['missing optional', mutate((p) => delete p.optional)],
      ['missing identity', mutate((p) => delete p.critical.identity)],
      ['digest not a string', mutate((p) => (p.critical.image['docker-manifest-digest'] = 5))],
      ['creator not a string', mutate((p) => (p.optional.creator = 5))],
      ['duplicate key', enc(`{"critical":{"type":"atomic container signature","image":{"docker-manifest-digest":"${D}"},"identity":{"docker-reference":"a.io/b:1","docker-reference":"a.io/c:1"}},"optional":{}}`)],
      ['not JSON', enc('{')],
    ];
    for (const [name, bytes] of cases) expect(() => parsePayload('simple-signing', bytes), name).toThrow(/invalid signature payload/);
    // unknown members in optional are tolerated
    expect(parsePayload('simple-signing', mutate((p) => (p.optional.whatever = { a: [1, 2] }))).manifestDigest).toBe(D);
    // a cosign payload with null optional
    const cos = { critical: { identity: { 'docker-reference': 'a.io/b:1' }, image: { 'docker-manifest-digest': D }, type: 'cosign container image signature' }, optional: null };
    expect(parsePayload('sigstore', enc(cos)).optional).toBeNull();
    expect(() => parsePayload('simple-signing', enc({ ...cos, optional: null }))).toThrow();
  });
});
