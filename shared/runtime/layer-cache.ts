import type { EnsureOptions } from '../layer/unpack-cache.ts';
import { keepIdCacheSuffix, keepIdToOuter } from './keep-id.ts';
import { isRootless } from './rootless.ts';
import { usernsMarker } from './userns-marker.ts';

/*
 * Where and how image layers are unpacked for the namespace this process runs in — one answer for run-tool's
 * containers and build-tool's RUN steps, so both stack the same cached directories with the same owners.
 */

/**
 * The unpacked-layer cache for a mapping: the store's `overlay` dir (root, or rootless with every subordinate id
 * mapped: owners are the image's), for a rootless single-id mapping (owners flattened) `overlay-single-id`
 * beside it, and for `--userns=keep-id` (owners shifted for host ids uid:gid) `overlay-keepid-<uid>-<gid>`.
 * One cache never holds two translations of owners. Pure.
 */
export function layerCacheDir(overlayDir: string, singleIdMapping: boolean, keepId?: { uid: number; gid: number }): string {
  if (keepId) return `${overlayDir}${keepIdCacheSuffix(keepId.uid, keepId.gid)}`;
  return singleIdMapping ? `${overlayDir}-single-id` : overlayDir;
}

/** The ensureUnpacked options unpackSettings sets. */
export type UnpackMode = Pick<EnsureOptions, 'devices' | 'preserveOwnership' | 'mapIds'>;

/**
 * The cache dir (layerCacheDir) and unpack options for this process's namespace: rootless, device nodes are
 * skipped (mknod is refused in a user namespace); single-id, ownership is not preserved (no other id exists);
 * keep-id, owners are shifted into the outer namespace. Reads only the process's namespace marker.
 */
export function unpackSettings(overlayDir: string, keepId?: { uid: number; gid: number }): { cacheDir: string; singleIdMapping: boolean; options: UnpackMode } {
  const single = usernsMarker()?.mode === 'single';
  return {
    cacheDir: layerCacheDir(overlayDir, single, keepId),
    singleIdMapping: single,
    options: {
      ...(isRootless() && { devices: 'skip' as const }),
      ...(single && { preserveOwnership: false }),
      ...(keepId && { mapIds: { uid: (id: number) => keepIdToOuter(id, keepId.uid), gid: (id: number) => keepIdToOuter(id, keepId.gid) } }),
    },
  };
}
