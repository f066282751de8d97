import { SkiffError } from '../errors.ts';

/**
 * The largest manifest, index or image config skiff reads or writes: 4 MiB, as containers/image's iolimits. One
 * limit for both directions, so nothing skiff writes is refused when skiff (or a peer) reads it back.
 */
export const MAX_DOCUMENT_BYTES = 4 * 1024 * 1024;

/** `n` bytes as the limit is written in messages (`4 MiB`), or a plain byte count. Pure. */
export function formatDocumentLimit(n = MAX_DOCUMENT_BYTES): string {
  return n % (1024 * 1024) === 0 ? `${n / (1024 * 1024)} MiB` : `${n} bytes`;
}

/**
 * Checks a serialized document (`bytes`, or its length) against MAX_DOCUMENT_BYTES before it is written; throws
 * ELIMIT `<what> would be N bytes, over the 4 MiB limit for image documents` otherwise. Call with the exact bytes
 * about to be stored or sent. Pure.
 */
export function checkDocumentSize(bytes: Uint8Array | number, what: string, o: { hint?: string } = {}): void {
  const n = typeof bytes === 'number' ? bytes : bytes.byteLength;
  if (n <= MAX_DOCUMENT_BYTES) return;
  throw new SkiffError('ELIMIT', `${what} would be ${n} bytes, over the ${formatDocumentLimit()} limit for image documents`, {
    hint: o.hint ?? 'image readers (skiff, podman, skopeo) refuse manifests and configs this large',
    details: { size: n, limit: MAX_DOCUMENT_BYTES },
  });
}
