import { type Duplex, Readable, Transform, type TransformCallback } from 'node:stream';
import * as zlib from 'node:zlib';
import { SkiffError } from '../errors.ts';
import { DigestingStream, type Digest } from '../oci/digest.ts';
import type { Compression } from '../oci/media-types.ts';

export type { Compression } from '../oci/media-types.ts';

/**
 * Limits against decompression bombs (LA-16). All are enforced while bytes flow, never after buffering:
 * the stream fails with ELIMIT as soon as one is crossed and every stage of the pipeline is destroyed.
 */
export interface DecompressLimits {
  /** Max uncompressed bytes of one layer (also the disk quota of one unpack). Default 64 GiB. */
  maxBytes?: number;
  /** Max ratio uncompressed/compressed, checked once more than `ratioGraceBytes` came out. Default 100 (gzip tops out near 1030:1; real layers are 2-10:1). */
  maxRatio?: number;
  /** Uncompressed bytes allowed before the ratio is checked (small sparse layers are fine). Default 256 MiB. */
  ratioGraceBytes?: number;
  /** zstd: the largest window (log2 bytes) a frame may ask for. Default 27 (128 MiB, zstd's own default). */
  zstdWindowLogMax?: number;
}

/** The defaults of DecompressLimits. */
export const DEFAULT_DECOMPRESS_LIMITS: Required<DecompressLimits> = {
  maxBytes: 64 * 1024 ** 3,
  maxRatio: 100,
  ratioGraceBytes: 256 * 1024 ** 2,
  zstdWindowLogMax: 27,
};

/** Output chunk size of the decompressors: fewer, larger chunks mean fewer write calls and stream hops per layer. */
const CHUNK = 128 * 1024;

const GZIP_MAGIC = Buffer.from([0x1f, 0x8b]);
const ZSTD_MAGIC = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);
const XZ_MAGIC = Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]);

/** A compression of an archive a user hands in (ADD's local archives): the layer kinds plus bzip2 and xz. */
export type ArchiveCompression = Compression | 'bzip2' | 'xz';

/** The compression named by the first bytes of a file: gzip, zstd, bzip2, xz, or none. Never throws. */
export function archiveCompressionOfMagic(head: Uint8Array): ArchiveCompression {
  const b = Buffer.from(head.buffer, head.byteOffset, head.byteLength);
  if (b.length >= 2 && b.subarray(0, 2).equals(GZIP_MAGIC)) return 'gzip';
  if (b.length >= 4 && b.subarray(0, 4).equals(ZSTD_MAGIC)) return 'zstd';
  // zstd skippable frames: 0x184D2A50..5F little-endian
  if (b.length >= 4 && (b[0]! & 0xf0) === 0x50 && b[1] === 0x2a && b[2] === 0x4d && b[3] === 0x18) return 'zstd';
  if (b.length >= 3 && b.subarray(0, 3).toString('latin1') === 'BZh') return 'bzip2';
  if (b.length >= 6 && b.subarray(0, 6).equals(XZ_MAGIC)) return 'xz';
  return 'none';
}

/** The compression named by the first bytes of a layer blob (gzip, zstd, or none). bzip2/xz are EUNSUPPORTED. */
export function compressionOfMagic(head: Uint8Array): Compression {
  const c = archiveCompressionOfMagic(head);
  if (c === 'bzip2' || c === 'xz') {
    throw new SkiffError('EUNSUPPORTED', `${c}-compressed layers are not supported`, { hint: 'use gzip or zstd' });
  }
  return c;
}

/**
 * Reads up to `n` bytes from the head of `stream` without consuming them: returns those bytes and a
 * stream that yields the whole content again. Only the first chunk(s) are held, never the layer.
 */
