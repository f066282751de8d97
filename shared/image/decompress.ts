// The one place shared/image depends on a decompressor. To switch to shared/layer/compression.ts, change only
// this file.
import { pipeline, type Readable } from 'node:stream';
import * as zlib from 'node:zlib';
import { SkiffError } from '../errors.ts';
import type { Compression } from '../oci/media-types.ts';

/**
 * Returns a stream of the uncompressed bytes of `source` (gzip via node:zlib gunzip, zstd via
 * createZstdDecompress, 'none' passes through). Errors of either side propagate to the returned stream.
 */
export function decompressStream(source: Readable, compression: Compression): Readable {
  if (compression === 'none') return source;
  const d = compression === 'gzip' ? zlib.createGunzip() : zlib.createZstdDecompress();
  return pipeline(source, d, () => {}) as unknown as Readable;
}

/** The compression a layer media type declares; unknown layer types are EUNSUPPORTED. */
export function compressionOrThrow(mediaType: string, known: Compression | undefined): Compression {
  if (known === undefined) throw new SkiffError('EUNSUPPORTED', `unsupported layer media type ${mediaType}`);
  return known;
}
