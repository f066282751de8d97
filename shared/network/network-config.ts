import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { SkiffError, type Cancellable } from '../errors.ts';
import { writeFileAtomic } from '../store/atomic.ts';
import { acquireLock } from '../store/lock.ts';
import { cidrContains, cidrsOverlap, ipToInt, parseCidr, intToIp } from './ip.ts';
import type { NetworkConfig } from './types.ts';

/** podman's default network name, ID (sha256 of "podman"), bridge and subnet. */
export const DEFAULT_NETWORK = 'podman';
export const DEFAULT_NETWORK_ID = '2f259bab93aaaaa2542ba43ef33eb990d0999ee1b9924b557b7be53c0b7a1bb9';
export const DEFAULT_SUBNET = '10.88.0.0/16';

/**
 * Where networking state lives under a store root: network definitions (`configs/<name>.json`, the JSON netavark
 * reads and podman prints), IP allocations (`ipam/<name>.json`), per-container attachment records written before
 * setup (`attachments/<container-id>.json`), aardvark-dns's config dir (`aardvark/`, netavark --config) and the
 * lock file serialising all of them. Every path is built from validated names or 64-hex IDs.
 */
export interface NetworkPaths {
  dir: string;
  configs: string;
  ipam: string;
  attachments: string;
  aardvark: string;
  lock: string;
}

/** The networking paths of a store rooted at `root`. */
export function networkPaths(root: string): NetworkPaths {
  const dir = join(root, 'networks');
  return { dir, configs: join(dir, 'configs'), ipam: join(dir, 'ipam'), attachments: join(dir, 'attachments'), aardvark: join(dir, 'aardvark'), lock: join(dir, 'networks.lock') };
}

/** Creates the networking dirs (0700). Idempotent. */
export async function ensureNetworkDirs(p: NetworkPaths): Promise<void> {
  for (const d of [p.dir, p.configs, p.ipam, p.attachments, p.aardvark]) await mkdir(d, { recursive: true, mode: 0o700 });
}

/** Runs `fn` holding the exclusive networking lock of the store. */
export async function withNetworkLock<T>(p: NetworkPaths, fn: () => Promise<T>, o: Cancellable = {}): Promise<T> {
  await ensureNetworkDirs(p);
  const lock = await acquireLock(p.lock, { signal: o.signal });
  try {
    return await fn();
  } finally {
    await lock.release();
  }
}

/**
 * The host's firewall lock: netavark's setup and teardown edit the host-wide iptables chains (created by the first
 * container with published ports, deleted with the last), so two stores' — or two processes' — calls racing
 * make one fail ("Chain already exists", "No chain/target/match by that name"). Every netavark call runs under
 * this one lock, whatever the store (podman serialises its own calls the same way).
 */
export const FIREWALL_LOCK = existsSync('/run/lock') ? '/run/lock/skiff-netavark.lock' : join(tmpdir(), 'skiff-netavark.lock');

/** Runs `fn` holding the host's firewall lock (FIREWALL_LOCK). */
export async function withFirewallLock<T>(fn: () => Promise<T>, o: Cancellable = {}): Promise<T> {
  const lock = await acquireLock(FIREWALL_LOCK, { signal: o.signal });
  try {
    return await fn();
  } finally {
    await lock.release();
  }
}

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/** Validates a network name as podman does (EINVALID with podman's message); also caps the length at 128. Pure. */
export function checkNetworkName(name: string): string {
  if (!NAME_RE.test(name) || name.length > 128) {
    throw new SkiffError('EINVALID', `network name ${name} invalid: names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*: invalid argument`);
  }
  return name;
}

/** podman's default network definition (never written to disk unless the user writes configs/podman.json). */
export function defaultNetworkConfig(created = new Date()): NetworkConfig {
  return {
    name: DEFAULT_NETWORK,
    id: DEFAULT_NETWORK_ID,
    driver: 'bridge',
    network_interface: 'podman0',
    created: created.toISOString(),
    subnets: [{ subnet: DEFAULT_SUBNET, gateway: '10.88.0.1' }],
    ipv6_enabled: false,
    internal: false,
    dns_enabled: false,
    ipam_options: { driver: 'host-local' },
  };
}

function validateConfig(c: unknown, file: string): NetworkConfig {
  const n = c as Partial<NetworkConfig>;
  const ok = n && typeof n === 'object' && typeof n.name === 'string' && NAME_RE.test(n.name) && typeof n.id === 'string' && /^[0-9a-f]{64}$/.test(n.id)
    && n.driver === 'bridge' && typeof n.network_interface === 'string' && /^[a-zA-Z0-9_.-]{1,15}$/.test(n.network_interface) && Array.isArray(n.subnets)
    && n.subnets.every((s) => s && typeof s.subnet === 'string' && parseCidr(s.subnet) !== undefined && (s.gateway === undefined || ipToInt(s.gateway) !== undefined));
  if (!ok) throw new SkiffError('EINVALID', `malformed network config ${file}`);
  return n as NetworkConfig;
}

