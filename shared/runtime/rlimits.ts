import { readFile } from 'node:fs/promises';
import { SkiffError, type Cancellable } from '../errors.ts';
import type { SpecRlimit } from './types.ts';

/** runtime-spec rlimit names (POSIX setrlimit resources) runc accepts. */
export const RLIMIT_TYPES = [
  'RLIMIT_AS', 'RLIMIT_CORE', 'RLIMIT_CPU', 'RLIMIT_DATA', 'RLIMIT_FSIZE', 'RLIMIT_LOCKS', 'RLIMIT_MEMLOCK', 'RLIMIT_MSGQUEUE',
  'RLIMIT_NICE', 'RLIMIT_NOFILE', 'RLIMIT_NPROC', 'RLIMIT_RSS', 'RLIMIT_RTPRIO', 'RLIMIT_RTTIME', 'RLIMIT_SIGPENDING', 'RLIMIT_STACK',
] as const;

/**
 * What skiff writes for "unlimited". RLIM_INFINITY is 2^64-1, which a JS number cannot carry exactly (JSON
 * would print 18446744073709552000 and runc's uint64 parse would overflow), so "unlimited" is the largest safe
 * integer: effectively unlimited, and never above a host's unlimited hard limit.
 */
export const RLIM_INFINITY = Number.MAX_SAFE_INTEGER;

const PROC_NAMES: Record<string, string> = {
  'Max cpu time': 'RLIMIT_CPU', 'Max file size': 'RLIMIT_FSIZE', 'Max data size': 'RLIMIT_DATA', 'Max stack size': 'RLIMIT_STACK',
  'Max core file size': 'RLIMIT_CORE', 'Max resident set': 'RLIMIT_RSS', 'Max processes': 'RLIMIT_NPROC', 'Max open files': 'RLIMIT_NOFILE',
  'Max locked memory': 'RLIMIT_MEMLOCK', 'Max address space': 'RLIMIT_AS', 'Max file locks': 'RLIMIT_LOCKS', 'Max pending signals': 'RLIMIT_SIGPENDING',
  'Max msgqueue size': 'RLIMIT_MSGQUEUE', 'Max nice priority': 'RLIMIT_NICE', 'Max realtime priority': 'RLIMIT_RTPRIO', 'Max realtime timeout': 'RLIMIT_RTTIME',
};

/** Hard limits of the host process, by runtime-spec name; "unlimited" is RLIM_INFINITY. */
export type HostLimits = Record<string, number>;

/** Parses /proc/<pid>/limits text into hard limits. Pure. */
export function parseProcLimits(text: string): HostLimits {
  const out: HostLimits = {};
  for (const line of text.split('\n')) {
    const name = Object.keys(PROC_NAMES).find((k) => line.startsWith(k));
    if (!name) continue;
    const fields = line.slice(name.length).trim().split(/\s+/);
    const hard = fields[1];
    if (hard === undefined) continue;
    out[PROC_NAMES[name]!] = hard === 'unlimited' ? RLIM_INFINITY : Number(hard);
  }
  return out;
}

/** Reads this process's hard limits from /proc/self/limits (empty when unreadable: nothing is clamped). */
export async function readHostLimits(o: Cancellable = {}): Promise<HostLimits> {
  try {
    return parseProcLimits(await readFile('/proc/self/limits', { encoding: 'utf8', signal: o.signal }));
  } catch {
    return {};
  }
}

/** Parses a `--ulimit` value `name=soft[:hard]` (name as podman: nofile, nproc, core, …; -1 = unlimited). */
export function parseUlimit(s: string): SpecRlimit {
  const m = /^([a-z]+)=(-1|[0-9]+)(?::(-1|[0-9]+))?$/.exec(s);
  const type = m ? `RLIMIT_${m[1]!.toUpperCase()}` : '';
  if (!m || !(RLIMIT_TYPES as readonly string[]).includes(type)) throw new SkiffError('EINVALID', `invalid ulimit ${JSON.stringify(s)}: want NAME=SOFT[:HARD]`);
  const v = (x: string) => (x === '-1' ? RLIM_INFINITY : Number(x));
  const soft = v(m[2]!);
  const hard = m[3] === undefined ? soft : v(m[3]);
  if (soft > hard) throw new SkiffError('EINVALID', `invalid ulimit ${JSON.stringify(s)}: soft limit exceeds hard limit`);
  return { type, soft, hard };
}

/** podman's defaults: nofile and nproc at 1048576, clamped to the host by clampRlimits. */
export const DEFAULT_RLIMITS: readonly SpecRlimit[] = [
  { type: 'RLIMIT_NOFILE', soft: 1048576, hard: 1048576 },
  { type: 'RLIMIT_NPROC', soft: 1048576, hard: 1048576 },
];

/**
 * Merges requested limits over the defaults (a request replaces the default of its type) and clamps every
 * hard and soft value to the host's hard limit, as runc cannot raise them (it fails "error setting rlimits").
 * `onClamp` is told about requested (not default) values that were lowered. Pure.
 */
export function clampRlimits(requested: readonly SpecRlimit[], host: HostLimits, onClamp?: (msg: string) => void, defaults: readonly SpecRlimit[] = DEFAULT_RLIMITS): SpecRlimit[] {
  const byType = new Map<string, SpecRlimit & { user: boolean }>();
  for (const d of defaults) byType.set(d.type, { ...d, user: false });
  for (const r of requested) byType.set(r.type, { ...r, user: true });
  const out: SpecRlimit[] = [];
  for (const r of byType.values()) {
    const max = host[r.type];
    let { soft, hard } = r;
    if (max !== undefined && hard > max) {
      if (r.user) onClamp?.(`${r.type} hard limit ${hard} lowered to the host's ${max}`);
      hard = max;
    }
    if (soft > hard) soft = hard;
    out.push({ type: r.type, soft, hard });
  }
  return out;
}
