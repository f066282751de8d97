import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import * as zlib from 'node:zlib';
import type { Cancellable } from '../errors.ts';
import { DEFAULT_DECOMPRESS_LIMITS, decompress } from '../layer/compression.ts';
import { digestHex, type Digest } from '../oci/digest.ts';
import { layerCompression } from '../oci/media-types.ts';
import type { Descriptor } from '../oci/types.ts';
import { writeFileAtomic } from './atomic.ts';
import type { BlobStore } from './blob-store.ts';
import type { BlobLender } from '../oci/blob-lender.ts';

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

/** Compressed bytes the counter may hold before the write it taps waits for it. */
const QUEUED = 8 << 20;
/** Output chunk of the counting decompressor: large, as only the byte count is kept. */
const OUT_CHUNK = 1 << 20;

/**
 * A tap on a compressed layer's bytes as they stream into the store: passes every chunk on unchanged and, beside
 * it, decompresses a copy only to count the uncompressed bytes (the output is dropped as it comes; a count past the
 * layer limit of layer/compression.ts, or a zstd window past its limit, stops counting). `size` resolves once the
 * tap ends: the count, or undefined when the copy could not be decompressed (the blob's digest is what the store
 * checks; a bad stream only costs the note). Chunks pass on at once while the decompressor (zlib, off the main
 * thread) keeps up; with more than QUEUED bytes waiting for it the tap waits (backpressure). Destroying the tap stops
 * the decompressor.
 */
export class UncompressedCounter extends Transform {
  readonly size: Promise<number | undefined>;
  readonly #tally: UncompressedTally;
  /** The pass-on of the chunk the decompressor holds (run once it took it, or when counting stops). */
  #pending: (() => void) | undefined;

  constructor(compression: 'gzip' | 'zstd') {
    super();
    this.#tally = new UncompressedTally(compression, () => this.#release());
    this.size = this.#tally.size;
  }

  override _transform(chunk: Buffer, _e: BufferEncoding, cb: TransformCallback): void {
    // the decompressor runs beside the write (zlib works off the main thread); only a backlog past QUEUED waits
    if (this.#tally.dead || this.#tally.take(chunk)) return cb(null, chunk);
    this.#pending = () => cb(null, chunk);
    this.#tally.codec.once('drain', () => this.#release());
  }

  #release(): void {
    const p = this.#pending;
    this.#pending = undefined;
    p?.();
  }

  override _flush(cb: TransformCallback): void {
    this.#tally.end();
    cb();
  }

  override _destroy(err: Error | null, cb: (e?: Error | null) => void): void {
    this.#pending = undefined;
    // a tap that ended normally is destroyed (autoDestroy) while the decompressor may still be counting its backlog
    if (err || !this.writableFinished) this.#tally.stop();
    cb(err);
  }
}

/**
 * The counting decompressor behind UncompressedCounter and countLentLayer: `size` resolves once it ended (the
 * count) or stopped (undefined: undecompressable, past the limits, or stopped). `onStop` runs when it gives up.
 */
class UncompressedTally {
  readonly size: Promise<number | undefined>;
  readonly codec: zlib.Gunzip | zlib.ZstdDecompress;
  dead = false;
  readonly #onStop: () => void;
  /** takeLent promises the decompressor has not answered yet (all settle when it stops). */
  readonly #waiting = new Set<() => void>();

  constructor(compression: 'gzip' | 'zstd', onStop: () => void) {
    const limits = DEFAULT_DECOMPRESS_LIMITS;
    this.#onStop = onStop;
    this.codec =
      compression === 'gzip'
        ? zlib.createGunzip({ chunkSize: OUT_CHUNK })
        : zlib.createZstdDecompress({ chunkSize: OUT_CHUNK, params: { [zlib.constants.ZSTD_d_windowLogMax]: limits.zstdWindowLogMax } });
    let n = 0;
    this.size = new Promise((resolve) => {
      const codec = this.codec;
      let failed = false;
      const giveUp = (): void => {
        failed = true;
        this.stop();
      };
      codec.on('data', (chunk: Buffer) => {
        n += chunk.length;
        if (n > limits.maxBytes) giveUp();
      });
      codec.on('error', giveUp);
      // zlib has pushed every byte before its writable side finishes (its final flush); 'close' follows both
      codec.on('close', () => resolve(!failed && codec.writableFinished ? n : undefined));
    });
  }

  /** Hands a chunk to the decompressor; false when more than QUEUED bytes wait for it (wait for 'drain'). */
  take(chunk: Buffer): boolean {
    return this.codec.write(chunk) || this.codec.writableLength < QUEUED;
  }

  /** Resolves once the decompressor is done with `chunk` (its memory may then be reused), or has stopped. */
  takeLent(chunk: Buffer): Promise<void> {
    if (this.dead) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        this.#waiting.delete(done);
        resolve();
      };
      this.#waiting.add(done);
      this.codec.write(chunk, done);
    });
  }

  end(): void {
    if (!this.dead) this.codec.end();
  }

  stop(): void {
    if (this.dead) return;
    this.dead = true;
    this.codec.destroy();
    for (const done of [...this.#waiting]) done();
    this.#onStop();
  }
}

/**
 * putCountingLayer for a lent layer: each chunk goes to `put`'s sink and, beside it, to the counting decompressor,
 * and is returned once both are done with it.
 */
export async function putCountingLentLayer<T extends { digest: Digest }>(dir: string, mediaType: string, body: BlobLender, put: (body: BlobLender) => Promise<T>): Promise<T> {
  const c = layerCompression(mediaType);
  if (c !== 'gzip' && c !== 'zstd') return put(body);
  const tally = new UncompressedTally(c, () => {});
  const counted: BlobLender = {
    lend: (sink) =>
      body.lend(async (chunk) => {
        await Promise.all([tally.takeLent(chunk), sink(chunk)]);
      }),
    cancel: () => body.cancel(),
  };
  let ref: T;
  try {
    ref = await put(counted);
  } catch (e) {
    tally.stop();
    throw e;
  }
  tally.end();
  const n = await tally.size;
  if (n !== undefined) await recordLayerSize(dir, ref.digest, n);
  return ref;
}

/**
 * Runs `put` over `body` (a layer blob of `mediaType` streaming into the store) and, for a compressed layer, notes
 * its uncompressed size in `dir` (layerSizesDir) from an UncompressedCounter on the way — so listing the image
 * never decompresses it. An uncompressed layer needs no note (its size is its descriptor's).
 */
export async function putCountingLayer<T extends { digest: Digest }>(dir: string, mediaType: string, body: Readable, put: (body: Readable) => Promise<T>): Promise<T> {
  const c = layerCompression(mediaType);
  if (c !== 'gzip' && c !== 'zstd') return put(body);
  const counter = new UncompressedCounter(c);
  body.on('error', (e) => counter.destroy(e));
  let ref: T;
  try {
    ref = await put(body.pipe(counter));
  } catch (e) {
    counter.destroy();
    throw e;
  }
  const n = await counter.size;
  if (n !== undefined) await recordLayerSize(dir, ref.digest, n);
  return ref;
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
