import { execFileSync, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { hasBusybox } from '../../helpers/busybox.ts';
import { isRoot } from '../../helpers/tmp.ts';

/*
 * Set-up shared by the rootless suites: an ordinary user made for the test (useradd gives it /etc/subuid and
 * /etc/subgid ranges), a runtime dir it owns, the built run-tool run as that user through setpriv, and a removal
 * that rm -f's its containers, kills what is left of its processes (its pause process included), unmounts and
 * deletes it.
 */

export const repo = resolve(import.meta.dirname, '../../..');
/** The run-tool entry the users run (SKIFF_ROOTLESS_BUNDLE: a locally built entry). */
export const bundle = process.env.SKIFF_ROOTLESS_BUNDLE ?? join(repo, 'bin', 'run-tool.mjs');
/** The programs the rootless suites need, with the Debian package of each. */
const ROOTLESS_PROGRAMS: Record<string, string> = { useradd: 'passwd', userdel: 'passwd', setpriv: 'util-linux', unshare: 'util-linux', nsenter: 'util-linux', newuidmap: 'uidmap', newgidmap: 'uidmap', busybox: 'busybox-static', runc: 'runc', conmon: 'conmon', pasta: 'passt' };

/**
 * Whether the rootless suites run here: as root (where CI runs them). A missing program or an unbuilt bundle
 * does not skip them: makeUser fails with one line naming what to install (missingForRootless).
 */
export const canRunRootless = isRoot;

/**
 * One line saying what the rootless suites miss here (programs with their packages — the common ones plus a
 * suite's `extra` — and the built bundle), or undefined.
 */
export function missingForRootless(extra: Record<string, string> = {}): string | undefined {
  const all: Record<string, string> = { ...ROOTLESS_PROGRAMS, ...extra };
  const missing = Object.keys(all).filter((p) => spawnSync('sh', ['-c', `command -v ${p}`]).status !== 0);
  if (missing.length > 0) return `the rootless suites need ${missing.join(', ')}: apt-get install -y ${[...new Set(missing.map((p) => all[p]))].join(' ')}`;
  if (!hasBusybox || !existsSync(bundle)) return `the rootless suites run the built tools (${bundle}): run \`npm run build\` first`;
  return undefined;
}

/** A test user. */
export interface TestUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
  runtimeDir: string;
}

/** Creates user `name` (with or without subordinate ids) and its 0700 runtime dir /run/user/UID; fails with one line when a needed program is missing. */
export function makeUser(name: string, withSubIds: boolean): TestUser {
  const missing = missingForRootless();
  if (missing) throw new Error(missing);
  execFileSync('useradd', ['-m', ...(withSubIds ? [] : ['-K', 'SUB_UID_COUNT=0', '-K', 'SUB_GID_COUNT=0']), name]);
  const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }).trim());
  const home = execFileSync('sh', ['-c', `getent passwd ${name} | cut -d: -f6`], { encoding: 'utf8' }).trim();
  const runtimeDir = `/run/user/${uid}`;
  mkdirSync(runtimeDir, { recursive: true, mode: 0o700 });
  chownSync(runtimeDir, uid, gid);
  chmodSync(runtimeDir, 0o700);
  return { name, uid, gid, home, runtimeDir };
}

/** Runs the built run-tool as `u` (setpriv: real and effective ids and groups of the user, a login-like env). */
export function asUser(u: TestUser, args: string[], o: { timeout?: number; env?: Record<string, string>; input?: string } = {}): SpawnSyncReturns<string> {
  return asUserRun(u, bundle, args, o);
}

/** Runs the built `tool` (run-tool, build-tool or copy-tool) as `u`, as asUser does. */
export function asUserTool(u: TestUser, tool: 'run-tool' | 'build-tool' | 'copy-tool', args: string[], o: { timeout?: number; env?: Record<string, string>; input?: string } = {}): SpawnSyncReturns<string> {
  return asUserRun(u, tool === 'run-tool' ? bundle : join(repo, 'bin', `${tool}.mjs`), args, o);
}

function asUserRun(u: TestUser, entry: string, args: string[], o: { timeout?: number; env?: Record<string, string>; input?: string }): SpawnSyncReturns<string> {
  return spawnSync('setpriv', ['--reuid', String(u.uid), '--regid', String(u.gid), '--init-groups', '--', process.execPath, entry, ...args], {
    encoding: 'utf8',
    cwd: u.home,
    timeout: o.timeout ?? 60_000,
    ...(o.input !== undefined && { input: o.input }),
    env: { PATH: '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin', HOME: u.home, USER: u.name, LOGNAME: u.name, XDG_RUNTIME_DIR: u.runtimeDir, ...o.env },
  });
}

