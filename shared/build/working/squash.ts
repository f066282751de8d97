/**
 * buildah's commit shape: everything a working container changed since `from` becomes one layer on top of the base
 * image's layers. The container's step layers are applied, in order, onto an overlay of the base layers; the upper
 * dir is then the change set (whiteouts in OCI form). The new image keeps the container's config and every history
 * entry (the squashed steps' entries become empty_layer, the last one carries the layer). Written unnamed; the
 * caller names it. Scratch space lives under the container's dir and is removed whatever happens.
 */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { SkiffError, isSkiffError, type Cancellable } from '../../errors.ts';
import { parseDigest, type Digest } from '../../oci/digest.ts';
import type { ImageConfig, Manifest } from '../../oci/types.ts';
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
import { lowersOf, storeTarLayer } from '../executor/layers.ts';
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
  const dir = join(containersDir(store.paths.root), `.squash-${c.id}-${process.pid}`);
  const [upper, work, merged] = [join(dir, 'upper'), join(dir, 'work'), join(dir, 'merged')];
  try {
    for (const d of [upper, work, merged]) await mkdir(d, { recursive: true, mode: 0o700 });
    const lowers = await lowersOf(store, base.manifest.layers.map((l, i) => ({ descriptor: l, diffId: parseDigest(ids[i]!) })), o);
    await mountOverlay({ lowers, upper, work, target: merged, ...(o.signal && { signal: o.signal }) });
    try {
      for (const l of added) {
        const { stream } = await decompress(await store.blobs.open(l, o), o);
        await applyLayer(merged, stream, { mode: 'merged', ...(o.signal && { signal: o.signal }) });
      }
    } finally {
      await unmount(merged).catch(() => unmount(merged, { lazy: true }));
    }
    const layer = await storeTarLayer(store, diffUpper(upper, { ...(o.signal && { signal: o.signal }) }), o);
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
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
