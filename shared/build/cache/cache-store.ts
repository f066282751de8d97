/**
 * The build cache: step key → result, one small JSON file per key under `<root>/cache/build/<hex>.json`, written
 * atomically (temp + rename). An entry records the layer a RUN/COPY/ADD produced (or that it produced none) and the
 * history time, so a fully cached rebuild yields the same image ID. Entries are hints: a hit whose layer blob is
 * gone from the store is treated as a miss by the executor.
 */
import { readFileSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { mkdir } from 'node:fs/promises';
import { digestHex, isDigest, type Digest } from '../../oci/digest.ts';
import { writeFileAtomic } from '../../store/atomic.ts';

/** A cached layer: its manifest descriptor fields and diffID. */
export interface CachedLayer {
  mediaType: string;
  digest: Digest;
  size: number;
  diffId: Digest;
}

/** One cache entry. */
export interface CacheEntry {
  created: string;
  layer?: CachedLayer;
}

/** The key → result map of one store. */
export class BuildCache {
  readonly dir: string;
  constructor(cacheRoot: string) {
    this.dir = join(cacheRoot, 'build');
  }

  #path(key: Digest): string {
    return join(this.dir, `${digestHex(key)}.json`);
  }

  /**
   * The entry for `key`, or undefined (missing or malformed). Read with one synchronous call: an entry is a few
   * hundred bytes, and readFile's four thread-pool round trips per step were most of a cached step's time.
   */
  async get(key: Digest): Promise<CacheEntry | undefined> {
    try {
      const e = JSON.parse(readFileSync(this.#path(key), 'utf8')) as CacheEntry;
      if (typeof e.created !== 'string') return undefined;
      if (e.layer !== undefined && (!isDigest(e.layer.digest) || !isDigest(e.layer.diffId) || !Number.isSafeInteger(e.layer.size))) return undefined;
      return e;
    } catch {
      return undefined;
    }
  }

  /** Records `entry` for `key` (atomic; last writer wins). */
  async put(key: Digest, entry: CacheEntry): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    await writeFileAtomic(this.#path(key), JSON.stringify(entry), 0o600);
  }

  /** Removes the entry for `key` (idempotent). */
  async delete(key: Digest): Promise<void> {
    await rm(this.#path(key), { force: true });
  }

  /** Removes every entry; returns how many there were. */
  async clear(): Promise<number> {
    const names = await readdir(this.dir).catch(() => [] as string[]);
    await rm(this.dir, { recursive: true, force: true });
    return names.filter((n) => n.endsWith('.json')).length;
  }
}
