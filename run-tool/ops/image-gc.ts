import { readdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { isSkiffError, type Cancellable } from '../../shared/errors.ts';
import type { Descriptor } from '../../shared/oci/types.ts';
import { chainIDsOfImages, removeUnusedUnpacked } from '../../shared/layer/cache-gc.ts';
import { layerCacheDir } from '../containers/rootfs-mount.ts';
import { KEEP_ID_CACHE_INFIX } from '../../shared/runtime/keep-id.ts';
import { listLeases } from '../../shared/store/lease.ts';
import { withLock } from '../../shared/store/lock.ts';
import type { GcResult } from '../../shared/store/gc.ts';
import { openStore } from '../../shared/store/store.ts';
import type { Digest } from '../../shared/oci/digest.ts';
import { listContainers } from '../containers/state.ts';

/** What a store clean-up removed. */
export interface StoreGcResult {
  blobs: GcResult;
  /** Unpacked-layer cache entries removed (chain IDs). */
  layers: Digest[];
}

/**
 * Garbage-collects the store at `root`: unreferenced blobs (store gc: index.json entries and live leases —
 * containers hold persistent leases, RU-14 — are kept), then unpacked layers no remaining image, leased image
 * or container needs. The cache sweep runs under the exclusive gc lock after the blob sweep, with the keep
 * set computed under that lock. A store that does not exist is a no-op.
 */
export async function collectStoreGarbage(root: string, o: Cancellable = {}): Promise<StoreGcResult | undefined> {
  const so = { signal: o.signal };
  let store;
  try {
    store = await openStore(root, { write: true, ...so });
  } catch (e) {
    if (isSkiffError(e, 'ENOTFOUND')) return undefined;
    throw e;
  }
  try {
    const blobs = await store.gc(so);
    const layers = await withLock(store.gcLockPath, so, async () => {
      const roots: Pick<Descriptor, 'digest' | 'mediaType'>[] = [...(await store.layout.entries(so))];
      for (const l of await listLeases(store.paths)) for (const d of l.digests) roots.push({ digest: d, mediaType: '' });
      const keep = await chainIDsOfImages(store.layout, roots, so);
      const kept = new Set<string>(keep);
      for (const c of await listContainers(root)) for (const id of c.record.chainIDs ?? []) kept.add(id);
      // every unpack cache: the usual one, the single-id one rootless users without subuid ranges get, and the
      // id-shifted ones of --userns=keep-id (overlay-keepid-<uid>-<gid>)
      const caches = [layerCacheDir(store, false), layerCacheDir(store, true)];
      const base = basename(store.paths.overlay);
      for (const n of await readdir(dirname(store.paths.overlay)).catch(() => [] as string[])) {
        if (n.startsWith(`${base}${KEEP_ID_CACHE_INFIX}`)) caches.push(join(dirname(store.paths.overlay), n));
      }
      const removed: Digest[] = [];
      for (const c of caches) removed.push(...(await removeUnusedUnpacked(c, kept, so)));
      return removed;
    });
    return { blobs, layers };
  } finally {
    await store.close();
  }
}
