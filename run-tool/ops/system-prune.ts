import { isSkiffError } from '../../shared/errors.ts';
import { openStore } from '../../shared/store/store.ts';
import { pruneVolumes } from '../containers/volumes.ts';
import { collectStoreGarbage } from './image-gc.ts';
import { pruneContainers, pruneImages } from './prune.ts';

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
      report.containers.push(...(await pruneContainers(store, undefined, { onWarning: o.onWarning })));
      report.images.push(...(await pruneImages(store, undefined, { all: o.all, ...so })).deleted);
    } finally {
      await store.close();
    }
  }
  if (o.volumes) report.volumes = await pruneVolumes(root, so);
  const gc = await collectStoreGarbage(root, so);
  report.reclaimedBytes = gc?.blobs.bytesFreed ?? 0;
  return report;
}

