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

/** The cgroupsPath runc gets for container `id`: `/skiff/<id>` (cgroupfs) or `machine.slice:skiff:<id>` (systemd: the unit `skiff-<id>.scope`). Pure. */
export function cgroupsPathFor(id: string, manager: CgroupManager): string {
  return manager === 'systemd' ? `machine.slice:skiff:${id}` : `/skiff/${id}`;
}
