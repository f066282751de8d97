import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { readlinkSync, statSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { constants as osConstants } from 'node:os';
import type { Writable } from 'node:stream';
import { SkiffError } from '../errors.ts';
import { runProgram } from '../process/run.ts';
import { procStartTime, readIdMap } from '../process/proc.ts';
import { locateProgram } from '../process/system-programs.ts';
import { USERNS_ENV } from './userns-marker.ts';
import { runcRootFor } from './runc.ts';
import { writeFileAtomic } from '../store/atomic.ts';
import { acquireLock } from '../store/lock.ts';
import { buildMappings, readSubIds, userNameOf, type UsernsMappings } from './rootless.ts';
import type { SpecIDMapping } from './types.ts';

/*
 * Rootless skiff, podman's model: an ordinary user's run-tool re-executes itself inside a user namespace (plus a
 * private mount namespace) that maps the user to root and the user's /etc/subuid and /etc/subgid ranges to 1…N
 * (every range, installed by newuidmap/newgidmap). Inside it, run-tool is "root": it unpacks layers with their
 * real (mapped) owners, mounts overlayfs (kernel ≥ 5.11, `userxattr`), and runs runc without a user namespace of
 * its own (runc sees it runs in a userns and uses its rootless cgroup manager and bind-mounted devices).
 *
 * As podman, one namespace per user is kept alive by a pause process (catatonit -P, else `sleep infinity`) whose
 * pid is in $XDG_RUNTIME_DIR/skiff/pause.pid; every invocation joins it (nsenter), so a later `exec`, `cp` or
 * `commit` reaches a running container's namespaces and its live rootfs mount. Without XDG_RUNTIME_DIR, each
 * invocation gets a fresh namespace with the same mappings (files keep the same owners; reaching into a running
 * container then fails).
 *
 * The environment marker SKIFF_USERNS="<host uid>:<host gid>:<full|single>" tells the re-executed process (and
 * everything it starts: conmon's exit command, health-check timers) that it runs inside such a namespace.
 */

/** How the namespace for a rootless user will be made. */
export interface UsernsPlan extends UsernsMappings {
  uid: number;
  gid: number;
  /** the unshare(1) arguments before the command (the id maps are installed by newuidmap/newgidmap afterwards) */
  unshareArgs: string[];
}

/**
 * Plans the user namespace for `uid`/`gid`: every subuid/subgid range of the user mapped in order at 1…, the user
 * at 0 — or the single-id mapping with buildMappings' warning when entries or newuidmap/newgidmap are missing.
 * Reads /etc/subuid, /etc/subgid and PATH only.
 */
export async function planUserNamespace(o: { uid?: number; gid?: number; user?: string; env?: NodeJS.ProcessEnv; subuidFile?: string; subgidFile?: string } = {}): Promise<UsernsPlan> {
  const env = o.env ?? process.env;
  const uid = o.uid ?? process.getuid?.() ?? 0;
  const gid = o.gid ?? process.getgid?.() ?? 0;
  let name = o.user ?? (await userNameOf(uid));
  if (name === undefined) {
    try {
      name = userInfo().username;
    } catch {
      name = env.USER;
    }
  }
  const who = { id: uid, name };
  const subuids = await readSubIds(o.subuidFile ?? '/etc/subuid', who);
  const subgids = await readSubIds(o.subgidFile ?? '/etc/subgid', { ...who, id: gid });
  const m = buildMappings({ uid, gid, subuids, subgids, haveNewuidmap: locateProgram('newuidmap', env) !== undefined, haveNewgidmap: locateProgram('newgidmap', env) !== undefined });
  // slave: mounts made on the host later (a new tmpfs, a USB disk) still show up in a long-lived namespace
  return { ...m, uid, gid, unshareArgs: ['--user', '--mount', '--propagation', 'slave'] };
}

/** newuidmap/newgidmap arguments after the pid: `inner outer count` triplets. Pure. */
export function idMapArgs(m: readonly SpecIDMapping[]): string[] {
  return m.flatMap((x) => [String(x.containerID), String(x.hostID), String(x.size)]);
}

function sameMaps(a: readonly SpecIDMapping[], b: readonly SpecIDMapping[]): boolean {
  return a.length === b.length && a.every((x, i) => x.containerID === b[i]!.containerID && x.hostID === b[i]!.hostID && x.size === b[i]!.size);
}


function nsLink(pid: number | 'self', ns: string): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/${ns}`);
  } catch {
    return undefined;
  }
}

/**
 * Starts `cmd` in a new user+mount namespace with the plan's id maps: util-linux unshare makes the namespaces
 * and execs a shell that waits on fd 3; meanwhile newuidmap/newgidmap (or, single-id, direct writes to
 * /proc/PID/{setgroups,uid_map,gid_map}) install the maps; then the shell is released and execs `cmd` as root of
 * the namespace. Resolves with the child once released; rejects (child killed) when the maps cannot be installed.
 */
export async function spawnMapped(plan: UsernsPlan, cmd: readonly string[], o: { stdio: readonly ('inherit' | 'ignore' | number)[]; env: NodeJS.ProcessEnv; detached?: boolean }): Promise<ChildProcess> {
  const unshare = locateProgram('unshare', o.env) ?? 'unshare';
  const child = spawn(unshare, [...plan.unshareArgs, '--', '/bin/sh', '-c', 'read -r _ <&3 || exit 125; exec 3<&-; exec "$@"', 'sh', ...cmd], {
    stdio: [...o.stdio, 'pipe'] as StdioOptions,
    env: o.env,
    detached: o.detached === true,
  });
  let failed: Error | undefined;
  let exited = false;
  child.once('error', (e) => (failed = e));
  child.once('exit', () => (exited = true));
  const fail = (msg: string): never => {
    try {
      child.kill('SIGKILL');
    } catch {
      /* gone */
    }
    throw new SkiffError('EPERM', `cannot make the rootless user namespace: ${msg}`, { hint: 'check /etc/subuid, /etc/subgid and the uidmap package (newuidmap, newgidmap)' });
  };
  const own = nsLink('self', 'user');
  for (let i = 0; ; i++) {
    if (failed) fail(`${failed.message} (install util-linux's unshare)`);
    if (exited) fail('unshare exited early');
    if (child.pid !== undefined && nsLink(child.pid, 'user') !== undefined && nsLink(child.pid, 'user') !== own) break;
    if (i > 2500) fail('unshare did not create a namespace within 5 s');
    await sleep(2);
  }
  const pid = child.pid!;
  if (plan.singleId) {
    try {
      await writeFile(`/proc/${pid}/setgroups`, 'deny');
      await writeFile(`/proc/${pid}/uid_map`, `0 ${plan.uid} 1\n`);
      await writeFile(`/proc/${pid}/gid_map`, `0 ${plan.gid} 1\n`);
    } catch (e) {
      fail((e as Error).message);
    }
  } else {
    for (const [prog, maps] of [['newuidmap', plan.uidMappings], ['newgidmap', plan.gidMappings]] as const) {
      const r = await runProgram(locateProgram(prog, o.env) ?? prog, [String(pid), ...idMapArgs(maps)]).catch((e: Error) => ({ code: 1, stdout: '', stderr: e.message }));
      if (r.code !== 0) fail(`${prog}: ${r.stderr.trim() || `exit ${r.code}`}`);
    }
  }
  const go = child.stdio[3] as Writable;
  go.on('error', () => {});
  go.end('go\n');
  return child;
}

