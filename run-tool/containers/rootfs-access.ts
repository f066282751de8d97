import { readdir, readlink } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { SkiffError, throwIfAborted, type Cancellable } from '../../shared/errors.ts';
import { isRootless } from '../../shared/runtime/rootless.ts';
import { procStat } from '../../shared/process/proc.ts';
import { isMountPoint } from '../../shared/runtime/bundle.ts';
import type { Store } from '../../shared/store/store.ts';
import { lowersOf, mountRootfs, unmountRootfs } from './rootfs-mount.ts';
import { getRunc } from './runc-handle.ts';
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

/** The pids in the pid namespace of `initPid` (scanning /proc), the init included. */
async function pidsInNamespace(initPid: number): Promise<number[]> {
  const ns = await readlink(`/proc/${initPid}/ns/pid`).catch(() => undefined);
  if (ns === undefined) return [];
  const out: number[] = [];
  for (const e of await readdir('/proc')) {
    const pid = Number(e);
    if (!Number.isSafeInteger(pid) || pid < 1) continue;
    if ((await readlink(`/proc/${pid}/ns/pid`).catch(() => undefined)) === ns) out.push(pid);
  }
  return out;
}

/**
 * Freezes a container without a freezer cgroup (rootless on cgroups v1, where `runc pause` cannot): SIGSTOP to
 * every process of its pid namespace, repeated until a sweep finds no new running process (so a fork racing the
 * sweep is caught) and each is seen stopped. Returns the thaw function, which SIGCONTs exactly the processes it
 * stopped (ones the container had stopped itself stay stopped). Throws EIO when the set does not settle, EABORT
 * (everything thawed) when `o.signal` aborts.
 */
export async function freezeBySignals(initPid: number, o: Cancellable = {}): Promise<() => void> {
  const stopped = new Set<number>();
  const thaw = (): void => {
    for (const pid of stopped) {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {
        /* gone */
      }
    }
  };
  try {
    for (let round = 0; round < 50; round++) {
      let fresh = 0;
      for (const pid of await pidsInNamespace(initPid)) {
        if (stopped.has(pid)) continue;
        const st = procStat(pid)?.state;
        if (st === undefined || st === 'T' || st === 't' || st === 'Z' || st === 'X') continue;
        process.kill(pid, 'SIGSTOP');
        stopped.add(pid);
        fresh++;
      }
      // wait (bounded) until what we stopped is stopped
      for (let i = 0; i < 100; i++) {
        const states = [...stopped].map((pid) => procStat(pid)?.state);
        if (states.every((x) => x === undefined || x === 'T' || x === 'Z' || x === 'X')) break;
        await sleep(2, undefined, { signal: o.signal });
      }
      if (fresh === 0) return thaw;
    }
  } catch (e) {
    thaw();
    throwIfAborted(o.signal);
    throw new SkiffError('EIO', `cannot freeze the container's processes: ${(e as Error).message}`, { cause: e });
  }
  thaw();
  throw new SkiffError('EIO', 'cannot freeze the container: its processes keep forking');
}

/**
 * Runs `fn` with the container's merged rootfs available, holding the container lock throughout (no
 * start/stop/rm can interleave; a container exiting meanwhile is cleaned up after `fn`, when the lock is
 * free). A running container's live mount is used; a created or stopped one gets its overlay mounted at its
 * rootfs dir and unmounted afterwards. With `pause`, a running container is frozen with `runc pause` before
 * `fn` and resumed after it (even when `fn` fails), so nothing in it can change the tree while `fn` works. Rootless
 * without a freezer cgroup (cgroups v1) the processes are frozen with SIGSTOP/SIGCONT instead (freezeBySignals);
 * a pause failure otherwise is EUNSUPPORTED unless `pause` is 'try'.
 */
export async function withContainerRootfs<T>(
  store: Store,
  id: string,
  fn: (a: RootfsAccess) => Promise<T>,
  o: { pause?: boolean | 'try'; signal?: AbortSignal } = {},
): Promise<T> {
  const root = store.paths.root;
  const lock = await lockContainer(root, id, { signal: o.signal });
  try {
    const c = await loadById(root, id);
    if (!c) throw new SkiffError('ENOTFOUND', `no container with ID ${id} found: no such container`);
    const p = containerPaths(root, id);
    const running = (c.state.status === 'running' || c.state.status === 'stopping') && (await isMountPoint(p.rootfs));
    let mountedHere = false;
    let paused = false;
    let thaw: (() => void) | undefined;
    if (!running && !(await isMountPoint(p.rootfs))) {
      await mountRootfs(root, id, await lowersOf(store, c.record), { signal: o.signal });
      mountedHere = true;
    }
    try {
      if (running && o.pause) {
        try {
          await (await getRunc()).pause(id);
          paused = true;
        } catch (e) {
          const pid = isRootless() ? (await (await getRunc()).state(id).catch(() => undefined))?.pid : undefined;
          if (pid) {
            thaw = await freezeBySignals(pid, { signal: o.signal });
            paused = true;
          } else if (o.pause !== 'try') {
            throw new SkiffError('EUNSUPPORTED', `cannot pause container ${c.record.name}: ${(e as Error).message}`, { hint: 'stop the container first', cause: e });
          }
        }
      }
      try {
        return await fn({ container: c, paths: p, rootfs: p.rootfs, running, paused });
      } finally {
        if (thaw) thaw();
        else if (paused) await (await getRunc()).resume(id);
      }
    } finally {
      if (mountedHere) await unmountRootfs(root, id);
    }
  } finally {
    await lock.release();
  }
}
