import type { Readable } from 'node:stream';
import type { BlobLender } from '../oci/blob-lender.ts';
import type { Digest } from '../oci/digest.ts';
import type { Descriptor } from '../oci/types.ts';
import type { ManifestBytes } from '../image/source.ts';
import type { RetryNotice } from './retry.ts';
import type { Cancellable } from '../errors.ts';

/** Username and password (or identity token when username is `<token>`), as skopeo's `--creds user:pass`. */
export interface Credentials {
  username: string;
  password: string;
}

/** How to reach registries: credentials, TLS, retries, limits. One object per side of a copy. */
export interface RegistryOptions {
  /** Explicit credentials (`--creds`); otherwise looked up in the auth files for the registry/repository. */
  credentials?: Credentials;
  /** `--authfile`; else REGISTRY_AUTH_FILE, then containers auth.json, then ~/.docker/config.json. */
  authFile?: string;
  /** false: plain HTTP allowed and TLS certificates not verified (`--tls-verify=false`). Default: per registries.conf `insecure`, else true. */
  tlsVerify?: boolean;
  /** `--cert-dir`: *.crt CAs, *.cert/*.key client certificates; else /etc/containers/certs.d/<host>/. */
  certDir?: string;
  /** `--registries-conf` path. */
  registriesConf?: string;
  /** Retries of a failed request (`--retry-times`); default 3 (5 attempts max for 429s). */
  retryTimes?: number;
  /** Header / stall timeouts in ms. */
  headersTimeout?: number;
  bodyTimeout?: number;
  /** `--command-timeout` as an overall AbortSignal is passed per call instead. */
  userAgent?: string;
  /** Fetch layers from foreign `urls` (off by default; RC-14). */
  allowForeignUrls?: boolean;
  /** Debug log sink (URLs and headers redacted: RC-19). */
  debug?: (line: string) => void;
  /** Told of each retry before its wait: what failed, attempt n of N, the wait (see retryPlan). */
  onRetry?: (n: RetryNotice) => void;
  /** Most requests in flight (until headers) per registry host, shared process-wide (RC-20); default 6. */
  maxConcurrentPerHost?: number;
  /** Backoff base and cap (ms) between retries without Retry-After; defaults 500 and 10 000. */
  retryBaseMs?: number;
  retryMaxDelayMs?: number;
  /** Cap on a server's Retry-After wait (ms); default 60 000 (RC-09). */
  retryAfterCapMs?: number;
  /** Push blobs in PATCH chunks of this many bytes (each chunk is held in memory); default: one streamed PUT. */
  uploadChunkSize?: number;
  /** Range resumes of one broken blob download (RC-06); default retryTimes. */
  maxResumes?: number;
  /** Pull from registries.conf mirrors first (default true). */
  useMirrors?: boolean;
  /** Environment for auth files, helpers and proxies (default process.env). */
  env?: NodeJS.ProcessEnv;
}

/** Options of a blob read. */
export interface BlobReadOpts extends Cancellable {
  /**
   * The consumer hashes the bytes against the descriptor itself and fails on a mismatch (a verifying sink):
   * the stream then checks sizes only and skips its own digest (every blob is hashed once, not twice).
   */
  sinkVerifies?: boolean;
}

/**
 * One repository on one registry, through the distribution-spec v2 API. Every method validates what the
 * registry returns (digests, sizes, media types, tags) before use; nothing here trusts the server.
 */
export interface RegistryRepository {
  readonly registry: string;
  readonly repository: string;
  /**
   * Checks the registry answers the v2 API with these credentials (GET /v2/, completing the auth flow, with a
   * pull scope on the repository when one is set). EPERM when the credentials are rejected (used by login).
   */
  ping(o?: Cancellable): Promise<void>;
  /** Starts the registry's `/v2/` ping now, without waiting (the first request then finds it done or under way). */
  warm(o?: Cancellable): void;
  /**
   * GET a manifest by tag or digest with the Accept list of OCI + Docker types. By digest: the bytes are
   * verified. By tag: Docker-Content-Digest, when sent, must match the bytes. Content-Type vs body checked
   * (LS-15/RC-04), size capped (4 MiB). ENOTFOUND on 404.
   */
  getManifest(reference: string, o?: Cancellable): Promise<ManifestBytes>;
  /** HEAD a manifest: its descriptor, or undefined on 404. */
  headManifest(reference: string, o?: Cancellable): Promise<Descriptor | undefined>;
  /** PUT a manifest under a tag or its digest; returns the digest the registry stored (checked against ours). */
  putManifest(reference: string, bytes: Uint8Array, mediaType: string, o?: Cancellable): Promise<Digest>;
  deleteManifest(digest: Digest, o?: Cancellable): Promise<void>;
  /** HEAD a blob: its size, or undefined when absent. */
  headBlob(digest: Digest, o?: Cancellable): Promise<number | undefined>;
  /**
   * GET a blob as a stream verified against desc at EOF; resumes interrupted bodies with Range (RC-06). With
   * `sinkVerifies` the size is still enforced but hashing is left to the consumer, which must check the digest
   * itself before trusting the bytes (a verifying BlobStore.put or putBlob) — so a copy hashes each blob once.
   */
  getBlob(desc: Pick<Descriptor, 'digest' | 'size'> & { urls?: string[]; mediaType?: string }, o?: BlobReadOpts): Promise<Readable>;
  /**
   * The blob lent into a sink (BlobLender) instead of streamed, with getBlob's checks: for large blobs, received
   * into one reused buffer. Undefined when this blob is better streamed (small, foreign URLs): use getBlob.
   */
  lendBlob(desc: Pick<Descriptor, 'digest' | 'size'> & { urls?: string[]; mediaType?: string }, o?: BlobReadOpts): Promise<BlobLender | undefined>;
  /** Upload a blob (POST + PUT monolithic, or chunked PATCHes); the registry verifies the digest. */
  putBlob(desc: Pick<Descriptor, 'digest' | 'size'>, body: Readable, o?: Cancellable): Promise<void>;
  /** Cross-repository mount from `fromRepository` on the same registry; false when the registry declined. */
  mountBlob(digest: Digest, fromRepository: string, o?: Cancellable): Promise<boolean>;
  /** All tags, following Link pagination; invalid tags are dropped (RC-15). */
  listTags(o?: Cancellable & { pageSize?: number }): Promise<string[]>;
}
