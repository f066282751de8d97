import { SkiffError } from '../../shared/errors.ts';
import { runProgram } from '../../shared/layer/exec.ts';
import { isMountPoint } from '../../shared/runtime/bundle.ts';
import type { Store } from '../../shared/store/store.ts';
import { lowersOf, mountRootfs, unmountRootfs } from './create.ts';
import { getRunc } from './lifecycle.ts';
import { containerPaths, loadById, lockContainer, type ContainerPaths, type LoadedContainer } from './state.ts';

/** What `withContainerRootfs` hands its callback. */
export interface RootfsAccess {
  container: LoadedContainer;
  paths: ContainerPaths;
  /** the merged overlay root (mounted for the duration of the callback) */
  rootfs: string;
  /** the container was running (its processes may hold the rootfs) */
  running: boolean;
  /** its processes are frozen (runc pause) for the duration of the callback */
  paused: boolean;
}

async function runcCmd(sub: string[], id: string): Promise<void> {
  const runc = await getRunc();
  const r = await runProgram(runc.path, ['--root', runc.root, ...sub, id]);
  if (r.code !== 0) throw new SkiffError('EIO', `runc ${sub[0]} ${id} failed: ${r.stderr.trim() || `exit ${r.code}`}`);
}

/**
 * Runs `fn` with the container's merged rootfs available, holding the container lock throughout (no
 * start/stop/rm can interleave; a container exiting meanwhile is cleaned up after `fn`, when the lock is
 * free). A running container's live mount is used; a created or stopped one gets its overlay mounted at its
 * rootfs dir and unmounted afterwards. With `pause`, a running container is frozen with `runc pause` before
 * `fn` and resumed after it (even when `fn` fails), so nothing in it can change the tree while `fn` works; a
 * pause failure is EUNSUPPORTED (e.g. rootless on cgroups v1) unless `pause` is 'try'.
 */
export async function withContainerRootfs<T>(
  store: Store,
  id: string,
  fn: (a: RootfsAccess) => Promise<T>,
  o: { pause?: boolean | 'try'; signal?: AbortSignal } = {},
): Promise<T> {
  const root = store.paths.root;
  const lock = await lockContainer(root, id, { ...(o.signal && { signal: o.signal }) });
  try {
    const c = await loadById(root, id);
    if (!c) throw new SkiffError('ENOTFOUND', `no container with ID ${id} found: no such container`);
    const p = containerPaths(root, id);
    const running = (c.state.status === 'running' || c.state.status === 'stopping') && (await isMountPoint(p.rootfs));
    let mountedHere = false;
    let paused = false;
    if (!running && !(await isMountPoint(p.rootfs))) {
      await mountRootfs(root, id, lowersOf(store, c.record), { ...(o.signal && { signal: o.signal }) });
      mountedHere = true;
    }
    try {
      if (running && o.pause) {
        try {
          await runcCmd(['pause'], id);
          paused = true;
        } catch (e) {
          if (o.pause !== 'try') {
            throw new SkiffError('EUNSUPPORTED', `cannot pause container ${c.record.name}: ${(e as Error).message}`, { hint: 'stop the container first', cause: e });
          }
        }
      }
      try {
        return await fn({ container: c, paths: p, rootfs: p.rootfs, running, paused });
      } finally {
        if (paused) await runcCmd(['resume'], id);
      }
    } finally {
      if (mountedHere) await unmountRootfs(root, id);
    }
  } finally {
    await lock.release();
  }
}
