import { SkiffError } from '../errors.ts';

export { parseDuration, type DurationUnit } from '../time/duration.ts';

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
