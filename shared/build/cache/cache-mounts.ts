/**
 * `RUN --mount=type=cache` contents travelling with the remote cache (`--cache-mounts`, off by default): after a
 * build, each cache mount the build used is exported as one gzip tar layer, tagged `mount-<sha256 of its id>` in
 * each `--cache-to` repository (last writer wins: cache mounts are mutable by design); a build that creates a
 * cache mount directory (none in its store yet) first fills it from the first `--cache-from` that has it. The
 * layer is verified like any cached layer (digest as stored, diffID as it streams) and applied confined to the
 * directory; an entry that does not verify is ignored with a warning and the mount starts empty. Contents never
 * enter a step's cache key, so importing them changes no key.
 */
import { createHash } from 'node:crypto';
import { decompress } from '../../layer/compression.ts';
import { applyLayer } from '../../layer/apply.ts';
import { packTree } from '../../layer/tar-write.ts';
import { isDigest } from '../../oci/digest.ts';
import { MediaType } from '../../oci/media-types.ts';
import type { Cancellable } from '../../errors.ts';
import type { RegistryOptions } from '../../registry/types.ts';
import type { Store } from '../../store/store.ts';
import { storeTarLayer } from '../executor/layers.ts';
import type { CacheLocation } from './cache-options.ts';
import { EMPTY_CONFIG, EMPTY_CONFIG_DESC } from './cache-entry.ts';
import { openCacheRepo, type CacheRepo } from './cache-repo.ts';
import { downloadVerified } from './remote-cache.ts';
import type { CachedLayer } from './cache-store.ts';

const ARTIFACT = 'application/vnd.skiff.build-cache.mount.v1';
const A_ID = 'dev.skiff.cache.mount-id';
const A_DIFF_ID = 'dev.skiff.cache.diff-id';

/** The tag the contents of cache mount `id` are stored under. */
export function mountTag(id: string): string {
  return `mount-${createHash('sha256').update(id).digest('hex')}`;
}

/** Fills the empty directory `dir` of cache mount `id` from the first source that has it; false when none did. */
export async function importMount(sources: readonly CacheRepo[], id: string, dir: string, store: Store, warn: (m: string) => void, o: Cancellable = {}): Promise<boolean> {
  for (const source of sources) {
    let layer: CachedLayer | undefined;
    try {
      const got = await source.getManifest(mountTag(id), o);
      if (got === undefined) continue;
      const m = JSON.parse(new TextDecoder().decode(got.bytes)) as { artifactType?: string; layers?: { mediaType: string; digest: string; size: number }[]; annotations?: Record<string, string> };
      const l = m.layers?.[0];
      const diffId = m.annotations?.[A_DIFF_ID];
      if (m.artifactType !== ARTIFACT || m.annotations?.[A_ID] !== id || m.layers?.length !== 1 || !l || !isDigest(l.digest) || !Number.isSafeInteger(l.size) || !isDigest(diffId)) throw new Error('not a cache-mount entry for this id');
      layer = { mediaType: l.mediaType, digest: l.digest, size: l.size, diffId };
      await downloadVerified(source, layer, store, o);
      const { stream } = await decompress(await store.blobs.open(layer, o), o);
      await applyLayer(dir, stream, { mode: 'merged', ...o });
      return true;
    } catch (e) {
      if (o.signal?.aborted) throw e;
      warn(`cache mount ${JSON.stringify(id)} from ${source.name} ignored: ${e instanceof Error ? e.message : String(e)}; it starts empty`);
    }
  }
  return false;
}

/** Exports the directories of the cache mounts `ids` (id → directory) to the repository at `loc`. */
export async function exportMounts(loc: Exclude<CacheLocation, { type: 'inline' }>, dirs: ReadonlyMap<string, string>, store: Store, registry: RegistryOptions, o: Cancellable = {}): Promise<void> {
  const repo = await openCacheRepo(loc, registry);
  await repo.putBlob(EMPTY_CONFIG_DESC, async () => EMPTY_CONFIG, o);
  for (const [id, dir] of dirs) {
    const layer = await storeTarLayer(store, packTree(dir, o), o);
    await repo.putBlob(layer.descriptor, () => store.blobs.open(layer.descriptor, o), o);
    const manifest = {
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      artifactType: ARTIFACT,
      config: EMPTY_CONFIG_DESC,
      layers: [layer.descriptor],
      annotations: { [A_ID]: id, [A_DIFF_ID]: layer.diffId },
    };
    await repo.putManifest(mountTag(id), new TextEncoder().encode(JSON.stringify(manifest)), o);
  }
  await repo.flush(o);
}
