import { posix } from 'node:path';
import { SkiffError } from '../errors.ts';
import { goBool } from './flags.ts';
import type { ImageSummary } from '../store/list-images.ts';

/** The `images --filter` keys podman 4.3 takes that skiff knows. */
const KEYS = new Set(['before', 'since', 'dangling', 'label', 'reference', 'id', 'until']);

/** A checked image filter. */
export interface ImageFilter { key: string; value: string; negate: boolean }

/** Parses `--filter KEY=VALUE` (or `KEY!=VALUE` for label) with podman's messages (EINVALID, one line). Pure. */
export function parseImageFilters(list: readonly string[]): ImageFilter[] {
  return list.map((f) => {
    const m = /^([a-z-]+)(!?=)(.*)$/s.exec(f);
    if (!m) throw new SkiffError('EINVALID', `invalid image filter ${JSON.stringify(f)}: must be in the format "filter=value or filter!=value"`);
    const [, key, op, value] = m as unknown as [string, string, string, string];
    if (!KEYS.has(key)) throw new SkiffError('EINVALID', `unsupported image filter ${JSON.stringify(key)}`, { hint: `filters: ${[...KEYS].join(', ')}` });
    if (key === 'dangling' && goBool(value) === undefined) throw new SkiffError('EINVALID', `non-boolean value ${JSON.stringify(value)} for dangling filter: strconv.ParseBool: parsing ${JSON.stringify(value)}: invalid syntax`);
    if (op === '!=' && key !== 'label') throw new SkiffError('EINVALID', `invalid image filter ${JSON.stringify(f)}: only label takes !=`);
    return { key, value, negate: op === '!=' };
  });
}

/** True when the glob `pattern` matches image name `n` (full, without its tag, without its registry, or its last path part). Pure. */
function referenceMatches(pattern: string, n: string): boolean {
  const noTag = n.replace(/:[^:/]*$/, '');
  const noHost = noTag.includes('/') ? noTag.slice(noTag.indexOf('/') + 1) : noTag;
  const last = noTag.slice(noTag.lastIndexOf('/') + 1);
  const tagged = (s: string): string => s + n.slice(noTag.length);
  return [n, noTag, noHost, tagged(noHost), last, tagged(last)].some((c) => c === pattern || posix.matchesGlob(c, pattern));
}

/**
 * The images passing every filter (podman's rule: each filter must hold). `before`/`since` name an image in
 * `all` (ENOTFOUND otherwise) and compare creation times; `until` takes a time (ms, already parsed by the caller's
 * `parseTime`). Pure but for `parseTime`.
 */
export function filterImages(all: readonly ImageSummary[], filters: readonly ImageFilter[], parseTime: (s: string) => number): ImageSummary[] {
  const created = (i: ImageSummary): number => i.created?.getTime() ?? 0;
  const find = (ref: string): ImageSummary => {
    const hit = all.find((i) => i.id.slice(7).startsWith(ref.replace(/^sha256:/, '')) || i.names.some((n) => referenceMatches(ref, n)));
    if (!hit) throw new SkiffError('ENOTFOUND', `${ref}: image not known`);
    return hit;
  };
  const checks = filters.map((f): ((i: ImageSummary) => boolean) => {
    switch (f.key) {
      case 'dangling': {
        const want = goBool(f.value)!;
        return (i) => i.dangling === want;
      }
      case 'label': {
        const eq = f.value.indexOf('=');
        const has = (i: ImageSummary): boolean => (eq < 0 ? f.value in i.labels : i.labels[f.value.slice(0, eq)] === f.value.slice(eq + 1));
        return (i) => has(i) !== f.negate;
      }
      case 'reference': return (i) => i.names.some((n) => referenceMatches(f.value, n));
      case 'id': return (i) => i.id.slice(7).startsWith(f.value.replace(/^sha256:/, ''));
      case 'before': {
        const t = created(find(f.value));
        return (i) => created(i) < t;
      }
      case 'since': {
        const t = created(find(f.value));
        return (i) => created(i) > t;
      }
      default: {
        const t = parseTime(f.value);
        return (i) => created(i) <= t;
      }
    }
  });
  return all.filter((i) => checks.every((c) => c(i)));
}

/** podman's `images --sort` fields. */
export const IMAGE_SORT_KEYS = ['id', 'repository', 'size', 'tag', 'created'] as const;

/** Checks a `--sort` value with podman's message. Pure. */
export function checkImageSort(s: string): (typeof IMAGE_SORT_KEYS)[number] {
  if ((IMAGE_SORT_KEYS as readonly string[]).includes(s)) return s as (typeof IMAGE_SORT_KEYS)[number];
  throw new SkiffError('EINVALID', `"${s}" is not a valid field for sorting. Choose from: ${IMAGE_SORT_KEYS.join(', ')}`);
}
