import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Cancellable } from '../errors.ts';
import { decompress } from '../layer/compression.ts';
import { digestHex, type Digest } from '../oci/digest.ts';
import { layerCompression } from '../oci/media-types.ts';
import type { Descriptor } from '../oci/types.ts';
import { writeFileAtomic } from './atomic.ts';
import type { BlobStore } from './blob-store.ts';

/** Where a store at `cacheDir` (its `paths.cache`) keeps the layer-size notes. Pure. */
export function layerSizesDir(cacheDir: string): string {
  return join(cacheDir, 'layer-sizes');
}

/**
 * Notes that layer blob `digest` holds `size` uncompressed bytes, for a writer that counted them as they streamed
 * (commit, a build step) so no reader decompresses the blob again to learn it. Atomic; best effort (a store that
 * cannot take the note costs only a later decompression). `dir` is layerSizesDir(cache).
 */
export async function recordLayerSize(dir: string, digest: Digest, size: number): Promise<void> {
  if (!Number.isSafeInteger(size) || size <= 0) return;
  await mkdir(dir, { recursive: true, mode: 0o700 }).then(() => writeFileAtomic(join(dir, digestHex(digest)), `${size}\n`)).catch(() => {});
}

/**
 * The uncompressed sizes of layer blobs, as podman's image Size counts them (containers/storage sums each layer's
 * uncompressed size). An uncompressed layer's size is its descriptor's; a compressed one is decompressed once and its
 * size remembered in `<dir>/<hex of the blob digest>` (a blob never changes under its digest, so the note never goes
 * stale). A note that cannot be written (a read-only store) only costs the next reader the same decompression.
 */
export class LayerSizes {
  readonly #dir: string;
  readonly #blobs: BlobStore;
  readonly #known = new Map<Digest, number>();

  constructor(dir: string, blobs: BlobStore) {
    this.#dir = dir;
    this.#blobs = blobs;
  }

  /** The uncompressed byte size of the layer `desc` (its bytes verified against the digest on the way). */
  async uncompressed(desc: Descriptor, o: Cancellable = {}): Promise<number> {
    if (layerCompression(desc.mediaType) === 'none') return desc.size;
    const hit = this.#known.get(desc.digest);
    if (hit !== undefined) return hit;
    const note = join(this.#dir, digestHex(desc.digest));
    const saved = Number((await readFile(note, 'utf8').catch(() => '')).trim());
    if (Number.isSafeInteger(saved) && saved > 0) {
      this.#known.set(desc.digest, saved);
      return saved;
    }
    const { stream } = await decompress(await this.#blobs.open(desc, o), { signal: o.signal });
    let n = 0;
    for await (const chunk of stream) n += (chunk as Buffer).length;
    this.#known.set(desc.digest, n);
    await recordLayerSize(this.#dir, desc.digest, n);
    return n;
  }
}
