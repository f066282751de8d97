// A container created through the API keeps its overlay rootfs mounted for a while, since a start usually follows
// at once (Docker clients create, then start): the create's unmount and the start's mount are two `mount(8)`
// processes saved. The state records `mounted: true` (as `run` leaves it), so rm, cleanup and the next start all
// know; when no start came within the grace period, or the service stops, the service unmounts it again and
// records that. A service killed before then leaves a created container mounted, which its rm or start handles.
import { lockContainer, loadById, saveState } from '../containers/state.ts';
import { unmountRootfs, userMountCount } from '../containers/rootfs-mount.ts';

/** How long a created container stays mounted waiting for its start, by default. */
export const CREATED_MOUNT_GRACE_MS = 10_000;

const pending = new Map<string, { root: string; timer: NodeJS.Timeout }>();

/**
 * Unmounts container `id`'s rootfs when it is still `created`, recorded mounted and not held by the user's `mount`
 * (a start or an rm came first: nothing to do), under the container lock. Never throws.
 */
async function unmountIfCreated(root: string, id: string): Promise<void> {
  pending.delete(id);
  try {
    const lock = await lockContainer(root, id);
    try {
      const c = await loadById(root, id);
      // the user's own `mount` of it keeps it mounted (and recorded so)
      if (!c || c.state.status !== 'created' || !c.state.mounted || (await userMountCount(root, id)) > 0) return;
      await unmountRootfs(root, id);
      await saveState(root, id, { ...c.state, mounted: false });
    } finally {
      await lock.release();
    }
  } catch {
    /* left mounted and recorded so: rm and start handle a mounted created container */
  }
}

/** Arms the grace period of container `id`, created mounted under `root`: unmounted after `ms` unless started. */
export function holdCreatedMount(root: string, id: string, ms = CREATED_MOUNT_GRACE_MS): void {
  clearTimeout(pending.get(id)?.timer);
  const timer = setTimeout(() => void unmountIfCreated(root, id), ms);
  timer.unref();
  pending.set(id, { root, timer });
}

/** Ends every grace period now (the service stops): each container still waiting is unmounted. */
export async function releaseCreatedMounts(): Promise<void> {
  const all = [...pending];
  for (const [, p] of all) clearTimeout(p.timer);
  await Promise.all(all.map(([id, p]) => unmountIfCreated(p.root, id)));
}
