import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { constants as osConstants } from 'node:os';
import { buildMappings, findProgram, readSubIds, userNameOf, type UsernsMappings } from './rootless.ts';

/*
 * Rootless skiff, podman's model: an ordinary user's run-tool re-executes itself inside a user namespace (plus a
 * private mount namespace) that maps the user to root and the user's /etc/subuid and /etc/subgid ranges to 1…N
 * (installed by newuidmap/newgidmap through util-linux unshare's --map-users/--map-groups). Inside it, run-tool
 * is "root": it unpacks layers with their real (mapped) owners, mounts overlayfs (kernel ≥ 5.11, `userxattr`),
 * and runs runc without a user namespace of its own (runc sees it runs in a userns and uses its rootless cgroup
 * manager and bind-mounted devices). Each invocation gets a fresh namespace with the same mappings, so files
 * made by one invocation have the same owners for the next; a detached container keeps its own namespace alive
 * through its monitor.
 *
 * The environment marker SKIFF_USERNS="<host uid>:<host gid>:<full|single>" tells the re-executed process (and
 * everything it starts: conmon's exit command, health-check timers) that it runs inside such a namespace.
 */

/** The environment variable marking a process inside skiff's rootless user namespace. */
export const USERNS_ENV = 'SKIFF_USERNS';

/** What the marker says: the invoking user's host ids and the mapping kind. */
export interface UsernsMarker {
  uid: number;
  gid: number;
  mode: 'full' | 'single';
}

/** Parses the SKIFF_USERNS marker; undefined when absent or malformed. Pure. */
export function parseUsernsMarker(v: string | undefined): UsernsMarker | undefined {
  const m = /^(\d+):(\d+):(full|single)$/.exec(v ?? '');
  if (!m) return undefined;
  return { uid: Number(m[1]), gid: Number(m[2]), mode: m[3] as 'full' | 'single' };
}

/**
 * The marker of the namespace this process runs in, or undefined (rootful, or rootless before the re-exec).
 * Only trusted when this process is uid 0 in a user namespace that is not the initial one, so a user cannot
 * make a root process believe it is rootless by setting the variable.
 */
export function usernsMarker(env: NodeJS.ProcessEnv = process.env): UsernsMarker | undefined {
  const m = parseUsernsMarker(env[USERNS_ENV]);
  if (!m) return undefined;
  return runningInUserNamespace() ? m : undefined;
}

let inUserns: boolean | undefined;
/** True when this process is in a user namespace other than the initial one (uid_map is not the identity). */
export function runningInUserNamespace(): boolean {
  if (inUserns !== undefined) return inUserns;
  try {
    const text = readFileSync('/proc/self/uid_map', 'utf8');
    inUserns = !/^\s*0\s+0\s+4294967295\s*$/.test(text.trim());
  } catch {
    inUserns = false;
  }
  return inUserns;
}

/** The invoking user's host uid: the marker's inside skiff's namespace, else the process's. */
export function hostUid(env: NodeJS.ProcessEnv = process.env): number {
  return usernsMarker(env)?.uid ?? process.getuid?.() ?? 0;
}

/** The invoking user's host gid: the marker's inside skiff's namespace, else the process's. */
export function hostGid(env: NodeJS.ProcessEnv = process.env): number {
  return usernsMarker(env)?.gid ?? process.getgid?.() ?? 0;
}

/** How the namespace for a rootless user will be made. */
export interface UsernsPlan extends UsernsMappings {
  uid: number;
  gid: number;
  /** the unshare(1) arguments before the command */
  unshareArgs: string[];
}

/**
 * Plans the user namespace for `uid`/`gid`: their first subuid/subgid ranges (unshare maps one range each; a
 * second range is ignored) mapped at 1…, the user at 0 — or the single-id mapping with buildMappings' warning
 * when entries or newuidmap/newgidmap are missing. Reads /etc/subuid, /etc/subgid and PATH only.
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
  const who = { id: uid, ...(name !== undefined && { name }) };
  const subuids = (await readSubIds(o.subuidFile ?? '/etc/subuid', who)).slice(0, 1);
  const subgids = (await readSubIds(o.subgidFile ?? '/etc/subgid', { ...who, id: gid })).slice(0, 1);
  const m = buildMappings({ uid, gid, subuids, subgids, haveNewuidmap: findProgram('newuidmap', env) !== undefined, haveNewgidmap: findProgram('newgidmap', env) !== undefined });
  const args = ['--user', '--mount', '--propagation', 'private', '--map-root-user'];
  if (!m.singleId) {
    const u = m.uidMappings[1]!;
    const g = m.gidMappings[1]!;
    // util-linux 2.38 syntax: outer,inner,count
    args.push(`--map-users=${u.hostID},${u.containerID},${u.size}`, `--map-groups=${g.hostID},${g.containerID},${g.size}`);
  }
  return { ...m, uid, gid, unshareArgs: args };
}

const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH'];

/**
 * For an ordinary user outside skiff's namespace: runs this same program (`process.execPath` + argv) again
 * inside a new user+mount namespace (planUserNamespace), with the marker, SKIFF_ROOT defaulted to the user's
 * store ($XDG_DATA_HOME/skiff) and SKIFF_RUNC_ROOT to $XDG_RUNTIME_DIR/skiff/runc; forwards signals and
 * resolves with the child's exit code (128+signal). Resolves undefined — nothing done — for root or when already
 * inside the namespace (or SKIFF_NO_USERNS=1). ENODEP-like failures of unshare come back as exit code 125.
 */
export async function reexecInUserNamespace(o: { argv?: readonly string[]; env?: NodeJS.ProcessEnv; defaultStoreRoot: (env: NodeJS.ProcessEnv, uid: number) => string }): Promise<number | undefined> {
  const env = o.env ?? process.env;
  const uid = process.getuid?.() ?? 0;
  if (uid === 0 || env.SKIFF_NO_USERNS === '1' || env[USERNS_ENV] !== undefined) return undefined;
  const plan = await planUserNamespace({ env });
  const childEnv: NodeJS.ProcessEnv = { ...env, [USERNS_ENV]: `${plan.uid}:${plan.gid}:${plan.singleId ? 'single' : 'full'}` };
  if (!childEnv.SKIFF_ROOT) childEnv.SKIFF_ROOT = o.defaultStoreRoot(env, uid);
  const x = env.XDG_RUNTIME_DIR;
  if (!childEnv.SKIFF_RUNC_ROOT && x && x.startsWith('/')) childEnv.SKIFF_RUNC_ROOT = join(x, 'skiff', 'runc');
  const argv = o.argv ?? process.argv;
  const unshare = findProgram('unshare', env) ?? 'unshare';
  return new Promise((res) => {
    const child = spawn(unshare, [...plan.unshareArgs, '--', process.execPath, ...process.execArgv, resolve(argv[1] ?? ''), ...argv.slice(2)], { stdio: 'inherit', env: childEnv });
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
      process.stderr.write(`Error: cannot enter a user namespace: ${e.message} (install util-linux's unshare)\n`);
      res(125);
    });
    child.on('close', (code, sig) => {
      for (const [s, h] of handlers) process.off(s, h);
      res(code ?? 128 + ((sig && (osConstants.signals as Record<string, number>)[sig]) || 0));
    });
  });
}