export async function peekStream(stream: Readable, n: number): Promise<{ head: Buffer; stream: Readable }> {
  const chunks: Buffer[] = [];
  let len = 0;
  while (len < n) {
    const c = stream.read() as Buffer | null;
    if (c !== null) {
      const b = typeof c === 'string' ? Buffer.from(c) : c;
      chunks.push(b);
      len += b.length;
      continue;
    }
    if (stream.readableEnded || stream.destroyed) break;
    await new Promise<void>((resolve, reject) => {
      const done = (): void => {
        stream.off('readable', done);
        stream.off('end', done);
        stream.off('close', done);
        stream.off('error', fail);
        resolve();
      };
      const fail = (e: Error): void => {
        stream.off('readable', done);
        stream.off('end', done);
        stream.off('close', done);
        reject(e);
      };
      stream.once('readable', done);
      stream.once('end', done);
      stream.once('close', done);
      stream.once('error', fail);
    });
    const err = stream.errored;
    if (err) throw err;
  }
  const all = Buffer.concat(chunks);
  if (stream.readableEnded || stream.destroyed) return { head: all.subarray(0, n), stream: Readable.from(all.length ? [all] : []) };
  if (all.length) stream.unshift(all);
  return { head: all.subarray(0, n), stream };
}

/** Detects the compression of a stream from its magic bytes; the returned stream still starts at byte 0. */
export async function detectCompression(stream: Readable): Promise<{ compression: Compression; stream: Readable }> {
  const { head, stream: s } = await peekStream(stream, 6);
  return { compression: compressionOfMagic(head), stream: s };
}

class Counter extends Transform {
  bytes = 0;
  override _transform(chunk: Buffer, _e: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    cb(null, chunk);
  }
}

class Limiter extends Transform {
  bytes = 0;
  readonly input: Counter;
  readonly limits: Required<DecompressLimits>;
  constructor(input: Counter, limits: Required<DecompressLimits>) {
    super();
    this.input = input;
    this.limits = limits;
  }
  override _transform(chunk: Buffer, _e: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    const l = this.limits;
    if (this.bytes > l.maxBytes) {
      return cb(new SkiffError('ELIMIT', `layer decompresses to more than ${l.maxBytes} bytes`, { hint: 'raise the uncompressed size limit if this layer is legitimate' }));
    }
    if (this.bytes > l.ratioGraceBytes && this.bytes > l.maxRatio * Math.max(this.input.bytes, 1)) {
      return cb(
        new SkiffError('ELIMIT', `layer compression ratio exceeds ${l.maxRatio}:1 (${this.bytes} bytes from ${this.input.bytes}): likely a decompression bomb`, {
          hint: 'raise the compression ratio limit if this layer is legitimate',
        }),
      );
    }
    cb(null, chunk);
  }
}

function mapCodecError(e: unknown, compression: ArchiveCompression, limits: Required<DecompressLimits>): unknown {
  if (e instanceof SkiffError) return e;
  const msg = (e as Error)?.message ?? String(e);
  if (compression === 'zstd' && /memory|window/i.test(msg)) {
    return new SkiffError('ELIMIT', `zstd frame needs a window larger than 2^${limits.zstdWindowLogMax} bytes: ${msg}`, { cause: e });
  }
  if ((e as { code?: string })?.code?.startsWith?.('Z_') || (e as { code?: string })?.code?.startsWith?.('ZSTD_') || /incorrect header|invalid|unexpected end|corrupt/i.test(msg)) {
    return new SkiffError('EINVALID', `layer is not valid ${compression} data: ${msg}`, { cause: e });
  }
  return e;
}

/** Options of decompress(). */
export interface DecompressOptions {
  /** Skip detection and use this compression (detection still happens when undefined). */
  compression?: Compression;
  limits?: DecompressLimits;
  signal?: AbortSignal;
}

/**
 * Decompresses a layer blob as a stream: gzip (all concatenated members, as gzip(1) does), zstd (window
 * capped), or passes plain tar through. A gzip stream inside a gzip member is NOT unwrapped twice: the inner
 * bytes come out as they are and the tar reader rejects them. Limits fail the stream with ELIMIT and destroy
 * every stage (the source too); an aborted signal fails it with EABORT. Nothing is buffered beyond zlib's chunks.
 */
