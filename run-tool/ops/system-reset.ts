// The reset operation (podman's `system reset`): everything in one store goes — pods, containers (stopped and torn
// down first: runc state, mounts, network attachments), images, volumes, networks, caches, the event log — and
// nothing outside it.
import { lstat, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { SkiffError } from '../../shared/errors.ts';
import { mountsUnder } from '../../shared/runtime/bundle.ts';
import { storePaths } from '../../shared/store/paths.ts';
import { openStore } from '../../shared/store/store.ts';
import { listContainers } from '../containers/state.ts';
import { removeContainer } from '../containers/stop-container.ts';

/**
 * The top-level entries a store holds (shared/store/paths.ts plus what run-tool keeps beside them). Only these are
 * removed; anything else in the root directory is left and reported.
 */
export const STORE_ENTRIES: readonly string[] = ['images', 'overlay', 'tmp', 'leases', 'locks', 'containers', 'cache', 'events', 'exits', 'kube', 'networks', 'pods', 'volumes', 'signatures', 'secrets'];

/** What resetStore did. */
export interface ResetReport {
  /** entries of the root directory that are not the store's and were left in place */
  left: string[];
}

/**
 * Removes everything in the store at `root`: first every pod and container (forced, so each is stopped, unmounted and
 * detached from its networks as `rm -f` does), then the store's own directories. Refuses, deleting nothing, when the
 * root holds something but no store (no images/oci-layout), or when anything is still mounted under it afterwards
 * (a recursive delete must never cross into a mounted file system). A root that does not exist is already reset.
 */
export async function resetStore(root: string, o: { onWarning?: (m: string) => void } = {}): Promise<ResetReport> {
  const p = storePaths(root);
  const names = await readdir(p.root).catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? undefined : Promise.reject(e)));
  if (names === undefined) return { left: [] };
  const isStore = await lstat(join(p.images, 'oci-layout')).then(() => true, () => false);
  const known = names.filter((n) => STORE_ENTRIES.includes(n));
  if (!isStore && known.length < names.length) {
    throw new SkiffError('EINVALID', `${p.root} is not a skiff store (no images/oci-layout): nothing removed`, { hint: 'check --root; reset removes only a store' });
  }
  if (isStore) {
    const store = await openStore(p.root, { write: true });
    try {
      const { listPods, removePod } = await import('./pods.ts');
      for (const pod of await listPods(store)) await removePod(store, pod.record.id, { force: true, timeout: 0, ignoreMissing: true, onWarning: o.onWarning });
      for (const c of (await listContainers(p.root)).reverse()) {
        await removeContainer(store, c.record.id, { force: true, volumes: true, timeout: 0, onWarning: o.onWarning }).catch((e: unknown) => o.onWarning?.(`removing container ${c.record.id}: ${(e as Error).message}`));
      }
    } finally {
      await store.close();
    }
  }
  const mounted = await mountsUnder(p.root);
  if (mounted.length > 0) throw new SkiffError('EUNSAFE', `still mounted under the store: ${mounted.join(', ')}: nothing more removed`, { hint: 'stop what uses these mounts (or unmount them) and run system reset again' });
  for (const n of known) await rm(join(p.root, n), { recursive: true, force: true, maxRetries: 3 });
  return { left: names.filter((n) => !STORE_ENTRIES.includes(n)) };
}
