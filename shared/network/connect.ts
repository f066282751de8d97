// Joining a running container to one more bridge network, or taking it off one, live (podman's `network connect`
// and `disconnect` on a running container): `netavark setup`/`teardown` with only that network against the
// container's existing namespace. The attachment record is rewritten first on connect (so a crash leaves
// something detachNetwork tears down) and last on disconnect (so a failed teardown can be retried).
import { join } from 'node:path';
import { SkiffError, type Cancellable } from '../errors.ts';
import { writeFileAtomic } from '../store/atomic.ts';
import { runProgram } from '../process/run.ts';
import { requireProgram } from '../process/system-programs.ts';
import { allocateIp, netavarkArgs, netnsPathOf, readAttachment, releaseIps, type AttachmentRecord } from './attach.ts';
import { releaseHostAddresses } from './host-addresses.ts';
import { getNetwork, networkPaths, withFirewallLock, withNetworkLock } from './network-config.ts';
import type { AttachedNetwork, NetworkConfig } from './types.ts';

type NetEntry = { static_ips: string[]; aliases: string[]; interface_name: string };

async function bridgeAttachment(root: string, containerId: string): Promise<AttachmentRecord & { netavarkOptions: Record<string, unknown> }> {
  const rec = await readAttachment(root, containerId);
  if (!rec || rec.mode !== 'bridge' || !rec.netavarkOptions) throw new SkiffError('EINVALID', `container ${containerId} is not attached to a bridge network: only a container on a bridge network can join another one while it runs`);
  return rec as AttachmentRecord & { netavarkOptions: Record<string, unknown> };
}

function lastLine(s: string): string {
  return s.trim().split('\n').filter(Boolean).pop() ?? 'unknown error';
}

/** The netavark options of `rec` narrowed to network `name` (and no port mappings unless `ports`). Pure. */
function onlyNetwork(rec: { netavarkOptions: Record<string, unknown> }, name: string, ports: boolean): Record<string, unknown> {
  const o = rec.netavarkOptions;
  return {
    ...o,
    ...(!ports && { port_mappings: [] }),
    networks: { [name]: (o.networks as Record<string, unknown>)[name] },
    network_info: { [name]: (o.network_info as Record<string, unknown>)[name] },
  };
}

/**
 * Joins the running container `containerId` (bridge mode, its namespace up) to network `network` on the next free
 * ethN: an IP (`ip`, or the next free one), DNS aliases (the container name and short ID always), then netavark.
 * EEXIST when it is on that network already. On failure nothing stays changed. Returns what inspect shows.
 */
