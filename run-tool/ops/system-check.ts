import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { isSkiffError } from '../../shared/errors.ts';
import { checkUnpackedCache, type CacheDamage } from '../../shared/layer/cache-check.ts';
import { isUnpacked } from '../../shared/layer/unpack-cache.ts';
import type { Digest } from '../../shared/oci/digest.ts';
import { KEEP_ID_CACHE_INFIX } from '../../shared/runtime/keep-id.ts';
import { removeStaleAtomicTemps, staleAtomicTemps } from '../../shared/store/atomic.ts';
import { findDamagedImages, type DamagedImage } from '../../shared/store/check.ts';
import { withLock } from '../../shared/store/lock.ts';
import { cleanStaleTemps, staleSessionIds } from '../../shared/store/session.ts';
import { openStore, type Store } from '../../shared/store/store.ts';
import { layerCacheDir } from '../containers/rootfs-mount.ts';
import { removeContainer } from '../containers/stop-container.ts';
import { containerPaths, listContainers, type LoadedContainer } from '../containers/state.ts';
import { collectStoreGarbage } from './image-gc.ts';

// The store check operation (podman's `system check`): what is damaged, and with repair what was removed.

/** Options of systemCheck (podman's `system check` flags). */
export interface SystemCheckOptions {
  /** Skip hashing layer blobs (presence, type and size are still checked). */
  quick?: boolean;
  /** Remove damaged images no container uses, incomplete unpacked layers and stale temp files. */
  repair?: boolean;
  /** As repair, and also damaged images containers use (with those containers) and damaged containers. */
  force?: boolean;
  signal?: AbortSignal;
  /** What removing a damaged container could not tear down (its network). */
  onWarning?: (message: string) => void;
}

/** What a check found and, with repair, removed. */
export interface SystemCheckReport {
  images: DamagedImage[];
  removedImages: string[];
  layers: CacheDamage[];
  removedLayers: string[];
  containers: { id: string; problems: string[] }[];
  removedContainers: string[];
  temps: string[];
  removedTemps: string[];
  /** Any damage found (before repair). */
  errors: boolean;
}

/** An image or blob digest without its `sha256:` prefix. */
export const hexOf = (d: string): string => d.replace(/^sha256:/, '');

/** Every unpacked-layer cache of the store: the usual one, the single-id one and the keep-id ones. */
async function cacheDirs(store: Store): Promise<string[]> {
  const dirs = [layerCacheDir(store, false), layerCacheDir(store, true)];
  const base = basename(store.paths.overlay);
  for (const n of await readdir(dirname(store.paths.overlay)).catch(() => [] as string[])) {
    if (n.startsWith(`${base}${KEEP_ID_CACHE_INFIX}`)) dirs.push(join(dirname(store.paths.overlay), n));
  }
  return dirs;
}

/** What is wrong with a container's image or root filesystem (empty when nothing). */
async function containerProblems(store: Store, c: LoadedContainer): Promise<string[]> {
  const out: string[] = [];
  const digest = c.record.image.digest;
  const manifest = await store.blobs.stat(digest).catch(() => undefined);
  if (!manifest) out.push(`its image ${c.record.image.name || hexOf(c.record.image.id)} (manifest ${digest}) is gone`);
  const cache = layerCacheDir(store, c.record.singleIdMapping === true, c.record.keepId);
  for (const chain of c.record.chainIDs ?? []) {
    if (!(await isUnpacked(cache, chain as Digest))) {
      out.push(`its root filesystem layer ${chain} is gone`);
      break;
    }
  }
  if (!existsSync(containerPaths(store.paths.root, c.record.id).upper)) out.push('its writable layer is gone');
  return out;
}

/**
 * podman's `system check`: finds damaged images (blobs missing, not regular files, of the wrong size or — unless
 * `quick` — not hashing to their digest), unpacked layers whose cache entry is incomplete, containers whose image
 * or root filesystem is gone, and temp files and dirs whose writer is gone. With `repair`, removes the damaged
 * images no container uses (and the blobs that do not match their digest, so a new pull fetches them again),
 * the incomplete cache entries and the stale temps, then garbage-collects; with `force`, also the damaged
 * images containers use, those containers, and damaged containers. Reports what it found and removed.
 */
