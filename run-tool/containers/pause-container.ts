import { SkiffError } from '../../shared/errors.ts';
import { isRootless } from '../../shared/runtime/rootless.ts';
import type { Store } from '../../shared/store/store.ts';
import { getRunc } from './runc-handle.ts';
import { loadById, lockContainer, saveState } from './state.ts';
import { recordContainerEvent } from './record-event.ts';

/**
 * Freezes (`pause`) or thaws (`unpause`) a running container through runc's freezer cgroup, under the container
 * lock, and records it in the state (`paused`). podman's messages for a container in the wrong state (EINVALID,
 * exit 125); EUNSUPPORTED rootless, where cgroups v1 gives the container no freezer.
 */
export async function setPaused(store: Store, id: string, paused: boolean): Promise<void> {
  const root = store.paths.root;
  if (isRootless()) throw new SkiffError('EUNSUPPORTED', 'pause is not supported for rootless containers: cgroups v1 gives them no freezer');
  const lock = await lockContainer(root, id);
  try {
    const c = await loadById(root, id);
    if (!c) throw new SkiffError('ENOTFOUND', `no container with ID ${id} found: no such container`);
    if (paused && c.state.paused) throw new SkiffError('EINVALID', `"${id}" is already paused: container state improper`);
    // podman 4.3 names the state here, not the container
    if (paused && c.state.status !== 'running') throw new SkiffError('EINVALID', `"${c.state.status}" is not running, can't pause: container state improper`);
    if (!paused && !(c.state.status === 'running' && c.state.paused)) throw new SkiffError('EINVALID', `"${id}" is not paused, can't unpause: container state improper`);
    const runc = await getRunc();
    if (paused) await runc.pause(id);
    else await runc.resume(id);
    const next = { ...c.state };
    if (paused) next.paused = true;
    else delete next.paused;
    await saveState(root, id, next);
    recordContainerEvent(root, c.record, paused ? 'pause' : 'unpause');
  } finally {
    await lock.release();
  }
}
