import type { Readable } from 'node:stream';
import { SkiffError, type Cancellable } from '../errors.ts';
import { digestMismatch, digestOf, type Digest } from '../oci/digest.ts';
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
  getManifest(digest?: Digest, opts?: Cancellable): Promise<ManifestBytes>;
  getBlob(desc: Descriptor, opts?: Cancellable): Promise<Readable>;
}

/**
 * Where writeImage() puts blobs. `put` streams `body` to durable content-addressed storage, hashing while the
 * bytes flow, and fails (storing nothing) when they do not match `expect`. Idempotent per digest.
 * `has` (optional) lets writers skip blobs that are already present.
 */
export interface BlobSink {
  put(body: Readable | Uint8Array, expect: Pick<Descriptor, 'digest' | 'size'> & { mediaType?: string }, opts?: Cancellable): Promise<unknown>;
  has?(desc: Pick<Descriptor, 'digest' | 'size'>, opts?: Cancellable): Promise<boolean>;
}

/** Where a view's document comes from: a digest to fetch (or the top level), or bytes already fetched. */
export interface DocumentLocator {
  digest?: Digest;
  /** Declared media type (from the index entry); the body must agree (LS-15). */
  mediaType?: string;
  /** Expected size (from the index entry). */
  size?: number;
  prefetched?: ManifestBytes;
}

/**
 * Fetches a manifest or index (or takes the prefetched bytes) and checks the exact bytes against the wanted
 * digest and size before anything parses them. Returns the bytes and the media type to validate against.
 */
export async function fetchVerifiedDocument(source: ImageSource, loc: DocumentLocator, what: string, o?: Cancellable): Promise<{ bytes: Uint8Array; declared?: string }> {
  const mb = loc.prefetched ?? (await source.getManifest(loc.digest, o));
  const actual = digestOf(mb.bytes);
  const want = loc.digest ?? mb.digest;
  if (actual !== want) throw digestMismatch(want, actual);
  if (loc.size !== undefined && mb.bytes.length !== loc.size) {
    throw new SkiffError('EBADSIZE', `${what} ${want} is ${mb.bytes.length} bytes, its descriptor says ${loc.size}`);
  }
  const declared = loc.mediaType ?? (mb.mediaType === '' ? undefined : mb.mediaType);
  return declared === undefined ? { bytes: mb.bytes } : { bytes: mb.bytes, declared };
}
