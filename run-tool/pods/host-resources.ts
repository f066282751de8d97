/**
 * What a pod's containers need on the host before one of them runs: the pod's cgroup (cgroupfs: its directories with
 * the pod's limits; a systemd slice is left to systemd, as `pod start` always did) and the pod's /dev/shm tmpfs. A reboot
 * takes both away, and the tmpfs is first mounted by the pod's first start: every start of a pod's container (the
 * infra's, a member's started alone, `pod start`'s) makes them first. Idempotent and cheap when both are there.
 */
import { makePodCgroup } from './cgroup.ts';
import { mountPodShm } from './shm.ts';
import { loadPodById, type PodRecord } from './state.ts';

/** Makes pod `r`'s cgroup (cgroupfs) and mounts its /dev/shm when it has one; both only when missing. */
export async function ensurePodHostResources(root: string, r: PodRecord): Promise<void> {
  if (r.cgroup?.manager === 'cgroupfs') await makePodCgroup(r.cgroup, r.limits ?? {});
  if (r.shmMounted) await mountPodShm(root, r.id, r.shmSize);
}

/** ensurePodHostResources for the pod of id `podId`; nothing when the pod has no record (gone, or debris). */
export async function ensurePodHostResourcesOf(root: string, podId: string): Promise<void> {
  const r = await loadPodById(root, podId);
  if (r) await ensurePodHostResources(root, r);
}
