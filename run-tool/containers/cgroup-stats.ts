/**
 * Resource counters of a running container read from its cgroups (what `stats` shows), under cgroups v1
 * (hybrid or legacy: one hierarchy per controller) and v2 (unified, detected by /sys/fs/cgroup/cgroup.controllers).
 *
 * The cgroup of a container is found through its init process (/proc/<pid>/cgroup), not through the
 * cgroupsPath skiff gave runc, so the same code reads whatever cgroup runc actually placed the container in. The
 * controller directories come from /proc/self/mountinfo, so `cpu,cpuacct` co-mounts and non-standard mount
 * points work too. Every counter a kernel does not offer reads as 0.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** One reading of a container's cgroup counters. All byte/nanosecond counts are cumulative except memory. */
export interface CgroupSample {
  /** total CPU time of the cgroup, ns */
  cpuNano: number;
  /** CPU time spent in the kernel, ns */
  cpuSystemNano: number;
  /** per-CPU total usage, ns (cgroups v1 only; null on v2) */
  perCpu: number[] | null;
  /** memory in use, bytes (v1 memory.usage_in_bytes, v2 memory.current) */
  memUsage: number;
  /** the cgroup's memory limit in bytes; Infinity when unlimited */
  memLimit: number;
  /** tasks in the cgroup */
  pids: number;
  /** bytes read from / written to block devices */
  blockRead: number;
  blockWrite: number;
}

/** 2 when the host mounts the unified hierarchy at /sys/fs/cgroup (cgroups v2), else 1. */
export function cgroupVersion(sysfs = '/sys/fs/cgroup'): 1 | 2 {
  return existsSync(join(sysfs, 'cgroup.controllers')) ? 2 : 1;
}

/**
 * Parses /proc/<pid>/cgroup: controller name → cgroup path; the v2 entry (`0::/path`) is keyed by ''.
 * `name=systemd` style named hierarchies keep their `name=` key. Pure.
 */
export function parseProcCgroup(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^\d+:([^:]*):(.*)$/.exec(line);
    if (!m) continue;
    const ctrls = m[1]!;
    if (ctrls === '') out.set('', m[2]!);
    else for (const c of ctrls.split(',')) out.set(c, m[2]!);
  }
  return out;
}

/** A cgroup file system mount: its mount point, the cgroup path it exposes as its root, and its controllers. */
export interface CgroupMount {
  mountPoint: string;
  root: string;
  /** controllers of a v1 hierarchy; [''] for the v2 hierarchy */
  controllers: string[];
}

/** Parses /proc/self/mountinfo for cgroup (v1) and cgroup2 mounts. Pure. */
export function parseCgroupMounts(mountinfo: string): CgroupMount[] {
  const out: CgroupMount[] = [];
  for (const line of mountinfo.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const pre = line.slice(0, sep).split(' ');
    const post = line.slice(sep + 3).split(' ');
    const fstype = post[0];
    const root = unescapeMount(pre[3] ?? '/');
    const mountPoint = unescapeMount(pre[4] ?? '');
    if (fstype === 'cgroup2') out.push({ mountPoint, root, controllers: [''] });
    else if (fstype === 'cgroup') {
      const KNOWN = /^(cpu|cpuacct|cpuset|memory|devices|freezer|net_cls|blkio|perf_event|net_prio|hugetlb|pids|rdma|misc)$/;
      out.push({ mountPoint, root, controllers: (post[2] ?? '').split(',').filter((o) => KNOWN.test(o) || o.startsWith('name=')) });
    }
  }
  return out;
}

function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/**
 * The directory of `controller` ('' for v2) for a process whose /proc/<pid>/cgroup says `path`, or undefined
 * when that hierarchy is not mounted (or the path lies outside the mount's root). Pure.
 */
export function controllerDir(mounts: readonly CgroupMount[], controller: string, path: string): string | undefined {
  for (const m of mounts) {
    if (!m.controllers.includes(controller)) continue;
    const root = m.root === '/' ? '' : m.root;
    if (root && path !== root && !path.startsWith(`${root}/`)) continue;
    return join(m.mountPoint, path.slice(root.length));
  }
  return undefined;
}

/** Sums `Read` and `Write` of a v1 blkio.throttle.io_service_bytes(_recursive) file over all devices. Pure. */
export function parseBlkioV1(text: string): { read: number; write: number } {
  let read = 0;
  let write = 0;
  for (const line of text.split('\n')) {
    const [dev, op, v] = line.trim().split(/\s+/);
    if (!dev || !/^\d+:\d+$/.test(dev) || v === undefined) continue;
    if (op === 'Read') read += Number(v) || 0;
    else if (op === 'Write') write += Number(v) || 0;
  }
  return { read, write };
}

