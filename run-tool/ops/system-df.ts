// The disk-usage operation (podman's `system df`): images, containers and volumes of one store, with what a prune
// could reclaim. Plain numbers out; the front end formats them.
import type { Cancellable } from '../../shared/errors.ts';
import { listImages, type ImageSummary } from '../../shared/store/list-images.ts';
import { LayerSizes, layerSizesDir } from '../../shared/store/layer-sizes.ts';
import type { History } from '../../shared/oci/types.ts';
import type { Store } from '../../shared/store/store.ts';
import { treeSize } from '../../shared/store/tree-size.ts';
import { containerPaths, listContainers, stateName } from '../containers/state.ts';
import { listVolumes, volumePaths, volumeUsers } from '../containers/volumes.ts';

/** One image's usage (podman's `system df -v` image row). */
export interface ImageUsage { id: string; names: string[]; created?: Date; size: number; sharedSize: number; uniqueSize: number; containers: number }
/** One container's usage: its writable layer. */
export interface ContainerUsage { id: string; imageId: string; command: string[]; localVolumes: number; size: number; created: string; status: string; name: string; running: boolean }
/** One volume's usage: its data. */
export interface VolumeUsage { name: string; links: number; size: number }

/** Everything `system df` reports. */
export interface DiskUsage { images: ImageUsage[]; containers: ContainerUsage[]; volumes: VolumeUsage[] }

const hex = (d: string): string => d.replace(/^sha256:/, '');

/**
 * Measures the store: each image's uncompressed size (as `images` shows it; layer sizes from the store's
 * layer-size cache), its shared part (sharedSizes) and how many containers use it, each container's writable layer (its
 * overlay upper dir), each volume's data and how many containers use it. Reads only; nothing is locked.
 */
export async function diskUsage(store: Store, o: Cancellable = {}): Promise<DiskUsage> {
  const root = store.paths.root;
  const cs = await listContainers(root);
  const uses = new Map<string, number>();
  for (const c of cs) uses.set(hex(c.record.image.id), (uses.get(hex(c.record.image.id)) ?? 0) + 1);
  const listed = await listImages(store.layout, { ...o, sizes: new LayerSizes(layerSizesDir(store.paths.cache), store.layout.blobs) });
  const shares = sharedSizes(listed);
  const images = listed.map((i, n) => ({
    id: hex(i.id), names: i.names, ...(i.created && { created: i.created }), size: i.size, sharedSize: shares[n]!, uniqueSize: i.size - shares[n]!, containers: uses.get(hex(i.id)) ?? 0,
  }));
  const containers: ContainerUsage[] = [];
  for (const c of cs) {
    containers.push({
      id: c.record.id, imageId: hex(c.record.image.id), command: c.record.args, localVolumes: c.record.volumes.length,
      size: await treeSize(containerPaths(root, c.record.id).upper), created: c.record.created, status: stateName(c.state), name: c.record.name,
      running: c.state.status === 'running' || c.state.status === 'stopping',
    });
  }
  const users = await volumeUsers(root);
  const volumes: VolumeUsage[] = [];
  for (const v of await listVolumes(root)) volumes.push({ name: v.Name, links: users.get(v.Name)?.length ?? 0, size: await treeSize(volumePaths(root, v.Name).data) });
  return { images, containers, volumes };
}

type Lineage = Pick<ImageSummary, 'id' | 'size' | 'diffIds' | 'history'>;

const sameHistory = (a: History, b: History): boolean =>
  (a.created ?? '') === (b.created ?? '') && (a.created_by ?? '') === (b.created_by ?? '') && (a.author ?? '') === (b.author ?? '') && (a.comment ?? '') === (b.comment ?? '') && (a.empty_layer ?? false) === (b.empty_layer ?? false);

/**
 * podman's (libimage's) parent test: `c` is built on `p` when `p`'s layers and history are prefixes of `c`'s and
 * `c`'s top layer is `p`'s or one above it (the layer tree's same or child node). Images without layers have none. Pure.
 */
function isParentOf(p: Lineage, c: Lineage): boolean {
  if (p.id === c.id || p.diffIds.length === 0) return false;
  if (c.diffIds.length !== p.diffIds.length && c.diffIds.length !== p.diffIds.length + 1) return false;
  if (c.history.length < p.history.length || p.diffIds.some((d, i) => c.diffIds[i] !== d)) return false;
  return p.history.every((h, i) => sameHistory(h, c.history[i]!));
}

/**
 * Each image's SHARED SIZE as podman 4.3's `system df -v` computes it: an image another is built on shares all of
 * its size; else an image built on a parent shares the parent's size; else nothing. Same order as `images`. Pure.
 */
export function sharedSizes(images: readonly Lineage[]): number[] {
  return images.map((i) => {
    if (images.some((c) => isParentOf(i, c))) return i.size;
    const parent = images.find((p) => isParentOf(p, i));
    return parent ? Math.min(parent.size, i.size) : 0;
  });
}

/** One row of `system df`'s summary (podman's template fields). */
export interface DiskSummary { Type: string; Total: number; Active: number; RawSize: number; RawReclaimable: number }

/** The summary rows: Images, Containers, Local Volumes; reclaimable is what no container uses (images, volumes) or what is not running (containers). Pure. */
export function summarizeUsage(u: DiskUsage): DiskSummary[] {
  const sum = <T>(xs: readonly T[], f: (x: T) => number): number => xs.reduce((n, x) => n + f(x), 0);
  return [
    { Type: 'Images', Total: u.images.length, Active: u.images.filter((i) => i.containers > 0).length, RawSize: sum(u.images, (i) => i.size), RawReclaimable: sum(u.images.filter((i) => i.containers === 0), (i) => i.size) },
    { Type: 'Containers', Total: u.containers.length, Active: u.containers.filter((c) => c.running).length, RawSize: sum(u.containers, (c) => c.size), RawReclaimable: sum(u.containers.filter((c) => !c.running), (c) => c.size) },
    { Type: 'Local Volumes', Total: u.volumes.length, Active: u.volumes.filter((v) => v.links > 0).length, RawSize: sum(u.volumes, (v) => v.size), RawReclaimable: sum(u.volumes.filter((v) => v.links === 0), (v) => v.size) },
  ];
}
