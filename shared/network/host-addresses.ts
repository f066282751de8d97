/**
 * The host's registry of bridge addresses, across stores. Each store allocates from its own `ipam/<net>.json`, but
 * the bridges are the host's: two stores' default networks are the same `podman0` and the same subnet, so without a
 * host-wide view two stores hand out the same address and their containers cut each other off. This registry
 * (one file per subnet under HOST_ADDRESSES_DIR, root's /run: it dies with a reboot, as the addresses do) records
 * which store and container hold each address; an allocation skips addresses another store holds.
 *
 * Every read-modify-write runs under the host's firewall lock (withFirewallLock), which every netavark call takes
 * already. A lease whose store no longer has the container's attachment record (the store was deleted, or its
 * teardown died after releasing locally) is dropped once it is older than LEASE_GRACE_MS — the grace covers the
 * moment between an allocation and the attachment record the allocating process writes right after it.
 */
import { mkdir, readdir, readFile, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { writeFileAtomic } from '../store/atomic.ts';
import { networkPaths, withFirewallLock } from './network-config.ts';

/** Where the host-wide address files live (root only: bridge networking needs root). */
export const HOST_ADDRESSES_DIR = '/run/skiff/addresses';

/** How long a lease without an attachment record is kept (the allocating process writes the record meanwhile). */
export const LEASE_GRACE_MS = 60_000;

/** One address held by one container of one store. */
export interface HostLease {
  /** the store root */
  root: string;
  containerId: string;
  /** when it was handed out (ms since the epoch) */
  at: number;
}

interface HostAddressFile {
  leases: Record<string, HostLease>;
  /** the last address handed out on the host, so a released one is not reused at once */
  last?: string;
}

function fileOf(dir: string, subnet: string): string {
  return join(dir, `${subnet.replace(/[^0-9a-fA-F.:]/g, '_')}.json`);
}

async function readFileOf(file: string): Promise<HostAddressFile> {
  try {
    const v = JSON.parse(await readFile(file, 'utf8')) as HostAddressFile;
    return v && typeof v.leases === 'object' && v.leases !== null ? v : { leases: {} };
  } catch {
    return { leases: {} };
  }
}

async function stillAttached(l: HostLease, now: number): Promise<boolean> {
  if (now - l.at < LEASE_GRACE_MS) return true;
  return stat(join(networkPaths(l.root).attachments, `${l.containerId}.json`)).then(() => true, () => false);
}

/**
 * Runs `pick` with the addresses of `subnet` other stores' containers hold (and the host's last handed-out address),
 * and records the address it returns for (root, containerId). Stale leases are dropped first. Holds the host's
 * firewall lock throughout, so two stores never pick the same address.
 */
export async function leaseHostAddress(
  subnet: string,
  holder: { root: string; containerId: string },
  pick: (heldElsewhere: ReadonlySet<string>, last: string | undefined) => string,
  o: { dir?: string; signal?: AbortSignal | undefined; now?: number } = {},
): Promise<string> {
  const dir = o.dir ?? HOST_ADDRESSES_DIR;
  return withFirewallLock(async () => {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const file = fileOf(dir, subnet);
    const f = await readFileOf(file);
    const now = o.now ?? Date.now();
    const held = new Set<string>();
    for (const [ip, l] of Object.entries(f.leases)) {
      const mine = l.root === holder.root && l.containerId === holder.containerId;
      if (!mine && (await stillAttached(l, now))) held.add(ip);
      else delete f.leases[ip];
    }
    const ip = pick(held, f.last);
    f.leases[ip] = { root: holder.root, containerId: holder.containerId, at: now };
    f.last = ip;
    await writeFileAtomic(file, JSON.stringify(f), 0o600);
    return ip;
  }, { signal: o.signal });
}

/**
 * Drops every lease of (root, containerId), whatever the subnet (only those of `subnets` when given: a network
 * disconnected while the container stays on others). A no-op for a container that leased nothing.
 */
export async function releaseHostAddresses(holder: { root: string; containerId: string }, o: { dir?: string; subnets?: readonly string[] } = {}): Promise<void> {
  const dir = o.dir ?? HOST_ADDRESSES_DIR;
  const only = o.subnets && new Set(o.subnets.map((s) => basename(fileOf(dir, s))));
  const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => !only || only.has(n));
  if (names.length === 0) return;
  await withFirewallLock(async () => {
    for (const name of names.filter((n) => n.endsWith('.json'))) {
      const file = join(dir, name);
      const f = await readFileOf(file);
      let changed = false;
      for (const [ip, l] of Object.entries(f.leases)) {
        if (l.root === holder.root && l.containerId === holder.containerId) {
          delete f.leases[ip];
          changed = true;
        }
      }
      if (changed) await writeFileAtomic(file, JSON.stringify(f), 0o600);
    }
  });
}
