import { SkiffError } from '../errors.ts';
import { readFileInRoot } from './in-root.ts';

/** The largest /etc/passwd or /etc/group read from an image (RU-05). */
export const ACCOUNT_FILE_MAX = 1024 * 1024;

/** A resolved container user: ids for process.user plus the passwd home (for HOME). */
export interface ResolvedUser {
  uid: number;
  gid: number;
  additionalGids: number[];
  /** home directory from the passwd entry; undefined when there is no entry */
  home?: string;
  /** user name from the passwd entry */
  name?: string;
}

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
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
    out.push({ name: f[0]!, uid: Number(f[2]), gid: Number(f[3]), home: f[5]! });
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
 * of the rootfs.
 */
export async function resolveUser(rootfs: string, spec: string | undefined, o: { groupAdd?: readonly string[] } = {}): Promise<ResolvedUser> {
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
  return { uid, gid, additionalGids: [...extra].sort((a, b) => a - b), ...(entry && { home: entry.home, name: entry.name }) };
}