/** The pause process's files under $XDG_RUNTIME_DIR/skiff. */
export function pausePaths(runtimeDir: string): { dir: string; pidFile: string; lock: string } {
  const dir = join(runtimeDir, 'skiff');
  return { dir, pidFile: join(dir, 'pause.pid'), lock: join(dir, 'pause.lock') };
}

type PauseCheck = { state: 'ok'; pid: number } | { state: 'other-maps'; pid: number } | { state: 'none' };

/** Reads the pid file and checks that process: alive (same start time) and with the plan's maps. */
async function checkPause(pidFile: string, plan: UsernsPlan): Promise<PauseCheck> {
  const text = await readFile(pidFile, 'utf8').catch(() => '');
  const [p, start] = text.trim().split(/\s+/);
  const pid = Number(p);
  if (!Number.isSafeInteger(pid) || pid < 2 || procStartTime(pid) !== start) return { state: 'none' };
  try {
    const um = readIdMap('uid', pid);
    const gm = readIdMap('gid', pid);
    if (!um || !gm) return { state: 'none' };
    return sameMaps(um, plan.uidMappings) && sameMaps(gm, plan.gidMappings) ? { state: 'ok', pid } : { state: 'other-maps', pid };
  } catch {
    return { state: 'none' };
  }
}

/**
 * The pid of the user's pause process holding the rootless namespace, started (under a lock, so concurrent first
 * invocations share one) when there is none or when /etc/subuid or /etc/subgid changed its maps (the old one is
 * killed with a warning: containers started before keep their namespace through their monitors, but cannot be
 * reached by exec/cp until restarted). Undefined without an absolute XDG_RUNTIME_DIR.
 */
