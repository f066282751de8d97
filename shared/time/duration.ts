import { SkiffError } from '../errors.ts';

/** The unit a parsed duration is returned in. */
export type DurationUnit = 'ns' | 'ms';

const NS_PER: Record<string, number> = { ns: 1, us: 1e3, 'µs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
const NS_PER_UNIT: Record<DurationUnit, number> = { ns: 1, ms: 1e6 };

/**
 * Parses a Go duration (`1h2m3.5s`, `100ms`, `250us`, `0`) into `unit` (the unit is always explicit: image
 * configs count nanoseconds, timers milliseconds), rounded to an integer. `bareSeconds` accepts a bare number as
 * seconds (podman's flags do; Dockerfiles do not). Anything else is EINVALID with Go's wording. Pure.
 */
export function parseDuration(s: string, unit: DurationUnit, o: { bareSeconds?: boolean } = {}): number {
  if (s === '0') return 0;
  if (o.bareSeconds && /^[0-9]+$/u.test(s)) return Math.round((Number(s) * NS_PER.s!) / NS_PER_UNIT[unit]);
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/gyu;
  let total = 0;
  let pos = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(s)) !== null) {
    total += Number(m[1]) * NS_PER[m[2]!]!;
    pos = re.lastIndex;
  }
  if (pos !== s.length || s === '') {
    throw new SkiffError('EINVALID', `time: invalid duration "${s}"`, { hint: 'write durations like 30s, 1m30s or 500ms' });
  }
  return Math.round(total / NS_PER_UNIT[unit]);
}
