// Helpers every benchmark shares: timing, summary statistics, running programs, unmounting leftovers.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** Milliseconds a synchronous function takes. */
export function timed(f: () => void): number {
  const t = process.hrtime.bigint();
  f();
  return Number(process.hrtime.bigint() - t) / 1e6;
}

/** Minimum, median (mean of the middle two for even counts) and maximum of a non-empty sample. */
export function stats(xs: readonly number[]): { min: number; median: number; max: number } {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return { min: s[0]!, median: s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2, max: s[s.length - 1]! };
}

/** Median of a non-empty sample. */
export const median = (xs: readonly number[]): number => stats(xs).median;
/** Minimum of a non-empty sample. */
export const min = (xs: readonly number[]): number => stats(xs).min;

/** Runs a program to completion; throws with its stderr tail when it fails; returns stdout (+ stderr with `both`). */
export function sh(cmd: string, args: string[], o: { input?: string; both?: boolean } = {}): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 256 << 20, ...(o.input !== undefined && { input: o.input }) });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr.slice(-4000)}`);
  return o.both ? r.stdout + r.stderr : r.stdout;
}

/** Lazily unmounts every mount at or below `under` (deepest first): what a killed run left behind. */
export function cleanupMounts(under: string): void {
  const mounts = readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1] ?? '').filter((m) => m.startsWith(`${under}/`) || m === under).reverse();
  for (const m of mounts) spawnSync('umount', ['-l', m]);
}
