/**
 * Human-readable durations and sizes as the peers print them (docker/go-units): `5 minutes ago`,
 * `About an hour ago`, `2 weeks ago`; sizes in decimal units with up to 3 significant digits (`4.52 MB`).
 */
export function humanDuration(seconds: number): string {
  const s = Math.floor(seconds);
  if (s < 1) return 'Less than a second';
  if (s === 1) return '1 second';
  if (s < 60) return `${s} seconds`;
  const m = Math.floor(s / 60);
  if (m === 1) return 'About a minute';
  if (m < 60) return `${m} minutes`;
  const h = Math.round(s / 3600);
  if (h === 1) return 'About an hour';
  if (h < 48) return `${h} hours`;
  if (h < 24 * 7 * 2) return `${Math.floor(h / 24)} days`;
  if (h < 24 * 30 * 2) return `${Math.floor(h / 24 / 7)} weeks`;
  if (h < 24 * 365 * 2) return `${Math.floor(h / 24 / 30)} months`;
  return `${Math.floor(h / 24 / 365)} years`;
}

/** `humanDuration(now - t) + " ago"`. */
export function timeAgo(t: Date, now = new Date()): string {
  return `${humanDuration((now.getTime() - t.getTime()) / 1000)} ago`;
}

const UNITS = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB'];

/**
 * `bytes` scaled by `base` into `units` with `digits` significant digits, trailing zeros dropped, the unit after
 * `sep`: the one scaler behind podman's and go-units' size strings. Pure.
 */
export function scaledSize(bytes: number, base: number, units: readonly string[], digits: number, sep: string): string {
  let v = bytes;
  let i = 0;
  while (v >= base && i < units.length - 1) {
    v /= base;
    i++;
  }
  return `${Number(v.toPrecision(digits))}${sep}${units[i]}`;
}

/** Decimal size with 3 significant digits: 0 → `0 B`, 4521984 → `4.52 MB`. */
export function humanSize(bytes: number): string {
  return scaledSize(bytes, 1000, UNITS, 3, ' ');
}

/**
 * Go's time.Duration.String for `ns` nanoseconds: `0s`, `250ms`, `1.5µs`, `1.866802218s`, `2m0s`, `1h2m3.5s` (the
 * fraction without trailing zeros), as podman prints durations (top's ELAPSED and TIME). Negative values get `-`. Pure.
 */
export function goDuration(ns: bigint): string {
  if (ns === 0n) return '0s';
  const neg = ns < 0n;
  let u = neg ? -ns : ns;
  const sign = neg ? '-' : '';
  const frac = (v: bigint, digits: number): string => {
    const s = v.toString().padStart(digits, '0').replace(/0+$/, '');
    return s ? `.${s}` : '';
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
