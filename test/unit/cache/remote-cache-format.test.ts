// The remote cache's pure parts: both flag spellings, the entry wire form (what a reader refuses), buildah's key.
import { describe, expect, it } from 'vitest';
import { parseCacheFlag, parseCacheOptions } from '../../../shared/build/cache/cache-options.ts';
import { decodeEntry, encodeEntry, entryTag } from '../../../shared/build/cache/cache-entry.ts';
import { buildahCacheKey, goTimeString } from '../../../shared/build/cache/buildah-key.ts';
import { digestOf, type Digest } from '../../../shared/oci/digest.ts';

const K = digestOf('step');
const L = { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: digestOf('layer'), size: 10, diffId: digestOf('tar') };

describe('--cache-to / --cache-from', () => {
  it('takes buildah’s bare repository and BuildKit’s type= forms', () => {
    expect(parseCacheFlag('127.0.0.1:5000/app/cache', 'to')).toEqual({ location: { type: 'registry', registry: '127.0.0.1:5000', repository: 'app/cache' }, mode: 'max' });
    expect(parseCacheFlag('type=registry,ref=127.0.0.1:5000/app:buildcache,mode=max,compression=gzip', 'to')).toEqual({ location: { type: 'registry', registry: '127.0.0.1:5000', repository: 'app' }, mode: 'max' });
    expect(parseCacheFlag('type=registry,ref=127.0.0.1:5000/app', 'from').mode).toBe('min');
    expect(parseCacheFlag('type=local,dest=/c', 'to').location).toEqual({ type: 'local', dir: '/c' });
    expect(parseCacheFlag('type=local,src=/c', 'from').location).toEqual({ type: 'local', dir: '/c' });
    expect(parseCacheFlag('type=inline', 'to').location).toEqual({ type: 'inline' });
    expect(parseCacheOptions([], ['127.0.0.1:5000/a'], '72h').ttlMs).toBe(72 * 3600_000);
    expect(parseCacheFlag('type=local,dest=/c,ignore-error=true', 'to')).toMatchObject({ ignoreError: true });
    expect(() => parseCacheFlag('type=local,dest=/c,ignore-error=maybe', 'to')).toThrow(/ignore-error must be true or false/u);
  });

  it('refuses what it cannot honour with one line naming the value', () => {
    expect(() => parseCacheFlag('app/cache', 'to')).toThrow(/name the registry/u);
    expect(() => parseCacheFlag('type=registry', 'to')).toThrow(/needs ref=/u);
    expect(() => parseCacheFlag('type=local,src=/c', 'to')).toThrow(/needs dest=DIR/u);
    expect(() => parseCacheFlag('type=s3,bucket=x', 'to')).toThrow(/unknown attribute bucket|unknown type/u);
    expect(() => parseCacheFlag('type=registry,ref=127.0.0.1:5000/a,mode=all', 'to')).toThrow(/mode must be min or max/u);
    expect(() => parseCacheFlag('type=registry,ref=127.0.0.1:5000/a,compression=zstd', 'to')).toThrow(/compression=zstd is not supported/u);
    expect(() => parseCacheFlag('type=inline', 'from')).toThrow(/type=registry,ref=IMAGE/u);
    expect(() => parseCacheOptions([], [], 'soon')).toThrow(/invalid duration/u);
  });
});

describe('cache entry wire form', () => {
  it('round-trips, deterministically, under the key’s hex tag', () => {
    const bytes = encodeEntry(K, { created: '2026-01-01T00:00:00Z', layer: L });
    expect(encodeEntry(K, { created: '2026-01-01T00:00:00Z', layer: L })).toEqual(bytes);
    expect(decodeEntry(K, bytes)).toEqual({ ok: true, entry: { created: '2026-01-01T00:00:00Z', layer: L } });
    expect(decodeEntry(K, encodeEntry(K, { created: '2026-01-01T00:00:00Z' }))).toEqual({ ok: true, entry: { created: '2026-01-01T00:00:00Z' } });
    expect(entryTag(K)).toMatch(/^[0-9a-f]{64}$/u);
  });

  it('refuses an entry stored under another key’s tag, a foreign image, two layers, a malformed diffID', () => {
    const other = digestOf('other') as Digest;
    expect(decodeEntry(other, encodeEntry(K, { created: '2026-01-01T00:00:00Z' }))).toMatchObject({ ok: false, reason: expect.stringMatching(/records key/u) });
    expect(decodeEntry(K, new TextEncoder().encode('{"schemaVersion":2,"layers":[]}'))).toMatchObject({ ok: false, reason: expect.stringMatching(/not a skiff cache entry/u) });
    const m = JSON.parse(new TextDecoder().decode(encodeEntry(K, { created: '2026-01-01T00:00:00Z', layer: L }))) as { layers: unknown[]; annotations: Record<string, string> };
    expect(decodeEntry(K, new TextEncoder().encode(JSON.stringify({ ...m, layers: [m.layers[0], m.layers[0]] })))).toMatchObject({ ok: false });
    expect(decodeEntry(K, new TextEncoder().encode(JSON.stringify({ ...m, annotations: { ...m.annotations, 'dev.skiff.cache.diff-id': 'sha256:xyz' } })))).toMatchObject({ ok: false });
    expect(decodeEntry(K, new TextEncoder().encode('not json'))).toMatchObject({ ok: false });
  });
});

describe('buildah 1.28 cache key', () => {
  // keys observed from `buildah bud --layers --cache-to` (Debian's 1.28.2) for FROM a busybox image, ENV A=1, RUN
  const base = { created: '2026-01-01T00:00:00Z', created_by: '/bin/sh -c #(nop) ADD file in /', comment: 'imported from tarball' };
  const diffIds = ['sha256:52c21178ccb13f6497c2dd8c7a65f20837be951c438ae3508f41e948265982e4'];
  const oci = 'application/vnd.oci.image.manifest.v1+json';

  it('matches buildah’s for a metadata step and for a RUN over it', () => {
    expect(buildahCacheKey({ diffIds, history: [base], manifestType: oci }, false, '/bin/sh -c #(nop) ENV A=1')).toBe('08afce229439429de73913e6df0abfccd0ae18ebff7d642e1114d4453456fb42');
    const env = { created: '2026-12-07T00:34:33.652695551Z', created_by: '/bin/sh -c #(nop) ENV A=1', comment: 'FROM 127.0.0.1:41573/lib/busybox:1', empty_layer: true };
    expect(buildahCacheKey({ diffIds, history: [base, env], manifestType: oci }, true, '/bin/sh -c date > /stamp')).toBe('8554d2af167f8c57bfa99330914656a6dfc69349a48dc4050555610b5519675a');
  });

  it('writes times as Go’s time.String() does', () => {
    expect(goTimeString('2026-12-07T00:34:34.00024078Z')).toBe('2026-12-07 00:34:34.00024078 +0000 UTC');
    expect(goTimeString('2026-01-01T00:00:00.000Z')).toBe('2026-01-01 00:00:00 +0000 UTC');
    expect(goTimeString('2026-01-01T02:00:00+02:00')).toBe('2026-01-01 02:00:00 +0200 +0200');
    expect(goTimeString(undefined)).toBe('<nil>');
    expect(goTimeString('yesterday')).toBeUndefined();
  });
});
