import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { SkiffError, isSkiffError, type Cancellable } from '../errors.ts';
import { writeFileAtomic } from '../store/atomic.ts';
import { cidrContains, intToIp, ipToInt, parseCidr } from './ip.ts';
import { getNetwork, networkPaths, withFirewallLock, withNetworkLock, type NetworkPaths } from './network-config.ts';
import { requireProgram } from '../process/system-programs.ts';
import { runProgram } from '../process/run.ts';
import { allocatePorts } from './publish.ts';
import { leaseHostAddress, releaseHostAddresses } from './host-addresses.ts';
import { attachPasta, detachPasta } from './pasta.ts';
import type { AttachedNetwork, NetworkConfig, NetworkOptions, NetworkPlan, NetworkState, PortMapping } from './types.ts';

const ID_RE = /^[0-9a-f]{64}$/;

function checkId(id: string): string {
  if (!ID_RE.test(id)) throw new SkiffError('EINVALID', `invalid container id ${JSON.stringify(id)}: expected 64 hex digits`);
  return id;
}

/** The named network namespace of a container (rootful bridge), as `ip netns` keeps it. */
export function netnsName(containerId: string): string {
  return `skiff-${checkId(containerId)}`;
}

/** The bind-mounted nsfs file of the container's network namespace. */
export function netnsPathOf(containerId: string): string {
  return `/run/netns/${netnsName(containerId)}`;
}

/**
 * The record written under `<root>/networks/attachments/<id>.json` BEFORE any setup, and removed after teardown:
 * everything teardown needs (netns, the netavark options, the IPs to release) survives a killed CLI.
 */
export interface AttachmentRecord {
  containerId: string;
  mode: NetworkState['mode'];
  networks: string[];
  netnsPath?: string;
  ownsNetns: boolean;
  netavarkOptions?: Record<string, unknown>;
  ips: Record<string, string[]>;
  helperPid?: number;
  /** NetworkPlan.owner: set for attachments that are not run-tool containers (build RUN steps) */
  owner?: string;
}

type IpamFile = { allocations: Record<string, string>; last?: string };

async function readJson<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as T;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** Reads a container's attachment record; undefined when it has none. */
export async function readAttachment(root: string, containerId: string): Promise<AttachmentRecord | undefined> {
  return readJson<AttachmentRecord>(join(networkPaths(root).attachments, `${checkId(containerId)}.json`));
}

/** Every attachment record of the store (unreadable or foreign files skipped). Reads only. */
export async function listAttachments(root: string): Promise<AttachmentRecord[]> {
  const dir = networkPaths(root).attachments;
  const names = await readdir(dir).catch(() => [] as string[]);
  const out: AttachmentRecord[] = [];
  for (const f of names) {
    if (!/^[0-9a-f]{64}\.json$/.test(f)) continue;
    const rec = await readJson<AttachmentRecord>(join(dir, f)).catch(() => undefined);
    if (rec && rec.containerId === f.slice(0, 64)) out.push(rec);
  }
  return out;
}

/**
 * Call under the network lock. host-local style allocation: the next free address after the last one handed out on the host, skipping the
 * network, gateway and broadcast addresses, this store's other containers' and — through the host's registry
 * (host-addresses.ts) — other stores' containers' addresses on the same subnet.
 */
