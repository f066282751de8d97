import { SkiffError } from '../errors.ts';

/** Every capability Linux defines (0..40), in runtime-spec spelling. */
export const ALL_CAPS = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID', 'CAP_SETUID', 'CAP_SETPCAP',
  'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST', 'CAP_NET_ADMIN', 'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER',
  'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE', 'CAP_SYS_PACCT', 'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE',
  'CAP_SYS_RESOURCE', 'CAP_SYS_TIME', 'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL', 'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM', 'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ', 'CAP_PERFMON', 'CAP_BPF',
  'CAP_CHECKPOINT_RESTORE',
] as const;

/** podman's default capability set (containers.conf default_capabilities). */
export const DEFAULT_CAPS = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_NET_BIND_SERVICE', 'CAP_SETFCAP', 'CAP_SETGID',
  'CAP_SETPCAP', 'CAP_SETUID', 'CAP_SYS_CHROOT',
] as const;

/** Normalises `net_admin` / `NET_ADMIN` / `CAP_NET_ADMIN` to `CAP_NET_ADMIN`; `ALL` stays `ALL`; EINVALID if unknown. */
export function normalizeCap(c: string): string {
  const u = c.trim().toUpperCase();
  if (u === 'ALL') return 'ALL';
  const n = u.startsWith('CAP_') ? u : `CAP_${u}`;
  if (!(ALL_CAPS as readonly string[]).includes(n)) throw new SkiffError('EINVALID', `unknown capability ${JSON.stringify(c)}`);
  return n;
}

/**
 * The effective capability set: privileged → all; else the defaults, minus `drop` (ALL drops every default),
 * plus `add` (ALL adds every capability); add wins over drop for the same name, as podman. Sorted; pure.
 */
export function capabilitySet(o: { add?: readonly string[]; drop?: readonly string[]; privileged?: boolean; defaults?: readonly string[] } = {}): string[] {
  if (o.privileged) return [...ALL_CAPS];
  const add = (o.add ?? []).map(normalizeCap);
  const drop = (o.drop ?? []).map(normalizeCap);
  let set = new Set<string>(drop.includes('ALL') ? [] : (o.defaults ?? DEFAULT_CAPS).map(normalizeCap));
  for (const d of drop) set.delete(d);
  if (add.includes('ALL')) set = new Set(ALL_CAPS);
  for (const a of add) if (a !== 'ALL') set.add(a);
  return [...set].sort();
}
