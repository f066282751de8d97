import { describe, expect, it } from 'vitest';
import { listSourcesOf, sourcesAnnotations, splitRepository } from '../../../shared/store/list-refs.ts';
import { listIdOf } from '../../../shared/store/layout.ts';
import { Annotation, MediaType } from '../../../shared/oci/media-types.ts';
import type { Descriptor, Index } from '../../../shared/oci/types.ts';

const d = (c: string) => `sha256:${c.repeat(64)}` as Descriptor['digest'];
const entry = (annotations: Record<string, string>, mediaType: string = MediaType.OciIndex): Descriptor => ({ mediaType, digest: d('e'), size: 10, annotations });

describe('a manifest list entry\'s by-reference records and stable ID', () => {
  it('reads the sources a list entry records, and nothing from an image, bad JSON or bad values', () => {
    const ok = JSON.stringify({ [d('a')]: '127.0.0.1:5000/lib/app', [d('b')]: 'localhost/x' });
    expect(listSourcesOf(entry({ [Annotation.ListSources]: ok }))).toEqual({ [d('a')]: '127.0.0.1:5000/lib/app', [d('b')]: 'localhost/x' });
    expect(listSourcesOf(entry({ [Annotation.ListSources]: ok }, MediaType.OciManifest))).toEqual({});
    expect(listSourcesOf(entry({ [Annotation.ListSources]: '{not json' }))).toEqual({});
    expect(listSourcesOf(entry({ [Annotation.ListSources]: '[1]' }))).toEqual({});
    expect(listSourcesOf(entry({ [Annotation.ListSources]: JSON.stringify({ 'sha256:short': 'a/b', [d('c')]: 'no-slash', [d('f')]: 7, [d('a')]: 'r/p' }) }))).toEqual({ [d('a')]: 'r/p' });
  });

  it('records only the entries the index still holds; none left is no annotation', () => {
    const idx: Index = { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [{ mediaType: MediaType.OciManifest, digest: d('a'), size: 1 }] };
    const sources = { [d('a')]: 'r/a', [d('b')]: 'r/b' };
    expect(sourcesAnnotations(idx, sources)).toEqual({ [Annotation.ListSources]: JSON.stringify({ [d('a')]: 'r/a' }) });
    expect(sourcesAnnotations({ ...idx, manifests: [] }, sources)).toEqual({});
  });

  it('splits a repository at its registry; the stable ID is read from an index entry only', () => {
    expect(splitRepository('127.0.0.1:5000/lib/app')).toEqual({ registry: '127.0.0.1:5000', repository: 'lib/app' });
    expect(splitRepository('/x')).toBeUndefined();
    expect(splitRepository('x/')).toBeUndefined();
    expect(listIdOf(entry({ [Annotation.ListId]: d('1') }))).toBe(d('1'));
    expect(listIdOf(entry({ [Annotation.ListId]: 'sha256:nope' }))).toBeUndefined();
    expect(listIdOf(entry({ [Annotation.ListId]: d('1') }, MediaType.OciManifest))).toBeUndefined();
  });
});