export async function allocateIp(root: string, net: NetworkConfig, containerId: string, wanted?: string, signal?: AbortSignal): Promise<{ ip: string; prefix: number; gateway?: string }> {
  const p = networkPaths(root);
  const file = join(p.ipam, `${net.name}.json`);
  const ipam = (await readJson<IpamFile>(file)) ?? { allocations: {} };
  const sub = net.subnets[0];
  const c = sub && parseCidr(sub.subnet);
  if (!sub || !c) throw new SkiffError('EINVALID', `network ${net.name} has no IPv4 subnet`);
  const gw = sub.gateway;
  const reserved = new Set([c.network, c.network + c.size - 1, ...(gw ? [ipToInt(gw)!] : [])]);
  const ownedHere = (s: string) => ipam.allocations[s] !== undefined && ipam.allocations[s] !== containerId;
  const ip = await leaseHostAddress(sub.subnet, { root, containerId }, (elsewhere, hostLast) => {
    if (wanted) {
      if (!cidrContains(sub.subnet, wanted) || reserved.has(ipToInt(wanted)!)) throw new SkiffError('EINVALID', `requested ip address ${wanted} is not in a usable range of network ${net.name}`);
      if (ownedHere(wanted)) throw new SkiffError('EEXIST', `requested ip address ${wanted} is already allocated to container ID ${ipam.allocations[wanted]}`);
      if (elsewhere.has(wanted)) throw new SkiffError('EEXIST', `requested ip address ${wanted} is already allocated to a container of another store`);
      return wanted;
    }
    const last = [hostLast, ipam.last].find((a) => a !== undefined && cidrContains(sub.subnet, a));
    const start = last ? ipToInt(last)! : c.network;
    for (let i = 1; i <= c.size; i++) {
      const n = c.network + ((start - c.network + i) % c.size);
      const s = intToIp(n);
      if (!reserved.has(n) && !ownedHere(s) && !elsewhere.has(s)) return s;
    }
    throw new SkiffError('ELIMIT', `could not allocate an IP address in network ${net.name}: all addresses are in use`);
  }, { signal });
  if (!wanted) ipam.last = ip;
  ipam.allocations[ip] = containerId;
  await writeFileAtomic(file, JSON.stringify(ipam), 0o600);
  return { ip, prefix: c.prefix, ...(gw && { gateway: gw }) };
}

