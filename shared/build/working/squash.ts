/**
 * buildah's commit shapes. By default everything a working container changed since `from` becomes one layer on top
 * of the base image's layers: the step layers are applied, in order, onto an overlay of the base layers and the upper
 * dir is the change set (whiteouts in OCI form); the image keeps the container's config and every history entry (the
 * squashed steps' entries become empty_layer, the last one carries the layer). `--squash` applies every layer onto
 * an empty dir instead: one layer, one history entry. Images are written unnamed; the caller names them. Scratch
 * space lives under the container's dir and is removed whatever happens.
 */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { SkiffError, isSkiffError, type Cancellable } from '../../errors.ts';
import { parseDigest, type Digest } from '../../oci/digest.ts';
import type { Descriptor, ImageConfig, Manifest } from '../../oci/types.ts';
import { applyLayer } from '../../layer/apply.ts';
import { decompress } from '../../layer/compression.ts';
import { diffUpper } from '../../layer/diff.ts';
import { mountOverlay, unmount } from '../../layer/unpack-cache.ts';
import { imageFromSource } from '../../image/image.ts';
import { layerFromOpener } from '../../image/layer.ts';
import { appendLayers, editConfig } from '../../image/mutate.ts';
import { writeImage } from '../../image/write-image.ts';
import { formatOfMediaType, layerMediaType } from '../../oci/media-types.ts';
import { lookupImage } from '../../store/lookup.ts';
import { storeSink } from '../../store/sink.ts';
import type { Store } from '../../store/store.ts';
import { openStoreSource } from '../../transport/store.ts';
import { lowersOf, storeTarLayer, type StageLayer } from '../executor/layers.ts';
import { scratchImage } from '../../image/scratch.ts';
import { containersDir, type WorkingContainer } from './containers.ts';

async function readImage(store: Store, id: string, o: Cancellable): Promise<{ digest: Digest; mediaType: string; manifest: Manifest; config: ImageConfig }> {
  const found = await lookupImage(store.layout, id, o);
  const manifest = await store.blobs.readJson<Manifest>(found.descriptor, o);
  const config = await store.blobs.readJson<ImageConfig>(manifest.config, o);
  return { digest: parseDigest(found.descriptor.digest), mediaType: found.descriptor.mediaType, manifest, config };
}

/**
 * The ID of `c`'s image with its layers since the base squashed into one; the image itself when it has at most one
 * layer beyond the base, or when the base image is no longer in the store (nothing to squash onto).
 */
export async function squashSinceBase(store: Store, c: WorkingContainer, o: Cancellable = {}): Promise<string> {
  if (c.image === '' || c.image === c.fromImageId) return c.image;
  const cur = await readImage(store, c.image, o);
  let base: Awaited<ReturnType<typeof readImage>> | undefined;
  if (c.fromImageId !== '') {
    try {
      base = await readImage(store, c.fromImageId, o);
    } catch (e) {
      if (isSkiffError(e, 'ENOTFOUND')) return c.image;
      throw e;
    }
  }
  const baseLayers = base?.manifest.layers.length ?? 0;
  const added = cur.manifest.layers.slice(baseLayers);
  if (added.length <= 1) return c.image;
  if (!base) throw new SkiffError('EUNSUPPORTED', 'squashing a scratch container is not supported yet');
  const ids = cur.config.rootfs.diff_ids;
  const lowers = await lowersOf(store, base.manifest.layers.map((l, i) => ({ descriptor: l, diffId: parseDigest(ids[i]!) })), o);
  const layer = await flattenLayers(store, c, lowers, added, o);
  const desc = { ...layer.descriptor, mediaType: layerMediaType(formatOfMediaType(base.mediaType), 'gzip') };
  const src = await openStoreSource(store.paths.root, { id: base.digest }, o);
  try {
    // history: the base's, then the container's own entries, one of them (the last non-empty) carrying the layer
    const baseHist = base.config.history?.length ?? 0;
    const history = (cur.config.history ?? []).map((h, i) => (i < baseHist || h.empty_layer === true ? { ...h } : { ...h, empty_layer: true }));
    for (let i = history.length - 1; i >= baseHist; i--) {
      if (cur.config.history?.[i]?.empty_layer !== true) {
        delete history[i]!.empty_layer;
        break;
      }
    }
    let img = appendLayers(imageFromSource(src, { digest: base.digest }), { layer: layerFromOpener(desc, layer.diffId, (co) => store.blobs.open(desc, co ?? {}), { verified: true }) });
    img = editConfig(img, (cfg) => {
      const { rootfs } = cfg;
      const next: ImageConfig = { ...cur.config, rootfs };
      if (history.length > 0) next.history = history;
      return next;
    });
    const descriptor = await writeImage(storeSink(store), img, o);
    await store.commitImage(descriptor, o);
    return img.configDigest(o);
  } finally {
    await src.close();
  }
}

