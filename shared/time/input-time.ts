// A point in time as podman's --since/--until flags and `until=` filters take it (podman's ParseInputTime rules).
import { SkiffError } from '../errors.ts';
import { parseDuration } from './duration.ts';

const DATE = /^(\d{4})-(\d\d)-(\d\d)(?:T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?)?(Z|[+-]\d\d:\d\d)?$/u;

/** One of podman's date layouts (RFC 3339 with or without fraction or zone, a date with or without zone; no zone is UTC) as ms, or undefined. Pure. */
function dateMs(s: string): number | undefined {
  const m = DATE.exec(s);
  if (!m) return undefined;
  const [y, mo, d, h = '0', mi = '0', sec = '0'] = [m[1]!, m[2]!, m[3]!, m[4], m[5], m[6]] as const;
  const fields = [Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(sec)] as const;
  const t = Date.UTC(...fields);
  const back = new Date(t);
  // Go refuses out-of-range fields (month 13, day 31 of a 30-day month, hour 24) instead of rolling them over
  if (back.getUTCFullYear() !== fields[0] || back.getUTCMonth() !== fields[1] || back.getUTCDate() !== fields[2] || back.getUTCHours() !== fields[3] || back.getUTCMinutes() !== fields[4] || back.getUTCSeconds() !== fields[5]) return undefined;
  const frac = m[7] ? Math.floor(Number(`0.${m[7]}`) * 1000) : 0;
  const zone = m[8];
  const offsetMin = zone === undefined || zone === 'Z' ? 0 : (zone[0] === '-' ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6)));
  return t + frac - offsetMin * 60_000;
}

/** How parseInputTime reads a duration, and whether it takes one at all. */
export interface InputTimeOptions {
  /** the clock a duration counts from (ms; default Date.now()) */
  now?: number;
  /** `past` (default): a duration is that long before now (`--since 10m`, `until=10m`); `future`: after now (podman's `--until 10m`) */
  direction?: 'past' | 'future';
  /** false: only the absolute forms (the Docker API's since/until) */
  durations?: boolean;
}

/**
 * Parses a point in time in podman's order: an RFC 3339 date (`2026-12-07T03:27:09Z`, with a fraction, an offset,
 * or no zone meaning UTC) or a bare date (`2026-12-07`, optionally with a zone); else Unix seconds with an optional
 * fraction (`10`, `1700000000.5`); else a Go duration relative to `now` (`10m`, `1h30m`). Returns ms since the
 * epoch; anything else is EINVALID naming `what` (`--since`, `until filter`, …). Pure given `now`.
 */
export function parseInputTime(s: string, what: string, o: InputTimeOptions = {}): number {
  const date = dateMs(s);
  if (date !== undefined) return date;
  if (/^[0-9]+(\.[0-9]+)?$/u.test(s)) return Math.round(Number(s) * 1000);
  const fail = () => new SkiffError('EINVALID', `invalid ${what} ${JSON.stringify(s)}`, {
    hint: o.durations === false ? 'give a Unix time or an RFC 3339 time such as 2026-01-02T15:04:05Z' : 'give a Unix time, a duration such as 10m, or an RFC 3339 time such as 2026-01-02T15:04:05Z',
  });
  if (o.durations === false) throw fail();
  let d: number;
  try {
    d = parseDuration(s, 'ms');
  } catch {
    throw fail();
  }
  const now = o.now ?? Date.now();
  return o.direction === 'future' ? now + d : now - d;
}
