/**
 * Where remote cache entries are read and written: a registry repository (shared/registry, every read verified)
 * or a local OCI layout directory (`type=local`: blobs through the store's verified BlobStore, tags as
 * `org.opencontainers.image.ref.name` annotations in index.json, rewritten atomically and merged with what
 * another writer added meanwhile). Both answer the same few calls.
 */
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { isSkiffError, type Cancellable } from '../../errors.ts';
import { digestOf, type Digest } from '../../oci/digest.ts';
import { MediaType } from '../../oci/media-types.ts';
import type { Descriptor } from '../../oci/types.ts';
import type { RegistryOptions } from '../../registry/types.ts';
import { BlobStore } from '../../store/blob-store.ts';
import { writeFileAtomic } from '../../store/atomic.ts';
import type { CacheLocation } from './cache-options.ts';

/** One cache repository. Reads are verified against the digest asked for; nothing is trusted. */
export interface CacheRepo {
  /** for messages: `REGISTRY/REPO` or the directory */
  readonly name: string;
  /** The manifest bytes tagged `tag`, or undefined when there is none. */
  getManifest(tag: string, o?: Cancellable): Promise<{ bytes: Uint8Array; digest: Digest } | undefined>;
  /** Tags `bytes` (an OCI manifest) as `tag` unless that tag already names exactly these bytes. */
  putManifest(tag: string, bytes: Uint8Array, o?: Cancellable): Promise<void>;
  /**
   * The blob as a stream that fails at EOF unless it matches `desc`; with `sinkVerifies` only the size is
   * enforced and the consumer must hash the bytes against `desc` itself (a verifying store put).
   */
  getBlob(desc: Pick<Descriptor, 'digest' | 'size'>, o?: Cancellable & { sinkVerifies?: boolean }): Promise<Readable>;
  /** Uploads a blob unless the repository has it. `open` is called only when it must be sent. */
  putBlob(desc: Pick<Descriptor, 'digest' | 'size'>, open: () => Promise<Readable | Uint8Array>, o?: Cancellable): Promise<void>;
  /** Makes writes durable (the layout's index.json); a no-op for registries. */
  flush(o?: Cancellable): Promise<void>;
  /**
   * Starts connecting (registries.conf, TLS, the v2 ping and its auth) in the background so the first lookup
   * finds it done; never fails (a real call reports what is wrong).
   */
  warm(): void;
}

/** Opens the repository of a registry or local location (no I/O until the first call). */
export async function openCacheRepo(loc: Exclude<CacheLocation, { type: 'inline' }>, registry: RegistryOptions): Promise<CacheRepo> {
  if (loc.type === 'local') return new LayoutRepo(loc.dir);
  const { openRepository } = await import('../../registry/repository.ts');
  const repo = openRepository(loc.registry, loc.repository, registry);
  return {
    name: `${loc.registry}/${loc.repository}`,
    async getManifest(tag, o = {}) {
      try {
        const m = await repo.getManifest(tag, o);
        return { bytes: m.bytes, digest: m.digest };
      } catch (e) {
        if (isSkiffError(e, 'ENOTFOUND')) return undefined;
        throw e;
      }
    },
    async putManifest(tag, bytes, o = {}) {
      const have = await repo.headManifest(tag, o);
      if (have?.digest === digestOf(bytes)) return;
      await repo.putManifest(tag, bytes, MediaType.OciManifest, o);
    },
    getBlob: (desc, o = {}) => repo.getBlob(desc, o),
    async putBlob(desc, open, o = {}) {
      if ((await repo.headBlob(desc.digest as Digest, o)) === desc.size) return;
      const body = await open();
      const { Readable } = await import('node:stream');
      await repo.putBlob(desc, body instanceof Uint8Array ? Readable.from([body]) : body, o);
    },
    flush: async () => {},
    warm: () => void repo.ping().catch(() => {}),
  };
}

interface LayoutIndex {
  schemaVersion: 2;
  mediaType?: string;
  manifests: (Descriptor & { annotations?: Record<string, string> })[];
}

const REF_NAME = 'org.opencontainers.image.ref.name';

/** A local OCI layout used as a cache repository. */
class LayoutRepo implements CacheRepo {
  readonly name: string;
  readonly #dir: string;
  readonly #blobs: BlobStore;
  #tags: Map<string, Descriptor> | undefined;
  readonly #added = new Map<string, Descriptor>();
  #tmp: string | undefined;

  constructor(dir: string) {
    this.name = dir;
    this.#dir = dir;
    this.#blobs = new BlobStore(dir, {
      tempDir: async () => {
        if (this.#tmp === undefined) {
          await mkdir(dir, { recursive: true });
          this.#tmp = await mkdtemp(join(dir, '.tmp-'));
        }
        return this.#tmp;
      },
    });
  }

  async #readIndex(): Promise<Map<string, Descriptor>> {
    const m = new Map<string, Descriptor>();
    let idx: LayoutIndex;
    try {
      idx = JSON.parse(await readFile(join(this.#dir, 'index.json'), 'utf8')) as LayoutIndex;
    } catch {
      return m;
    }
    for (const d of Array.isArray(idx.manifests) ? idx.manifests : []) {
      const t = d?.annotations?.[REF_NAME];
      if (typeof t === 'string') m.set(t, d);
    }
    return m;
  }

  async getManifest(tag: string, o: Cancellable = {}) {
    this.#tags ??= await this.#readIndex();
    const d = this.#added.get(tag) ?? this.#tags.get(tag);
    if (d === undefined) return undefined;
    try {
      const bytes = await this.#blobs.readBytes(d, o);
      return { bytes: new Uint8Array(bytes), digest: d.digest };
    } catch (e) {
      if (isSkiffError(e, 'ENOTFOUND')) return undefined;
      throw e;
    }
  }

  async putManifest(tag: string, bytes: Uint8Array, o: Cancellable = {}) {
    const ref = await this.#blobs.put(bytes, undefined, o);
    this.#added.set(tag, { mediaType: MediaType.OciManifest, digest: ref.digest, size: ref.size, annotations: { [REF_NAME]: tag } });
  }

  getBlob(desc: Pick<Descriptor, 'digest' | 'size'>, o: Cancellable & { sinkVerifies?: boolean } = {}) {
    return this.#blobs.open(desc, { ...(o.signal && { signal: o.signal }), verify: o.sinkVerifies !== true });
  }

  async putBlob(desc: Pick<Descriptor, 'digest' | 'size'>, open: () => Promise<Readable | Uint8Array>, o: Cancellable = {}) {
    if (await this.#blobs.has(desc.digest, desc.size)) return;
    await this.#blobs.put(await open(), desc, o);
  }

  warm() {}

  async flush() {
    if (this.#added.size > 0) {
      // merge with what is there now: another build may have added entries since this one read the index
      const merged = await this.#readIndex();
      for (const [t, d] of this.#added) merged.set(t, d);
      const index: LayoutIndex = { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [...merged.values()] };
      await writeFileAtomic(join(this.#dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
      await writeFileAtomic(join(this.#dir, 'index.json'), JSON.stringify(index));
      this.#added.clear();
    }
    if (this.#tmp !== undefined) await rm(this.#tmp, { recursive: true, force: true });
    this.#tmp = undefined;
  }
}
