import { posix } from 'node:path';
import { SkiffError } from '../errors.ts';
import { readFileInRoot } from './in-root.ts';

/** The largest /etc/passwd or /etc/group read from an image (RU-05). */
export const ACCOUNT_FILE_MAX = 1024 * 1024;

/** A resolved container user: ids for process.user plus the passwd home (for HOME). */
export interface ResolvedUser {
  uid: number;
  gid: number;
  additionalGids: number[];
  /** home directory from the passwd entry (or the generated one, see resolveUser's `podman`); undefined when none */
  home?: string;
  /** user name from the passwd entry */
  name?: string;
}

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  gecos: string;
  home: string;
}
interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

const ID = /^[0-9]{1,10}$/;
const MAX_ID = 0xffffffff - 1;

function parseId(s: string, what: string): number {
  const n = Number(s);
  if (!Number.isSafeInteger(n) || n > MAX_ID) throw new SkiffError('EINVALID', `${what} ${s} is out of range`);
  return n;
}

/** Parses passwd text (name:pw:uid:gid:gecos:home:shell); malformed lines are skipped. Pure. */
export function parsePasswd(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f.length < 7 || !ID.test(f[2]!) || !ID.test(f[3]!)) continue;
    out.push({ name: f[0]!, uid: Number(f[2]), gid: Number(f[3]), gecos: f[4]!, home: f[5]! });
  }
  return out;
}

/** Parses group text (name:pw:gid:members); malformed lines are skipped. Pure. */
export function parseGroup(text: string): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f.length < 4 || !ID.test(f[2]!)) continue;
    out.push({ name: f[0]!, gid: Number(f[2]), members: f[3]!.split(',').filter((m) => m !== '') });
  }
  return out;
}

/**
 * Resolves `spec` (`user`, `user:group`, names or numeric ids; empty means root) against the image's
 * /etc/passwd and /etc/group, read INSIDE `rootfs` with in-root symlink resolution, a regular-file check and a
 * 1 MiB cap (RU-05). Numeric ids work without entries; an unknown name is ENOTFOUND. Supplementary groups are
 * the groups listing the user as a member plus `groupAdd` (names or ids). Reads only; never follows a link out
 * of the rootfs. The one resolution both build-tool's RUN and run-tool use, with the peer's rule on top:
 *  - `podman` (run-tool, as podman 4.3): a non-empty `spec` also puts the primary gid among the supplementary
 *    groups (`id` shows `groups=<gid>`), and a numeric uid without a passwd entry gets `podman.home` (the home of
 *    the entry podmanAccountEntries generates for it: the working directory);
 *  - `buildah` (build-tool RUN, as buildah 1.28): the primary gid is always among the supplementary groups, also
 *    for the default user (root).
 */
export async function resolveUser(rootfs: string, spec: string | undefined, o: { groupAdd?: readonly string[]; podman?: { home: string }; buildah?: boolean } = {}): Promise<ResolvedUser> {
  const s = (spec ?? '').trim();
  const colon = s.indexOf(':');
  const userPart = colon < 0 ? s : s.slice(0, colon);
  const groupPart = colon < 0 ? undefined : s.slice(colon + 1);
  if (colon >= 0 && groupPart === '') throw new SkiffError('EINVALID', `invalid user ${JSON.stringify(s)}: empty group`);
  let passwd: PasswdEntry[] | undefined;
  let groups: GroupEntry[] | undefined;
  const loadPasswd = async () => (passwd ??= parsePasswd((await readFileInRoot(rootfs, '/etc/passwd', ACCOUNT_FILE_MAX)) ?? ''));
  const loadGroup = async () => (groups ??= parseGroup((await readFileInRoot(rootfs, '/etc/group', ACCOUNT_FILE_MAX)) ?? ''));

  let uid: number;
  let gid: number | undefined;
  let entry: PasswdEntry | undefined;
  if (userPart === '') {
    uid = 0;
    entry = (await loadPasswd()).find((e) => e.uid === 0);
  } else if (ID.test(userPart)) {
    uid = parseId(userPart, 'uid');
    entry = (await loadPasswd()).find((e) => e.uid === uid);
  } else {
    entry = (await loadPasswd()).find((e) => e.name === userPart);
    if (!entry) throw new SkiffError('ENOTFOUND', `unable to find user ${userPart}: no matching entries in passwd file`, { hint: 'use a numeric uid or add the user to the image' });
    uid = entry.uid;
  }
  gid = entry?.gid;
  if (groupPart !== undefined) {
    if (ID.test(groupPart)) gid = parseId(groupPart, 'gid');
    else {
      const g = (await loadGroup()).find((e) => e.name === groupPart);
      if (!g) throw new SkiffError('ENOTFOUND', `unable to find group ${groupPart}: no matching entries in group file`, { hint: 'use a numeric gid or add the group to the image' });
      gid = g.gid;
    }
  }
  gid ??= 0;
  const extra = new Set<number>();
  if ((o.podman && s !== '') || o.buildah) extra.add(gid);
  if (entry && groupPart === undefined) {
    for (const g of await loadGroup()) if (g.members.includes(entry.name) && g.gid !== gid) extra.add(g.gid);
  }
  for (const a of o.groupAdd ?? []) {
    if (ID.test(a)) extra.add(parseId(a, 'gid'));
    else {
      const g = (await loadGroup()).find((e) => e.name === a);
      if (!g) throw new SkiffError('ENOTFOUND', `unable to find group ${a}: no matching entries in group file`);
      extra.add(g.gid);
    }
  }
  const home = entry?.home ?? (o.podman && userPart !== '' && ID.test(userPart) ? o.podman.home : undefined);
  return { uid, gid, additionalGids: [...extra].sort((a, b) => a - b), ...(home !== undefined && { home }), ...(entry && { name: entry.name }) };
}

