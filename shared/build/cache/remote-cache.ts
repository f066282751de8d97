/**
 * The remote build cache (`--cache-from` / `--cache-to`): the same step keys as the local cache (key.ts,
 * computed before a step runs), looked up in each `--cache-from` repository in order, one manifest GET per key
 * (cache-entry.ts). A hit costs no layer download: a layer is fetched only when the build needs its bytes (an
 * uncached step above it, or the final image), and is then verified twice — its digest by the store as it is
 * written, its diffID while it streams — before anything uses it. An entry that does not decode, does not name
 * its own key, is older than `--cache-ttl`, or whose layer does not verify is ignored with a warning and the step
 * is built; nothing is trusted. Export pushes one entry per step (and its layer, unless the repository has it).
 */
import { PassThrough, type Readable } from 'node:stream';
import { isSkiffError, type Cancellable } from '../../errors.ts';
import { decompressWithDiffID } from '../../layer/compression.ts';
import { isDigest, type Digest } from '../../oci/digest.ts';
import type { RegistryOptions } from '../../registry/types.ts';
import type { Store } from '../../store/store.ts';
import type { CacheLocation, CacheOptions } from './cache-options.ts';
import { buildahCacheKey, goTimeString, type BuildahChain } from './buildah-key.ts';
import { MAX_DOCUMENT_BYTES } from '../../oci/document-size.ts';
import { MediaType } from '../../oci/media-types.ts';
import type { History, ImageConfig, Manifest } from '../../oci/types.ts';
import { parseManifest } from '../../oci/validate.ts';
import { decodeEntry, EMPTY_CONFIG, EMPTY_CONFIG_DESC, encodeEntry, entryTag } from './cache-entry.ts';
import { openCacheRepo, type CacheRepo } from './cache-repo.ts';
import type { CachedLayer, CacheEntry } from './cache-store.ts';

/** An entry found remotely: what it says, and where its layer can be fetched. */
export interface RemoteHit {
  key: Digest;
  entry: CacheEntry;
  source: CacheRepo;
}

/** The `--cache-from` side of a build. Lookups of one key are memoised; a key found bad stays ignored. */
export class RemoteCache {
  readonly #sources: CacheRepo[];
  readonly #ttlMs: number | undefined;
  readonly #warn: (m: string) => void;
  readonly #memo = new Map<Digest, Promise<RemoteHit | undefined>>();
  readonly #bad = new Set<Digest>();
  readonly #down = new Set<CacheRepo>();
  /** layers downloaded from a cache repository in this process */
  fetched = 0;

  constructor(sources: CacheRepo[], o: { ttlMs?: number; warn: (m: string) => void }) {
    this.#sources = sources;
    this.#ttlMs = o.ttlMs;
    this.#warn = o.warn;
  }

  /** Where entries are looked up, in order. */
  get sources(): readonly CacheRepo[] {
    return this.#sources;
  }

  /** True when there is somewhere to look. */
  get enabled(): boolean {
    return this.#sources.length > 0;
  }

