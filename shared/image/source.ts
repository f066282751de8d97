import type { Readable } from 'node:stream';
import type { Digest } from '../oci/digest.ts';
import type { Descriptor } from '../oci/types.ts';

/** Exact manifest bytes as served by a source, with the media type it declared and their digest. */
export interface ManifestBytes {
  bytes: Uint8Array;
  /** The declared media type (descriptor, Content-Type); may be generic or empty when the source has none. */
  mediaType: string;
  /** The digest of `bytes` (views re-check it: digests are always over the exact bytes). */
  digest: Digest;
}

/**
 * Where lazy image views read from (a registry, an OCI layout, an archive, the store).
 * `getManifest()` without a digest returns the source's top-level manifest or index.
 * `getBlob` returns a stream that is verified against `desc.digest`/`desc.size` at EOF (it errors instead of
 * ending when the content differs).
 */
export interface ImageSource {
  getManifest(digest?: Digest, opts?: { signal?: AbortSignal }): Promise<ManifestBytes>;
  getBlob(desc: Descriptor, opts?: { signal?: AbortSignal }): Promise<Readable>;
}

/**
 * Where writeImage() puts blobs. `put` streams `body` to durable content-addressed storage, hashing while the
 * bytes flow, and fails (storing nothing) when they do not match `expect`. Idempotent per digest.
 * `has` (optional) lets writers skip blobs that are already present.
 */
export interface BlobSink {
  put(body: Readable | Uint8Array, expect: Pick<Descriptor, 'digest' | 'size'> & { mediaType?: string }, opts?: { signal?: AbortSignal }): Promise<unknown>;
  has?(desc: Pick<Descriptor, 'digest' | 'size'>, opts?: { signal?: AbortSignal }): Promise<boolean>;
}

/** The `{ signal }` bag every async view method accepts. */
export interface CallOptions {
  signal?: AbortSignal;
}
