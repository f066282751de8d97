import { constants } from 'node:os';
import { SkiffError } from '../../shared/errors.ts';
import { procStartTime } from '../../shared/process/proc.ts';

const BY_NAME = constants.signals as Record<string, number>;
const SIGRTMIN = 34;
const SIGRTMAX = 64;

/**
 * Parses a signal from a flag or an image's StopSignal against an allow-list (RU-06): a known name with or
 * without `SIG` (any case), a number 1..64, or `RTMIN+n`/`RTMAX-n`. Returns the canonical form runc accepts
 * (`SIGTERM`, or the number as text for real-time signals). EINVALID for anything else. Pure.
 */
export function parseSignal(s: string): string {
  const t = s.trim();
  if (/^[0-9]{1,2}$/.test(t)) {
    const n = Number(t);
    if (n < 1 || n > SIGRTMAX) throw new SkiffError('EINVALID', `invalid signal ${JSON.stringify(s)}: out of range`);
    const name = Object.keys(BY_NAME).find((k) => BY_NAME[k] === n && k !== 'SIGIOT' && k !== 'SIGPOLL' && k !== 'SIGUNUSED');
    return name ?? String(n);
  }
  const u = t.toUpperCase().replace(/^SIG/, '');
  const rt = /^RTM(IN|AX)([+-][0-9]{1,2})?$/.exec(u);
  if (rt) {
    const off = Number(rt[2] ?? 0);
    const n = rt[1] === 'IN' ? SIGRTMIN + off : SIGRTMAX + off;
    if ((rt[1] === 'IN' && off < 0) || (rt[1] === 'AX' && off > 0) || n < SIGRTMIN || n > SIGRTMAX) throw new SkiffError('EINVALID', `invalid signal ${JSON.stringify(s)}`);
    return String(n);
  }
  if (/^[A-Z0-9]{2,8}$/.test(u) && BY_NAME[`SIG${u}`] !== undefined) return `SIG${u}`;
  throw new SkiffError('EINVALID', `invalid signal ${JSON.stringify(s.length > 40 ? `${s.slice(0, 40)}…` : s)}`);
}

/** The number of a canonical signal (from parseSignal). Pure. */
export function signalNumber(sig: string): number {
  if (/^[0-9]+$/.test(sig)) return Number(sig);
  const n = BY_NAME[sig];
  if (n === undefined) throw new SkiffError('EINVALID', `invalid signal ${sig}`);
  return n;
}

/**
 * Sends canonical `signal` to a container's init process `pid` without a `runc kill` child, only when that pid
 * still is the process recorded at start (`pidStart`, its /proc start time: the same pid-reuse guard runc applies
 * with its init_process_start). False when it cannot vouch for the pid (nothing recorded, a zombie or another
 * process under that pid, no permission): the caller then asks runc, which reports the container's real state.
 */
export function signalInit(pid: number, pidStart: string | undefined, signal: string): boolean {
  if (pid <= 0 || pidStart === undefined || procStartTime(pid) !== pidStart) return false;
  try {
    process.kill(pid, signalNumber(signal));
    return true;
  } catch {
    return false;
  }
}
