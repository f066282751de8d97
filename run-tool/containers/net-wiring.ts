/**
 * Wires the networking library (./network) into the container lifecycle.
 *
 * - create: `resolveNetworkChoice` turns `--network` into a mode (default: the bridge network "podman" for root,
 *   pasta for rootless, as podman), `resolvePorts` fixes the host side of `-p`/`-P` once (random ports are picked at
 *   create, as podman, so `ps`/`port` are stable across restarts).
 * - start: `connectContainer` attaches (bridge: before `runc create`, the spec joins `netnsPathOf(id)`; pasta: after
 *   `runc create`, with the container's pid, through the createRuntime hook `pastaHook` (shared/network/pasta-hook.ts) adds), then rewrites the
 *   container's /etc/hosts (its IP) and /etc/resolv.conf (the network's DNS servers).
 * - exit / rm: `disconnectContainer` detaches from the on-disk attachment record, so it also works after a killed
 *   CLI. `none` and `host` never call a network helper, and never load the networking library (attach, network
 *   configs, pasta, netavark): it is imported only where a bridge or pasta network is used.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SkiffError, type Cancellable } from '../../shared/errors.ts';
import { writeFileAtomic } from '../../shared/store/atomic.ts';
import { allocatePorts, parsePublish } from '../../shared/network/publish.ts';
import type { NetworkMode, NetworkState, PortMapping as NetPort } from '../../shared/network/types.ts';
import { servePastaHook } from '../../shared/network/pasta-hook.ts';
import type { ContainerRecord, PortMapping } from './state.ts';

/** The networking library's attach module, loaded on first use (none/host containers never load it). */
const attachLib = () => import('../../shared/network/attach.ts');

/** What `--network` resolved to; persisted as `record.network`. */
export interface NetworkChoice {
  mode: NetworkMode;
  /** bridge networks joined (default ["podman"]) */
  networks?: string[];
  /** extra DNS names per network (`network connect --alias`) */
  aliases?: Record<string, string[]>;
  /** a fixed address per network (`network connect --ip`) */
  ips?: Record<string, string>;
}

/**
 * Resolves `--network` as podman: undefined/`private`/`bridge` → the default network (rootless: pasta), `none`,
 * `host`, `pasta`, or a network name (rootful; the network must exist). `HostConfig.NetworkMode` is `recordMode`.
 * EUNSUPPORTED for container:/ns: modes, EPERM for a bridge as an ordinary user.
 */
export async function resolveNetworkChoice(root: string, flag: string | undefined, rootless: boolean): Promise<{ choice: NetworkChoice; recordMode: string }> {
  const f = flag ?? 'private';
  if (f === 'none' || f === 'host') return { choice: { mode: f }, recordMode: f };
  if (f === 'pasta' || f.startsWith('pasta:')) return { choice: { mode: 'pasta' }, recordMode: 'pasta' };
  if (f === 'slirp4netns' || f.startsWith('slirp4netns:')) throw new SkiffError('EUNSUPPORTED', 'slirp4netns networking is not supported', { hint: 'use --network pasta' });
  if (/^(container|ns|pod):/.test(f)) throw new SkiffError('EUNSUPPORTED', `--network ${f} is not supported`);
  if (f === 'private' || f === 'bridge' || f === 'default') {
    if (rootless) {
      if (f === 'bridge') throw new SkiffError('EPERM', 'bridge networking needs root', { hint: 'use --network pasta (the rootless default) or none' });
      return { choice: { mode: 'pasta' }, recordMode: 'pasta' };
    }
    return { choice: { mode: 'bridge', networks: ['podman'] }, recordMode: 'bridge' };
  }
  const names = f.split(',').map((n) => n.split(':')[0]!).filter(Boolean);
  if (rootless) throw new SkiffError('EPERM', `network ${f}: bridge networking needs root`, { hint: 'use --network pasta or none' });
  const out: string[] = [];
  const { getNetwork } = await import('../../shared/network/network-config.ts');
  for (const n of names) out.push((await getNetwork(root, n)).name);
  return { choice: { mode: 'bridge', networks: out }, recordMode: 'bridge' };
}

/** `choice` with the aliases and fixed addresses given for the bridge networks it joins (others dropped). Pure. */
export function withEndpointSettings(choice: NetworkChoice, aliases: Record<string, string[]> | undefined, ips: Record<string, string> | undefined): NetworkChoice {
  if (choice.mode !== 'bridge') return choice;
  const nets = new Set(choice.networks ?? ['podman']);
  const pick = <T>(m: Record<string, T> | undefined): Record<string, T> | undefined => {
    const kept = Object.entries(m ?? {}).filter(([n]) => nets.has(n));
    return kept.length > 0 ? Object.fromEntries(kept) : undefined;
  };
  const a = pick(aliases);
  const i = pick(ips);
  return { ...choice, ...(a && { aliases: a }), ...(i && { ips: i }) };
}

