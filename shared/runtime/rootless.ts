import { accessSync, constants } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { locateProgram } from '../process/system-programs.ts';
import type { SpecIDMapping } from './types.ts';
import { hostGid, hostUid, usernsMarker } from './userns-marker.ts';

/** A subordinate id range from /etc/subuid or /etc/subgid. */
export interface SubIdRange {
  start: number;
  count: number;
}

/**
 * True when skiff runs rootless: uid ≠ 0, or (no uid given) inside skiff's rootless user namespace, where the
 * process is "root" of a namespace owned by an ordinary user (see userns.ts).
 */
export function isRootless(uid?: number): boolean {
  if (uid !== undefined) return uid !== 0;
  return (process.getuid?.() ?? 0) !== 0 || usernsMarker() !== undefined;
}

/** Parses /etc/subuid or /etc/subgid text: the ranges of `user` (by name or numeric uid). Pure. */
export function parseSubIds(text: string, user: { name?: string; id: number }): SubIdRange[] {
  const out: SubIdRange[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(':');
    if (f.length !== 3 || line.trim().startsWith('#')) continue;
    if (f[0] !== user.name && f[0] !== String(user.id)) continue;
    const start = Number(f[1]);
    const count = Number(f[2]);
    if (Number.isSafeInteger(start) && Number.isSafeInteger(count) && start >= 0 && count > 0) out.push({ start, count });
  }
  return out;
}

/** Reads the user's ranges from a subuid/subgid file ([] when the file is absent). */
export async function readSubIds(file: string, user: { name?: string; id: number }): Promise<SubIdRange[]> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return parseSubIds(text, user);
}

/** User-namespace mappings for a rootless container. */
export interface UsernsMappings {
  uidMappings: SpecIDMapping[];
  gidMappings: SpecIDMapping[];
  /** true when only the user's own id is mapped (no subordinate ranges usable) */
  singleId: boolean;
  warning?: string;
}

/**
 * Builds rootless mappings: container 0 → the user's id, then container 1… → the subordinate ranges in order.
 * Without ranges, or without newuidmap/newgidmap to install them, falls back to the single-id mapping with a
 * clear warning (files owned by other ids in the image then appear as nobody). Pure.
 */
export function buildMappings(o: { uid: number; gid: number; subuids: readonly SubIdRange[]; subgids: readonly SubIdRange[]; haveNewuidmap: boolean; haveNewgidmap: boolean }): UsernsMappings {
  const single = (id: number): SpecIDMapping[] => [{ containerID: 0, hostID: id, size: 1 }];
  const ranges = (id: number, rs: readonly SubIdRange[]): SpecIDMapping[] => {
    const m = single(id);
    let next = 1;
    for (const r of rs) {
      m.push({ containerID: next, hostID: r.start, size: r.count });
      next += r.count;
    }
    return m;
  };
  const missing: string[] = [];
  if (o.subuids.length === 0) missing.push('no /etc/subuid entry');
  if (o.subgids.length === 0) missing.push('no /etc/subgid entry');
  if (!o.haveNewuidmap) missing.push('newuidmap is not installed');
  if (!o.haveNewgidmap) missing.push('newgidmap is not installed');
  if (missing.length > 0) {
    return {
      uidMappings: single(o.uid),
      gidMappings: single(o.gid),
      singleId: true,
      warning: `WARNING: using a single-UID user namespace (${missing.join(', ')}): only uid ${o.uid} maps into the container; install the uidmap package and add subordinate ids (usermod --add-subuids/--add-subgids) for full images`,
    };
  }
  return { uidMappings: ranges(o.uid, o.subuids), gidMappings: ranges(o.gid, o.subgids), singleId: false };
}

/** The login name of `uid` from /etc/passwd (undefined when it has none). */
export async function userNameOf(uid: number, passwdFile = '/etc/passwd'): Promise<string | undefined> {
  const text = await readFile(passwdFile, 'utf8').catch(() => '');
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f.length >= 3 && f[2] === String(uid) && f[0]) return f[0];
  }
  return undefined;
}

/** One check of doctor(). */
export interface DoctorCheck {
  name: string;
  ok: boolean;
  detail: string;
}

/**
 * Reports what rootless containers need and what is missing: subuid/subgid entries, newuidmap/newgidmap,
 * XDG_RUNTIME_DIR, pasta and /dev/net/tun access (rootless networking). Reads only.
 */
export async function doctor(o: { uid?: number; gid?: number; user?: string; env?: NodeJS.ProcessEnv; subuidFile?: string; subgidFile?: string; tunDevice?: string } = {}): Promise<DoctorCheck[]> {
  const env = o.env ?? process.env;
  const uid = o.uid ?? hostUid(env);
  // inside skiff's namespace files the user owns appear as owned by uid 0 (the user's mapping)
  const viewUid = o.uid ?? process.getuid?.() ?? 0;
  const name = o.user ?? (await userNameOf(uid)) ?? env.USER;
  const user = { id: uid, name };
  const checks: DoctorCheck[] = [];
  const su = await readSubIds(o.subuidFile ?? '/etc/subuid', user);
  const sg = await readSubIds(o.subgidFile ?? '/etc/subgid', { ...user, id: o.gid ?? hostGid(env) });
  checks.push({ name: 'subuid', ok: su.length > 0, detail: su.length ? su.map((r) => `${r.start}+${r.count}`).join(', ') : `no entry for ${user.name ?? uid} in /etc/subuid (usermod --add-subuids 100000-165535 USER)` });
  checks.push({ name: 'subgid', ok: sg.length > 0, detail: sg.length ? sg.map((r) => `${r.start}+${r.count}`).join(', ') : `no entry for ${user.name ?? uid} in /etc/subgid (usermod --add-subgids 100000-165535 USER)` });
  for (const p of ['newuidmap', 'newgidmap']) {
    const at = locateProgram(p, env);
    checks.push({ name: p, ok: at !== undefined, detail: at ?? `${p} is missing: install the uidmap package` });
  }
  const x = env.XDG_RUNTIME_DIR;
  const xs = x ? await stat(x).catch(() => undefined) : undefined;
  checks.push({ name: 'XDG_RUNTIME_DIR', ok: !!xs?.isDirectory() && xs.uid === viewUid, detail: x ? (xs ? `${x}${xs.uid === viewUid ? '' : ' is not owned by you'}` : `${x} does not exist`) : 'XDG_RUNTIME_DIR is not set (export XDG_RUNTIME_DIR=/run/user/$(id -u))' });
  const tun = o.tunDevice ?? '/dev/net/tun';
  let tunOk = false;
  try {
    accessSync(tun, constants.R_OK | constants.W_OK);
    tunOk = true;
  } catch {
    /* not accessible */
  }
  const pasta = locateProgram('pasta', env);
  checks.push({ name: 'pasta', ok: pasta !== undefined, detail: pasta ?? 'pasta is missing: install the passt package for rootless networking (--network none works without)' });
  checks.push({ name: 'tun', ok: tunOk, detail: tunOk ? tun : `${tun} is not accessible: rootless networking (pasta) needs it (--network none works without)` });
  return checks;
}
