import { describe, expect, it } from 'vitest';
import { editEntry, listName, orderedEntry, parseAddSource, withEntries } from '../../../shared/transport/manifest-list.ts';
import type { Descriptor, Index } from '../../../shared/oci/types.ts';

const d = (c: string, arch = 'amd64'): Descriptor => ({ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${c.repeat(64)}` as Descriptor['digest'], size: 10, platform: { architecture: arch, os: 'linux' } });

describe('manifest list edits', () => {
  it('adds entries, replacing one with the same digest in place (as podman does)', () => {
    const idx: Index = { schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [d('a'), d('b')] };
    const next = withEntries(idx, [d('b', 'arm64'), d('c')]);
    expect(next.manifests.map((m) => [m.digest.slice(7, 8), m.platform?.architecture])).toEqual([['a', 'amd64'], ['b', 'arm64'], ['c', 'amd64']]);
    expect(idx.manifests).toHaveLength(2); // pure
  });

  it("applies podman's --arch/--os/--variant/--os-version/--features/--annotation overrides", () => {
    const e = editEntry({ ...d('a'), annotations: { keep: '1' } }, { arch: 'arm64', variant: 'v8', osVersion: '10', features: ['sse4'], annotations: { k: 'v' } });
    expect(e.platform).toEqual({ architecture: 'arm64', os: 'linux', variant: 'v8', 'os.version': '10', features: ['sse4'] });
    expect(e.annotations).toEqual({ keep: '1', k: 'v' });
  });

  it("orders an entry's keys as podman prints them", () => {
    const e = orderedEntry({ annotations: { a: 'b' }, platform: { variant: 'v8', os: 'linux', architecture: 'arm64' }, digest: d('a').digest, size: 3, mediaType: 'm' });
    expect(JSON.stringify(e)).toBe(`{"mediaType":"m","size":3,"digest":"${d('a').digest}","platform":{"architecture":"arm64","os":"linux","variant":"v8"},"annotations":{"a":"b"}}`);
  });

  it('names lists as local images and reads containers-storage: as the store', () => {
    expect(listName('mylist')).toBe('localhost/mylist:latest');
    expect(listName('127.0.0.1:5000/x/list:v1')).toBe('127.0.0.1:5000/x/list:v1');
    expect(parseAddSource('containers-storage:localhost/app').transport).toBe('store');
    expect(parseAddSource('docker://127.0.0.1:5000/app').transport).toBe('docker');
    expect(parseAddSource('app').transport).toBe('plain');
  });
});
