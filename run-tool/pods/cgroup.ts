/**
 * A pod's own cgroup (podman's pod cgroup): made at `pod create` with the pod's limits, the parent of every member's
 * cgroup (cgroupsPathFor), removed with the pod. cgroupfs writes the hierarchy itself — every mounted v1 hierarchy
 * that has a controller (as podman's cgroupfs manager), or the unified v2 one; systemd gets a transient slice unit
 * through its D-Bus API (busctl), the limits as the slice's properties.
 *
 * Limits (`pod create --memory/--cpus`) are podman's: memory as the limit and twice it as memory+swap, `--cpus`
 * as a CFS quota over a 100 ms period. Root only: rootless cgroups v1 gives a user no cgroup (createPod refuses
 * the limits there and makes no pod cgroup).
 */
import { readFileSync } from 'node:fs';
import { mkdir, readdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SkiffError } from '../../shared/errors.ts';
import type { PodCgroup } from '../../shared/runtime/cgroup-manager.ts';
import { runProgram } from '../../shared/process/run.ts';
import { cgroupVersion, parseCgroupMounts, type CgroupMount } from '../containers/cgroup-stats.ts';

/** The limits a pod's cgroup carries (podman's `memory_limit`, `memory_swap`, `cpu_period`, `cpu_quota`). */
export interface PodLimits {
  memory?: number;
  memorySwap?: number;
  cpuPeriod?: number;
  cpuQuota?: number;
}

/** podman's pod limits from `--memory` bytes and `--cpus`: swap twice the memory, quota `cpus` × a 100 ms period. Pure. */
export function podLimitsOf(o: { memory?: number; cpus?: number }): PodLimits {
  const out: PodLimits = {};
  if (o.memory !== undefined) {
    out.memory = o.memory;
    out.memorySwap = 2 * o.memory;
  }
  if (o.cpus !== undefined) {
    out.cpuPeriod = 100_000;
    out.cpuQuota = Math.round(o.cpus * 100_000);
  }
  return out;
}

/**
 * The directories of cgroup path `path` in each mounted hierarchy that has a controller (or the v2 one); with
 * `named` also in named ones (`name=systemd`), where runc places members too.
 */
function hierarchyDirs(path: string, mounts: readonly CgroupMount[], named = false): { dir: string; controllers: string[] }[] {
  const out: { dir: string; controllers: string[] }[] = [];
  const seen = new Set<string>();
  for (const m of mounts) {
    const real = m.controllers.filter((c) => named || !c.startsWith('name='));
    if (real.length === 0 || seen.has(m.mountPoint)) continue;
    if (m.root !== '/') continue; // a hierarchy mounted from a sub-cgroup (a container's view) is not ours to write
    seen.add(m.mountPoint);
    out.push({ dir: join(m.mountPoint, path), controllers: real });
  }
  return out;
}

function mountsNow(): CgroupMount[] {
  return parseCgroupMounts(readFileSync('/proc/self/mountinfo', 'utf8'));
}

/** cpuset needs cpus and mems before anything can join a child: copied down from the parent when empty. */
async function fillCpuset(dir: string): Promise<void> {
  for (const f of ['cpuset.cpus', 'cpuset.mems']) {
    const mine = (await readFile(join(dir, f), 'utf8').catch(() => undefined))?.trim();
    if (mine !== '') continue;
    const parent = (await readFile(join(dir, '..', f), 'utf8')).trim();
    await writeFile(join(dir, f), parent);
  }
}

/**
 * Makes pod cgroup `cg` with `limits` (idempotent). cgroupfs v1: the directory in every hierarchy, cpuset filled,
 * memory.limit_in_bytes (+ memsw when the kernel accounts swap) and cpu.cfs_period_us/cfs_quota_us; v2: the
 * directory with its controllers enabled above it, memory.max, memory.swap.max, cpu.max. systemd: a transient
 * slice (MemoryMax, MemorySwapMax, CPUQuotaPerSecUSec).
 */
