/**
 * One `stats` data point of a container, computed the way podman 4.3 does from two readings: CPU % is the
 * container's CPU time over the wall time since the previous reading (the first reading of a container is
 * taken against its start time), AVG CPU % the running mean of those percentages, MEM % usage over the limit
 * (the host's RAM when the cgroup has none or a larger one), NET IO the bytes the container's interfaces sent /
 * received (`lo` excluded; 0 without a network namespace of its own), BLOCK IO bytes read / written.
 * A container that is not running reads as all zeros, as podman prints it.
 */
import { readFile } from 'node:fs/promises';
import { totalmem } from 'node:os';
import { readCgroupSample, type CgroupSample } from './cgroup-stats.ts';
import type { LoadedContainer } from './state.ts';

/** A data point; field names are podman's `define.ContainerStats` (what `--format` templates address). */
export interface ContainerStats {
  ContainerID: string;
  Name: string;
  /** CPU % since the previous data point */
  CPU: number;
  /** mean of the CPU % of all data points so far */
  AvgCPU: number;
  DataPoints: number;
  CPUNano: number;
  CPUSystemNano: number;
  /** wall clock of this reading, ns since the epoch */
  SystemNano: number;
  PerCPU: number[] | null;
  MemUsage: number;
  MemLimit: number;
  MemPerc: number;
  /** bytes the container sent (podman's NetInput: the host's input) */
  NetInput: number;
  /** bytes the container received */
  NetOutput: number;
  BlockInput: number;
  BlockOutput: number;
  PIDs: number;
  /** total CPU time, ns (podman's UpTime and Duration) */
  Duration: number;
}

/** Sums receive and transmit bytes of every interface but `lo` in a /proc/<pid>/net/dev text. Pure. */
export function parseNetDev(text: string): { rx: number; tx: number } {
  let rx = 0;
  let tx = 0;
  for (const line of text.split('\n')) {
    const i = line.indexOf(':');
    if (i < 0) continue;
    const iface = line.slice(0, i).trim();
    if (iface === 'lo' || iface.includes('|')) continue;
    const f = line.slice(i + 1).trim().split(/\s+/);
    rx += Number(f[0]) || 0;
    tx += Number(f[8]) || 0;
  }
  return { rx, tx };
}

/** The all-zero data point of a container that is not running (podman prints these with --all). */
export function zeroStats(base: { id: string; name: string }): ContainerStats {
  return {
    ContainerID: base.id, Name: base.name, CPU: 0, AvgCPU: 0, DataPoints: 0, CPUNano: 0, CPUSystemNano: 0, SystemNano: 0,
    PerCPU: null, MemUsage: 0, MemLimit: 0, MemPerc: 0, NetInput: 0, NetOutput: 0, BlockInput: 0, BlockOutput: 0, PIDs: 0, Duration: 0,
  };
}

/** Wall clock in ns (µs resolution is plenty for a percentage over ≥ 1 s). */
function nowNano(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1e6);
}

/**
 * Computes the next data point from a cgroup reading `s` taken at `now` (ns) and the previous data point.
 * `startedAt` (ns) stands in for the previous reading's time on the first one. Pure.
 */
export function nextStats(base: { id: string; name: string }, s: CgroupSample, net: { rx: number; tx: number } | undefined, prev: ContainerStats | undefined, now: number, startedAt: number): ContainerStats {
  // less CPU time than last time: the container restarted in a new cgroup, start over
  const p = prev && prev.CPUNano <= s.cpuNano && prev.SystemNano > 0 ? prev : undefined;
  const prevCpu = p?.CPUNano ?? 0;
  const prevTime = p?.SystemNano ?? startedAt;
  const cpuDelta = s.cpuNano - prevCpu;
  const timeDelta = now - prevTime;
  const cpu = timeDelta > 0 && cpuDelta > 0 ? (cpuDelta / timeDelta) * 100 : 0;
  const dataPoints = p?.DataPoints ?? 0;
  const avg = ((p?.AvgCPU ?? 0) * dataPoints + cpu) / (dataPoints + 1);
  const physical = totalmem();
  const limit = s.memLimit > 0 && s.memLimit <= physical ? s.memLimit : physical;
  return {
    ContainerID: base.id,
    Name: base.name,
    CPU: cpu,
    AvgCPU: avg,
    DataPoints: dataPoints + 1,
    CPUNano: s.cpuNano,
    CPUSystemNano: s.cpuSystemNano,
    SystemNano: now,
    PerCPU: s.perCpu,
    MemUsage: s.memUsage,
    MemLimit: limit,
    MemPerc: limit > 0 ? (s.memUsage / limit) * 100 : 0,
    NetInput: net?.tx ?? 0,
    NetOutput: net?.rx ?? 0,
    BlockInput: s.blockRead,
    BlockOutput: s.blockWrite,
    PIDs: s.pids,
    Duration: s.cpuNano,
  };
}

/**
 * Reads one data point of container `c` (zeros when it is not running or its init process is gone). `prev` is
 * the container's previous data point in this `stats` session.
 */
export async function sampleContainer(c: LoadedContainer, prev: ContainerStats | undefined): Promise<ContainerStats> {
  const st = c.state;
  if ((st.status !== 'running' && st.status !== 'stopping') || !(st.pid > 0)) return zeroStats(c.record);
  const s = await readCgroupSample(st.pid);
  if (!s) return zeroStats(c.record);
  // host network: the container's /proc/<pid>/net/dev is the host's; podman reports nothing then
  const ownNetns = c.record.hostConfig.networkMode !== 'host';
  const net = ownNetns ? await readFile(`/proc/${st.pid}/net/dev`, 'utf8').then(parseNetDev, () => undefined) : undefined;
  const started = Date.parse(st.startedAt);
  return nextStats({ id: c.record.id, name: c.record.name }, s, net, prev, nowNano(), Number.isFinite(started) ? started * 1e6 : 0);
}
