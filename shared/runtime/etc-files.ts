import { constants } from 'node:fs';
import { chown, mkdir, open, readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { SkiffError } from '../errors.ts';
import { writeFileAtomic } from '../store/atomic.ts';
import { readFileInRoot, resolveInRoot } from './in-root.ts';
import type { MountRequest } from './mounts.ts';
import { ACCOUNT_FILE_MAX, keepIdAccountEntries, podmanAccountEntries, type AccountEntries, type HostAccount } from './user.ts';

/** The engine string written to /run/.containerenv. */
export const ENGINE = 'skiff-0.1.0';

/** Inputs of the generated /etc files. */
export interface EtcFilesOptions {
  hostname: string;
  /** `--add-host name:ip` entries */
  addHosts?: readonly string[];
  network: 'none' | 'host' | 'bridge';
  /** the container's address on a bridge (for the hostname line) */
  containerIP?: string;
  /** the host's address as seen from a bridge (host.containers.internal) */
  hostGatewayIP?: string;
  dns?: readonly string[];
  dnsSearch?: readonly string[];
  dnsOptions?: readonly string[];
  /** the host's resolv.conf (default /etc/resolv.conf) */
  hostResolvConf?: string;
  containerEnv: { name: string; id: string; image: string; imageId: string; rootless: boolean };
  /** owner of the files (the container's root as seen from the host, when user-namespaced) */
  owner?: { uid: number; gid: number };
  signal?: AbortSignal;
}

/** Paths of the generated files. */
export interface EtcFiles {
  hosts: string;
  resolvConf: string;
  hostname: string;
  containerEnv: string;
}

const HOSTNAME = /^[A-Za-z0-9]([A-Za-z0-9.-]{0,252})?$/;

/** Validates a host name (RFC 1123 characters, ≤ 253 bytes); EINVALID otherwise. */
export function checkHostname(h: string): string {
  if (!HOSTNAME.test(h)) throw new SkiffError('EINVALID', `invalid hostname ${JSON.stringify(h)}`);
  return h;
}

/** Renders /etc/hosts. Pure. `--add-host` entries are `name:ip` (ip may be IPv6) and validated. */
export function renderHosts(o: Pick<EtcFilesOptions, 'hostname' | 'addHosts' | 'network' | 'containerIP' | 'hostGatewayIP'>): string {
  const lines = ['127.0.0.1\tlocalhost localhost.localdomain localhost4 localhost4.localdomain4', '::1\tlocalhost localhost.localdomain localhost6 localhost6.localdomain6'];
  for (const e of o.addHosts ?? []) {
    const i = e.indexOf(':');
    const name = i < 0 ? '' : e.slice(0, i);
    const ip = i < 0 ? '' : e.slice(i + 1).replace(/^\[(.*)\]$/, '$1');
    if (!HOSTNAME.test(name) || isIP(ip) === 0) throw new SkiffError('EINVALID', `invalid --add-host ${JSON.stringify(e)}: want NAME:IP`);
    lines.push(`${ip}\t${name}`);
  }
  if (o.network === 'bridge' && o.hostGatewayIP) lines.push(`${o.hostGatewayIP}\thost.containers.internal host.docker.internal`);
  lines.push(`${o.containerIP ?? '127.0.1.1'}\t${o.hostname}`);
  return `${lines.join('\n')}\n`;
}

/**
 * Renders /etc/resolv.conf from the host's: `--dns` servers replace the host's; without them the host's
 * nameservers minus loopback ones (127.x, ::1 — unreachable from a separate network namespace) unless the
 * container shares the host network. `--dns-search`/`--dns-option` replace the host's search/options lines.
 * Pure.
 */
export function renderResolvConf(host: string, o: Pick<EtcFilesOptions, 'network' | 'dns' | 'dnsSearch' | 'dnsOptions'>): string {
  for (const d of o.dns ?? []) if (isIP(d) === 0) throw new SkiffError('EINVALID', `invalid --dns ${JSON.stringify(d)}: not an IP address`);
  const ns: string[] = [];
  const search: string[] = [];
  const options: string[] = [];
  for (const raw of host.split('\n')) {
    const f = raw.trim().split(/\s+/);
    if (f[0] === 'nameserver' && f[1]) ns.push(f[1]);
    else if (f[0] === 'search' || f[0] === 'domain') search.push(...f.slice(1));
    else if (f[0] === 'options') options.push(...f.slice(1));
  }
  let servers = o.dns?.length ? [...o.dns] : ns;
  if (!o.dns?.length && o.network !== 'host') servers = servers.filter((s) => !s.startsWith('127.') && s !== '::1');
  const out: string[] = [];
  const s = o.dnsSearch?.length ? o.dnsSearch : search;
  if (s.length) out.push(`search ${s.join(' ')}`);
  for (const n of servers) out.push(`nameserver ${n}`);
  const opts = o.dnsOptions?.length ? o.dnsOptions : options;
  if (opts.length) out.push(`options ${opts.join(' ')}`);
  return out.length ? `${out.join('\n')}\n` : '';
}

/** Renders /run/.containerenv as podman does (key="value" lines). Pure. */
export function renderContainerEnv(c: EtcFilesOptions['containerEnv']): string {
  const q = (s: string) => JSON.stringify(s);
  return `engine=${q(ENGINE)}\nname=${q(c.name)}\nid=${q(c.id)}\nimage=${q(c.image)}\nimageid=${q(c.imageId)}\nrootless=${c.rootless ? 1 : 0}\n`;
}

/**
 * Writes hosts, resolv.conf, hostname and .containerenv into `dir` (created 0700 when missing), each atomically
 * and mode 0644, chowned to `owner` when given. Idempotent (rewrites). Returns their paths for bind mounts.
 */
export async function writeEtcFiles(dir: string, o: EtcFilesOptions): Promise<EtcFiles> {
  checkHostname(o.hostname);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const hostResolv = await readFile(o.hostResolvConf ?? '/etc/resolv.conf', 'utf8').catch(() => '');
  const files: EtcFiles = { hosts: join(dir, 'hosts'), resolvConf: join(dir, 'resolv.conf'), hostname: join(dir, 'hostname'), containerEnv: join(dir, '.containerenv') };
  const body: [string, string][] = [
    [files.hosts, renderHosts(o)],
    [files.resolvConf, renderResolvConf(hostResolv, o)],
    [files.hostname, `${o.hostname}\n`],
    [files.containerEnv, renderContainerEnv(o.containerEnv)],
  ];
  for (const [p, text] of body) {
    await writeFileAtomic(p, text, 0o644);
    if (o.owner) await chown(p, o.owner.uid, o.owner.gid);
  }
  return files;
}

/** Inputs of addAccountEntries. */
export interface AccountEntriesOptions {
  /** the container user (`-u`, else the image's User); empty: nothing is added */
  user: string;
  /** the container's working directory (home of a generated passwd entry) */
  workdir: string;
  /** read-only rootfs: write full copies into `dir` and bind-mount them instead of appending */
  readOnly: boolean;
  /** container paths the caller already mounts something at (a user mount over /etc/passwd wins) */
  mountedPaths?: ReadonlySet<string>;
  /** `--userns=keep-id`: also podman's entries for the invoking user (keepIdAccountEntries), before the user's */
  keepId?: HostAccount;
}

/** What addAccountEntries planned: bind mounts to add now, and the in-place appends to make later. */
export interface PlannedAccountEntries {
  /** read-only bind mounts of the written copies (read-only rootfs; else empty) */
  mounts: MountRequest[];
  /** appends the entries to the rootfs files (writable rootfs; a no-op otherwise). Call once. */
  append: () => Promise<void>;
  /** keep-id: the home of the passwd entry added for the invoking user (podman sets HOME to it when unset) */
  keepIdHome?: string;
}

/**
 * Plans podman's /etc/passwd and /etc/group entries for a container user the image does not know
 * (podmanAccountEntries) — with `keepId`, first the invoking user's (keepIdAccountEntries) — for the container
 * mounted at `rootfs`. Read-only rootfs: the image's file plus the
 * entry is written to `dir` (0644) now and returned as a read-only bind mount. Writable rootfs: `append()`
 * appends in place (in-root resolution, then O_APPEND|O_NOFOLLOW, regular files only — an overlay rootfs copies
 * the file up); the caller calls it after resolving the user, so the user is resolved against the image's own
 * files as podman does. A file the image lacks, or one the caller mounts over, is left alone.
 */
export async function addAccountEntries(rootfs: string, dir: string, o: AccountEntriesOptions): Promise<PlannedAccountEntries> {
  const planned: PlannedAccountEntries = { mounts: [], append: async () => {} };
  if (o.user.trim() === '' && !o.keepId) return planned;
  const files = { passwd: '/etc/passwd', group: '/etc/group' } as const;
  const text = {
    passwd: await readFileInRoot(rootfs, files.passwd, ACCOUNT_FILE_MAX),
    group: await readFileInRoot(rootfs, files.group, ACCOUNT_FILE_MAX),
  };
  // keep-id's entries first; the user's are then planned as if they were in the image (podman skips the kept ids)
  const kept = o.keepId ? keepIdAccountEntries(o.keepId, text.passwd ?? '', text.group ?? '', o.workdir, o.mountedPaths) : {};
  if (kept.home !== undefined && text.passwd !== undefined && !o.mountedPaths?.has(files.passwd)) planned.keepIdHome = kept.home;
  // what appending `line` to `orig` adds: the line, after a newline when `orig` lacks its last one
  const suffix = (orig: string, line: string) => (orig === '' || orig.endsWith('\n') ? line : `\n${line}`);
  const withKept = (orig: string, line: string | undefined) => (line === undefined ? orig : orig + suffix(orig, line));
  const user = podmanAccountEntries(o.user, withKept(text.passwd ?? '', kept.passwd), withKept(text.group ?? '', kept.group), o.workdir);
  const entries: AccountEntries = {};
  for (const k of ['passwd', 'group'] as const) if (kept[k] !== undefined || user[k] !== undefined) entries[k] = `${kept[k] ?? ''}${user[k] ?? ''}`;
  const appends: [string, string][] = [];
  for (const k of ['passwd', 'group'] as const) {
    const line = entries[k];
    const orig = text[k];
    if (line === undefined || orig === undefined || o.mountedPaths?.has(files[k])) continue;
    const body = suffix(orig, line);
    if (!o.readOnly) {
      appends.push([files[k], body]);
      continue;
    }
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const p = join(dir, k);
    await writeFileAtomic(p, orig + body, 0o644);
    planned.mounts.push({ type: 'bind', source: p, destination: files[k], options: ['rbind', 'ro'] });
  }
  planned.append = async () => {
    for (const [file, body] of appends) {
      const fh = await open(await resolveInRoot(rootfs, file), constants.O_WRONLY | constants.O_APPEND | constants.O_NOFOLLOW | constants.O_NONBLOCK);
      try {
        if (!(await fh.stat()).isFile()) throw new SkiffError('EUNSAFE', `${file} in the image is not a regular file`);
        await fh.writeFile(body);
      } finally {
        await fh.close();
      }
    }
  };
  return planned;
}
