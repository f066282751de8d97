import { Readable } from 'node:stream';
import { gzipSync, zstdCompressSync } from 'node:zlib';
import { DigestingStream, digestOf, type Digest } from '../oci/digest.ts';
import { layerCompression, layerMediaType, type Compression } from '../oci/media-types.ts';
import type { Descriptor } from '../oci/types.ts';
import { SkiffError, type Cancellable } from '../errors.ts';
import type { ImageSource } from './source.ts';

/**
 * One layer of an image. `digest`/`size`/`mediaType` describe the compressed blob as the manifest lists it;
 * `diffId` is the digest of the uncompressed tar (rootfs.diff_ids). `compressed()` is verified against
 * digest+size at EOF; `uncompressed()` is verified against diffId at EOF. Each call opens a fresh stream.
 */
export interface Layer {
  digest(): Promise<Digest>;
  diffId(): Promise<Digest>;
  size(): Promise<number>;
  mediaType(): Promise<string>;
  /** The manifest descriptor of this layer (mediaType, digest, size, plus urls/annotations when present). */
  descriptor(): Promise<Descriptor>;
  compressed(opts?: Cancellable): Promise<Readable>;
  uncompressed(opts?: Cancellable): Promise<Readable>;
}

/**
 * Decompresses a layer stream (with the layer library's bomb limits) and verifies the diffID at EOF. An
 * unknown layer media type is EUNSUPPORTED.
 */
async function uncompressedVerified(compressed: Readable, mediaType: string, diffId: Digest, o?: Cancellable): Promise<Readable> {
  const compression = layerCompression(mediaType);
  if (compression === undefined) {
    compressed.destroy();
    throw new SkiffError('EUNSUPPORTED', `unsupported layer media type ${mediaType}`);
  }
  // node:zlib loads only when a layer is read uncompressed (a copy that moves compressed bytes never needs it)
  const { decompressWithDiffID } = await import('../layer/compression.ts');
  const { stream } = await decompressWithDiffID(compressed, { compression, expectDiffID: diffId, signal: o?.signal });
  return stream;
}

/**
 * A layer whose compressed blob is read from an ImageSource. No I/O happens until a stream is requested;
 * the source verifies the compressed stream, this view verifies the uncompressed one.
 */
export function layerFromSource(source: ImageSource, desc: Descriptor, diffId: Digest): Layer {
  return layerFromOpener(desc, diffId, (o) => source.getBlob(desc, o), { verified: true });
}

/**
 * A layer over a known descriptor and diffID whose compressed bytes come from `open` (e.g. a blob already in the
 * store). Unless `verified`, the opened stream is wrapped in a DigestingStream checking `desc.digest` and
 * `desc.size` at EOF.
 */
export function layerFromOpener(
  desc: Descriptor,
  diffId: Digest,
  open: (opts?: Cancellable) => Promise<Readable>,
  opts: { /** the opener already verifies digest+size at EOF (an ImageSource does): skip the second hash */ verified?: boolean } = {},
): Layer {
  const d: Descriptor = { ...desc };
  const compressed = async (o?: Cancellable): Promise<Readable> => {
    const s = await open(o);
    if (opts.verified === true) return s;
    const check = new DigestingStream({ digest: d.digest, size: d.size });
    s.on('error', (e) => check.destroy(e));
    return s.pipe(check);
  };
  return {
    digest: async () => d.digest,
    diffId: async () => diffId,
    size: async () => d.size,
    mediaType: async () => d.mediaType,
    descriptor: async () => ({ ...d }),
    compressed,
    uncompressed: async (o) => uncompressedVerified(await compressed(o), d.mediaType, diffId, o),
  };
}

/** The same layer listed under another media type (format conversion): bytes, digest and diffID unchanged. */
export function withMediaType(layer: Layer, mediaType: string): Layer {
  return {
    ...layer,
    mediaType: async () => mediaType,
    descriptor: async () => ({ ...(await layer.descriptor()), mediaType }),
    uncompressed: async (o) => uncompressedVerified(await layer.compressed(o), mediaType, await layer.diffId(), o),
  };
}

/**
 * A layer held in memory, made from an uncompressed tar: compresses it once with `compression` and computes
 * digest, size and diffID from the bytes. For small layers (tests, tiny metadata layers) only — never for a
 * real layer, which must stream.
 */
export function layerFromTarBytes(tar: Uint8Array, opts: { compression?: Compression; mediaType?: string } = {}): Layer {
  const c = opts.compression ?? 'gzip';
  const blob = c === 'gzip' ? gzipSync(tar) : c === 'zstd' ? zstdCompressSync(tar) : Buffer.from(tar);
  const desc: Descriptor = { mediaType: opts.mediaType ?? layerMediaType('oci', c), digest: digestOf(blob), size: blob.length };
  return layerFromOpener(desc, digestOf(tar), async () => Readable.from([blob]));
}
