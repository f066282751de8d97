import { isSkiffError } from '../../shared/errors.ts';
import { Annotation } from '../../shared/oci/media-types.ts';
import { listImages } from '../../shared/store/list-images.ts';
import { openStore, type Store } from '../../shared/store/store.ts';
import { listReconciled } from '../containers/cleanup-container.ts';
import { removeContainer } from '../containers/stop-container.ts';
import { listContainers } from '../containers/state.ts';
import { pruneVolumes } from '../containers/volumes.ts';
import { collectStoreGarbage } from './image-gc.ts';
import { recordImageEvent } from '../containers/record-event.ts';

// The prune operation (podman's `system prune`): stopped containers, unused images and volumes, then garbage.

/** What a prune removed. */
export interface PruneReport {
  containers: string[];
  images: string[];
  volumes: string[];
  reclaimedBytes: number;
}

/**
 * podman's `system prune`: removes every container that is not running (state API, reconciled first so a
 * container whose monitor died counts as stopped), then dangling images — with `all`, every image no
 * container uses — (index entries only; blobs follow in gc), then with `volumes` every volume no container
 * uses, then garbage-collects blobs and unpacked layers. Each step is atomic per item; a failure leaves what
 * was removed removed. What could not be torn down on the way (a container's network) goes to `onWarning`.
 */
export async function systemPrune(root: string, o: { all?: boolean; volumes?: boolean; signal?: AbortSignal; onWarning?: (message: string) => void } = {}): Promise<PruneReport> {
  const so = { signal: o.signal };
  const report: PruneReport = { containers: [], images: [], volumes: [], reclaimedBytes: 0 };
  let store;
  try {
    store = await openStore(root, { write: true, ...so });
  } catch (e) {
    if (!isSkiffError(e, 'ENOTFOUND')) throw e;
  }
  if (store) {
    try {
      // pods none of whose containers runs go first, with their containers (podman prunes pods before containers)
      await (await import('./pods.ts')).prunePods(store, o.onWarning ? { onWarning: o.onWarning } : {});
      // newest first: a container sharing another's namespaces goes before it; an infra container goes only with its pod
      for (const c of (await listReconciled(store, { onWarning: o.onWarning })).reverse()) {
        if (c.state.status === 'running' || c.state.status === 'stopping' || (c.record.isInfra && c.record.pod)) continue;
        await removeContainer(store, c.record.id, { force: true, onWarning: o.onWarning });
        report.containers.push(c.record.id);
      }
      report.images.push(...(await pruneImages(store, { all: o.all === true, ...so })));
    } finally {
      await store.close();
    }
  }
  if (o.volumes) report.volumes = await pruneVolumes(root, so);
  const gc = await collectStoreGarbage(root, so);
  report.reclaimedBytes = gc?.blobs.bytesFreed ?? 0;
  return report;
}

/**
 * podman's `image prune`: removes dangling images — with `all`, every image no container uses — as index entries
 * (one atomic index update; blobs follow in gc). Returns the removed image IDs (hex). Emits an untag/remove event each.
 */
export async function pruneImages(store: Store, o: { all?: boolean; signal?: AbortSignal } = {}): Promise<string[]> {
  const so = { signal: o.signal };
  const root = store.paths.root;
  const used = new Set<string>();
  for (const c of await listContainers(root)) used.add(c.record.image.id.replace(/^sha256:/, ''));
  // a working container's image (build-tool from/run/commit) is in use too
  for (const id of await (await import('../../shared/build/working/containers.ts')).workingImageIds(root)) used.add(id);
  const doomed = new Set<string>();
  for (const img of await listImages(store.layout, so)) {
    const hex = img.id.replace(/^sha256:/, '');
    if (used.has(hex)) continue;
    if (img.dangling || o.all) doomed.add(img.id);
  }
  if (doomed.size === 0) return [];
  const entries = await store.layout.entries(so);
  const drop = new Set<string>();
  const names: [string, string][] = [];
  for (const e of entries) {
    const id = (await store.layout.configDigest(e, so)) ?? e.digest;
    const name = e.annotations?.[Annotation.RefName];
    if (doomed.has(id) && (o.all || name === undefined)) {
      drop.add(e.digest);
      if (name !== undefined) names.push([name, id]);
    }
  }
  await store.layout.update((es) => es.filter((e) => !drop.has(e.digest)), so);
  for (const [n, id] of names) recordImageEvent(root, 'untag', n, id);
  const ids = [...doomed].map((d) => d.replace(/^sha256:/, ''));
  for (const id of ids) recordImageEvent(root, 'remove', id, id);
  return ids;
}
