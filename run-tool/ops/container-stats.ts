import { SkiffError } from '../../shared/errors.ts';
import { isRootless } from '../../shared/runtime/rootless.ts';
import type { Store } from '../../shared/store/store.ts';
import { cgroupVersion } from '../containers/cgroup-stats.ts';
import { listReconciled, reconcile } from '../containers/cleanup-container.ts';
import { sampleContainer, type ContainerStats } from '../containers/container-stats.ts';
import { exitError } from '../containers/exit-status.ts';
import { loadContainer, type LoadedContainer } from '../containers/state.ts';

// The resource usage operation (podman's `stats`): one round of data points read from the containers' cgroups.
// Streaming rounds on a timer is the caller's.

const isRunning = (c: LoadedContainer): boolean => c.state.status === 'running' || c.state.status === 'stopping';

/** Exit status 125 where stats cannot be read: rootless on cgroups v1. */
export function checkStatsSupported(): void {
  if (isRootless() && cgroupVersion() === 1) throw exitError(125, 'stats is not supported in rootless mode without cgroups v2');
}

/**
 * The containers one round reports: the named ones in argument order (any state; a name that does not resolve
 * fails with podman's message, exit status 125), else the latest created (`latest`), else the running ones —
 * all with `all` — in id order as podman lists them.
 */
async function targets(store: Store, names: readonly string[], o: StatsRoundOptions): Promise<LoadedContainer[]> {
  if (names.length > 0) {
    const out: LoadedContainer[] = [];
    for (const n of names) {
      let c: LoadedContainer;
      try {
        c = await loadContainer(store.paths.root, n);
      } catch (e) {
        if (e instanceof SkiffError) throw exitError(125, `unable to get list of containers: unable to look up container ${n}: ${e.message}`);
        throw e;
      }
      out.push(await reconcile(store, c, { onWarning: o.onWarning }));
    }
    return out;
  }
  const list = await listReconciled(store, { onWarning: o.onWarning });
  if (o.latest) return list.slice(-1);
  return list.filter((c) => o.all || isRunning(c)).sort((a, b) => (a.record.id < b.record.id ? -1 : 1));
}

/** statsRound's options. */
export interface StatsRoundOptions {
  /** Every container, not only the running ones (without names). */
  all?: boolean;
  /** Only the container created last (without names). */
  latest?: boolean;
  /** The previous round's samples by container ID (rates are computed against them); this round's replace them. */
  previous?: Map<string, ContainerStats>;
  /** What reconciling a container whose monitor died could not tear down (its network). */
  onWarning?: (message: string) => void;
}

/** One round of data points for containers `names` (or as `o` selects), in targets' order. */
export async function statsRound(store: Store, names: readonly string[], o: StatsRoundOptions = {}): Promise<ContainerStats[]> {
  const round: ContainerStats[] = [];
  for (const c of await targets(store, names, o)) {
    const s = await sampleContainer(c, o.previous?.get(c.record.id));
    o.previous?.set(c.record.id, s);
    round.push(s);
  }
  return round;
}