/** All networks of the store, sorted by name, with the default network unless a file overrides it. Reads only. */
export async function listNetworks(root: string, o: Cancellable = {}): Promise<NetworkConfig[]> {
  const p = networkPaths(root);
  let files: string[] = [];
  try {
    files = (await readdir(p.configs)).filter((f) => f.endsWith('.json'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const out: NetworkConfig[] = [];
  for (const f of files) {
    o.signal?.throwIfAborted();
    const file = join(p.configs, f);
    const c = validateConfig(JSON.parse(await readFile(file, 'utf8')), file);
    if (`${c.name}.json` !== f) continue;
    out.push(c);
  }
  if (!out.some((c) => c.name === DEFAULT_NETWORK)) out.push(defaultNetworkConfig());
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * The network named `nameOrId`, or whose ID starts with it (unique prefix), as podman resolves it. ENOTFOUND with
 * podman's message otherwise.
 */
export async function getNetwork(root: string, nameOrId: string, o: Cancellable = {}): Promise<NetworkConfig> {
  const all = await listNetworks(root, o);
  const byName = all.find((n) => n.name === nameOrId);
  if (byName) return byName;
  if (/^[0-9a-f]+$/.test(nameOrId)) {
    const m = all.filter((n) => n.id.startsWith(nameOrId));
    if (m.length === 1) return m[0]!;
    if (m.length > 1) throw new SkiffError('EINVALID', `more than one result for network ID ${nameOrId}`);
  }
  throw new SkiffError('ENOTFOUND', `unable to find network with name or ID ${nameOrId}: network not found`);
}

/** Options of `network create`. */
export interface CreateNetworkOptions {
  name?: string;
  driver?: string;
  subnet?: string;
  gateway?: string;
  internal?: boolean;
  labels?: Record<string, string>;
  interfaceName?: string;
  disableDns?: boolean;
  ignoreExisting?: boolean;
  signal?: AbortSignal;
}

/** Names of this network namespace's interfaces (up or down, with or without an address): another store's bridges among them. */
async function hostInterfaceNames(): Promise<string[]> {
  return readdir('/sys/class/net').catch(() => Object.keys(networkInterfaces()));
}

function hostCidrs(): string[] {
  const out: string[] = [];
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) if (a.family === 'IPv4' && a.cidr && !a.internal) out.push(a.cidr);
  return out;
}

/**
 * Creates a bridge network like `podman network create`: validated name (podman's message), a fresh random ID,
 * the next `podmanN` bridge that neither another network of this store nor a host interface (another store's bridge)
 * uses, the first free 10.89.N.0/24 subnet not used by another network or a host
 * interface unless `subnet` is given, the subnet's first address as gateway, DNS enabled (aardvark-dns) unless
 * internal-only DNS is disabled. The config file is written atomically under the networking lock. EEXIST when the
 * name is taken (returns the existing one with ignoreExisting).
 */
export async function createNetwork(root: string, opts: CreateNetworkOptions = {}): Promise<NetworkConfig> {
  const p = networkPaths(root);
  if (opts.driver !== undefined && opts.driver !== 'bridge') throw new SkiffError('EUNSUPPORTED', `unsupported driver ${opts.driver}: only bridge is supported`);
  if (opts.name !== undefined) checkNetworkName(opts.name);
  if (opts.gateway !== undefined && opts.subnet === undefined) throw new SkiffError('EINVALID', 'cannot set gateway or range without subnet');
  if (opts.interfaceName !== undefined && !/^[a-zA-Z0-9_.-]{1,15}$/.test(opts.interfaceName)) throw new SkiffError('EINVALID', `invalid interface name ${opts.interfaceName}`);
  return withNetworkLock(p, async () => {
    const all = await listNetworks(root, opts);
    let name = opts.name;
    if (name === undefined) {
      for (let i = 1; ; i++) {
        if (!all.some((n) => n.name === `podman${i}`)) {
          name = `podman${i}`;
          break;
        }
      }
    }
    const existing = all.find((n) => n.name === name);
    if (existing) {
      if (opts.ignoreExisting) return existing;
      throw new SkiffError('EEXIST', `network name ${name} already used: network already exists`);
    }
    const used = new Set(all.map((n) => n.network_interface));
    let iface = opts.interfaceName;
    if (iface === undefined) {
      for (const n of await hostInterfaceNames()) used.add(n);
      for (let i = 0; ; i++) {
        if (!used.has(`podman${i}`)) {
          iface = `podman${i}`;
          break;
        }
      }
    } else if (used.has(iface)) {
      throw new SkiffError('EEXIST', `bridge name ${iface} already in use`);
    }
    const taken = [...all.flatMap((n) => n.subnets.map((s) => s.subnet))];
    let subnet: string;
    let gateway: string;
    if (opts.subnet !== undefined) {
      const c = parseCidr(opts.subnet);
      if (!c || c.family !== 4) throw new SkiffError('EINVALID', `invalid subnet ${JSON.stringify(opts.subnet)}: only IPv4 CIDRs are supported`);
      if (c.prefix > 30) throw new SkiffError('EINVALID', `subnet ${opts.subnet} is too small`);
      subnet = `${intToIp(c.network)}/${c.prefix}`;
      const clash = all.find((n) => n.subnets.some((s) => cidrsOverlap(s.subnet, subnet)));
      if (clash) throw new SkiffError('EEXIST', `subnet ${subnet} is already used on the host or by another config`);
      if (opts.gateway !== undefined) {
        if (ipToInt(opts.gateway) === undefined || !cidrContains(subnet, opts.gateway)) throw new SkiffError('EINVALID', `gateway ${opts.gateway} not in subnet ${subnet}`);
        gateway = opts.gateway;
      } else gateway = intToIp(c.network + 1);
    } else {
      const host = hostCidrs();
      let found: string | undefined;
      for (let i = 0; i < 256 && !found; i++) {
        const cand = `10.89.${i}.0/24`;
        if (!taken.some((t) => cidrsOverlap(t, cand)) && !host.some((h) => cidrsOverlap(h, cand))) found = cand;
      }
      if (!found) throw new SkiffError('ELIMIT', 'could not find a free subnet in 10.89.0.0/16');
      subnet = found;
      gateway = intToIp(parseCidr(found)!.network + 1);
    }
    const cfg: NetworkConfig = {
      name,
      id: randomBytes(32).toString('hex'),
      driver: 'bridge',
      network_interface: iface!,
      created: new Date().toISOString(),
      subnets: [{ subnet, gateway }],
      ipv6_enabled: false,
      internal: opts.internal ?? false,
      dns_enabled: !opts.disableDns,
      ...(opts.labels && Object.keys(opts.labels).length > 0 && { labels: opts.labels }),
      ipam_options: { driver: 'host-local' },
    };
    await writeFileAtomic(join(p.configs, `${name}.json`), `${JSON.stringify(cfg, null, 5)}\n`, 0o644);
    return cfg;
  }, opts);
}

/**
 * Removes a network definition (and its IP allocation file). The default network cannot be removed (EINVALID,
 * as podman). `inUseBy` lists the containers attached to it; when non-empty the removal fails with EEXIST unless
 * `force`, in which case the caller has removed those containers first. Idempotent on the files.
 */
export async function removeNetwork(root: string, nameOrId: string, o: { force?: boolean; signal?: AbortSignal } = {}): Promise<NetworkConfig> {
  const p = networkPaths(root);
  return withNetworkLock(p, async () => {
    const n = await getNetwork(root, nameOrId, o);
    const file = join(p.configs, `${n.name}.json`);
    const onDisk = await stat(file).then(() => true, () => false);
    if (n.name === DEFAULT_NETWORK && !onDisk) throw new SkiffError('EINVALID', `default network ${n.name} cannot be removed`);
    const users = await attachmentsOf(p, n.name);
    if (users.length > 0 && !o.force) {
      throw new SkiffError('EEXIST', `"${n.name}" has associated containers with it. Use -f to forcibly delete containers and pods: network is being used`, { details: { containers: users } });
    }
    await rm(file, { force: true });
    await rm(join(p.ipam, `${n.name}.json`), { force: true });
    return n;
  }, o);
}

/** The container IDs whose attachment record names network `name`. */
export async function attachmentsOf(p: NetworkPaths, name: string): Promise<string[]> {
  let files: string[] = [];
  try {
    files = await readdir(p.attachments);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const out: string[] = [];
  for (const f of files) {
    if (!/^[0-9a-f]{64}\.json$/.test(f)) continue;
    try {
      const rec = JSON.parse(await readFile(join(p.attachments, f), 'utf8')) as { networks?: string[] };
      if (rec.networks?.includes(name)) out.push(f.slice(0, 64));
    } catch {
      // a half-written record cannot exist (atomic writes); an unreadable one is ignored here
    }
  }
  return out;
}
