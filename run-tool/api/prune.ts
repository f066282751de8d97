// The Docker API's prune endpoints over run-tool/ops/prune.ts and the volume prune, with Docker's filters (label,
// label!, until; dangling for images) and response fields.
import { collectStoreGarbage } from '../ops/image-gc.ts';
import { parsePruneFilters, pruneContainers, pruneImages, pruneNetworks } from '../ops/prune.ts';
import { withApiStore, type ApiRequest } from './context.ts';
import { dockerFilters, sendJson } from './http-util.ts';

/** POST /containers/prune?filters= → ContainersDeleted, SpaceReclaimed. */
export async function containerPruneHandler(r: ApiRequest): Promise<void> {
  const f = parsePruneFilters(dockerFilters(r.query));
  const deleted = await withApiStore(r.root, (store) => pruneContainers(store, f));
  const gc = await collectStoreGarbage(r.root, { signal: r.signal });
  sendJson(r.res, 200, { ContainersDeleted: deleted.length ? deleted : null, SpaceReclaimed: gc?.blobs.bytesFreed ?? 0 });
}

/** POST /images/prune?filters= (dangling=false: every unused image) → ImagesDeleted, SpaceReclaimed. */
export async function imagePruneHandler(r: ApiRequest): Promise<void> {
  const f = parsePruneFilters(dockerFilters(r.query), { dangling: true });
  const { deleted, untagged } = await withApiStore(r.root, (store) => pruneImages(store, f, { signal: r.signal }));
  const gc = await collectStoreGarbage(r.root, { signal: r.signal });
  const list = [...untagged.map((u) => ({ Untagged: u })), ...deleted.map((d) => ({ Deleted: `sha256:${d}` }))];
  sendJson(r.res, 200, { ImagesDeleted: list.length ? list : null, SpaceReclaimed: gc?.blobs.bytesFreed ?? 0 });
}

/** POST /networks/prune?filters= → NetworksDeleted. */
export async function networkPruneHandler(r: ApiRequest): Promise<void> {
  const deleted = await pruneNetworks(r.root, parsePruneFilters(dockerFilters(r.query)));
  sendJson(r.res, 200, { NetworksDeleted: deleted.length ? deleted : null });
}
