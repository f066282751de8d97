import { SkiffError, isSkiffError } from '../../shared/errors.ts';
import { getNetwork, listNetworks } from '../../shared/network/network-config.ts';
import type { NetworkConfig } from '../../shared/network/types.ts';

// The network operations (podman's `network create|ls|inspect|rm`): create and remove are shared/network's own;
// listing and inspecting several at once live here.
export { createNetwork, removeNetwork } from '../../shared/network/network-config.ts';

/** Applies podman's `network ls --filter` keys we support: name (regex), id (prefix), driver, label. */
export function networkMatches(n: NetworkConfig, filters: readonly string[]): boolean {
  const byKey = new Map<string, string[]>();
  for (const f of filters) {
    const i = f.indexOf('=');
    if (i < 1) throw new SkiffError('EINVALID', `invalid filter ${JSON.stringify(f)}: expected key=value`);
    const k = f.slice(0, i);
    byKey.set(k, [...(byKey.get(k) ?? []), f.slice(i + 1)]);
  }
  for (const [k, vals] of byKey) {
    const ok = vals.some((v) => {
      switch (k) {
        case 'name':
          return new RegExp(v).test(n.name);
        case 'id':
          return n.id.startsWith(v);
        case 'driver':
          return n.driver === v;
        case 'label': {
          const j = v.indexOf('=');
          const lk = j < 0 ? v : v.slice(0, j);
          return n.labels?.[lk] !== undefined && (j < 0 || n.labels[lk] === v.slice(j + 1));
        }
        default:
          throw new SkiffError('EINVALID', `invalid filter ${JSON.stringify(k)}`);
      }
    });
    if (!ok) return false;
  }
  return true;
}

/** The networks matching every `filters` entry (networkMatches' keys). */
export async function listNetworksMatching(root: string, filters: readonly string[] = []): Promise<NetworkConfig[]> {
  return (await listNetworks(root)).filter((n) => networkMatches(n, filters));
}

/**
 * The definitions of networks `names` that exist, in order, and the error for the first that does not (podman's
 * `inspecting object: network NAME: …`); any other failure is thrown.
 */
export async function inspectNetworks(root: string, names: readonly string[]): Promise<{ found: NetworkConfig[]; error?: SkiffError }> {
  const found: NetworkConfig[] = [];
  let error: SkiffError | undefined;
  for (const n of names) {
    try {
      found.push(await getNetwork(root, n));
    } catch (e) {
      if (!isSkiffError(e, 'ENOTFOUND')) throw e;
      error ??= new SkiffError('ENOTFOUND', `inspecting object: network ${n}: ${e.message}`);
    }
  }
  return error === undefined ? { found } : { found, error };
}
