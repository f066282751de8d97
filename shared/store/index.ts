/** The local store's public API. */
export { BlobStore, JSON_BLOB_CAP, type BlobStoreOptions, type OpenOptions } from './blob-store.ts';
export { checkImageComplete, commitImage } from './commit.ts';
export { parseBlobRef, type BlobRef } from './descriptor.ts';
export { collectGarbage, type GcContext, type GcResult } from './gc.ts';
export { collectLeasedDigests, createLease, Lease, listLeases, openLease, type LeaseInfo, type LeasePaths } from './lease.ts';
export { INDEX_JSON_CAP, LAYOUT_VERSION, Layout, openLayout, type FoundImage, type LayoutOptions } from './layout.ts';
export { acquireLock, isLockFree, withLock, type LockHandle, type LockOptions } from './lock.ts';
export { fsyncDir, writeFileAtomic } from './atomic.ts';
export { defaultStoreRoot, storePaths, type StorePaths } from './paths.ts';
export { findDescriptors, MAX_REFERENCE_DEPTH, walkReachable, type Reachability } from './reachability.ts';

export { cleanStaleTemps, dropSession, isSessionAlive, Session, sessionFor } from './session.ts';
export { openStore, Store, type OpenStoreOptions } from './store.ts';
export { verifyLayout, type Damage, type VerifyResult } from './verify.ts';
export { listImages, type ImageSummary } from './list-images.ts';
export { lookupImage, type LookedUpImage } from './lookup.ts';
export { storeSink } from './sink.ts';
