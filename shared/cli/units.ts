import { SkiffError } from '../errors.ts';

/** The unit a parsed duration is returned in. */
export type DurationUnit = 'ns' | 'ms';

const NS_PER: Record<string, number> = { ns: 1, us: 1e3, 'µs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
const NS_PER_UNIT: Record<DurationUnit, number> = { ns: 1, ms: 1e6 };

/**
 * Parses a Go duration (`1h2m3.5s`, `100ms`, `250us`, `0`) into `unit` (the unit is always explicit: image
 * configs count nanoseconds, timers milliseconds), rounded to an integer. `bareSeconds` accepts a bare number as
 * seconds (podman's flags do; Dockerfiles do not). Anything else is EINVALID with Go's wording.
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

const SIZE_MULT: Record<string, number> = { b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/**
 * Parses a size as podman's and BuildKit's flags write it: a number with an optional binary unit `b`, `k`, `m`
 * or `g` and an optional trailing `b` (`512m`, `1.5g`, `64kb`, `1024`) into whole bytes. Anything else is
 * EINVALID naming `what`.
 */
export function parseByteSize(s: string, what = 'size'): number {
  const m = /^([0-9]+(?:\.[0-9]+)?)\s*([bkmg])?b?$/iu.exec(s.trim());
  if (!m) throw new SkiffError('EINVALID', `invalid ${what} ${JSON.stringify(s)}`, { hint: 'write a size like 512m, 1g or 1024' });
  return Math.round(Number(m[1]) * SIZE_MULT[(m[2] ?? 'b').toLowerCase()]!);
}

/**
 * Parses a point in time as podman's `--since`/`--until` flags take it: Unix seconds (`1700000000`, with an
 * optional fraction), a Go duration meaning that long before `now` (`10m`, `1h30m`), or an RFC 3339 / ISO date
 * (`2026-12-07T03:27:09Z`, `2026-12-07`). Returns milliseconds since the epoch; anything else is EINVALID naming
 * `flag`. Pure given `now`.
 */
export function parseTimestamp(s: string, flag: string, now = Date.now()): number {
  if (/^[0-9]+(\.[0-9]+)?$/u.test(s)) return Number(s) * 1000;
  if (/^(\d+(\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/u.test(s)) return now - parseDuration(s, 'ms');
  const t = /^\d{4}-\d\d-\d\d/u.test(s) ? Date.parse(s) : Number.NaN;
  if (Number.isNaN(t)) throw new SkiffError('EINVALID', `invalid ${flag} ${JSON.stringify(s)}`, { hint: 'give a Unix time, a duration such as 10m, or an RFC 3339 time such as 2026-01-02T15:04:05Z' });
  return t;
}
