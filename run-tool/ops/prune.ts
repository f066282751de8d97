// The per-kind prunes (Docker's POST /containers|images|networks/prune, and the steps of `system prune`): each
// removes what nothing uses and that passes the filters (`label=K[=V]`, `label!=K[=V]`, `until=TIME`), item by item,
// so a failure leaves what was removed removed.
import { isSkiffError, SkiffError } from '../../shared/errors.ts';
import { Annotation } from '../../shared/oci/media-types.ts';
import { attachmentsOf, DEFAULT_NETWORK, listNetworks, networkPaths, removeNetwork } from '../../shared/network/network-config.ts';
import { listImages } from '../../shared/store/list-images.ts';
import type { Store } from '../../shared/store/store.ts';
import { listReconciled } from '../containers/cleanup-container.ts';
import { removeContainer } from '../containers/stop-container.ts';
import { listContainers } from '../containers/state.ts';
import { recordImageEvent } from '../containers/record-event.ts';
import { parseInputTime } from '../../shared/time/input-time.ts';

/** Parsed prune filters: every label test must hold, and the item must be created before `until` (ms). */
export interface PruneFilters {
  labels: { key: string; value?: string; negate: boolean }[];
  until?: number;
  /** images only: false = every unused image, not only dangling ones (Docker's `dangling=false`) */
  dangling?: boolean;
}

/** `KEY=VALUE` filter strings (label, label!, until, dangling) as PruneFilters; EINVALID for any other key. Pure but for the clock. */
export function parsePruneFilters(filters: readonly string[], o: { dangling?: boolean } = {}): PruneFilters {
  const out: PruneFilters = { labels: [] };
  for (const f of filters) {
    const m = /^(label!?|until|dangling)=(.*)$/s.exec(f);
    if (!m) throw new SkiffError('EINVALID', `invalid prune filter ${JSON.stringify(f)}: use label=KEY[=VALUE], label!=KEY[=VALUE] or until=TIME${o.dangling ? ' or dangling=BOOL' : ''}`);
    const [, k, v] = m as unknown as [string, string, string];
    if (k === 'until') out.until = parseInputTime(v, 'until filter');
    else if (k === 'dangling') {
      if (!o.dangling) throw new SkiffError('EINVALID', `invalid prune filter ${JSON.stringify(f)}: dangling applies to images only`);
      if (!/^(true|false|1|0)$/i.test(v)) throw new SkiffError('EINVALID', `invalid dangling filter ${JSON.stringify(v)}: use true or false`);
      out.dangling = /^(true|1)$/i.test(v);
    } else {
      const i = v.indexOf('=');
      out.labels.push({ key: i < 0 ? v : v.slice(0, i), ...(i >= 0 && { value: v.slice(i + 1) }), negate: k === 'label!' });
    }
  }
  return out;
}

/** Whether an item with `labels` created at `created` (ms) passes `f`. Pure. */
export function passesPruneFilters(f: PruneFilters, labels: Record<string, string> | undefined, created: number): boolean {
  if (f.until !== undefined && !(created < f.until)) return false;
  return f.labels.every((l) => {
    const has = labels?.[l.key] !== undefined && (l.value === undefined || labels[l.key] === l.value);
    return l.negate ? !has : has;
  });
}

/**
 * Removes every container that is not running (reconciled first, so one whose monitor died counts as stopped)
 * and passes `f`, newest first (a container sharing another's namespaces goes before it); a pod's infra
 * container is left to its pod. Returns the removed IDs.
 */
export async function pruneContainers(store: Store, f: PruneFilters = { labels: [] }, o: { onWarning?: (message: string) => void } = {}): Promise<string[]> {
  const removed: string[] = [];
  for (const c of (await listReconciled(store, { onWarning: o.onWarning })).reverse()) {
    if (c.state.status === 'running' || c.state.status === 'stopping' || (c.record.isInfra && c.record.pod)) continue;
    if (!passesPruneFilters(f, c.record.config.labels, Date.parse(c.record.created))) continue;
    await removeContainer(store, c.record.id, { force: true, onWarning: o.onWarning });
    removed.push(c.record.id);
  }
  return removed;
}

/**
 * Removes from the store's index the images no container uses that pass `f`: dangling ones, or with `all` (or
 * `dangling=false`) every one. Only index entries go; blobs follow in gc. Returns the removed image IDs
 * (hex) and the names untagged; records an untag and a remove event for each.
 */
export async function pruneImages(store: Store, f: PruneFilters = { labels: [] }, o: { all?: boolean; signal?: AbortSignal } = {}): Promise<{ deleted: string[]; untagged: string[] }> {
  const so = { signal: o.signal };
  const all = o.all === true || f.dangling === false;
  const used = new Set<string>();
  for (const c of await listContainers(store.paths.root)) used.add(c.record.image.id.replace(/^sha256:/, ''));
  // a working container's image (build-tool from/run/commit) is in use too
  for (const id of await (await import('../../shared/build/working/containers.ts')).workingImageIds(store.paths.root)) used.add(id);
  const doomed = new Set<string>();
  for (const img of await listImages(store.layout, so)) {
    if (used.has(img.id.replace(/^sha256:/, ''))) continue;
    if (!(img.dangling || all)) continue;
    if (!passesPruneFilters(f, img.labels, img.created?.getTime() ?? 0)) continue;
    doomed.add(img.id);
  }
  const untagged: [string, string][] = [];
  if (doomed.size > 0) {
    const entries = await store.layout.entries(so);
    const drop = new Set<string>();
    for (const e of entries) {
      const id = (await store.layout.imageId(e, so)) ?? e.digest;
      const name = e.annotations?.[Annotation.RefName];
      if (doomed.has(id) && (all || name === undefined)) {
        drop.add(e.digest);
        if (name !== undefined) untagged.push([name, id]);
      }
    }
    await store.layout.update((es) => es.filter((e) => !drop.has(e.digest)), so);
  }
  const deleted = [...doomed].map((d) => d.replace(/^sha256:/, ''));
  for (const [n, id] of untagged) recordImageEvent(store.paths.root, 'untag', n, id);
  for (const id of deleted) recordImageEvent(store.paths.root, 'remove', id, id);
  return { deleted, untagged: untagged.map(([n]) => n) };
}

/**
 * Removes every network but the default one that no container (running or not) uses and passes `f`, as podman's
 * `network prune` and Docker's `/networks/prune`; a network a container joined meanwhile is kept (removeNetwork
 * rechecks its attachments under the network lock). Returns the names removed, in name order.
 */
export async function pruneNetworks(root: string, f: PruneFilters = { labels: [] }, o: { signal?: AbortSignal } = {}): Promise<string[]> {
  const removed: string[] = [];
  const p = networkPaths(root);
  // a stopped container's networks count as used: its next start joins them
  const used = new Set((await listContainers(root)).flatMap((c) => (c.record.network as { networks?: string[] } | undefined)?.networks ?? []));
  for (const n of (await listNetworks(root, o)).sort((a, b) => a.name.localeCompare(b.name))) {
    if (n.name === DEFAULT_NETWORK || used.has(n.name) || (await attachmentsOf(p, n.name)).length > 0) continue;
    if (!passesPruneFilters(f, n.labels, Date.parse(n.created))) continue;
    try {
      await removeNetwork(root, n.name, o);
      removed.push(n.name);
    } catch (e) {
      if (isSkiffError(e, 'EEXIST') || isSkiffError(e, 'ENOTFOUND')) continue;
      throw e;
    }
  }
  return removed;
}
