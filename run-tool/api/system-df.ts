// GET /system/df: the disk-usage operation `run-tool system df` runs (ops/system-df.ts), in Docker's shape — images
// as in /images/json with their container counts, containers as in /containers/json with SizeRw/SizeRootFs, volumes
// as in /volumes with UsageData. skiff keeps no build cache, so BuildCache is always empty.
import { listContainers, type LoadedContainer } from '../containers/state.ts';
import { listVolumes, type VolumeInfo } from '../containers/volumes.ts';
import { diskUsage, type DiskUsage } from '../ops/system-df.ts';
import { containerSummary } from './containers.ts';
import { withApiStore, type ApiRequest } from './context.ts';
import { sendJson } from './http-util.ts';

const imageId = (id: string): string => (id.startsWith('sha256:') ? id : `sha256:${id}`);

/**
 * Docker's /system/df body of `u`: one Images/Containers/Volumes entry per usage row (a container or volume missing
 * from `loaded`/`volumes` — removed between the reads — is left out), LayersSize the sum of the image sizes.
 * Pure but for the clock (the containers' Status text).
 */
export function dockerDiskUsage(u: DiskUsage, loaded: readonly LoadedContainer[], volumes: readonly VolumeInfo[]): Record<string, unknown> {
  const imageSize = new Map(u.images.map((i) => [i.id, i.size]));
  const byId = new Map(loaded.map((c) => [c.record.id, c]));
  const byName = new Map(volumes.map((v) => [v.Name, v]));
  return {
    LayersSize: u.images.reduce((n, i) => n + i.size, 0),
    Images: u.images.map((i) => ({
      Id: imageId(i.id), ParentId: '', RepoTags: i.names, RepoDigests: [], Created: Math.floor((i.created?.getTime() ?? 0) / 1000),
      Size: i.size, SharedSize: i.sharedSize, VirtualSize: i.size, Labels: {}, Containers: i.containers,
    })),
    Containers: u.containers.flatMap((c) => {
      const l = byId.get(c.id);
      return l ? [{ ...containerSummary(l), SizeRw: c.size, SizeRootFs: c.size + (imageSize.get(c.imageId) ?? 0) }] : [];
    }),
    Volumes: u.volumes.flatMap((v) => {
      const info = byName.get(v.name);
      return info ? [{ ...info, UsageData: { Size: v.size, RefCount: v.links } }] : [];
    }),
    BuildCache: [],
  };
}

/** GET /system/df */
export async function systemDfHandler(r: ApiRequest): Promise<void> {
  const u = await withApiStore(r.root, (store) => diskUsage(store, { signal: r.signal }));
  sendJson(r.res, 200, dockerDiskUsage(u, await listContainers(r.root), await listVolumes(r.root)));
}
