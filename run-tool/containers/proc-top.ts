import { readFileSync } from 'node:fs';
import { parseIdMap } from '../../shared/process/proc.ts';

// podman's `top` without a ps(1) of its own: the columns psgo computes from /proc, seen from inside the container
// (its PID namespace, its user names). The front end lays them out as podman's tabwriter does.

/** The descriptors this module renders, with podman's (psgo's) column headers. */
const HEADERS: Readonly<Record<string, string>> = {
  user: 'USER', ruser: 'RUSER', group: 'GROUP', rgroup: 'RGROUP', pid: 'PID', ppid: 'PPID', pgid: 'PGID', pcpu: '%CPU',
  etime: 'ELAPSED', tty: 'TTY', time: 'TIME', args: 'COMMAND', comm: 'COMMAND', nice: 'NI', vsz: 'VSZ', state: 'STATE',
  hpid: 'HPID', huser: 'HUSER', hgroup: 'HGROUP',
};

/** podman's default `top` columns. */
export const TOP_DEFAULTS: readonly string[] = ['user', 'pid', 'ppid', 'pcpu', 'etime', 'tty', 'time', 'args'];

/** The descriptors of `args` (separate words or comma lists) when every one is psgo's; undefined otherwise. Pure. */
export function psgoDescriptors(args: readonly string[]): string[] | undefined {
  const d = args.flatMap((a) => a.split(',')).map((s) => s.trim()).filter(Boolean);
  if (d.length === 0) return [...TOP_DEFAULTS];
  return d.every((x) => Object.hasOwn(HEADERS, x)) ? d : undefined;
}

const TICKS = 100n; // USER_HZ, what /proc counts in on every Linux build skiff runs on

interface Proc {
  hostPid: number;
  pid: number;
  hostPpid: number;
  uid: [number, number];
  gid: [number, number];
  stat: string[];
  args: string;
  comm: string;
}

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function readProc(hostPid: number): Proc | undefined {
  const status = read(`/proc/${hostPid}/status`);
  const statText = read(`/proc/${hostPid}/stat`);
  if (!status || !statText) return undefined;
  const field = (k: string) => new RegExp(`^${k}:\\s*(.*)$`, 'm').exec(status)?.[1]?.trim().split(/\s+/).map(Number) ?? [];
  const nspid = field('NSpid');
  const close = statText.lastIndexOf(')');
  // fields from 3 on (state is [0]); utime is field 14 → [11], stime [12], nice [16], starttime [19], vsize [20]
  const stat = statText.slice(close + 2).trim().split(' ');
  const comm = statText.slice(statText.indexOf('(') + 1, close);
  const cmdline = read(`/proc/${hostPid}/cmdline`) ?? '';
  return {
    hostPid,
    pid: nspid.at(-1) ?? hostPid,
    hostPpid: field('PPid')[0] ?? 0,
    uid: [field('Uid')[0] ?? 0, field('Uid')[1] ?? 0],
    gid: [field('Gid')[0] ?? 0, field('Gid')[1] ?? 0],
    stat,
    args: cmdline === '' ? `[${comm}]` : cmdline.replace(/\0/g, ' '),
    comm,
  };
}

/** A host id as the container sees it (its user namespace's map), or the id itself without a map. */
function inside(id: number, map: ReturnType<typeof parseIdMap>): number {
  if (map.length === 0) return id;
  const m = map.find((e) => id >= e.hostID && id < e.hostID + e.size);
  return m ? id - m.hostID + m.containerID : 65534;
}

/** Name of `id` in the container's /etc/passwd or /etc/group (read through a member's /proc root), else the number. */
function nameIn(file: string | undefined, id: number): string {
  for (const line of (file ?? '').split('\n')) {
    const f = line.split(':');
    if (f.length >= 3 && Number(f[2]) === id && f[0]) return f[0];
  }
  return String(id);
}

function ttyName(nr: number): string {
  if (nr === 0) return '?';
  const major = (nr >> 8) & 0xfff;
  const minor = (nr & 0xff) | ((nr >> 12) & 0xfff00);
  if (major >= 136 && major <= 143) return `pts/${(major - 136) * 256 + minor}`;
  if (major === 4 && minor < 64) return `tty${minor}`;
  return '?';
}

/**
 * podman's `top` rows for the container processes `hostPids` (as `runc ps` lists them) with `descriptors` (psgo's
 * names): the header row, then one row per process by PID, PIDs and users as the container sees them, %CPU and
 * times as psgo computes them. A process gone meanwhile is left out. Reads /proc; `now` (ms since the epoch) for tests.
 */
