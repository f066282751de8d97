import { parseDigest, type Digest } from '../oci/digest.ts';
import { parseSize } from '../oci/validate.ts';

/** The part of a descriptor the blob store needs: a validated digest and a non-negative safe-integer size. */
export interface BlobRef {
  digest: Digest;
  size: number;
}

/** Validates a {digest, size} pair passed by a caller (digest via parseDigest, size via parseSize). */
export function parseBlobRef(x: { digest: unknown; size: unknown }, where = 'blob'): BlobRef {
  return { digest: parseDigest(x.digest, `${where} digest`), size: parseSize(x.size, `${where} size`) };
}