/** Frees every address `containerId` holds in the IPAM files of `networks`. Call under the network lock. */
export async function releaseIps(p: NetworkPaths, containerId: string, networks: readonly string[]): Promise<void> {
  for (const name of networks) {
    const file = join(p.ipam, `${name}.json`);
    const ipam = await readJson<IpamFile>(file).catch(() => undefined);
    if (!ipam) continue;
    let changed = false;
    for (const [ip, owner] of Object.entries(ipam.allocations)) {
      if (owner === containerId) {
        delete ipam.allocations[ip];
        changed = true;
      }
    }
    if (changed) await writeFileAtomic(file, JSON.stringify(ipam), 0o600);
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

async function createNetns(containerId: string, o: Cancellable): Promise<string> {
  const path = netnsPathOf(containerId);
  if (await exists(path)) return path;
  const r = await runProgram(requireProgram('ip'), ['netns', 'add', netnsName(containerId)], o);
  if (r.code !== 0 && !(await exists(path))) throw new SkiffError('EIO', `cannot create network namespace: ${r.stderr.trim()}`);
  return path;
}

async function deleteNetns(containerId: string): Promise<void> {
  if (!(await exists(netnsPathOf(containerId)))) return;
  const r = await runProgram(requireProgram('ip'), ['netns', 'delete', netnsName(containerId)]);
  if (r.code !== 0 && (await exists(netnsPathOf(containerId)))) throw new SkiffError('EIO', `cannot delete network namespace ${netnsName(containerId)}: ${r.stderr.trim()}`);
}

function portsForNetavark(ports: readonly PortMapping[]): Array<Record<string, unknown>> {
  return ports.map((p) => ({ host_ip: p.hostIp ?? '', container_port: p.containerPort, host_port: p.hostPort, range: p.range ?? 1, protocol: p.protocol }));
}

/** netavark's arguments for `sub` on namespace `netns` with this store's aardvark config. Pure but for the PATH lookup. */
export function netavarkArgs(root: string, sub: 'setup' | 'teardown', netns: string): string[] {
  const args = ['--config', networkPaths(root).aardvark, '--rootless', 'false'];
  try {
    args.push('--aardvark-binary', requireProgram('aardvark-dns'));
  } catch {
    // aardvark-dns only matters for networks with DNS enabled; netavark reports it when needed
  }
  return [...args, sub, netns];
}

interface NetavarkStatus {
  dns_search_domains?: string[];
  dns_server_ips?: string[];
  interfaces?: Record<string, { mac_address?: string; subnets?: Array<{ ipnet: string; gateway?: string }> }>;
}

/**
 * Connects a container to the network its plan asks for and returns what the runtime spec, /etc files and
 * `inspect` need. Modes: 'none' (a fresh empty namespace, made by the runtime: netnsPath undefined), 'host' (no
 * namespace), 'bridge' (rootful: a named netns under /run/netns, host-local IPs from `<root>/networks/ipam`, then
 * `netavark setup` — veth, bridge, NAT and port forwarding, aardvark-dns on DNS-enabled networks), 'pasta'
 * (rootless user-mode networking). Ports are resolved first (hostPort 0 → free port, -P). The attachment record
 * is on disk before any host change, so detachNetwork (even from another process after a crash) undoes a partial
 * setup. Idempotent per container: a leftover attachment is torn down first. On failure everything done is undone.
 */
export async function attachNetwork(containerId: string, plan: NetworkPlan, o: NetworkOptions): Promise<NetworkState> {
  checkId(containerId);
  const so = { signal: o.signal };
  if (plan.mode === 'none' || plan.mode === 'host') {
    // as podman: published ports are discarded with the none and host network modes
    return { mode: plan.mode, ips: [], dnsServers: plan.dns ?? [], dnsSearchDomains: [], ports: [], networks: [], ownsNetns: false };
  }
  if (plan.mode === 'slirp4netns') throw new SkiffError('EUNSUPPORTED', 'slirp4netns networking is not supported', { hint: 'use --network pasta (package passt)' });
  const ports = await allocatePorts(plan.ports, { publishAll: plan.publishAll, exposedPorts: plan.exposedPorts, ...so });
  if (plan.mode === 'pasta') return attachPasta(containerId, plan, ports, o);
  if (o.rootless || process.getuid?.() !== 0) {
    throw new SkiffError('EPERM', 'bridge networking needs root', { hint: 'run as root, or use --network pasta (rootless user-mode networking) or --network none' });
  }
  const p = networkPaths(o.root);
  // an empty list (every network disconnected) still gets its own namespace, with no netavark network in it
  const names = [...new Set(plan.networks ?? ['podman'])];
  const configs: NetworkConfig[] = [];
  for (const n of names) configs.push(await getNetwork(o.root, n, so));
  if (await readAttachment(o.root, containerId)) await detachNetwork(containerId, undefined, o);

  const recFile = join(p.attachments, `${containerId}.json`);
  const netns = netnsPathOf(containerId);
  const name = plan.containerName ?? plan.hostname;
  const options: Record<string, unknown> = {
    container_id: containerId,
    container_name: name,
    port_mappings: portsForNetavark(ports),
    networks: {} as Record<string, unknown>,
    network_info: {} as Record<string, unknown>,
    ...(plan.dns && plan.dns.length > 0 && { dns_servers: plan.dns }),
  };
  const ipsByNet: Record<string, string[]> = {};
  await withNetworkLock(p, async () => {
    for (const [i, cfg] of configs.entries()) {
      const a = await allocateIp(o.root, cfg, containerId, plan.staticIps?.[cfg.name]?.[0], o.signal);
      ipsByNet[cfg.name] = [a.ip];
      const aliases = [...new Set([name, containerId.slice(0, 12), ...(plan.aliases ?? []), ...(plan.networkAliases?.[cfg.name] ?? [])])];
      (options.networks as Record<string, unknown>)[cfg.name] = { static_ips: [a.ip], aliases, interface_name: `eth${i}` };
      (options.network_info as Record<string, unknown>)[cfg.name] = cfg;
    }
    const rec: AttachmentRecord = { containerId, mode: 'bridge', networks: configs.map((c) => c.name), netnsPath: netns, ownsNetns: true, netavarkOptions: options, ips: ipsByNet, ...(plan.owner && { owner: plan.owner }) };
    await writeFileAtomic(recFile, JSON.stringify(rec), 0o600);
  }, so);

  try {
    await createNetns(containerId, so);
    if (configs.length === 0) return { mode: 'bridge', netnsPath: netns, ips: [], dnsServers: plan.dns ?? [], dnsSearchDomains: [], ports: [], networks: [], netavarkNetworks: [], netavarkOptions: options, ownsNetns: true };
    const r = await withFirewallLock(() => runProgram(requireProgram('netavark'), netavarkArgs(o.root, 'setup', netns), { input: JSON.stringify(options), ...so }), so);
    if (r.code !== 0) throw new SkiffError('EIO', `netavark setup failed: ${lastLine(r.stderr || r.stdout)}`, { details: { stderr: r.stderr } });
    const status = JSON.parse(r.stdout) as Record<string, NetavarkStatus>;
    const networks: AttachedNetwork[] = configs.map((cfg, i) => {
      const st = status[cfg.name] ?? {};
      const iface = st.interfaces?.[`eth${i}`];
      const subnets = iface?.subnets ?? [];
      return {
        name: cfg.name,
        interfaceName: `eth${i}`,
        ips: subnets.map((s) => s.ipnet.split('/')[0]!),
        cidrs: subnets.map((s) => s.ipnet),
        ...(subnets[0]?.gateway && { gateway: subnets[0].gateway }),
        ...(iface?.mac_address && { macAddress: iface.mac_address }),
        dnsServers: st.dns_server_ips ?? [],
        dnsSearchDomains: st.dns_search_domains ?? [],
      };
    });
    const uniq = (xs: string[]) => [...new Set(xs)];
    return {
      mode: 'bridge',
      netnsPath: netns,
      ips: networks.flatMap((n) => n.ips),
      ...(networks[0]?.gateway && { gateway: networks[0].gateway }),
      dnsServers: plan.dns && plan.dns.length > 0 ? plan.dns : uniq(networks.flatMap((n) => n.dnsServers)),
      dnsSearchDomains: uniq(networks.flatMap((n) => n.dnsSearchDomains)),
      ports,
      networks,
      netavarkNetworks: configs.map((c) => c.name),
      netavarkOptions: options,
      ownsNetns: true,
    };
  } catch (e) {
    await detachNetwork(containerId, undefined, { ...o, signal: undefined }).catch(() => {});
    throw e;
  }
}

function lastLine(s: string): string {
  const lines = s.trim().split('\n').filter(Boolean);
  return lines[lines.length - 1] ?? 'unknown error';
}

/**
 * Undoes attachNetwork: `netavark teardown` with the options setup got (firewall and port-forwarding rules, veth,
 * the bridge when unused, aardvark entries), removes the netns, releases the IPs, stops a pasta helper, then
 * deletes the attachment record. Works from the on-disk record when `state` is undefined (crash recovery, `rm -f`).
 * Idempotent: detaching twice, or a container that never attached, is a no-op. A missing namespace (reboot) still
 * gets its rules removed through a temporary namespace.
 */
export async function detachNetwork(containerId: string, state: NetworkState | undefined, o: NetworkOptions): Promise<void> {
  checkId(containerId);
  const p = networkPaths(o.root);
  const rec = await readAttachment(o.root, containerId).catch(() => undefined);
  const mode = rec?.mode ?? state?.mode;
  if (mode === 'pasta') {
    await detachPasta(containerId, rec?.helperPid ?? state?.helperPid, o);
  } else if (mode === 'bridge') {
    const options = rec?.netavarkOptions ?? state?.netavarkOptions;
    // no network left in it (all disconnected): only the namespace to remove
    if (options && Object.keys((options.networks as Record<string, unknown> | undefined) ?? {}).length > 0) {
      const hadNetns = await exists(netnsPathOf(containerId));
      if (!hadNetns) await createNetns(containerId, {});
      const r = await withFirewallLock(() => runProgram(requireProgram('netavark'), netavarkArgs(o.root, 'teardown', netnsPathOf(containerId)), { input: JSON.stringify(options) }));
      // netavark reports on stdout as well as stderr; what is already gone (a veth, or the firewall chains another
      // netavark user removed with its last network) leaves nothing to tear down
      if (r.code !== 0 && hadNetns && !/no such|not found|does not exist|no chain/i.test(`${r.stderr}
${r.stdout}`)) {
        // keep the record so a later detach can retry; the netns stays too
        throw new SkiffError('EIO', `netavark teardown failed: ${lastLine(r.stderr || r.stdout)}`, { details: { stderr: r.stderr } });
      }
    }
    await deleteNetns(containerId);
  }
  const networks = rec?.networks ?? state?.netavarkNetworks ?? [];
  try {
    await withNetworkLock(p, async () => {
      await releaseIps(p, containerId, networks);
      await rm(join(p.attachments, `${containerId}.json`), { force: true });
      await rm(join(p.attachments, `${containerId}.pasta.log`), { force: true });
    });
  } catch (e) {
    // a store root that vanished (scratch removed) has nothing left to release
    if (isSkiffError(e) || (e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  if (mode === 'bridge') await releaseHostAddresses({ root: o.root, containerId });
}