export async function makePodCgroup(cg: PodCgroup, limits: PodLimits, o: { sysfs?: string } = {}): Promise<void> {
  if (cg.manager === 'systemd') return makeSlice(cg, limits);
  const sysfs = o.sysfs ?? '/sys/fs/cgroup';
  if (cgroupVersion(sysfs) === 2) {
    let at = sysfs;
    for (const part of cg.path.split('/').filter(Boolean)) {
      const controllers = (await readFile(join(at, 'cgroup.controllers'), 'utf8')).trim().split(/\s+/).filter((c) => ['cpu', 'memory', 'pids', 'io', 'cpuset'].includes(c));
      if (controllers.length) await writeFile(join(at, 'cgroup.subtree_control'), controllers.map((c) => `+${c}`).join(' ')).catch(() => {});
      at = join(at, part);
      await mkdir(at, { recursive: true });
    }
    if (limits.memory !== undefined) {
      await writeFile(join(at, 'memory.max'), String(limits.memory));
      if (limits.memorySwap !== undefined) await writeFile(join(at, 'memory.swap.max'), String(limits.memorySwap - limits.memory)).catch(() => {});
    }
    if (limits.cpuQuota !== undefined) await writeFile(join(at, 'cpu.max'), `${limits.cpuQuota} ${limits.cpuPeriod ?? 100_000}`);
    return;
  }
  for (const h of hierarchyDirs(cg.path, mountsNow())) {
    await mkdir(h.dir, { recursive: true });
    if (h.controllers.includes('cpuset')) {
      await fillCpuset(join(h.dir, '..'));
      await fillCpuset(h.dir);
    }
    if (h.controllers.includes('memory') && limits.memory !== undefined) {
      await writeFile(join(h.dir, 'memory.limit_in_bytes'), String(limits.memory));
      if (limits.memorySwap !== undefined) await writeFile(join(h.dir, 'memory.memsw.limit_in_bytes'), String(limits.memorySwap)).catch(() => {});
    }
    if (h.controllers.includes('cpu') && limits.cpuQuota !== undefined) {
      await writeFile(join(h.dir, 'cpu.cfs_period_us'), String(limits.cpuPeriod ?? 100_000));
      await writeFile(join(h.dir, 'cpu.cfs_quota_us'), String(limits.cpuQuota));
    }
  }
}

/** rmdir of `dir` and every cgroup below it, deepest first; ENOENT is done, EBUSY (tasks still leaving) retried. */
async function removeTree(dir: string): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true }).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return undefined;
    throw e;
  });
  if (!entries) return;
  for (const e of entries) if (e.isDirectory()) await removeTree(join(dir, e.name));
  for (let i = 0; ; i++) {
    try {
      await rmdir(dir);
      return;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      if (code !== 'EBUSY' || i >= 50) throw new SkiffError('EIO', `removing pod cgroup ${dir}: ${(e as Error).message}`, { cause: e });
      await sleep(20);
    }
  }
}

/** Removes pod cgroup `cg` (and any member cgroup left below it) from every hierarchy. Idempotent. */
export async function removePodCgroup(cg: PodCgroup, o: { sysfs?: string } = {}): Promise<void> {
  if (cg.manager === 'systemd') {
    await runProgram('systemctl', ['stop', cg.slice]).catch(() => {});
    return;
  }
  const sysfs = o.sysfs ?? '/sys/fs/cgroup';
  if (cgroupVersion(sysfs) === 2) return removeTree(join(sysfs, cg.path));
  for (const h of hierarchyDirs(cg.path, mountsNow(), true)) await removeTree(h.dir);
}

/** The busctl arguments that start pod slice `cg` as a transient unit with `limits` (systemd's StartTransientUnit). Pure. */
export function sliceStartArgs(cg: PodCgroup, limits: PodLimits): string[] {
  const props: string[][] = [['Description', 's', `skiff pod ${cg.slice}`], ['DefaultDependencies', 'b', 'false']];
  if (limits.memory !== undefined) props.push(['MemoryMax', 't', String(limits.memory)], ['MemoryLimit', 't', String(limits.memory)]);
  if (limits.memorySwap !== undefined && limits.memory !== undefined) props.push(['MemorySwapMax', 't', String(limits.memorySwap - limits.memory)]);
  if (limits.cpuQuota !== undefined) props.push(['CPUQuotaPerSecUSec', 't', String(Math.round((limits.cpuQuota * 1_000_000) / (limits.cpuPeriod ?? 100_000)))]);
  return [
    'call', 'org.freedesktop.systemd1', '/org/freedesktop/systemd1', 'org.freedesktop.systemd1.Manager', 'StartTransientUnit',
    'ssa(sv)a(sa(sv))', cg.slice, 'replace', String(props.length), ...props.flat(), '0',
  ];
}

async function makeSlice(cg: PodCgroup, limits: PodLimits): Promise<void> {
  const r = await runProgram('busctl', sliceStartArgs(cg, limits));
  if (r.code !== 0) throw new SkiffError('EIO', `making the pod's slice ${cg.slice}: ${r.stderr.trim() || `busctl exited ${r.code}`}`);
}