export async function ensurePauseProcess(plan: UsernsPlan, env: NodeJS.ProcessEnv, onWarning: (m: string) => void = () => {}): Promise<number | undefined> {
  const x = env.XDG_RUNTIME_DIR;
  if (!x || !x.startsWith('/')) return undefined;
  const p = pausePaths(x);
  const fast = await checkPause(p.pidFile, plan);
  if (fast.state === 'ok') return fast.pid;
  await mkdir(p.dir, { recursive: true, mode: 0o700 });
  const lock = await acquireLock(p.lock, { wait: 10_000 });
  try {
    const now = await checkPause(p.pidFile, plan);
    if (now.state === 'ok') return now.pid;
    if (now.state === 'other-maps') {
      onWarning('WARNING: the subordinate id ranges changed (/etc/subuid, /etc/subgid): starting a new user namespace; containers started before keep the old one (restart them to exec or cp into them)');
      try {
        process.kill(now.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    const catatonit = locateProgram('catatonit', env);
    const pauseCmd = catatonit ? [catatonit, '-P'] : ['sleep', 'infinity'];
    const scope = pauseScopePrefix(env);
    const child = await spawnMapped(plan, [...scope, ...pauseCmd], { stdio: ['ignore', 'ignore', 'ignore'], env: { PATH: env.PATH ?? '/usr/bin:/bin', ...(scope.length > 0 && { XDG_RUNTIME_DIR: x }) }, detached: true });
    child.unref();
    const pid = child.pid!;
    // released: wait for the exec of the pause program (its maps are complete then)
    for (let i = 0; i < 2500; i++) {
      if (child.exitCode !== null || child.signalCode !== null) throw new SkiffError('EIO', `the rootless pause process exited (${child.exitCode ?? child.signalCode})`);
      const comm = (await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '')).trim();
      if (comm !== '' && comm !== 'sh' && comm !== 'unshare' && comm !== 'systemd-run') break;
      await sleep(2);
    }
    await writeFileAtomic(p.pidFile, `${pid} ${procStartTime(pid) ?? ''}\n`, 0o600);
    return pid;
  } finally {
    await lock.release();
  }
}

/**
 * Under a systemd unit of the user's own manager (INVOCATION_ID set, the manager's private socket in
 * XDG_RUNTIME_DIR): `systemd-run --user --scope` words that put the pause process in a scope of its own, as podman
 * moves its pause process — left in the unit's cgroup, it would be killed when that unit stops, and every other
 * container of the user would lose the namespace exec and cleanup join. Otherwise none.
 */
export function pauseScopePrefix(env: NodeJS.ProcessEnv): string[] {
  const x = env.XDG_RUNTIME_DIR;
  const run = locateProgram('systemd-run', env);
  if (!env.INVOCATION_ID || !x || !run) return [];
  try {
    if (!statSync(join(x, 'systemd', 'private')).isSocket()) return [];
  } catch {
    return [];
  }
  return [run, '--user', '--scope', '--quiet', '--collect', `--unit=skiff-pause-${process.pid}-${Date.now()}.scope`, '--'];
}

const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH'];

/**
 * For an ordinary user outside skiff's namespace: runs this same program (`process.execPath` + argv) again
 * inside the user's rootless namespace — joined through nsenter when the pause process holds it
 * (ensurePauseProcess), else a fresh one (spawnMapped) — with the marker, SKIFF_ROOT defaulted to the user's
 * store ($XDG_DATA_HOME/skiff) and SKIFF_RUNC_ROOT to runcRootFor's ($XDG_RUNTIME_DIR/skiff/runc unless storage.conf sets a runroot); forwards signals and resolves
 * with the child's exit code (128+signal). Resolves undefined — nothing done — for root or when already inside
 * the namespace (or SKIFF_NO_USERNS=1). A failure to enter the namespace is a SkiffError with exit status 125;
 * a changed namespace is reported through `onWarning`.
 */
export async function reexecInUserNamespace(o: { argv?: readonly string[]; env?: NodeJS.ProcessEnv; defaultStoreRoot: (env: NodeJS.ProcessEnv, uid: number) => string; onWarning?: (message: string) => void }): Promise<number | undefined> {
  const env = o.env ?? process.env;
  const uid = process.getuid?.() ?? 0;
  if (uid === 0 || env.SKIFF_NO_USERNS === '1' || env[USERNS_ENV] !== undefined) return undefined;
  const plan = await planUserNamespace({ env });
  const childEnv: NodeJS.ProcessEnv = { ...env, [USERNS_ENV]: `${plan.uid}:${plan.gid}:${plan.singleId ? 'single' : 'full'}` };
  if (!childEnv.SKIFF_ROOT) childEnv.SKIFF_ROOT = o.defaultStoreRoot(env, uid);
  if (!childEnv.SKIFF_RUNC_ROOT) {
    try {
      childEnv.SKIFF_RUNC_ROOT = runcRootFor(uid, env);
    } catch {
      /* no XDG_RUNTIME_DIR and no run root: the child says so when it needs runc */
    }
  }
  const argv = o.argv ?? process.argv;
  const cmd = [process.execPath, ...process.execArgv, resolve(argv[1] ?? ''), ...argv.slice(2)];
  let child: ChildProcess;
  try {
    const pause = await ensurePauseProcess(plan, env, o.onWarning);
    if (pause !== undefined) {
      const nsenter = locateProgram('nsenter', env) ?? 'nsenter';
      // --preserve-credentials: the user's own ids are root of the namespace (no setgroups, denied single-id)
      child = spawn(nsenter, ['--user', '--mount', `--target=${pause}`, '--preserve-credentials', `--wd=${process.cwd()}`, '--', ...cmd], { stdio: 'inherit', env: childEnv });
    } else {
      child = await spawnMapped(plan, cmd, { stdio: ['inherit', 'inherit', 'inherit'], env: childEnv });
    }
  } catch (e) {
    throw new SkiffError('EPERM', (e as Error).message, { exitStatus: 125, cause: e });
  }
  return new Promise((res, rej) => {
    const fwd = (s: NodeJS.Signals) => () => {
      try {
        child.kill(s);
      } catch {
        /* gone */
      }
    };
    const handlers = FORWARDED.map((s) => [s, fwd(s)] as const);
    for (const [s, h] of handlers) process.on(s, h);
    child.on('error', (e) => {
      for (const [s, h] of handlers) process.off(s, h);
      rej(new SkiffError('EPERM', `cannot enter the user namespace: ${e.message} (install util-linux's nsenter and unshare)`, { exitStatus: 125, cause: e }));
    });
    child.on('close', (code, sig) => {
      for (const [s, h] of handlers) process.off(s, h);
      res(code ?? 128 + ((sig && (osConstants.signals as Record<string, number>)[sig]) || 0));
    });
  });
}
