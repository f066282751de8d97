import type { SpecIDMapping } from './types.ts';

/*
 * `--userns=keep-id` for rootless containers, podman's model. run-tool already runs in the user's namespace
 * ("outer": the user's host id is 0 there, their subordinate ids 1…size-1). keep-id adds a nested namespace,
 * created by runc from the spec's mappings, in which the user's own host id U (and gid G) is U again:
 *
 *   container id x → outer id:  x < U → x + 1    (the subordinate ids, shifted by one)
 *                                x = U → 0        (the user)
 *                                x > U → x        (the rest of the subordinate ids, unshifted)
 *
 * runc 1.1 has no idmapped mounts, so the image's layers are unpacked for keep-id into a cache of their own with
 * every owner already translated by this function: seen through the nested namespace they carry the image's ids.
 */

/** The translation of a container id to the outer namespace for a kept id `kept` (U or G). Pure. */
export function keepIdToOuter(id: number, kept: number): number {
  if (id < kept) return id + 1;
  if (id === kept) return 0;
  return id;
}

/**
 * The runtime-spec mappings (containerID → hostID in the outer namespace, whose ids are 0…outerSize-1) of
 * keepIdToOuter for kept id `kept`: 0…kept-1 → 1…, kept → 0, kept+1… → themselves, each clipped to the outer
 * size (ids the outer namespace lacks stay unmapped). Sorted by containerID, non-overlapping. Pure.
 */
export function keepIdMappings(kept: number, outerSize: number): SpecIDMapping[] {
  const out: SpecIDMapping[] = [];
  const low = Math.min(kept, outerSize - 1);
  if (low > 0) out.push({ containerID: 0, hostID: 1, size: low });
  out.push({ containerID: kept, hostID: 0, size: 1 });
  if (outerSize - 1 > kept) out.push({ containerID: kept + 1, hostID: kept + 1, size: outerSize - 1 - kept });
  return out;
}

/**
 * The size of a namespace's id space from its parsed id map (parseIdMap of /proc/self/uid_map): one past the
 * highest inside id mapped (skiff's rootless namespace maps 0…size-1 contiguously). 0 for an empty map. Pure.
 */
export function idMapSize(map: readonly SpecIDMapping[]): number {
  return map.reduce((n, m) => Math.max(n, m.containerID + m.size), 0);
}

/** What every keep-id unpacked-layer cache name adds to the store's cache name (gc finds them by it). */
export const KEEP_ID_CACHE_INFIX = '-keepid-';

/** The unpacked-layer cache name suffix of keep-id for host ids `uid`:`gid` (owners depend on both). Pure. */
export function keepIdCacheSuffix(uid: number, gid: number): string {
  return `${KEEP_ID_CACHE_INFIX}${uid}-${gid}`;
}
