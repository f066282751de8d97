/**
 * buildah 1.28's cache key, so build-tool can read entries buildah's `--cache-to REPO` wrote (tagged
 * `REPO:<key>`, each a whole intermediate image). buildah hashes the image a step starts from — its diffIDs, its
 * manifest type and every history entry (created_by, author, comment, created time in Go's time.String() form,
 * empty_layer) — with whether the step adds a layer and the step's created_by. Because the created times of
 * buildah's own earlier steps enter the key, skiff can follow buildah's keys only along a chain of buildah's
 * entries that starts at the base image, and only for steps whose created_by skiff can write as buildah does:
 * metadata instructions and RUN, not COPY/ADD (their created_by carries buildah's own digest of the copied
 * content). Pure.
 */
import { createHash } from 'node:crypto';
import type { History } from '../../oci/types.ts';

/** The image a buildah step starts from, as its cache key sees it. */
export interface BuildahChain {
  diffIds: readonly string[];
  history: readonly History[];
  /** the manifest media type of that image ('' for scratch) */
  manifestType: string;
}

/**
 * Go's `time.Time.String()` of an RFC 3339 time as it appears in an image config (`2026-12-07T00:34:34.00024078Z`
 * → `2026-12-07 00:34:34.00024078 +0000 UTC`); `<nil>` when absent. Undefined for a time Go would print with a
 * zone name skiff cannot know (a non-UTC offset prints as the offset twice, which Go does for unnamed zones).
 */
export function goTimeString(created: string | undefined): string | undefined {
  if (created === undefined) return '<nil>';
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$/u.exec(created);
  if (!m) return undefined;
  const frac = (m[3] ?? '').replace(/0+$/u, '');
  const zone = m[4] === 'Z' ? '+0000 UTC' : `${m[4]!.replace(':', '')} ${m[4]!.replace(':', '')}`;
  return `${m[1]} ${m[2]}${frac === '.' ? '' : frac} ${zone}`;
}

/** buildah's cache key (64 hex) for a step with `createdBy` over `chain`; undefined when it cannot be written. */
export function buildahCacheKey(chain: BuildahChain, addsLayer: boolean, createdBy: string): string | undefined {
  let s = chain.diffIds.map((d) => `${d}\n`).join('');
  s += `${addsLayer}${createdBy}\n${chain.manifestType}\n`;
  for (const h of chain.history) {
    const t = goTimeString(h.created);
    if (t === undefined) return undefined;
    s += `${h.created_by ?? ''}\n${h.author ?? ''}\n${h.comment ?? ''}\n${t}\n${h.empty_layer === true}\n`;
  }
  return createHash('sha256').update(s).digest('hex');
}
