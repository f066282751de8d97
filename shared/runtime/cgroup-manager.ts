// Which cgroup manager puts a root container in its cgroup: containers.conf's [engine] `cgroup_manager`.
import { existsSync } from 'node:fs';
import type { ContainersConf } from '../config/containers-conf.ts';
import { SkiffError } from '../errors.ts';

/** runc's two cgroup drivers: cgroupfs writes the hierarchy itself, systemd asks systemd for a scope unit. */
export type CgroupManager = 'cgroupfs' | 'systemd';

/** The directory that exists only when systemd runs as init (sd_booted(3)). */
export const SYSTEMD_BOOTED_DIR = '/run/systemd/system';

/**
 * The manager a root container uses: `cgroup_manager` when set, else cgroupfs (skiff's default everywhere).
 * `systemd` without systemd as init is EINVALID before any container is made — podman only finds out when runc
 * fails ("systemd not running on this host"). Reads whether `bootedDir` exists only for `systemd`.
 */
export function cgroupManager(conf: Pick<ContainersConf, 'cgroupManager'>, bootedDir = SYSTEMD_BOOTED_DIR): CgroupManager {
  if (conf.cgroupManager !== 'systemd') return 'cgroupfs';
  if (!existsSync(bootedDir)) {
    throw new SkiffError('EINVALID', `cgroup manager "systemd" needs systemd running as init (${bootedDir} is missing)`, { hint: 'set cgroup_manager = "cgroupfs" in the [engine] table of containers.conf' });
  }
  return 'systemd';
}

/**
 * The cgroupsPath runc gets for container `id`: `/skiff/<id>` (cgroupfs) or `machine.slice:skiff:<id>` (systemd: the
 * unit `skiff-<id>.scope`). A pod member (`pod` its pod's cgroup, podCgroupOf) lives under the pod's cgroup:
 * `<pod path>/skiff-<id>` (cgroupfs) or `<pod slice>:skiff:<id>` (systemd), as podman's `libpod-<id>`. Pure.
 */
export function cgroupsPathFor(id: string, manager: CgroupManager, pod?: PodCgroup): string {
  if (pod) return manager === 'systemd' ? `${pod.slice}:skiff:${id}` : `${pod.path}/skiff-${id}`;
  return manager === 'systemd' ? `machine.slice:skiff:${id}` : `/skiff/${id}`;
}

/** A pod's own cgroup, named as podman's `pod inspect` names it (CgroupParent, CgroupPath). */
export interface PodCgroup {
  manager: CgroupManager;
  /** `CgroupParent`: `/skiff_parent` (cgroupfs) or `machine.slice` (systemd) */
  parent: string;
  /** `CgroupPath`: the pod's cgroup, relative to each hierarchy's root */
  path: string;
  /** systemd: the pod's slice unit (`machine-skiff_pod_<id>.slice`); '' for cgroupfs */
  slice: string;
}

/**
 * The cgroup of pod `podId` (64 hex) under `manager`: podman's layout with skiff's names — cgroupfs
 * `/skiff_parent/<id>` (podman: `/libpod_parent/<id>`), systemd `machine.slice/machine-skiff_pod_<id>.slice`
 * (podman: `machine-libpod_pod_<id>.slice`). Pure.
 */
export function podCgroupOf(podId: string, manager: CgroupManager): PodCgroup {
  if (!/^[0-9a-f]{64}$/.test(podId)) throw new SkiffError('EINVALID', `invalid pod id ${JSON.stringify(podId)}`);
  if (manager === 'systemd') {
    const slice = `machine-skiff_pod_${podId}.slice`;
    return { manager, parent: 'machine.slice', path: `machine.slice/${slice}`, slice };
  }
  return { manager, parent: '/skiff_parent', path: `/skiff_parent/${podId}`, slice: '' };
}
