import type { FileHandle } from 'node:fs/promises';
import { SkiffError } from '../errors.ts';
import type { BlobLender } from '../oci/blob-lender.ts';
import { CheckedDigester, type Digest } from '../oci/digest.ts';
import type { BlobRef } from './descriptor.ts';

/**
 * Writes a lent blob into `fh` (an empty file): each chunk is hashed and completely written before the lender
 * reuses its memory, then the file is fsynced. With `expect`, EBADSIZE as soon as more bytes came, and EBADSIZE /
 * EINTEGRITY at the end; `signal` cancels the lender (EABORT). Returns the digest and size of what was written.
 */
export async function writeLent(body: BlobLender, fh: FileHandle, expect: { digest: Digest; size: number } | undefined, signal?: AbortSignal): Promise<BlobRef> {
  const dg = new CheckedDigester(expect);
  const onAbort = (): void => body.cancel();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await body.lend(async (chunk) => {
      dg.update(chunk);
      for (let at = 0; at < chunk.length; ) at += (await fh.write(chunk, at, chunk.length - at)).bytesWritten;
    });
  } catch (e) {
    if (signal?.aborted) throw new SkiffError('EABORT', 'operation cancelled', { cause: signal.reason });
    throw e;
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  const digest = dg.finish();
  await fh.sync();
  return { digest, size: dg.size };
}
