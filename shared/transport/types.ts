import type { Readable } from 'node:stream';
import type { BlobLender } from '../oci/blob-lender.ts';
import type { Descriptor } from '../oci/types.ts';
import type { ImageSource } from '../image/source.ts';
import type { Cancellable } from '../errors.ts';

/** Options of ImageTarget.commit. */
export interface CommitOpts extends Cancellable {
  /** Further tags to give the image (registry tags, docker-archive RepoTags), as skopeo's --additional-tag. */
  additionalTags?: string[];
  /** The top manifest is an index whose children were deliberately not copied (`--multi-arch index-only`). */
  incomplete?: boolean;
}

/**
 * An opened image source of any transport. `getManifest()` without a digest is the top-level manifest or
 * index the name points at. `close()` releases files, locks and connections; idempotent.
 */
export interface OpenedSource extends ImageSource {
  /** A display name (`docker://…`, `oci:…`) for messages; credentials never appear in it. */
  readonly name: string;
  /** The repository name a registry source reads from (for cross-repository mounts), when it is one. */
  readonly registryRepository?: { registry: string; repository: string };
  /**
   * The registry repository one blob can be mounted from, when it differs by blob (a local manifest list whose
   * entries were added by reference); copyImage asks it before `registryRepository`.
   */
  blobOrigin?(desc: Descriptor, o?: Cancellable): Promise<{ registry: string; repository: string } | undefined>;
  /** Signatures stored beside the image (dir: signature-N, lookaside), when the transport has them. */
  getSignatures?(manifestDigest: string, o?: Cancellable): Promise<Uint8Array[]>;
  /**
   * As ImageSource.getBlob; with `sinkVerifies` (the consumer checks the digest itself, e.g. a target with
   * `verifiesBlobs`) a source may skip its own hashing — sizes are still enforced.
   */
  getBlob(desc: Descriptor, o?: Cancellable & { sinkVerifies?: boolean }): Promise<Readable>;
  /**
   * The blob lent (BlobLender) rather than streamed, for a target with putLentBlob; undefined when the source
   * streams this blob better (only a registry lends, and only large blobs).
   */
  lendBlob?(desc: Descriptor, o?: Cancellable & { sinkVerifies?: boolean }): Promise<BlobLender | undefined>;
  close(): Promise<void>;
}

/**
 * An opened image destination. Call order (containers/image's): blobs (hasBlob → mountBlob → putBlob) →
 * configs → child manifests → the top manifest → signatures → commit(). Nothing becomes visible (tag,
 * index.json entry, archive file) before commit(); close() without commit() discards what was written — except
 * on a registry, which has no staging: its tag moves when the top manifest is written, and putManifest confirms
 * the registry holds that digest before signatures for it are made. Blob writes are verified while streaming.
 */
export interface ImageTarget {
  readonly name: string;
  /**
   * Targets with equal scopes share blob storage (one OCI layout, one store, one registry repository):
   * BlobScheduler de-duplicates concurrent writes of one digest per scope. Defaults to `name`.
   */
  readonly blobScope?: string;
  /**
   * Layer media types / manifest formats the destination can hold (docker-archive: v2s2 only, uncompressed).
   * `verifiesBlobs`: putBlob hashes the body against the descriptor and commits nothing on a mismatch, so the
   * source need not hash it too.
   */
  readonly capabilities: {
    manifestFormats: ReadonlyArray<'oci' | 'docker'>;
    mustDecompressLayers?: boolean;
    /** Uncompressed layers are gzip-compressed on the way in (registries). */
    compressesLayers?: boolean;
    supportsIndex: boolean;
    verifiesBlobs?: boolean;
  };
  /** The destination already has the manifest with this digest under the wanted name (copy can skip). */
  hasManifest?(desc: Descriptor, o?: Cancellable): Promise<boolean>;
  hasBlob(desc: Descriptor, o?: Cancellable): Promise<boolean>;
  /** Cross-repository mount (registries only); false when not possible. */
  mountBlob?(desc: Descriptor, from: { registry: string; repository: string }, o?: Cancellable): Promise<boolean>;
  putBlob(desc: Descriptor, body: Readable, o?: Cancellable): Promise<void>;
  /** putBlob for a lent blob: the target takes each chunk before the next (hashing and writing it) and never keeps one. */
  putLentBlob?(desc: Descriptor, body: BlobLender, o?: Cancellable): Promise<void>;
  /** Writes a manifest or index. `top` marks the one the name points at (child manifests come first). */
  putManifest(bytes: Uint8Array, desc: Descriptor, o?: Cancellable & { top: boolean }): Promise<void>;
  putSignatures?(manifestDigest: string, signatures: Uint8Array[], o?: Cancellable): Promise<void>;
  /** Makes the image visible (tag / index.json / archive rename). */
  commit(o?: CommitOpts): Promise<void>;
  close(): Promise<void>;
}
