// podman's `network connect` / `disconnect` (and Docker's POST /networks/{id}/connect|disconnect): the container's
// record gains or loses the network (with its aliases and fixed address) so every later start joins it, and a
// running container gets or loses the interface at once (shared/network/connect.ts) and its /etc/hosts line for that
// address, as podman 4.3 (other containers' /etc/hosts stay as they are: they resolve it through DNS). Both under the
// container lock.
import { SkiffError } from '../../shared/errors.ts';
import { connectNetworkLive, disconnectNetworkLive } from '../../shared/network/connect.ts';
import { getNetwork } from '../../shared/network/network-config.ts';
import type { NetworkState } from '../../shared/network/types.ts';
import type { Store } from '../../shared/store/store.ts';
import { updateHostsEntries, type NetworkChoice } from '../containers/net-wiring.ts';
import { networkStateOf } from '../containers/start-container.ts';
import { containerPaths, loadById, loadContainer, lockContainer, saveRecord, saveState, type LoadedContainer } from '../containers/state.ts';

/** Options of connectContainerNetwork (podman's --alias and --ip). */
export interface ConnectOptions {
  aliases?: string[];
  ip?: string;
}

const isUp = (c: LoadedContainer): boolean => c.state.status === 'running' || c.state.status === 'stopping';

async function underLock<T>(store: Store, nameOrId: string, fn: (c: LoadedContainer, choice: NetworkChoice) => Promise<T>): Promise<T> {
  const root = store.paths.root;
  const { id } = (await loadContainer(root, nameOrId)).record;
  const lock = await lockContainer(root, id);
  try {
    const c = await loadById(root, id);
    if (!c) throw new SkiffError('ENOTFOUND', `no container with name or ID "${nameOrId}" found: no such container`);
    const choice = c.record.network as NetworkChoice | undefined;
    if (choice?.mode !== 'bridge') throw new SkiffError('EINVALID', `container ${c.record.name} uses network mode ${choice?.mode ?? c.record.hostConfig.networkMode}: only a container on bridge networks can be connected to or disconnected from one`);
    return await fn(c, choice);
  } finally {
    await lock.release();
  }
}

/**
 * Connects container `nameOrId` to network `network`. EEXIST when it is connected already, ENOTFOUND for a
 * missing container or network, EINVALID for a container not in bridge mode or an address outside the subnet.
 */
export async function connectContainerNetwork(store: Store, nameOrId: string, network: string, o: ConnectOptions = {}): Promise<void> {
  const root = store.paths.root;
  const cfg = await getNetwork(root, network);
  await underLock(store, nameOrId, async (c, choice) => {
    const nets = choice.networks ?? ['podman'];
    if (nets.includes(cfg.name)) throw new SkiffError('EEXIST', `container ${c.record.id} is already connected to network "${cfg.name}"`);
    const net = isUp(c) ? networkStateOf(c.state) : undefined;
    let joined;
    if (net) joined = await connectNetworkLive(c.record.id, cfg.name, { root, ...(o.aliases && { aliases: o.aliases }), ...(o.ip && { ip: o.ip }) });
    const next: NetworkChoice = {
      ...choice, networks: [...nets, cfg.name],
      ...(o.aliases?.length && { aliases: { ...choice.aliases, [cfg.name]: o.aliases } }),
      ...(o.ip && { ips: { ...choice.ips, [cfg.name]: o.ip } }),
    };
    await saveRecord(root, { ...c.record, network: next });
    if (net && joined) {
      await updateHostsEntries(containerPaths(root, c.record.id).userdata, c.record, { add: joined.ips });
      const state: NetworkState = { ...net, ips: [...net.ips, ...joined.ips], networks: [...net.networks, joined], netavarkNetworks: [...(net.netavarkNetworks ?? []), cfg.name] };
      await saveState(root, c.record.id, { ...c.state, network: state } as typeof c.state);
    }
  });
}

/**
 * Disconnects container `nameOrId` from network `network`. EINVALID when it is not connected to it; ENOTFOUND for a
 * missing container. The last network may go, as podman 4.3 allows: the container stays in bridge mode with no
 * network, and its next start gives it a namespace with only lo (until a network is connected again).
 */
export async function disconnectContainerNetwork(store: Store, nameOrId: string, network: string): Promise<void> {
  const root = store.paths.root;
  const name = await getNetwork(root, network).then((n) => n.name, () => network);
  await underLock(store, nameOrId, async (c, choice) => {
    const nets = choice.networks ?? ['podman'];
    if (!nets.includes(name)) throw new SkiffError('EINVALID', `container ${c.record.id} is not connected to network "${network}"`);
    const net = isUp(c) ? networkStateOf(c.state) : undefined;
    if (net) await disconnectNetworkLive(c.record.id, name, { root });
    const drop = <T>(m: Record<string, T> | undefined): Record<string, T> | undefined => (m ? Object.fromEntries(Object.entries(m).filter(([k]) => k !== name)) : undefined);
    const next: NetworkChoice = { ...choice, networks: nets.filter((n) => n !== name) };
    const aliases = drop(choice.aliases);
    const ips = drop(choice.ips);
    if (aliases) next.aliases = aliases;
    else delete next.aliases;
    if (ips) next.ips = ips;
    else delete next.ips;
    await saveRecord(root, { ...c.record, network: next });
    if (net) {
      const gone = net.networks.find((n) => n.name === name);
      await updateHostsEntries(containerPaths(root, c.record.id).userdata, c.record, { remove: gone?.ips ?? [] });
      const state: NetworkState = { ...net, ips: net.ips.filter((ip) => !gone?.ips.includes(ip)), networks: net.networks.filter((n) => n.name !== name), netavarkNetworks: (net.netavarkNetworks ?? []).filter((n) => n !== name) };
      await saveState(root, c.record.id, { ...c.state, network: state } as typeof c.state);
    }
  });
}