/** Whether the mode needs a network helper (bridge or pasta). */
export function needsAttach(choice: NetworkChoice | undefined): boolean {
  return choice?.mode === 'bridge' || choice?.mode === 'pasta';
}

/** The spec's network namespace: the named netns for bridge (made at start), a fresh one for pasta/none. */
export async function specNetwork(id: string, choice: NetworkChoice): Promise<{ network: 'none' | 'host' | 'bridge'; netnsPath?: string }> {
  if (choice.mode === 'host') return { network: 'host' };
  if (choice.mode === 'bridge') return { network: 'bridge', netnsPath: (await attachLib()).netnsPathOf(id) };
  if (choice.mode === 'pasta') return { network: 'bridge' };
  return { network: 'none' };
}

/** Parses `-p` values (podman's grammar, ranges expanded to one mapping per port). */
export function parsePublishFlags(specs: readonly string[]): PortMapping[] {
  const out: PortMapping[] = [];
  for (const s of specs) {
    for (const p of parsePublish(s)) {
      for (let i = 0; i < (p.range ?? 1); i++) {
        out.push({ hostIP: p.hostIp ?? '', hostPort: p.hostPort === 0 ? 0 : p.hostPort + i, containerPort: p.containerPort + i, protocol: p.protocol });
      }
    }
  }
  return out;
}

/**
 * Fixes the host side of published ports at create (hostPort 0 and -P's exposed ports get free ports). Ports are
 * discarded (with podman's warning) for none/host. Never runs a helper.
 */
export async function resolvePorts(choice: NetworkChoice, ports: readonly PortMapping[], publishAll: boolean, exposed: readonly string[], o: { onWarning?: (m: string) => void; signal?: AbortSignal } = {}): Promise<PortMapping[]> {
  if (ports.length === 0 && !publishAll) return [];
  if (!needsAttach(choice)) {
    if (ports.length > 0) o.onWarning?.('WARNING: Port mappings have been discarded as one of the Host, Container, Pod, and None network modes are in use');
    return [];
  }
  for (const p of ports) if (p.protocol === 'sctp') throw new SkiffError('EUNSUPPORTED', 'sctp port publishing is not supported');
  const net: NetPort[] = ports.map((p) => ({ ...(p.hostIP && { hostIp: p.hostIP }), hostPort: p.hostPort, containerPort: p.containerPort, protocol: p.protocol as 'tcp' | 'udp' }));
  const r = await allocatePorts(net, { publishAll, exposedPorts: exposed, signal: o.signal });
  const out: PortMapping[] = [];
  for (const p of r) for (let i = 0; i < (p.range ?? 1); i++) out.push({ hostIP: p.hostIp ?? '', hostPort: p.hostPort + i, containerPort: p.containerPort + i, protocol: p.protocol });
  return out;
}

function toNetPorts(ports: readonly PortMapping[]): NetPort[] {
  return ports.filter((p) => p.protocol !== 'sctp').map((p) => ({ ...(p.hostIP && { hostIp: p.hostIP }), hostPort: p.hostPort, containerPort: p.containerPort, protocol: p.protocol as 'tcp' | 'udp' }));
}

/**
 * Attaches container `record` to its network (bridge: before runc create; pasta: `pid` of the created container)
 * and rewrites its /etc/hosts and /etc/resolv.conf for it. Returns the state to keep (undefined for none/host).
 */
export async function connectContainer(root: string, userdata: string, record: ContainerRecord, o: { pid?: number; signal?: AbortSignal } = {}): Promise<NetworkState | undefined> {
  const choice = record.network as NetworkChoice | undefined;
  if (!choice || !needsAttach(choice)) return undefined;
  const { attachNetwork, detachNetwork } = await attachLib();
  const state = await attachNetwork(record.id, {
    mode: choice.mode,
    ...(choice.networks && { networks: choice.networks }),
    ...(choice.aliases && { networkAliases: choice.aliases }),
    ...(choice.ips && { staticIps: Object.fromEntries(Object.entries(choice.ips).map(([n, ip]) => [n, [ip]])) }),
    ports: toNetPorts(record.hostConfig.portBindings),
    ...(record.hostConfig.dns.length > 0 && { dns: record.hostConfig.dns }),
    hostname: record.config.hostname,
    containerName: record.name,
  }, { root, rootless: record.rootless, ...(o.pid !== undefined && { pid: o.pid }), signal: o.signal });
  try {
    await rewriteEtc(userdata, record, state);
  } catch (e) {
    await detachNetwork(record.id, state, { root, rootless: record.rootless }).catch(() => {});
    throw e;
  }
  return state;
}

