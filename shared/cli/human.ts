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
