// GET /system/df's body: the disk-usage rows `run-tool system df` measures, in Docker's shape.
import { describe, expect, it } from 'vitest';
import { dockerDiskUsage } from '../../../run-tool/api/system-df.ts';
import type { LoadedContainer } from '../../../run-tool/containers/state.ts';
import type { VolumeInfo } from '../../../run-tool/containers/volumes.ts';
import type { DiskUsage } from '../../../run-tool/ops/system-df.ts';

const id = 'c'.repeat(64);
const img = 'a'.repeat(64);
const loaded = [{
  record: { id, name: 'web', args: ['sleep', '9'], created: '2024-01-01T00:00:00Z', image: { name: 'localhost/busybox:latest', id: `sha256:${img}` }, config: { labels: {} }, hostConfig: { portBindings: [], networkMode: 'none' }, mounts: [] },
  state: { status: 'stopped', exitCode: 0, finishedAt: '2024-01-01T00:00:01Z' },
}] as unknown as LoadedContainer[];
const vol = { Name: 'data', Driver: 'local', Mountpoint: '/x/_data', CreatedAt: '2024-01-01T00:00:00Z', Labels: {}, Scope: 'local', Options: {}, MountCount: 0, NeedsCopyUp: true, NeedsChown: true } as VolumeInfo;
const usage: DiskUsage = {
  images: [
    { id: img, names: ['localhost/busybox:latest'], created: new Date(1_700_000_000_000), size: 1000, sharedSize: 0, uniqueSize: 1000, containers: 1 },
    { id: 'b'.repeat(64), names: [], size: 500, sharedSize: 0, uniqueSize: 500, containers: 0 },
  ],
  containers: [
    { id, imageId: img, command: ['sleep', '9'], localVolumes: 1, size: 42, created: '2024-01-01T00:00:00Z', status: 'exited', name: 'web', running: false },
    { id: 'd'.repeat(64), imageId: img, command: [], localVolumes: 0, size: 1, created: '2024-01-01T00:00:00Z', status: 'exited', name: 'gone', running: false },
  ],
  volumes: [{ name: 'data', links: 1, size: 7 }, { name: 'gone', links: 0, size: 3 }],
};

describe('GET /system/df body', () => {
  it('images, containers and volumes in Docker\'s fields, with sizes, counts and an empty build cache', () => {
    const j = dockerDiskUsage(usage, loaded, [vol]) as Record<string, any>;
    expect(j.LayersSize).toBe(1500);
    expect(j.Images.map((i: any) => [i.Id, i.RepoTags, i.Size, i.VirtualSize, i.Containers, i.Created])).toEqual([
      [`sha256:${img}`, ['localhost/busybox:latest'], 1000, 1000, 1, 1_700_000_000],
      [`sha256:${'b'.repeat(64)}`, [], 500, 500, 0, 0],
    ]);
    // a container or volume removed between the reads is left out
    expect(j.Containers).toHaveLength(1);
    expect([j.Containers[0].Id, j.Containers[0].Names, j.Containers[0].State, j.Containers[0].SizeRw, j.Containers[0].SizeRootFs]).toEqual([id, ['/web'], 'exited', 42, 1042]);
    expect(j.Volumes).toEqual([{ ...vol, UsageData: { Size: 7, RefCount: 1 } }]);
    expect(j.BuildCache).toEqual([]);
  });
});