/** Detaches a container (from the on-disk attachment record when `state` is unknown). Idempotent; a no-op for none/host. */
export async function disconnectContainer(root: string, record: ContainerRecord, state: NetworkState | undefined): Promise<void> {
  if (!needsAttach(record.network as NetworkChoice | undefined)) return;
  const { detachNetwork } = await attachLib();
  await detachNetwork(record.id, state, { root, rootless: record.rootless });
}

/**
 * Rewrites the generated hosts (the container's address, host.containers.internal) and resolv.conf (DNS servers).
 * pasta attaches after `runc create`, when the files already are bind-mounted into the container: they are
 * rewritten in place (same inode) then, since a rename would leave the container the old file.
 */
async function rewriteEtc(userdata: string, record: ContainerRecord, net: NetworkState): Promise<void> {
  const put = net.mode === 'pasta' ? (f: string, text: string) => writeFile(f, text, { mode: 0o644 }) : (f: string, text: string) => writeFileAtomic(f, text, 0o644);
  const hostsFile = join(userdata, 'hosts');
  const hosts = (await readFile(hostsFile, 'utf8')).split('\n').filter((l) => l !== '');
  // the generated file ends with the hostname line; drop it and any previous gateway line
  hosts.pop();
  const kept = hosts.filter((l) => !/\shost\.containers\.internal\b/.test(l));
  if (net.gateway) kept.push(`${net.gateway}\thost.containers.internal host.docker.internal`);
  const names = [...new Set([record.config.hostname, record.name])].join(' ');
  kept.push(`${net.ips[0] ?? '127.0.1.1'}\t${names}`);
  await put(hostsFile, `${kept.join('\n')}\n`);
  if (record.hostConfig.dns.length === 0 && net.dnsServers.length > 0) {
    const resolvFile = join(userdata, 'resolv.conf');
    const lines = (await readFile(resolvFile, 'utf8')).split('\n').filter((l) => l !== '' && !/^\s*nameserver\s/.test(l));
    const search = net.dnsSearchDomains.length > 0 ? [`search ${net.dnsSearchDomains.join(' ')}`] : [];
    const rest = net.dnsSearchDomains.length > 0 ? lines.filter((l) => !/^\s*search\s/.test(l)) : lines;
    await put(resolvFile, `${[...search, ...rest, ...net.dnsServers.map((s) => `nameserver ${s}`)].join('\n')}\n`);
  }
}

/**
 * Adds a running container's /etc/hosts line for each address in `add` and drops the lines of each address in
 * `remove` (a network joined or left live), as podman 4.3 does: `IP<TAB>hostname name`, the container's own names
 * only (other containers find it through the network's DNS). Rewritten in place, as the file is bind-mounted into the
 * container; a container without a generated hosts file is left alone.
 */
export async function updateHostsEntries(userdata: string, record: ContainerRecord, o: { add?: readonly string[]; remove?: readonly string[] }): Promise<void> {
  const hostsFile = join(userdata, 'hosts');
  const text = await readFile(hostsFile, 'utf8').catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? undefined : Promise.reject(e)));
  if (text === undefined) return;
  const gone = new Set(o.remove ?? []);
  const lines = text.split('\n').filter((l) => l !== '' && !gone.has(l.split(/\s/)[0]!));
  const names = [...new Set([record.config.hostname, record.name])].join(' ');
  for (const ip of o.add ?? []) if (!lines.some((l) => l.split(/\s/)[0] === ip)) lines.push(`${ip}\t${names}`);
  await writeFile(hostsFile, `${lines.join('\n')}\n`, { mode: 0o644 });
}

/**
 * Serves the pasta hook handshake of container `record` (shared/network/pasta-hook.ts): attaches with the pid the
 * hook reports and rewrites the container's /etc files. Resolves undefined when the hook never ran.
 */
export function serveContainerPastaHook(root: string, dir: string, userdata: string, record: ContainerRecord, done: () => boolean, o: Cancellable = {}): Promise<NetworkState | undefined> {
  return servePastaHook(dir, done, (pid) => connectContainer(root, userdata, record, { pid, signal: o.signal }), o);
}
