import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { mountOverlay, unmount } from '../../shared/layer/overlay-mount.ts';
import type { Digest } from '../../shared/oci/digest.ts';
import type { Descriptor } from '../../shared/oci/types.ts';
import { locateProgram } from '../../shared/process/system-programs.ts';
import { isMountPoint } from '../../shared/runtime/bundle.ts';
import { layerCacheDir as sharedLayerCacheDir, unpackSettings } from '../../shared/runtime/layer-cache.ts';
import type { Store } from '../../shared/store/store.ts';
import { containerPaths, type ContainerRecord } from './state.ts';
import type { Cancellable } from '../../shared/errors.ts';

/*
 * A container's root filesystem: its image layers unpacked once into the store's shared cache, and the overlay
 * mount of those lower dirs with the container's own upper dir at its rootfs dir. The unpack cache's code loads
 * only where layers are unpacked or located (create, start): stop and rm only unmount.
 */

/**
 * Unpacks (once, shared cache) the image of a container whose lease `leaseId` (readAndLeaseImage) already
 * holds its blobs. Returns the lower dirs bottom→top and the chain IDs.
 */
export async function prepareLayers(store: Store, img: { layers: readonly { diffID: Digest; desc: Descriptor }[] }, leaseId: string, o: { signal?: AbortSignal; onWarning?: (m: string) => void; keepId?: { uid: number; gid: number } } = {}): Promise<{ lowers: string[]; chains: string[]; leaseId: string }> {
  const so = { signal: o.signal };
  const { chainIDs, ensureUnpacked } = await import('../../shared/layer/unpack-cache.ts');
  const chains = chainIDs(img.layers.map((l) => l.diffID));
  const u = unpackSettings(store.paths.overlay, o.keepId);
  const lowers = await ensureUnpacked(u.cacheDir, img.layers.map((l) => ({ diffID: l.diffID, digest: l.desc.digest, open: () => store.blobs.open(l.desc, so) })), {
    ...so,
    onWarning: o.onWarning,
    ...u.options,
  });
  return { lowers, chains, leaseId };
}

/** Mounts the container's overlay rootfs (idempotent). */
export async function mountRootfs(root: string, id: string, lowers: readonly string[], o: Cancellable = {}): Promise<void> {
  const p = containerPaths(root, id);
  if (await isMountPoint(p.rootfs)) return;
  await mountOverlay({ lowers, upper: p.upper, work: p.work, target: p.rootfs, signal: o.signal });
}

/**
 * The OCI poststop hook of a container removed when it exits (`--rm`): runc unmounts the container's rootfs as it
 * destroys the container (after `runc run` returns in the foreground, in `runc delete` under a monitor), from its
 * own cheap fork, so the CLI's cleanup finds the rootfs unmounted and starts no `umount` of its own. Removal
 * unmounts a `--rm` container's rootfs whatever the user's `mount` count, so the hook need not consult it. It
 * never fails (a failure would print a runc error after the container's output): when it cannot unmount, the
 * cleanup does as before. Pure.
 */
export function rootfsUnmountHook(rootfs: string, umount = locateProgram('umount') ?? '/bin/umount'): { path: string; args: string[]; timeout: number } {
  return { path: '/bin/sh', args: ['sh', '-c', '"$1" -- "$0" 2>/dev/null || "$1" -l -- "$0" 2>/dev/null; exit 0', rootfs, umount], timeout: 10 };
}

/** The file counting the user's `mount` calls that no `unmount` has balanced yet (absent: none). */
export function userMountFile(root: string, id: string): string {
  return join(containerPaths(root, id).dir, 'user-mounts');
}

/** How many `mount` calls of the user are not yet balanced by `unmount` (0 when the file is absent or damaged). */
export async function userMountCount(root: string, id: string): Promise<number> {
  const n = Number((await readFile(userMountFile(root, id), 'utf8').catch(() => '0')).trim());
  return Number.isSafeInteger(n) && n > 0 ? n : 0;
}

/**
 * Unmounts the container's rootfs (lazily when busy). Idempotent. While the user holds it mounted (`mount` not yet
 * balanced by `unmount`) it stays mounted, unless `force` (removal).
 */
export async function unmountRootfs(root: string, id: string, o: { force?: boolean } = {}): Promise<void> {
  const p = containerPaths(root, id);
  if (!o.force && (await userMountCount(root, id)) > 0) return;
  for (let i = 0; i < 4 && (await isMountPoint(p.rootfs)); i++) {
    await unmount(p.rootfs).catch(() => unmount(p.rootfs, { lazy: true }).catch(() => {}));
  }
}

/** The lower dirs for a record's chain IDs (already unpacked at create). */
export async function lowersOf(store: Store, record: ContainerRecord): Promise<string[]> {
  const { diffDir } = await import('../../shared/layer/unpack-cache.ts');
  return record.chainIDs.map((c) => diffDir(layerCacheDir(store, record.singleIdMapping === true, record.keepId), c as Digest)); // diffDir validates each recorded ID before it becomes a path
}

/** The unpacked-layer cache a container uses (shared layerCacheDir over the store's overlay dir). */
export function layerCacheDir(store: Store, singleIdMapping: boolean, keepId?: { uid: number; gid: number }): string {
  return sharedLayerCacheDir(store.paths.overlay, singleIdMapping, keepId);
}