export async function connectNetworkLive(containerId: string, network: string, o: Cancellable & { root: string; aliases?: readonly string[]; ip?: string }): Promise<AttachedNetwork> {
  const so = { signal: o.signal };
  const p = networkPaths(o.root);
  const cfg: NetworkConfig = await getNetwork(o.root, network, so);
  const recFile = join(p.attachments, `${containerId}.json`);
  let entry: NetEntry | undefined;
  let before: AttachmentRecord | undefined;
  let after: AttachmentRecord & { netavarkOptions: Record<string, unknown> } | undefined;
  await withNetworkLock(p, async () => {
    const rec = await bridgeAttachment(o.root, containerId);
    if (rec.networks.includes(cfg.name)) throw new SkiffError('EEXIST', `container ${containerId} is already connected to network "${cfg.name}"`);
    const nets = rec.netavarkOptions.networks as Record<string, NetEntry>;
    const used = new Set(Object.values(nets).map((n) => n.interface_name));
    let i = 0;
    while (used.has(`eth${i}`)) i++;
    const a = await allocateIp(o.root, cfg, containerId, o.ip, o.signal);
    const name = String(rec.netavarkOptions.container_name ?? '');
    entry = { static_ips: [a.ip], aliases: [...new Set([name, containerId.slice(0, 12), ...(o.aliases ?? [])].filter(Boolean))], interface_name: `eth${i}` };
    before = rec;
    after = {
      ...rec,
      networks: [...rec.networks, cfg.name],
      ips: { ...rec.ips, [cfg.name]: [a.ip] },
      netavarkOptions: { ...rec.netavarkOptions, networks: { ...nets, [cfg.name]: entry }, network_info: { ...(rec.netavarkOptions.network_info as object), [cfg.name]: cfg } },
    };
    await writeFileAtomic(recFile, JSON.stringify(after), 0o600);
  }, so);
  const undo = async (): Promise<void> => {
    await withNetworkLock(p, async () => {
      await releaseIps(p, containerId, [cfg.name]);
      await writeFileAtomic(recFile, JSON.stringify(before), 0o600);
    });
    await releaseHostAddresses({ root: o.root, containerId }, { subnets: cfg.subnets.map((s) => s.subnet) });
  };
  const r = await withFirewallLock(() => runProgram(requireProgram('netavark'), netavarkArgs(o.root, 'setup', netnsPathOf(containerId)), { input: JSON.stringify(onlyNetwork(after!, cfg.name, false)), ...so }), so).catch(async (e: unknown) => {
    await undo();
    throw e;
  });
  if (r.code !== 0) {
    await undo();
    throw new SkiffError('EIO', `netavark setup failed: ${lastLine(r.stderr || r.stdout)}`, { details: { stderr: r.stderr } });
  }
  const st = (JSON.parse(r.stdout) as Record<string, { dns_server_ips?: string[]; dns_search_domains?: string[]; interfaces?: Record<string, { mac_address?: string; subnets?: { ipnet: string; gateway?: string }[] }> }>)[cfg.name] ?? {};
  const iface = st.interfaces?.[entry!.interface_name];
  const subnets = iface?.subnets ?? [];
  return {
    name: cfg.name, interfaceName: entry!.interface_name, ips: subnets.map((s) => s.ipnet.split('/')[0]!), cidrs: subnets.map((s) => s.ipnet),
    ...(subnets[0]?.gateway && { gateway: subnets[0].gateway }), ...(iface?.mac_address && { macAddress: iface.mac_address }),
    dnsServers: st.dns_server_ips ?? [], dnsSearchDomains: st.dns_search_domains ?? [],
  };
}

/**
 * Takes the running container `containerId` off network `network` (netavark teardown of that network alone, its IP
 * released). EINVALID when it is not on it. Its last network may go too, as podman 4.3 allows: the container keeps
 * its namespace with only lo (and published ports stop being forwarded).
 */
export async function disconnectNetworkLive(containerId: string, network: string, o: Cancellable & { root: string }): Promise<void> {
  const p = networkPaths(o.root);
  const rec = await bridgeAttachment(o.root, containerId);
  const name = rec.networks.find((n) => n === network) ?? (await getNetwork(o.root, network, o).then((c) => c.name, () => network));
  if (!rec.networks.includes(name)) throw new SkiffError('EINVALID', `container ${containerId} is not connected to network "${network}"`);
  const info = (rec.netavarkOptions.network_info as Record<string, NetworkConfig>)[name];
  const r = await withFirewallLock(() => runProgram(requireProgram('netavark'), netavarkArgs(o.root, 'teardown', netnsPathOf(containerId)), { input: JSON.stringify(onlyNetwork(rec, name, true)) }));
  if (r.code !== 0 && !/no such|not found|does not exist|no chain/i.test(`${r.stderr}\n${r.stdout}`)) throw new SkiffError('EIO', `netavark teardown failed: ${lastLine(r.stderr || r.stdout)}`, { details: { stderr: r.stderr } });
  await withNetworkLock(p, async () => {
    const now = await bridgeAttachment(o.root, containerId);
    const nets = { ...(now.netavarkOptions.networks as Record<string, unknown>) };
    const infos = { ...(now.netavarkOptions.network_info as Record<string, unknown>) };
    delete nets[name];
    delete infos[name];
    const ips = { ...now.ips };
    delete ips[name];
    await releaseIps(p, containerId, [name]);
    await writeFileAtomic(join(p.attachments, `${containerId}.json`), JSON.stringify({ ...now, networks: now.networks.filter((n) => n !== name), ips, netavarkOptions: { ...now.netavarkOptions, networks: nets, network_info: infos } }), 0o600);
  });
  if (info) await releaseHostAddresses({ root: o.root, containerId }, { subnets: info.subnets.map((s) => s.subnet) });
}
