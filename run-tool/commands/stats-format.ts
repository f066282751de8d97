/**
 * How `stats` prints a data point, as podman 4.3: sizes through go-units (`483.3kB`, `25.28GB`, `0B`; the binary
 * `336KiB` for MemUsageBytes), CPU time as Go's time.Duration (`39.890693ms`, `1m2.763350904s`, `0s`),
 * percentages with two decimals. The template view carries podman's method names (ID, CPUPerc, MemUsage as
 * `usage / limit`, NetIO, BlockIO, PIDS, UpTime, AVGCPU, …) over the raw fields of ContainerStats.
 */
import { scaledSize } from '../../shared/cli/human.ts';
import type { ContainerStats } from '../containers/container-stats.ts';

const DECIMAL = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];
const BINARY = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB', 'ZiB', 'YiB'];

/** go-units HumanSizeWithPrecision(n, 4): decimal units, no space (`1.012MB`, `0B`). Pure. */
export function goHumanSize(bytes: number): string {
  return scaledSize(bytes, 1000, DECIMAL, 4, '');
}

/** go-units BytesSize: binary units, no space (`336KiB`, `64MiB`). Pure. */
export function goBytesSize(bytes: number): string {
  return scaledSize(bytes, 1024, BINARY, 4, '');
}

function fraction(n: number, digits: number): string {
  const s = String(n).padStart(digits, '0').replace(/0+$/, '');
  return s ? `.${s}` : '';
}

/** Go's time.Duration.String() of `ns` nanoseconds (`0s`, `512ns`, `1.5µs`, `39.890693ms`, `1h2m3.5s`). Pure. */
export function goDuration(ns: number): string {
  const n = Math.round(ns);
  if (n === 0) return '0s';
  const sign = n < 0 ? '-' : '';
  const u = Math.abs(n);
  if (u < 1e3) return `${sign}${u}ns`;
  if (u < 1e6) return `${sign}${Math.floor(u / 1e3)}${fraction(u % 1e3, 3)}µs`;
  if (u < 1e9) return `${sign}${Math.floor(u / 1e6)}${fraction(u % 1e6, 6)}ms`;
  const secs = Math.floor(u / 1e9);
  const h = Math.floor(secs / 3600);
  const m = Math.floor((secs % 3600) / 60);
  const s = secs % 60;
  return `${sign}${h ? `${h}h` : ''}${h || m ? `${m}m` : ''}${s}${fraction(u % 1e9, 9)}s`;
}

/** `12.34%`. Pure. */
export function percent(v: number): string {
  return `${(Number.isFinite(v) ? v : 0).toFixed(2)}%`;
}

/** The strings a data point prints as (table columns and JSON values). */
export interface StatsText {
  id: string;
  name: string;
  cpuPerc: string;
  avgCpu: string;
  memUsage: string;
  memUsageBytes: string;
  memPerc: string;
  netIO: string;
  blockIO: string;
  pids: string;
  cpuTime: string;
}

/** The printed form of a data point; `noTrunc` keeps the full 64-hex id. Pure. */
export function statsText(s: ContainerStats, noTrunc = false): StatsText {
  return {
    id: noTrunc ? s.ContainerID : s.ContainerID.slice(0, 12),
    name: s.Name,
    cpuPerc: percent(s.CPU),
    avgCpu: percent(s.AvgCPU),
    memUsage: `${goHumanSize(s.MemUsage)} / ${goHumanSize(s.MemLimit)}`,
    memUsageBytes: `${goBytesSize(s.MemUsage)} / ${goBytesSize(s.MemLimit)}`,
    memPerc: percent(s.MemPerc),
    netIO: `${goHumanSize(s.NetInput)} / ${goHumanSize(s.NetOutput)}`,
    blockIO: `${goHumanSize(s.BlockInput)} / ${goHumanSize(s.BlockOutput)}`,
    pids: String(s.PIDs),
    cpuTime: goDuration(s.Duration),
  };
}

/** The default table's header, podman 4.3's. */
export const STATS_HEADER = ['ID', 'NAME', 'CPU %', 'MEM USAGE / LIMIT', 'MEM %', 'NET IO', 'BLOCK IO', 'PIDS', 'CPU TIME', 'AVG CPU %'] as const;

/** A default-table row, in STATS_HEADER's order. Pure. */
export function statsRow(t: StatsText): string[] {
  return [t.id, t.name, t.cpuPerc, t.memUsage, t.memPerc, t.netIO, t.blockIO, t.pids, t.cpuTime, t.avgCpu];
}

/** The `--format json` element (podman 4.3's field names; every value a string). Pure. */
export function statsJson(t: StatsText): Record<string, string> {
  return {
    id: t.id,
    name: t.name,
    cpu_time: t.cpuTime,
    cpu_percent: t.cpuPerc,
    avg_cpu: t.avgCpu,
    mem_usage: t.memUsage,
    mem_percent: t.memPerc,
    net_io: t.netIO,
    block_io: t.blockIO,
    pids: t.pids,
  };
}

/**
 * What a `--format` Go template sees: podman's methods (ID, CPUPerc, AVGCPU, MemUsage, MemUsageBytes, MemPerc,
 * NetIO, BlockIO, PIDS, PIDs, UpTime as strings) shadowing the raw fields of the same name, as Go resolves a
 * method before an embedded field; the other raw fields (CPU, AvgCPU, CPUNano, MemLimit, NetInput, …) as numbers.
 */
export function statsTemplateView(s: ContainerStats, noTrunc = false): Record<string, unknown> {
  const t = statsText(s, noTrunc);
  return {
    ...s,
    ID: t.id,
    CPUPerc: t.cpuPerc,
    AVGCPU: t.avgCpu,
    MemUsage: t.memUsage,
    MemUsageBytes: t.memUsageBytes,
    MemPerc: t.memPerc,
    NetIO: t.netIO,
    BlockIO: t.blockIO,
    PIDS: t.pids,
    PIDs: t.pids,
    UpTime: t.cpuTime,
  };
}

/** Column headers for `table` templates: podman's overrides, else the field name split at case changes, upper-cased. Pure. */
export function statsHeaderFor(field: string): string {
  const fixed: Record<string, string> = {
    ID: 'ID', UpTime: 'CPU TIME', CPUPerc: 'CPU %', AVGCPU: 'AVG CPU %', MemUsage: 'MEM USAGE / LIMIT', MemUsageBytes: 'MEM USAGE / LIMIT',
    MemPerc: 'MEM %', NetIO: 'NET IO', BlockIO: 'BLOCK IO', PIDS: 'PIDS',
  };
  return fixed[field] ?? field.replace(/([a-z0-9])([A-Z])/g, '$1 $2').replace(/([A-Z])([A-Z][a-z])/g, '$1 $2').toUpperCase();
}
