/**
 * Layers of a build: storing a new layer from a tar stream (diffID hashed while the bytes flow into gzip, the blob
 * digest computed by the store while they flow out — nothing buffered), and turning a stage's layer list into
 * unpacked lower dirs from the shared unpacked-layer cache.
 */
import type { Readable } from 'node:stream';
import { DigestingStream, type Digest } from '../../oci/digest.ts';
import { MediaType } from '../../oci/media-types.ts';
import type { Descriptor } from '../../oci/types.ts';
import { compress } from '../../layer/compression.ts';
import { ensureUnpacked } from '../../layer/unpack-cache.ts';
import { unpackSettings } from '../../runtime/layer-cache.ts';
import type { Store } from '../../store/store.ts';
import { layerSizesDir, recordLayerSize } from '../../store/layer-sizes.ts';

/** A layer of a stage: its manifest descriptor (blob in the store) and diffID. */
export interface StageLayer {
  descriptor: Descriptor;
  diffId: Digest;
}

/**
 * Compresses `tar` with gzip into the store. The blob is committed (verified, leased to this process) before this
 * resolves; the diffID is the digest of the uncompressed bytes that went in, and their count is noted in the
 * store's layer-size cache (recordLayerSize).
 */
export async function storeTarLayer(store: Store, tar: Readable, o: { signal?: AbortSignal; level?: number } = {}): Promise<StageLayer> {
  const dig = new DigestingStream();
  tar.on('error', (e) => dig.destroy(e));
  tar.pipe(dig);
  const gz = compress(dig, 'gzip', o.level);
  const ref = await store.putBlob(gz, undefined, o.signal ? { signal: o.signal } : {});
  await recordLayerSize(layerSizesDir(store.paths.cache), ref.digest, dig.size);
  return { descriptor: { mediaType: MediaType.OciLayerGzip, digest: ref.digest, size: ref.size }, diffId: dig.result };
}

/**
 * The unpacked lower dirs (bottom→top) of `layers`, unpacking into the store's cache what is missing — the cache
 * and owners run-tool's containers use in this namespace (unpackSettings: rootless skips device nodes, a
 * single-id mapping has its own cache with flattened owners).
 */
export async function lowersOf(store: Store, layers: readonly StageLayer[], o: { signal?: AbortSignal; onWarning?: (m: string) => void } = {}): Promise<string[]> {
  const u = unpackSettings(store.paths.overlay);
  return ensureUnpacked(
    u.cacheDir,
    layers.map((l) => ({ diffID: l.diffId, digest: l.descriptor.digest, open: () => store.blobs.open(l.descriptor, o.signal ? { signal: o.signal } : {}) })),
    { signal: o.signal, onWarning: o.onWarning, ...u.options },
  );
}