/** Sums `rbytes=` and `wbytes=` of a v2 io.stat file over all devices. Pure. */
export function parseIoStatV2(text: string): { read: number; write: number } {
  let read = 0;
  let write = 0;
  for (const line of text.split('\n')) {
    for (const kv of line.trim().split(/\s+/).slice(1)) {
      const [k, v] = kv.split('=');
      if (k === 'rbytes') read += Number(v) || 0;
      else if (k === 'wbytes') write += Number(v) || 0;
    }
  }
  return { read, write };
}

/** Parses a flat-keyed cgroup file (`key value` per line: cpu.stat, memory.stat, cpuacct.stat). Pure. */
export function parseFlatKeyed(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined && /^\d+$/.test(v)) out.set(k, Number(v));
  }
  return out;
}

/** A memory limit file's value: `max` (v2) or a v1 "unlimited" near 2^63 → Infinity. Pure. */
export function parseMemLimit(text: string | undefined): number {
  const t = (text ?? '').trim();
  if (t === '' || t === 'max') return Infinity;
  const n = Number(t);
  // v1 reports "no limit" as PAGE_COUNTER_MAX * page size, 9223372036854771712 (≈ 2^63)
  return Number.isFinite(n) && n < 2 ** 62 ? n : Infinity;
}

async function readOpt(dir: string | undefined, file: string): Promise<string | undefined> {
  if (!dir) return undefined;
  return readFile(join(dir, file), 'utf8').catch(() => undefined);
}

const num = (t: string | undefined): number => {
  const n = Number((t ?? '').trim());
  return Number.isFinite(n) ? n : 0;
};

/**
 * Reads the cgroup counters of the container whose init process is `pid`. Undefined when the process is gone
 * (the container stopped between listing and reading). `procfs`/`mountinfo` are for tests.
 */
export async function readCgroupSample(pid: number, o: { procfs?: string; sysfs?: string } = {}): Promise<CgroupSample | undefined> {
  const procfs = o.procfs ?? '/proc';
  const cgText = await readFile(join(procfs, String(pid), 'cgroup'), 'utf8').catch(() => undefined);
  if (cgText === undefined) return undefined;
  const paths = parseProcCgroup(cgText);
  const mounts = parseCgroupMounts(await readFile(join(procfs, 'self', 'mountinfo'), 'utf8').catch(() => ''));
  if (cgroupVersion(o.sysfs) === 2) {
    const dir = controllerDir(mounts, '', paths.get('') ?? '/');
    const cpu = parseFlatKeyed((await readOpt(dir, 'cpu.stat')) ?? '');
    const io = parseIoStatV2((await readOpt(dir, 'io.stat')) ?? '');
    return {
      cpuNano: (cpu.get('usage_usec') ?? 0) * 1000,
      cpuSystemNano: (cpu.get('system_usec') ?? 0) * 1000,
      perCpu: null,
      memUsage: num(await readOpt(dir, 'memory.current')),
      memLimit: parseMemLimit(await readOpt(dir, 'memory.max')),
      pids: num(await readOpt(dir, 'pids.current')),
      blockRead: io.read,
      blockWrite: io.write,
    };
  }
  const dirOf = (c: string): string | undefined => {
    const p = paths.get(c);
    return p === undefined ? undefined : controllerDir(mounts, c, p);
  };
  const acct = dirOf('cpuacct');
  const mem = dirOf('memory');
  const blk = dirOf('blkio');
  const perCpuText = await readOpt(acct, 'cpuacct.usage_percpu');
  let cpuSystemNano = num(await readOpt(acct, 'cpuacct.usage_sys'));
  if (cpuSystemNano === 0) {
    // older kernels: cpuacct.stat counts USER_HZ (100/s) ticks
    cpuSystemNano = (parseFlatKeyed((await readOpt(acct, 'cpuacct.stat')) ?? '').get('system') ?? 0) * 10_000_000;
  }
  const blkText = (await readOpt(blk, 'blkio.throttle.io_service_bytes_recursive')) ?? (await readOpt(blk, 'blkio.throttle.io_service_bytes')) ?? '';
  const io = parseBlkioV1(blkText);
  return {
    cpuNano: num(await readOpt(acct, 'cpuacct.usage')),
    cpuSystemNano,
    perCpu: perCpuText === undefined ? null : perCpuText.trim().split(/\s+/).filter(Boolean).map(Number),
    memUsage: num(await readOpt(mem, 'memory.usage_in_bytes')),
    memLimit: parseMemLimit(await readOpt(mem, 'memory.limit_in_bytes')),
    pids: num(await readOpt(dirOf('pids'), 'pids.current')),
    blockRead: io.read,
    blockWrite: io.write,
  };
}