/** Pids of every live (not zombie) process of host uid `uid` (the test users own nothing but what the tests started). */
export function pidsOf(uid: number): number[] {
  const r = spawnSync('ps', ['-o', 'pid=,stat=', '-u', String(uid)], { encoding: 'utf8' });
  return r.stdout.split('\n').map((l) => l.trim().split(/\s+/)).filter((f) => f.length === 2 && !f[1]!.startsWith('Z')).map((f) => Number(f[0]));
}

/** The pid of the user's rootless pause process ($XDG_RUNTIME_DIR/skiff/pause.pid), if any. */
export function pausePidOf(u: TestUser): number | undefined {
  try {
    const pid = Number(readFileSync(join(u.runtimeDir, 'skiff', 'pause.pid'), 'utf8').trim().split(/\s+/)[0]);
    return pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Removes every container of `u` (rm -af as that user). */
export function removeContainers(u: TestUser): void {
  asUser(u, ['rm', '-af']);
}

/** Removes `u`: its containers through the tool, then any process of it left (by pid), its mounts, the user. */
export function removeUser(u: TestUser): void {
  const ps = asUser(u, ['ps', '-aq']);
  for (const id of ps.stdout.split('\n').filter(Boolean)) asUser(u, ['rm', '-f', id]);
  for (const pid of pidsOf(u.uid)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  const mounts = readFileSync('/proc/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1] ?? '').filter((m) => m.startsWith(u.home) || m.startsWith(u.runtimeDir));
  for (const m of mounts.reverse()) spawnSync('umount', ['-l', m]);
  spawnSync('userdel', ['-r', '-f', u.name]);
  rmSync(u.runtimeDir, { recursive: true, force: true });
}

/** The first /etc/subuid (or subgid) range of `name`. */
export function firstSubId(file: '/etc/subuid' | '/etc/subgid', name: string): { start: number; count: number } {
  const line = readFileSync(file, 'utf8').split('\n').find((l) => l.startsWith(`${name}:`));
  if (!line) throw new Error(`${name} has no entry in ${file}`);
  return { start: Number(line.split(':')[1]), count: Number(line.split(':')[2]) };
}

/**
 * Appends `name:start:count` to /etc/subuid and /etc/subgid (start: above every range in either file) and returns
 * the range and a function removing exactly those lines again (other lines untouched).
 */
export function addSubIdRange(name: string, count: number): { start: number; count: number; restore: () => void } {
  const files = ['/etc/subuid', '/etc/subgid'];
  let top = 0;
  for (const f of files) {
    for (const l of readFileSync(f, 'utf8').split('\n')) {
      const [, s, c] = l.split(':');
      if (s !== undefined && c !== undefined) top = Math.max(top, Number(s) + Number(c));
    }
  }
  const start = Math.ceil((top + 1) / 65536) * 65536;
  const line = `${name}:${start}:${count}`;
  for (const f of files) {
    const text = readFileSync(f, 'utf8');
    writeFileSync(f, `${text}${text.endsWith('\n') || text === '' ? '' : '\n'}${line}\n`);
  }
  return {
    start,
    count,
    restore: () => {
      for (const f of files) writeFileSync(f, readFileSync(f, 'utf8').split('\n').filter((l) => l !== line).join('\n'));
    },
  };
}

/** Polls `f` every 100 ms until it returns true or `ms` passed; returns its last answer. */
export function pollSync(f: () => boolean, ms: number): boolean {
  const end = Date.now() + ms;
  for (;;) {
    if (f()) return true;
    if (Date.now() > end) return false;
    execFileSync('sleep', ['0.1']);
  }
}

/**
 * An ordinary test user (with subordinate ids) who has imported `busybox`: a busybox rootfs owned by root with
 * /data/owned owned by 1000:1000, and `hostDir`, a directory under `scratchDir` the user owns. `scratchDir` is
 * made world-traversable so the user reaches the tarball.
 */
export function makeUserWithBusybox(scratchDir: string, prefix: string): { u: TestUser; hostDir: string; tarball: string } {
  chmodSync(scratchDir, 0o755);
  const rootfs = join(scratchDir, 'rootfs');
  execFileSync('bash', [join(repo, 'scripts/make-busybox-rootfs.sh'), rootfs]);
  mkdirSync(join(rootfs, 'data'));
  execFileSync('sh', ['-c', `echo owned > ${rootfs}/data/owned && chown -R 1000:1000 ${rootfs}/data`]);
  const tarball = join(scratchDir, 'busybox.tar');
  execFileSync('tar', ['--numeric-owner', '-C', rootfs, '-cf', tarball, '.']);
  chmodSync(tarball, 0o644);
  const u = makeUser(`${prefix}-${randomBytes(3).toString('hex')}`, true);
  const hostDir = join(scratchDir, 'host');
  mkdirSync(hostDir);
  chownSync(hostDir, u.uid, u.gid);
  const r = asUser(u, ['import', tarball, 'busybox']);
  if (r.status !== 0) throw new Error(`import as ${u.name} failed: ${r.stderr}`);
  return { u, hostDir, tarball };
}
