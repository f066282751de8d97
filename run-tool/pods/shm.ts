/**
 * A pod's /dev/shm (podman binds the infra container's shm into every member): a tmpfs mounted on the host at
 * `<root>/pods/<id>/shm` (mode 1777, nosuid, nodev, noexec; `--shm-size`, default 65536000 bytes as podman's) is
 * bound at /dev/shm into the infra container and into each member that shares the pod's IPC namespace, so a file
 * one writes there the others see. The record says the pod has one (`shmMounted`) from `pod create` on; the tmpfs
 * itself is mounted by the first start of any of the pod's containers (as podman makes it with the infra), and again
 * by a start after a reboot removed it; unmounted by the pod's removal (or the sweep of a half-made pod, which the
 * record names). Rootless the mount lives in the user's mount namespace (the one the CLI joins and the containers
 * are made in).
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { SkiffError } from '../../shared/errors.ts';
import { unmount } from '../../shared/layer/overlay-mount.ts';
import { acquireLock } from '../../shared/store/lock.ts';
import { runProgram } from '../../shared/process/run.ts';
import { isMountPoint, mountsUnder } from '../../shared/runtime/bundle.ts';
import type { MountRequest } from '../../shared/runtime/mounts.ts';
import { podPaths } from './state.ts';

/** podman 4.3's default size of a pod's /dev/shm (its infra's: `df` shows 64000 KiB). */
export const DEFAULT_SHM_SIZE = 65_536_000;

/** The host directory of pod `id`'s shm tmpfs. Pure. */
export function podShmDir(root: string, id: string): string {
  return join(podPaths(root, id).dir, 'shm');
}

/** The /dev/shm bind a container of pod `id` gets (the infra, and members sharing IPC). Pure. */
export function podShmMount(root: string, id: string): MountRequest {
  return { type: 'bind', source: podShmDir(root, id), destination: '/dev/shm', options: ['rbind', 'rprivate', 'nosuid', 'nodev', 'noexec'] };
}

/**
 * Mounts pod `id`'s shm tmpfs of `size` bytes unless it is mounted (idempotent). Two starts of the pod's containers
 * racing here make one mount, never two stacked ones (a container bound to the lower one would not share the
 * others' files): the check and the mount run under the pod dir's `shm.lock`, a lock of its own so that a start
 * needs no pod lock (a member's create holds that while the infra starts beside it). ENOTFOUND when the pod
 * directory is gone (the pod was removed).
 */
export async function mountPodShm(root: string, id: string, size = DEFAULT_SHM_SIZE): Promise<void> {
  const dir = podShmDir(root, id);
  if (await isMountPoint(dir)) return;
  const lock = await acquireLock(join(podPaths(root, id).dir, 'shm.lock')).catch((e: unknown) => {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    throw new SkiffError('ENOTFOUND', `no pod with ID ${id} found: no such pod`, { cause: e });
  });
  try {
    await mkdir(dir, { recursive: true, mode: 0o755 });
    if (await isMountPoint(dir)) return;
    const r = await runProgram('mount', ['-t', 'tmpfs', '-o', `mode=1777,nosuid,nodev,noexec,size=${Math.max(1, Math.floor(size / 1024))}k`, 'shm', dir]);
    if (r.code !== 0) throw new SkiffError('EIO', `mounting the pod's /dev/shm at ${dir} failed: ${r.stderr.trim()}`);
  } finally {
    await lock.release();
  }
}

/** Unmounts pod `id`'s shm (every mount there, deepest first). Idempotent. */
export async function unmountPodShm(root: string, id: string): Promise<void> {
  for (const m of await mountsUnder(podShmDir(root, id))) await unmount(m);
}
