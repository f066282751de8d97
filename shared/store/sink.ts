import type { BlobSink } from '../image/source.ts';
import type { Store } from './store.ts';

/**
 * The store as a BlobSink for writeImage(): `has` leases the digest before checking (so a blob found present
 * stays safe from gc until this process's lease ends) and `put` streams, verifies and commits.
 */
export function storeSink(store: Store): BlobSink {
  return {
    put: (body, expect, o) => store.putBlob(body, { digest: expect.digest, size: expect.size }, o ?? {}),
    has: (desc, o) => store.claim(desc, o ?? {}),
  };
}
