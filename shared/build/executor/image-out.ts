/**
 * Writing the built image with shared/image's one writer: config blob, then manifest blob (layer blobs are in the
 * store already, written as each step finished), then the names in index.json through Store.commitImage, which
 * checks everything referenced is present first — the BU-18 order layer → config → manifest → index. Base layers
 * are referenced as they are (never re-tarred), so `--timestamp` builds are reproducible. `--format docker` maps
 * media types (the one table in shared/oci); HEALTHCHECK, ONBUILD and SHELL stay in the config in both formats.
 */
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { isSkiffError, SkiffError, type Cancellable } from '../../errors.ts';
import { composeImage } from '../../image/compose.ts';
import type { Image } from '../../image/image.ts';
import { layerFromOpener } from '../../image/layer.ts';
import type { BlobSink } from '../../image/source.ts';
import { writeImage } from '../../image/write-image.ts';
import type { Digest } from '../../oci/digest.ts';
import type { Descriptor, History, ImageConfig } from '../../oci/types.ts';
import { storeSink } from '../../store/sink.ts';
import type { Store } from '../../store/store.ts';
import type { StageLayer } from './layers.ts';

/** What the built image's documents are made from. */
export interface BuiltImageInput {
  config: ImageConfig;
  layers: StageLayer[];
  history: History[];
}

/** How the built image's documents are written. */
export interface BuiltImageOptions {
  format?: 'oci' | 'docker';
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  created: string;
  signal?: AbortSignal;
}

/**
 * The built image's config and manifest for `layers` + `config` (shared/image's composeImage: both documents
 * checked against the document limit), in memory: nothing is read or written. Its descriptor is the manifest
 * writeBuiltImage stores.
 */
export function composeBuiltImage(store: Store, r: BuiltImageInput, o: BuiltImageOptions): Image {
  const cfg: ImageConfig = structuredClone(r.config);
  cfg.created = o.created;
  cfg.rootfs = { type: 'layers', diff_ids: r.layers.map((l) => l.diffId) };
  cfg.history = r.history;
  if (o.labels && Object.keys(o.labels).length) cfg.config = { ...(cfg.config ?? {}), Labels: { ...(cfg.config?.Labels ?? {}), ...o.labels } };
  let image: Image;
  try {
    image = composeImage({
      config: cfg,
      layers: r.layers.map((l) => {
        const descriptor: Descriptor = { mediaType: l.descriptor.mediaType, digest: l.descriptor.digest, size: l.descriptor.size };
        return { descriptor, layer: layerFromOpener(descriptor, l.diffId, (co) => store.blobs.open(l.descriptor, co ?? {})) };
      }),
      format: o.format ?? 'oci',
      annotations: o.annotations,
    });
  } catch (e) {
    if (o.format === 'docker' && isSkiffError(e, 'EUNSUPPORTED')) throw new SkiffError(e.code, e.message, { hint: 'build with --format oci' });
    throw e;
  }
  return image;
}

/**
 * Writes config and manifest blobs of the composed image (composeBuiltImage) through the one image writer
 * (shared/image's writeImage: blobs → config → manifest with verified puts; the layers are in the store already
 * and are skipped). Returns the manifest descriptor and image ID. Not tagged.
 */
export async function writeBuiltImage(store: Store, r: BuiltImageInput, o: BuiltImageOptions, image = composeBuiltImage(store, r, o)): Promise<{ descriptor: Descriptor; id: Digest }> {
  const so = { signal: o.signal };
  // the layers were stored (or claimed, on a cache hit) by the steps: the writer skips them without a second lease
  // round-trip per layer, and commitImage checks that everything is present before any name is written
  const inStore = new Set<string>(r.layers.map((l) => l.descriptor.digest));
  const sink: BlobSink = { put: storeSink(store).put, has: async (d) => inStore.has(d.digest) };
  const descriptor = await writeImage(sink, image, so);
  return { descriptor, id: await image.configDigest() };
}

/** Applies `layers` in order into directory `dest` (created), confined: the image's filesystem as plain files. */
export async function exportRootfs(store: Store, layers: readonly StageLayer[], dest: string, o: Cancellable = {}): Promise<void> {
  await mkdir(dest, { recursive: true, mode: 0o755 });
  // layer apply and tar code load only for an export (--output), never for a build that only names its image
  const [{ decompress }, { applyLayer }] = await Promise.all([import('../../layer/compression.ts'), import('../../layer/apply.ts')]);
  for (const l of layers) {
    const { stream } = await decompress(await store.blobs.open(l.descriptor, o), o);
    await applyLayer(dest, stream, { mode: 'merged', ...o });
  }
}

/** Writes the tree at `dir` as a tar file `file`. */
export async function tarTree(dir: string, file: string, o: { mtime?: Date; signal?: AbortSignal } = {}): Promise<void> {
  const { packTree } = await import('../../layer/tar-write.ts');
  await pipeline(packTree(dir, o), createWriteStream(file, { mode: 0o644 }));
}
