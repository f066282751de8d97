import { SkiffError, isSkiffError, type Cancellable } from '../../shared/errors.ts';
import { DEFAULT_NETWORK, listNetworks, removeNetwork } from '../../shared/network/network-config.ts';
import { listContainers } from '../containers/state.ts';
import { networkMatches } from './networks.ts';

/** The bridge networks container records name (NetworkChoice.networks), whatever the containers' state. */
async function networksInUse(root: string): Promise<Set<string>> {
  const used = new Set<string>();
  for (const c of await listContainers(root)) {
    const nets = (c.record.network as { networks?: unknown } | undefined)?.networks;
    if (Array.isArray(nets)) for (const n of nets) if (typeof n === 'string') used.add(n);
  }
  return used;
}

/**
 * Removes every network no container (running or not) uses, except the default one, as podman's `network prune`
 * does; `filters` are `label=KEY[=VALUE]` / `label!=KEY[=VALUE]` (others EINVALID, before anything is removed).
 * A network that a container joined meanwhile is kept (removeNetwork rechecks its attachments under the network
 * lock). Returns the names removed, in name order.
 */
export async function pruneNetworks(root: string, filters: readonly string[] = [], o: Cancellable = {}): Promise<string[]> {
  const want: string[] = [];
  const unwanted: string[] = [];
  for (const f of filters) {
    if (f.startsWith('label=')) want.push(f);
    else if (f.startsWith('label!=')) unwanted.push(`label=${f.slice('label!='.length)}`);
    else throw new SkiffError('EINVALID', `invalid filter ${JSON.stringify(f)}: network prune supports label= and label!=`);
  }
  const used = await networksInUse(root);
  const removed: string[] = [];
  for (const n of (await listNetworks(root, o)).sort((a, b) => a.name.localeCompare(b.name))) {
    if (n.name === DEFAULT_NETWORK || used.has(n.name)) continue;
    if (!networkMatches(n, want) || unwanted.some((f) => networkMatches(n, [f]))) continue;
    try {
      await removeNetwork(root, n.name, { signal: o.signal });
      removed.push(n.name);
    } catch (e) {
      if (isSkiffError(e, 'EEXIST') || isSkiffError(e, 'ENOTFOUND')) continue;
      throw e;
    }
  }
  return removed;
}