export async function decompress(source: Readable, opts: DecompressOptions = {}): Promise<{ compression: Compression; stream: Readable }> {
  const limits = { ...DEFAULT_DECOMPRESS_LIMITS, ...opts.limits };
  let compression = opts.compression;
  let src = source;
  if (compression === undefined) ({ compression, stream: src } = await detectCompression(source));
  let codec: Transform | undefined;
  if (compression === 'gzip') codec = zlib.createGunzip({ chunkSize: CHUNK });
  else if (compression === 'zstd') {
    codec = zlib.createZstdDecompress({ chunkSize: CHUNK, params: { [zlib.constants.ZSTD_d_windowLogMax]: limits.zstdWindowLogMax } });
  }
  return { compression, stream: limitDecompression(src, codec, compression, { limits, signal: opts.signal }) };
}

/**
 * Runs `source` through `codec` (a decompressor: zlib's, or a program's stdin→stdout as a Duplex; none passes the
 * bytes through) under the bomb limits: the one place those limits are enforced, so every decompression path —
 * layers and ADD's local archives alike — shares them. Fails with ELIMIT / EABORT and destroys every stage.
 */
export function limitDecompression(source: Readable, codec: Duplex | undefined, compression: ArchiveCompression, opts: { limits?: DecompressLimits; signal?: AbortSignal } = {}): Readable {
  const limits = { ...DEFAULT_DECOMPRESS_LIMITS, ...opts.limits };
  const src = source;
  const counter = new Counter();
  const limiter = new Limiter(counter, limits);
  const stages: (Readable | Duplex)[] = codec ? [src, counter, codec, limiter] : [src, counter, limiter];
  let failed = false;
  const fail = (e: unknown): void => {
    if (failed) return;
    failed = true;
    const mapped = mapCodecError(e, compression, limits);
    for (const s of stages) if (s !== limiter) s.destroy();
    limiter.destroy(mapped as Error);
    opts.signal?.removeEventListener('abort', onAbort);
  };
  const onAbort = (): void => fail(new SkiffError('EABORT', 'decompression cancelled', { cause: opts.signal?.reason }));
  if (opts.signal?.aborted) onAbort();
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  limiter.once('close', () => opts.signal?.removeEventListener('abort', onAbort));
  for (let i = 0; i < stages.length; i++) {
    const s = stages[i]!;
    s.on('error', fail);
    if (i + 1 < stages.length) s.pipe(stages[i + 1] as Duplex);
  }
  // when the consumer gives up early, stop the upstream stages too
  limiter.once('close', () => {
    for (const s of stages) if (s !== limiter && !s.destroyed) s.destroy();
  });
  return limiter;
}

/**
 * Decompresses `source` and hashes the uncompressed bytes as they flow (the layer's diffID). With
 * `expectDiffID` the returned stream fails at EOF with EINTEGRITY on mismatch (LA-17). `diffID()` resolves
 * once the stream ended.
 */
export async function decompressWithDiffID(
  source: Readable,
  opts: DecompressOptions & { expectDiffID?: Digest } = {},
): Promise<{ compression: Compression; stream: DigestingStream }> {
  const { compression, stream } = await decompress(source, opts);
  const digesting = new DigestingStream(opts.expectDiffID ? { digest: opts.expectDiffID } : undefined);
  stream.on('error', (e) => digesting.destroy(e));
  digesting.once('close', () => {
    if (!stream.destroyed) stream.destroy();
  });
  stream.pipe(digesting);
  return { compression, stream: digesting };
}

/**
 * Compresses a stream with gzip (level 1-9, default 6; header mtime 0 so output is reproducible) or zstd
 * (level 1-19, default 3). 'none' returns the stream itself. Errors of the source propagate to the result.
 */
export function compress(source: Readable, compression: Compression, level?: number): Readable {
  if (compression === 'none') return source;
  const codec =
    compression === 'gzip'
      ? zlib.createGzip({ level: level ?? 6 })
      : zlib.createZstdCompress({ params: { [zlib.constants.ZSTD_c_compressionLevel]: level ?? 3 } });
  source.on('error', (e) => codec.destroy(e));
  codec.once('close', () => {
    if (!source.destroyed && !source.readableEnded) source.destroy();
  });
  return source.pipe(codec);
}