export function topRows(hostPids: readonly number[], descriptors: readonly string[], now = performance.timeOrigin + performance.now()): string[][] {
  const procs = hostPids.map(readProc).filter((p): p is Proc => p !== undefined);
  const byHost = new Map(procs.map((p) => [p.hostPid, p.pid]));
  const first = procs[0]?.hostPid;
  const uidMap = first ? parseIdMap(read(`/proc/${first}/uid_map`) ?? '') : [];
  const gidMap = first ? parseIdMap(read(`/proc/${first}/gid_map`) ?? '') : [];
  const identity = (m: typeof uidMap) => m.length === 1 && m[0]!.containerID === 0 && m[0]!.hostID === 0;
  const passwd = first ? read(`/proc/${first}/root/etc/passwd`) : undefined;
  const group = first ? read(`/proc/${first}/root/etc/group`) : undefined;
  const bootMs = Number(/^btime (\d+)$/m.exec(read('/proc/stat') ?? '')?.[1] ?? 0) * 1000;
  const cell = (p: Proc, d: string): string => {
    const cpuTicks = BigInt(p.stat[11] ?? 0) + BigInt(p.stat[12] ?? 0);
    const startMs = bootMs + (Number(p.stat[19] ?? 0) * 1000) / Number(TICKS);
    const elapsedNs = BigInt(Math.max(0, Math.round((now - startMs) * 1e6)));
    const uid = (i: 0 | 1) => (identity(uidMap) ? p.uid[i] : inside(p.uid[i], uidMap));
    const gid = (i: 0 | 1) => (identity(gidMap) ? p.gid[i] : inside(p.gid[i], gidMap));
    switch (d) {
      case 'user': return nameIn(passwd, uid(1));
      case 'ruser': return nameIn(passwd, uid(0));
      case 'group': return nameIn(group, gid(1));
      case 'rgroup': return nameIn(group, gid(0));
      case 'huser': return String(p.uid[1]);
      case 'hgroup': return String(p.gid[1]);
      case 'pid': return String(p.pid);
      case 'hpid': return String(p.hostPid);
      case 'ppid': return String(byHost.get(p.hostPpid) ?? 0);
      case 'pgid': return String(byHost.get(Number(p.stat[2])) ?? 0);
      case 'pcpu': {
        const secs = Number(elapsedNs) / 1e9;
        return (secs > 0 ? (Number(cpuTicks) / Number(TICKS) / secs) * 100 : 0).toFixed(3);
      }
      case 'etime': return goDuration(elapsedNs);
      case 'time': return goDuration((cpuTicks * 1_000_000_000n) / TICKS);
      case 'tty': return ttyName(Number(p.stat[4] ?? 0));
      case 'args': return p.args;
      case 'comm': return p.comm;
      case 'nice': return p.stat[16] ?? '0';
      case 'vsz': return String(Math.floor(Number(p.stat[20] ?? 0) / 1024));
      case 'state': return p.stat[0] ?? '';
      default: return '';
    }
  };
  return [descriptors.map((d) => HEADERS[d] ?? d.toUpperCase()), ...procs.sort((a, b) => a.pid - b.pid).map((p) => descriptors.map((d) => cell(p, d)))];
}

/**
 * Go's time.Duration.String for `ns` nanoseconds: `0s`, `250ms`, `1.5µs`, `1.866802218s`, `2m0s`, `1h2m3.5s` (the
 * fraction without trailing zeros), as podman prints top's ELAPSED and TIME. Negative values get `-`. Pure.
 */
export function goDuration(ns: bigint): string {
  if (ns === 0n) return '0s';
  const neg = ns < 0n;
  let u = neg ? -ns : ns;
  const sign = neg ? '-' : '';
  const frac = (v: bigint, digits: number): string => {
    const t = v.toString().padStart(digits, '0').replace(/0+$/, '');
    return t ? `.${t}` : '';
  };
  if (u < 1000n) return `${sign}${u}ns`;
  if (u < 1_000_000n) return `${sign}${u / 1000n}${frac(u % 1000n, 3)}µs`;
  if (u < 1_000_000_000n) return `${sign}${u / 1_000_000n}${frac(u % 1_000_000n, 6)}ms`;
  const nanos = u % 1_000_000_000n;
  u /= 1_000_000_000n;
  const secs = `${u % 60n}${frac(nanos, 9)}s`;
  u /= 60n;
  if (u === 0n) return `${sign}${secs}`;
  const mins = `${u % 60n}m`;
  u /= 60n;
  return `${sign}${u > 0n ? `${u}h` : ''}${mins}${secs}`;
}
