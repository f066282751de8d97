/**
 * `mount`/`umount` of a working container: its current image's layers (the unpacked-layer cache run-tool and builds
 * use) under an overlay whose upper dir lives in `<store>/working-containers/<id>/`. What is written through the
 * mount becomes one layer when the container is unmounted, or before the next scripted step (`fold`): the upper dir
 * is diffed (overlay whiteouts in OCI form), stored as a gzip layer and appended to the container's image; the
 * container moves to the new image only once it is stored, and the upper dir is emptied only after that.
 */
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { SkiffError, type Cancellable } from '../../errors.ts';
import { diffUpper } from '../../layer/diff.ts';
import { mountOverlay, unmount } from '../../layer/unpack-cache.ts';
import { formatOfMediaType, layerMediaType } from '../../oci/media-types.ts';
import type { Descriptor, Manifest } from '../../oci/types.ts';
import { imageFromSource } from '../../image/image.ts';
import { layerFromOpener } from '../../image/layer.ts';
import { appendLayers } from '../../image/mutate.ts';
import { writeImage } from '../../image/write-image.ts';
import { lookupImage } from '../../store/lookup.ts';
import { storeSink } from '../../store/sink.ts';
import { openStore, type Store } from '../../store/store.ts';
import { isMountPoint } from '../../runtime/bundle.ts';
import { isRootless } from '../../runtime/rootless.ts';
import { openStoreSource } from '../../transport/store.ts';
import { parseDigest } from '../../oci/digest.ts';
import { lowersOf, storeTarLayer } from '../executor/layers.ts';
import { containersDir, dropStepImage, findContainer, updateContainer, type WorkingContainer } from './containers.ts';

/** The container's overlay dirs. */
export function mountDirs(storeRoot: string, id: string): { dir: string; upper: string; work: string; merged: string } {
  const dir = join(containersDir(storeRoot), id);
  return { dir, upper: join(dir, 'upper'), work: join(dir, 'work'), merged: join(dir, 'merged') };
}

async function withStore<T>(root: string, o: Cancellable, fn: (s: Store) => Promise<T>): Promise<T> {
  const store = await openStore(root, { create: true, write: true, signal: o.signal });
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

/** True when the container's root is mounted in this mount namespace. */
export async function isMounted(storeRoot: string, c: WorkingContainer): Promise<boolean> {
  return isMountPoint(mountDirs(storeRoot, c.id).merged);
}

/** `mount CONTAINER`: mounts the root (idempotent) and returns its path. Rootless: refused, as buildah refuses it. */
export async function mountContainer(storeRoot: string, nameOrId: string, o: Cancellable = {}): Promise<string> {
  const c = await findContainer(storeRoot, nameOrId);
  if (isRootless()) {
    throw new SkiffError('EPERM', `cannot mount using driver overlay in rootless mode. You need to run it in a \`build-tool unshare\` session`, { hint: 'copy files in with `copy`, or run the step as root' });
  }
  const d = mountDirs(storeRoot, c.id);
  if (await isMountPoint(d.merged)) return d.merged;
  for (const x of [d.dir, d.upper, d.work, d.merged]) await mkdir(x, { recursive: true, mode: 0o700 });
  await withStore(storeRoot, o, async (store) => {
    let lowers: string[] = [];
    if (c.image !== '') {
      const found = await lookupImage(store.layout, c.image, o);
      const m = await store.blobs.readJson<Manifest>(found.descriptor, o);
      const cfg = await store.blobs.readJson<{ rootfs: { diff_ids: string[] } }>(m.config, o);
      lowers = await lowersOf(store, m.layers.map((l, i) => ({ descriptor: l, diffId: parseDigest(cfg.rootfs.diff_ids[i]!) })), o);
    }
    if (lowers.length === 0) {
      const empty = join(d.dir, 'empty');
      await mkdir(empty, { recursive: true, mode: 0o755 });
      lowers = [empty];
    }
    await mountOverlay({ lowers, upper: d.upper, work: d.work, target: d.merged, ...(o.signal && { signal: o.signal }) });
  });
  return d.merged;
}

/**
 * Turns what was written into the (unmounted) upper dir into a layer on the container's image; returns the
 * container as saved (unchanged when nothing was written).
 */
async function foldUpper(storeRoot: string, c: WorkingContainer, o: Cancellable): Promise<WorkingContainer> {
  const d = mountDirs(storeRoot, c.id);
  if ((await readdir(d.upper).catch(() => [])).length === 0) return c;
  const id = await withStore(storeRoot, o, async (store) => {
    let format: 'oci' | 'docker' = 'oci';
    let base;
    if (c.image !== '') {
      const found = await lookupImage(store.layout, c.image, o);
      format = formatOfMediaType(found.descriptor.mediaType);
      const src = await openStoreSource(storeRoot, { id: parseDigest(found.descriptor.digest) }, o);
      base = { src, image: imageFromSource(src, { digest: parseDigest(found.descriptor.digest) }) };
    }
    try {
      if (!base) throw new SkiffError('EUNSUPPORTED', 'a scratch container needs a first step (copy or config) before files are written through its mount');
      const layer = await storeTarLayer(store, diffUpper(d.upper, { ...(o.signal && { signal: o.signal }) }), o);
      const desc: Descriptor = { ...layer.descriptor, mediaType: layerMediaType(format, 'gzip') };
      const created = new Date().toISOString();
      const img = appendLayers(base.image, { layer: layerFromOpener(desc, layer.diffId, (co) => store.blobs.open(desc, co ?? {}), { verified: true }), history: { created, created_by: '/bin/sh -c #(nop) mount' } });
      const descriptor = await writeImage(storeSink(store), img, o);
      await store.commitImage(descriptor, o);
      return img.configDigest(o);
    } finally {
      await base?.src.close();
    }
  });
  const next = await updateContainer(storeRoot, c.id, (cur) => ({ ...cur, image: id }), o);
  await dropStepImage(storeRoot, c, c.image, o);
  await rm(d.upper, { recursive: true, force: true });
  await rm(d.work, { recursive: true, force: true });
  return next;
}

/** `umount CONTAINER`: unmounts the root and folds what was written into the container's image. Idempotent. */
export async function unmountContainer(storeRoot: string, nameOrId: string, o: Cancellable = {}): Promise<WorkingContainer> {
  const c = await findContainer(storeRoot, nameOrId);
  const d = mountDirs(storeRoot, c.id);
  if (await isMountPoint(d.merged)) await unmount(d.merged).catch(() => unmount(d.merged, { lazy: true }));
  return foldUpper(storeRoot, c, o);
}

/**
 * Before a scripted step: a mounted container's writes are folded into its image (the mount is taken down and, after
 * `fn`, put back over the new image), so the step sees them, as buildah's steps see the mounted root.
 */
export async function withFoldedMount<T>(storeRoot: string, c: WorkingContainer, o: Cancellable, fn: (c: WorkingContainer) => Promise<T>): Promise<T> {
  const mounted = await isMounted(storeRoot, c);
  const cur = mounted ? await unmountContainer(storeRoot, c.id, o) : await foldUpper(storeRoot, c, o);
  try {
    return await fn(cur);
  } finally {
    if (mounted) await mountContainer(storeRoot, c.id, o);
  }
}

/** Unmounts (if mounted) and removes the container's overlay dirs. Idempotent. */
export async function discardMount(storeRoot: string, c: WorkingContainer): Promise<void> {
  const d = mountDirs(storeRoot, c.id);
  if (await isMountPoint(d.merged)) await unmount(d.merged).catch(() => unmount(d.merged, { lazy: true }));
  await rm(d.dir, { recursive: true, force: true });
}