/** Lines podman appends to a container's /etc/passwd and /etc/group for its `--user` (each ends with '\n'). */
export interface AccountEntries {
  passwd?: string;
  group?: string;
}

function validId(s: string): boolean {
  return ID.test(s) && Number(s) <= 0xffffffff;
}

/**
 * The entries podman 4.3 adds for the container user `spec` (`-u`, else the image's User) given the image's
 * passwd and group text, with `home` (the container's working directory) as the new user's home:
 *  - passwd: only for a numeric uid the passwd file lacks: `UID:*:UID:GID:container user:HOME:/bin/sh`, GID
 *    the numeric group part, a named group's gid, or 0;
 *  - group: when the group part — or, without one, the USER part — is numeric and no group has that gid:
 *    `G:x:G:USER` (podman's own quirk: `-u 1234` adds group 1234 although the process gid is 0).
 * Empty `spec`: nothing. An unknown group name yields no passwd line (resolveUser reports it). Pure.
 */
export function podmanAccountEntries(spec: string, passwdText: string, groupText: string, home: string): AccountEntries {
  const s = spec.trim();
  if (s === '') return {};
  const colon = s.indexOf(':');
  const userPart = colon < 0 ? s : s.slice(0, colon);
  const groupPart = colon < 0 ? undefined : s.slice(colon + 1);
  const out: AccountEntries = {};
  const groups = parseGroup(groupText);
  if (validId(userPart) && !parsePasswd(passwdText).some((e) => e.uid === Number(userPart))) {
    let gid: number | undefined = 0;
    if (groupPart !== undefined && groupPart !== '') gid = validId(groupPart) ? Number(groupPart) : groups.find((g) => g.name === groupPart)?.gid;
    if (gid !== undefined) out.passwd = `${Number(userPart)}:*:${Number(userPart)}:${gid}:container user:${home}:/bin/sh\n`;
  }
  const g = groupPart ?? userPart;
  if (validId(g) && !groups.some((e) => e.gid === Number(g))) out.group = `${g}:x:${g}:${userPart}\n`;
  return out;
}

/** The invoking user as the host's account files describe them (keep-id's added passwd and group entries). */
export interface HostAccount {
  uid: number;
  gid: number;
  name: string;
  /** the passwd GECOS field */
  gecos: string;
  home: string;
  /** the name of group `gid`; undefined when the host's group file lacks it */
  groupName?: string;
}

/**
 * Looks `uid`/`gid` up in the host's passwd and group text. A uid without an entry gets its number as name, an
 * empty GECOS and `/` as home. Pure.
 */
export function hostAccountOf(uid: number, gid: number, passwdText: string, groupText: string): HostAccount {
  const entry = parsePasswd(passwdText).find((e) => e.uid === uid);
  const group = parseGroup(groupText).find((g) => g.gid === gid);
  return { uid, gid, name: entry?.name ?? String(uid), gecos: entry?.gecos ?? '', home: entry?.home || '/', ...(group && { groupName: group.name }) };
}

/**
 * podman 4.3's entries for `--userns=keep-id` given the image's passwd and group text:
 *  - passwd, when neither the user's name nor uid is in the image: `NAME:*:UID:GID:GECOS:HOME:/bin/sh`, HOME the
 *    user's host home when it or one of its parents (not `/`) is a mount destination of the container
 *    (`mountedPaths`), else the working directory `workdir`; `home` is that HOME (undefined without an entry);
 *  - group, when neither the group's name nor gid is in the image: `GROUP:x:GID:NAME`.
 * Pure.
 */
export function keepIdAccountEntries(host: HostAccount, passwdText: string, groupText: string, workdir: string, mountedPaths: ReadonlySet<string> = new Set()): AccountEntries & { home?: string } {
  const out: AccountEntries & { home?: string } = {};
  if (!parsePasswd(passwdText).some((e) => e.name === host.name || e.uid === host.uid)) {
    let home = workdir;
    for (let d = host.home; d.startsWith('/') && d.length > 1; d = posix.dirname(d)) {
      if (mountedPaths.has(d)) {
        home = host.home;
        break;
      }
    }
    out.passwd = `${host.name}:*:${host.uid}:${host.gid}:${host.gecos}:${home}:/bin/sh\n`;
    out.home = home;
  }
  const gname = host.groupName ?? String(host.gid);
  if (!parseGroup(groupText).some((g) => g.name === gname || g.gid === host.gid)) out.group = `${gname}:x:${host.gid}:${host.name}\n`;
  return out;
}