export async function systemCheck(root: string, o: SystemCheckOptions = {}): Promise<SystemCheckReport> {
  const so = { signal: o.signal };
  const repair = o.repair === true || o.force === true;
  const report: SystemCheckReport = { images: [], removedImages: [], layers: [], removedLayers: [], containers: [], removedContainers: [], temps: [], removedTemps: [], errors: false };
  let store: Store;
  try {
    store = await openStore(root, so);
  } catch (e) {
    if (isSkiffError(e, 'ENOTFOUND')) return report;
    throw e;
  }
  try {
    const containers = await listContainers(root);
    for (const c of containers) {
      const problems = await containerProblems(store, c);
      if (problems.length) report.containers.push({ id: c.record.id, problems });
    }
    report.images = await findDamagedImages(store.layout, { quick: o.quick, ...so });
    const layers: CacheDamage[] = [];
    for (const d of await cacheDirs(store)) layers.push(...(await checkUnpackedCache(d, so)));
    report.layers = layers;
    const temps = [...(await staleAtomicTemps(store.paths.images)), ...(await staleAtomicTemps(store.paths.leases))];
    for (const id of await staleSessionIds(store.paths.tmp)) temps.push(join(store.paths.tmp, id));
    report.temps = temps;
    report.errors = report.images.length + report.layers.length + report.containers.length + report.temps.length > 0;
    if (!repair || !report.errors) return report;

    const removed = new Set<string>();
    const kept: DamagedImage[] = [];
    for (const img of report.images) {
      const digests = new Set(img.entries.map((e) => e.digest as string));
      const users = containers.filter((c) => hexOf(c.record.image.id) === hexOf(img.id) || digests.has(c.record.image.digest));
      if (users.length > 0 && !o.force) {
        kept.push(img);
        continue;
      }
      for (const u of users) {
        if (removed.has(u.record.id)) continue;
        await removeContainer(store, u.record.id, { force: true, onWarning: o.onWarning });
        removed.add(u.record.id);
      }
      await store.layout.update((es) => es.filter((e) => !digests.has(e.digest)), so);
      report.removedImages.push(img.id);
    }
    if (o.force) {
      for (const c of report.containers) {
        if (removed.has(c.id)) continue;
        await removeContainer(store, c.id, { force: true, onWarning: o.onWarning }).catch((e: unknown) => {
          if (!isSkiffError(e, 'ENOTFOUND')) throw e;
        });
        removed.add(c.id);
      }
    }
    report.removedContainers = [...removed];
    // blobs whose bytes do not match their name would be reused by the next pull (it checks presence and
    // size): delete them, except those a kept damaged image still names
    const keepBad = new Set(kept.flatMap((k) => k.badBlobs));
    const bad = [...new Set(report.images.filter((i) => report.removedImages.includes(i.id)).flatMap((i) => i.badBlobs))].filter((b) => !keepBad.has(b));
    if (bad.length) await withLock(store.gcLockPath, so, async () => {
      for (const b of bad) await store.blobs.delete(b);
    });
    for (const d of await cacheDirs(store)) report.removedLayers.push(...(await checkUnpackedCache(d, { repair: true, ...so })).map((x) => x.path));
    for (const d of [store.paths.images, store.paths.leases]) report.removedTemps.push(...(await removeStaleAtomicTemps(d)));
    for (const id of await cleanStaleTemps(store.paths.tmp, so)) report.removedTemps.push(join(store.paths.tmp, id));
  } finally {
    await store.close();
  }
  // what the removed images held goes now; a store still damaged elsewhere may refuse to sweep, which is reported by the re-check
  await collectStoreGarbage(root, so).catch((e: unknown) => {
    if (!isSkiffError(e)) throw e;
  });
  return report;
}
