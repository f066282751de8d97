import { readFileSync } from 'node:fs';
import type { SpecIDMapping } from '../runtime/types.ts';

/** The fields of /proc/PID/stat skiff reads. */
export interface ProcStat {
  /** the command name (field 2, without its parentheses; may itself hold spaces and parentheses) */
  comm: string;
  /** the state letter (R, S, D, T, t, Z, X, …) */
  state: string;
  /** the start time in clock ticks since boot (field 22): with the pid, it names one process across pid reuse */
  startTime: string;
}

/** /proc/PID/stat of `pid` parsed; undefined when there is no such process. Reads one file. */
export function procStat(pid: number): ProcStat | undefined {
  if (!(pid > 0) || !Number.isSafeInteger(pid)) return undefined;
  let s: string;
  try {
    s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const open = s.indexOf('(');
  const close = s.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  const after = s.slice(close + 2).split(' ');
  return { comm: s.slice(open + 1, close), state: after[0] ?? '', startTime: after[19] ?? '' };
}

/** Start time of `pid` (procStat), or undefined when it does not exist or is a zombie: identifies a process across pid reuse. */
export function procStartTime(pid: number): string | undefined {
  const st = procStat(pid);
  if (!st || st.state === 'Z' || st.state === 'X') return undefined;
  return st.startTime;
}

/** True when `pid` runs (not a zombie) and, when `start` is given, is still the process that had that start time. */
export function isAlive(pid: number, start?: string): boolean {
  const st = procStartTime(pid);
  return st !== undefined && (start === undefined || start === st);
}

/** /proc/PID/uid_map (or gid_map) text parsed into triplets (whitespace-normalised). Pure. */
export function parseIdMap(text: string): SpecIDMapping[] {
  return text.split('\n').map((l) => l.trim().split(/\s+/).map(Number)).filter((f) => f.length === 3 && f.every(Number.isSafeInteger)).map(([c, h, n]) => ({ containerID: c!, hostID: h!, size: n! }));
}

/** The parsed uid_map or gid_map of `pid` (default this process); undefined when it cannot be read. */
export function readIdMap(kind: 'uid' | 'gid', pid: number | 'self' = 'self'): SpecIDMapping[] | undefined {
  try {
    return parseIdMap(readFileSync(`/proc/${pid}/${kind}_map`, 'utf8'));
  } catch {
    return undefined;
  }
}

let inUserns: boolean | undefined;
/** True when this process is in a user namespace other than the initial one (its uid_map is not the identity). Cached. */
export function runningInUserNamespace(): boolean {
  if (inUserns !== undefined) return inUserns;
  try {
    inUserns = !/^\s*0\s+0\s+4294967295\s*$/.test(readFileSync('/proc/self/uid_map', 'utf8').trim());
  } catch {
    inUserns = false;
  }
  return inUserns;
}