  /** The first valid entry for `key` among the sources, or undefined. An unreachable source is warned about once and skipped. */
  lookup(key: Digest, o: Cancellable = {}): Promise<RemoteHit | undefined> {
    if (this.#bad.has(key)) return Promise.resolve(undefined);
    let p = this.#memo.get(key);
    if (p === undefined) {
      p = this.#lookup(key, o);
      this.#memo.set(key, p);
    }
    return p;
  }

  async #lookup(key: Digest, o: Cancellable): Promise<RemoteHit | undefined> {
    for (const source of this.#sources) {
      if (this.#down.has(source)) continue;
      let got;
      try {
        got = await source.getManifest(entryTag(key), o);
      } catch (e) {
        if (o.signal?.aborted) throw e;
        this.#down.add(source);
        this.#warn(`cache source ${source.name} not used: ${e instanceof Error ? e.message : String(e)}`);
        continue;
      }
      if (got === undefined) continue;
      const d = decodeEntry(key, got.bytes);
      if (!d.ok) {
        this.#warn(`cache entry ${source.name}:${entryTag(key).slice(0, 12)} ignored: ${d.reason}`);
        continue;
      }
      if (this.#ttlMs !== undefined && Date.now() - Date.parse(d.entry.created) > this.#ttlMs) continue;
      return { key, entry: d.entry, source };
    }
    return undefined;
  }

  /**
   * buildah's entry (`REPO:<buildahKey>`, an intermediate image) for a step over `chain` with `createdBy`,
   * accepted only when it continues exactly that chain: its config's diff_ids and history are the chain's plus
   * this one step (a layer when `addsLayer`, else an empty-layer entry with this created_by). Returns it as a hit
   * under skiff's `key` (its layer fetched and verified like any other when needed) and the chain it ends; an
   * entry that does not fit is ignored with a warning.
   */
  async lookupBuildah(key: Digest, chain: BuildahChain, addsLayer: boolean, createdBy: string, o: Cancellable = {}): Promise<{ hit: RemoteHit; chain: BuildahChain } | undefined> {
    if (this.#bad.has(key)) return undefined;
    const bkey = buildahCacheKey(chain, addsLayer, createdBy);
    if (bkey === undefined) return undefined;
    for (const source of this.#sources) {
      if (this.#down.has(source)) continue;
      let got;
      let config: ImageConfig;
      let man: Manifest;
      try {
        got = await source.getManifest(bkey, o);
        if (got === undefined) continue;
        man = parseManifest(got.bytes).manifest;
        if (man.config.size > MAX_DOCUMENT_BYTES) throw new Error('its config is too large');
        config = JSON.parse(Buffer.concat(await (await source.getBlob(man.config, o)).toArray()).toString('utf8')) as ImageConfig;
      } catch (e) {
        if (o.signal?.aborted) throw e;
        this.#warn(`buildah cache entry ${source.name}:${bkey.slice(0, 12)} ignored: ${e instanceof Error ? e.message : String(e)}`);
        continue;
      }
      const why = continuesChain(chain, addsLayer, createdBy, man, config);
      if (why !== undefined) {
        this.#warn(`buildah cache entry ${source.name}:${bkey.slice(0, 12)} ignored: ${why}`);
        continue;
      }
      const last = config.history!.at(-1)!;
      const l = man.layers.at(-1);
      const created = last.created ?? new Date(0).toISOString();
      if (this.#ttlMs !== undefined && Date.now() - Date.parse(created) > this.#ttlMs) continue;
      const entry: CacheEntry = { created, ...(addsLayer && l && { layer: { mediaType: l.mediaType, digest: l.digest, size: l.size, diffId: config.rootfs.diff_ids.at(-1)! } }) };
      return { hit: { key, entry, source }, chain: { diffIds: config.rootfs.diff_ids, history: config.history!, manifestType: man.mediaType ?? MediaType.OciManifest } };
    }
    return undefined;
  }

  /**
   * Downloads the hit's layer into `store`: the store verifies digest and size as it writes, the diffID is hashed
   * from the same bytes. On any mismatch the entry's key is ignored from then on and a warning names it; returns
   * false then (the blob, if stored, is unreferenced and left to gc).
   */
  async fetchLayer(hit: RemoteHit, store: Store, o: Cancellable = {}): Promise<boolean> {
    const layer = hit.entry.layer as CachedLayer;
    try {
      await downloadVerified(hit.source, layer, store, o);
      this.fetched++;
      return true;
    } catch (e) {
      if (o.signal?.aborted) throw e;
      this.#bad.add(hit.key);
      this.#memo.delete(hit.key);
      this.#warn(`cache entry ${hit.source.name}:${entryTag(hit.key).slice(0, 12)} ignored: its layer ${layer.digest} does not verify (${e instanceof Error ? e.message : String(e)}); building the step`);
      return false;
    }
  }
}

const sameHistory = (a: History, b: History): boolean =>
  goTimeString(a.created) === goTimeString(b.created) && a.created_by === b.created_by && a.author === b.author && a.comment === b.comment && (a.empty_layer === true) === (b.empty_layer === true);

/** Why buildah's intermediate image `man`/`config` is not `chain` plus one step, or undefined when it is. Pure. */
function continuesChain(chain: BuildahChain, addsLayer: boolean, createdBy: string, man: Manifest, config: ImageConfig): string | undefined {
  const ids = config.rootfs?.diff_ids;
  const hist = config.history;
  if (!Array.isArray(ids) || !Array.isArray(hist) || ids.length !== man.layers.length) return 'its config does not match its manifest';
  if (ids.length !== chain.diffIds.length + (addsLayer ? 1 : 0) || chain.diffIds.some((d, i) => ids[i] !== d) || (addsLayer && !isDigest(ids.at(-1)))) return 'its layers are not this build’s';
  if (hist.length !== chain.history.length + 1 || chain.history.some((h, i) => !sameHistory(h, hist[i]!))) return 'its history is not this build’s';
  const last = hist.at(-1)!;
  if (last.created_by !== createdBy || (last.empty_layer === true) === addsLayer) return 'its last step is not this one';
  if (last.created !== undefined && Number.isNaN(Date.parse(last.created))) return 'its created time is malformed';
  return undefined;
}

/**
 * Downloads `layer` from `source` into `store`: the store verifies digest and size as it writes, the diffID is
 * hashed from the same bytes; rejects (EINTEGRITY …) on any mismatch, with nothing named in the store.
 */
export async function downloadVerified(source: CacheRepo, layer: CachedLayer, store: Store, o: Cancellable): Promise<void> {
  const body = await source.getBlob(layer, { ...o, sinkVerifies: true });
  const toStore = new PassThrough();
  const toHash = new PassThrough();
  body.on('error', (e) => {
    toStore.destroy(e);
    toHash.destroy(e);
  });
  body.pipe(toStore);
  body.pipe(toHash);
  const check = (async () => {
    const { stream } = await decompressWithDiffID(toHash, { expectDiffID: layer.diffId, ...o });
    for await (const _ of stream as AsyncIterable<Buffer>) {
      /* hashing */
    }
  })().catch((e: unknown) => {
    body.destroy(e as Error);
    throw e;
  });
  await Promise.all([store.putBlob(toStore, { digest: layer.digest, size: layer.size }, o), check]);
}

/** Opens the `--cache-from` side; `inlineRepos` are the registry repositories of the build's docker:// -t names. */
export async function openRemoteCache(opts: CacheOptions, registry: RegistryOptions, warn: (m: string) => void): Promise<RemoteCache> {
  const sources: CacheRepo[] = [];
  for (const loc of opts.from) if (loc.type !== 'inline') sources.push(await openCacheRepo(loc, registry));
  // the connection is made while the Dockerfile is parsed and the context hashed, not at the first lookup
  for (const s of sources) s.warm();
  return new RemoteCache(sources, { ...(opts.ttlMs !== undefined && { ttlMs: opts.ttlMs }), warn });
}

/** One step to export: its key, its entry, and the stage it belongs to. */
export interface ExportStep {
  key: Digest;
  entry: CacheEntry;
  stage: number;
}

/**
 * Writes `steps` to the cache repository at `loc`: the shared empty config, each step's layer (read verified
 * from the store, sent only when the repository lacks it), then each entry's manifest (only when the tag does not
 * already name the same bytes). Entries are written after their layers, so a reader never sees an entry whose
 * layer is not there yet. At most 4 steps in flight.
 */
export async function exportCache(loc: Exclude<CacheLocation, { type: 'inline' }>, steps: readonly ExportStep[], store: Store, registry: RegistryOptions, o: Cancellable = {}): Promise<void> {
  const repo = await openCacheRepo(loc, registry);
  await repo.putBlob(EMPTY_CONFIG_DESC, async () => EMPTY_CONFIG, o);
  const queue = [...new Map(steps.map((s) => [s.key, s])).values()];
  const worker = async (): Promise<void> => {
    for (let s = queue.shift(); s !== undefined; s = queue.shift()) {
      const l = s.entry.layer;
      if (l) {
        try {
          await repo.putBlob(l, (): Promise<Readable> => store.blobs.open(l, o), o);
        } catch (e) {
          // a remote hit this build never fetched, going to another repository: nothing to send, so no entry
          if (isSkiffError(e, 'ENOTFOUND') && !(await store.blobs.has(l.digest, l.size))) continue;
          throw e;
        }
      }
      await repo.putManifest(entryTag(s.key), encodeEntry(s.key, s.entry), o);
    }
  };
  await Promise.all(Array.from({ length: Math.min(4, queue.length) }, worker));
  await repo.flush(o);
}
