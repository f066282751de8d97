/**
 * `build-tool prune`: removes the build cache (step results, cache mounts, the file-digest memo), dangling images
 * and, through the store's gc, every blob nothing references; also reclaims the state of killed builds.
 */
import type { Command } from 'commander';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { addRootOption, storeRootOf } from '../shared/cli/program.ts';
import { Annotation } from '../shared/oci/media-types.ts';
import { openStore } from '../shared/store/store.ts';
import { BuildCache } from '../shared/build/cache/cache-store.ts';
import { reclaimBuilds } from '../shared/build/executor/build-dir.ts';
import { buildRunc } from '../shared/build/executor/build.ts';
import { workingImageIds } from '../shared/build/working/containers.ts';

/** Prunes the store at `root`; returns counts. */
export async function pruneStore(root: string, o: { runcRoot?: string } = {}): Promise<{ cacheEntries: number; images: number; blobs: number }> {
  const store = await openStore(root, { write: true });
  try {
    await reclaimBuilds(store.paths.root, await buildRunc(o));
    const cacheEntries = await new BuildCache(store.paths.cache).clear();
    await rm(join(store.paths.cache, 'mounts'), { recursive: true, force: true });
    await rm(join(store.paths.cache, 'file-digests'), { recursive: true, force: true });
    await rm(join(store.paths.cache, 'file-digests.json'), { force: true }); // the memo's earlier, store-wide form
    let images = 0;
    const held = await workingImageIds(store.paths.root); // a working container's uncommitted image is not dangling
    for (const e of await store.layout.entries()) {
      if (e.annotations?.[Annotation.RefName] !== undefined) continue;
      if (held.has(((await store.layout.configDigest(e)) ?? e.digest).replace(/^sha256:/u, ''))) continue;
      images += await store.layout.remove(e.digest);
    }
    const g = await store.gc();
    return { cacheEntries, images, blobs: g.removed.length };
  } finally {
    await store.close();
  }
}

/** Adds `prune`. */
export function addPruneCommand(program: Command): void {
  const cmd = program.command('prune').description('remove the build cache, dangling images and unreferenced blobs').option('-a, --all', 'accepted for buildah compatibility');
  addRootOption(cmd).action(async () => {
    const r = await pruneStore(storeRootOf(cmd));
    process.stderr.write(`removed ${r.cacheEntries} cache entries, ${r.images} dangling images\n`);
  });
}