/**
 * Applies `layers` in order onto an overlay of `lowers` (top first; an empty directory when there are none) and
 * stores the upper dir, the change set with whiteouts in OCI form, as one gzip layer. Scratch space lives under
 * the container's dir and is removed whatever happens.
 */
async function flattenLayers(store: Store, c: WorkingContainer, lowers: readonly string[], layers: readonly Descriptor[], o: Cancellable): Promise<StageLayer> {
  const dir = join(containersDir(store.paths.root), `.squash-${c.id}-${process.pid}`);
  const [upper, work, merged, empty] = [join(dir, 'upper'), join(dir, 'work'), join(dir, 'merged'), join(dir, 'empty')];
  try {
    for (const d of [upper, work, merged, empty]) await mkdir(d, { recursive: true, mode: 0o700 });
    await mountOverlay({ lowers: lowers.length > 0 ? lowers : [empty], upper, work, target: merged, ...(o.signal && { signal: o.signal }) });
    try {
      for (const l of layers) {
        const { stream } = await decompress(await store.blobs.open(l, o), o);
        await applyLayer(merged, stream, { mode: 'merged', ...(o.signal && { signal: o.signal }) });
      }
    } finally {
      await unmount(merged).catch(() => unmount(merged, { lazy: true }));
    }
    return await storeTarLayer(store, diffUpper(upper, { ...(o.signal && { signal: o.signal }) }), o);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * `commit --squash` (buildah's): the ID of an image holding `c`'s whole filesystem, base layers included, as one
 * layer, with the container's config and one history entry (buildah's: `/bin/sh`, "FROM <base>"); the image
 * itself when it already has at most one layer. Written unnamed; the caller names it.
 */
export async function squashAll(store: Store, c: WorkingContainer, o: Cancellable & { created?: Date } = {}): Promise<string> {
  if (c.image === '') return c.image;
  const cur = await readImage(store, c.image, o);
  if (cur.manifest.layers.length <= 1 && (cur.config.history?.length ?? 0) <= 1) return c.image;
  const layer = await flattenLayers(store, c, [], cur.manifest.layers, o);
  const format = formatOfMediaType(cur.mediaType);
  const desc = { ...layer.descriptor, mediaType: layerMediaType(format, 'gzip') };
  const created = (o.created ?? new Date()).toISOString();
  const platform = { architecture: cur.config.architecture, os: cur.config.os, ...(cur.config.variant !== undefined && { variant: cur.config.variant }) };
  let img = appendLayers(scratchImage({ platform, format }), { layer: layerFromOpener(desc, layer.diffId, (co) => store.blobs.open(desc, co ?? {}), { verified: true }) });
  img = editConfig(img, (cfg) => ({
    ...cur.config,
    created,
    rootfs: cfg.rootfs,
    history: [{ created, created_by: '/bin/sh', ...(c.fromImage !== 'scratch' && { comment: `FROM ${c.fromImage}` }) }],
  }));
  const descriptor = await writeImage(storeSink(store), img, o);
  await store.commitImage(descriptor, o);
  return img.configDigest(o);
}
