import { SkiffError, type Cancellable } from '../../shared/errors.ts';
import { isMountPoint } from '../../shared/runtime/bundle.ts';
import { isRootless } from '../../shared/runtime/rootless.ts';
import { writeFileAtomic } from '../../shared/store/atomic.ts';
import type { Store } from '../../shared/store/store.ts';
import { lowersOf, mountRootfs, unmountRootfs, userMountCount, userMountFile } from '../containers/rootfs-mount.ts';
import { containerPaths, listContainers, loadContainer, lockContainer, type LoadedContainer } from '../containers/state.ts';

// The mount operations (podman's `mount` / `unmount`, root only): a container's merged root file system at its
// rootfs dir, with a per-container counter so every `mount` needs its own `unmount`, as podman's storage counts.

/** podman's refusal for a rootless caller: a mount made in run-tool's own user namespace would vanish with it. */
function refuseRootless(command: string): void {
  if (isRootless()) throw new SkiffError('EUNSUPPORTED', `cannot run command "run-tool ${command}" in rootless mode, must execute \`podman unshare\` first`);
}

async function withLocked<T>(store: Store, c: LoadedContainer, fn: () => Promise<T>, o: Cancellable): Promise<T> {
  const lock = await lockContainer(store.paths.root, c.record.id, { signal: o.signal });
  try {
    return await fn();
  } finally {
    await lock.release();
  }
}

/**
 * Mounts container `nameOrId`'s overlay (if it is not mounted already, as a running container's is) and adds one
 * to its mount counter, under the container lock. Returns the merged path. EUNSUPPORTED rootless.
 */
export async function mountContainer(store: Store, nameOrId: string, o: Cancellable = {}): Promise<{ id: string; name: string; mountpoint: string }> {
  refuseRootless('mount');
  const root = store.paths.root;
  const c = await loadContainer(root, nameOrId);
  return withLocked(store, c, async () => {
    const p = containerPaths(root, c.record.id);
    await mountRootfs(root, c.record.id, await lowersOf(store, c.record), { signal: o.signal });
    await writeFileAtomic(userMountFile(root, c.record.id), `${(await userMountCount(root, c.record.id)) + 1}\n`, 0o600);
    return { id: c.record.id, name: c.record.name, mountpoint: p.rootfs };
  }, o);
}

/**
 * Takes one from container `nameOrId`'s mount counter (all of it with `force`) and unmounts its overlay when the
 * counter reaches 0 and the container is not running. Unmounting more often than mounting is not an error, as in
 * podman. EUNSUPPORTED rootless.
 */
export async function unmountContainer(store: Store, nameOrId: string, o: Cancellable & { force?: boolean } = {}): Promise<void> {
  refuseRootless('unmount');
  const root = store.paths.root;
  const c = await loadContainer(root, nameOrId);
  await withLocked(store, c, async () => {
    const n = o.force ? 0 : Math.max(0, (await userMountCount(root, c.record.id)) - 1);
    await writeFileAtomic(userMountFile(root, c.record.id), `${n}\n`, 0o600);
    const running = c.state.status === 'running' || c.state.status === 'stopping';
    if (n === 0 && !running) await unmountRootfs(root, c.record.id);
  }, o);
}

/** The containers whose root file system is mounted now (running ones included), oldest first. */
export async function mountedContainers(store: Store): Promise<{ id: string; name: string; mountpoint: string }[]> {
  const out: { id: string; name: string; mountpoint: string }[] = [];
  for (const c of await listContainers(store.paths.root)) {
    const p = containerPaths(store.paths.root, c.record.id);
    if (await isMountPoint(p.rootfs)) out.push({ id: c.record.id, name: c.record.name, mountpoint: p.rootfs });
  }
  return out;
}

/** Every container's name (for `--all`), oldest first. */
export async function allContainerNames(store: Store): Promise<string[]> {
  return (await listContainers(store.paths.root)).map((c) => c.record.name);
}
