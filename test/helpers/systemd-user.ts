// A real systemd user manager for tests, without systemd as PID 1 (ENVIRONMENT.md): in a private mount namespace
// with a tmpfs on /run/systemd (an empty `system` directory makes systemctl believe in systemd, `user-generators`
// takes generators), XDG_RUNTIME_DIR private, `systemd --user` started with an empty environment (so units get
// systemd's default PATH) and killed by PID at the end.
import { spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';

/** systemd's manager binary and systemctl are installed. */
export const hasSystemd = existsSync('/lib/systemd/systemd') && existsSync('/usr/bin/systemctl') && existsSync('/usr/bin/systemd-analyze');

/** A running user manager: run commands inside its mount namespace, stop it. */
export interface UserManager {
  pid: number;
  runtimeDir: string;
  /** where unit files for it go ($XDG_RUNTIME_DIR/systemd/user.control) */
  unitDir: string;
  /** runs `cmd args…` inside the manager's mount namespace with XDG_RUNTIME_DIR set */
  exec(cmd: string, args: readonly string[], o?: { timeout?: number }): SpawnSyncReturns<string>;
  systemctl(args: readonly string[]): SpawnSyncReturns<string>;
  /** writes an executable generator script into the namespace's /run/systemd/user-generators */
  installGenerator(name: string, script: string): void;
  stop(): Promise<void>;
}

/** An ordinary user to run the manager as (its own runtime dir, which it owns). */
export interface ManagerUser {
  uid: number;
  gid: number;
  home: string;
  runtimeDir: string;
}

/** cgroups v1 hybrid: the hierarchies a user manager writes its cgroups into (the unified one and name=systemd). */
const CGROUP_HIERARCHIES = ['/sys/fs/cgroup/unified', '/sys/fs/cgroup/systemd'];

/** Every pid in the cgroup tree at `dir` (deepest first does not matter: they are killed, then the dirs removed). */
function pidsUnder(dir: string): number[] {
  const out: number[] = [];
  const walk = (d: string): void => {
    try {
      out.push(...readFileSync(join(d, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number));
      for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) walk(join(d, e.name));
    } catch {
      /* gone */
    }
  };
  walk(dir);
  return out;
}

function rmdirTree(d: string): void {
  try {
    for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) rmdirTree(join(d, e.name));
    rmdirSync(d);
  } catch {
    /* gone, or still busy */
  }
}

/**
 * Starts a user manager with its runtime dir under `dir` (or, with `user`, as that ordinary user with the user's
 * runtime dir, in a cgroup delegated to it: a non-root manager must own the cgroup it starts in); waits until it
 * answers (15 s at most).
 */
export async function startUserManager(dir: string, user?: ManagerUser): Promise<UserManager> {
  const runtimeDir = user ? user.runtimeDir : join(dir, 'xdg');
  mkdirSync(join(runtimeDir, 'systemd', 'user.control'), { recursive: true, mode: 0o700 });
  const cgroups = user ? CGROUP_HIERARCHIES.filter((h) => existsSync(h)).map((h) => join(h, `skiff-test-${randomBytes(4).toString('hex')}`)) : [];
  if (user) {
    for (const d of [join(runtimeDir, 'systemd'), join(runtimeDir, 'systemd', 'user.control')]) chownSync(d, user.uid, user.gid);
    for (const cg of cgroups) {
      mkdirSync(cg);
      for (const f of ['', ...readdirSync(cg)]) chownSync(join(cg, f), user.uid, user.gid);
    }
  }
  const asUser = user ? `setpriv --reuid ${user.uid} --regid ${user.gid} --init-groups ` : '';
  const script = `${cgroups.map((cg) => `echo $$ > ${cg}/cgroup.procs && `).join('')}mount -t tmpfs tmpfs /run/systemd && mkdir -p /run/systemd/system /run/systemd/user-generators && exec ${asUser}/lib/systemd/systemd --user`;
  const child: ChildProcess = spawn('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script], {
    env: { XDG_RUNTIME_DIR: runtimeDir, HOME: user ? user.home : dir, LANG: 'C.UTF-8' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (b: Buffer) => (stderr += b.toString()));
  const pid = child.pid!;
  const exited = new Promise<void>((r) => child.on('exit', () => r()));
  const userPrefix = user ? ['setpriv', '--reuid', String(user.uid), '--regid', String(user.gid), '--init-groups', 'env', '-i', 'PATH=/usr/local/bin:/usr/bin:/bin', `HOME=${user.home}`] : ['env'];
  const exec = (cmd: string, args: readonly string[], o: { timeout?: number } = {}) =>
    spawnSync('nsenter', ['--target', String(pid), '--mount', '--', ...userPrefix, `XDG_RUNTIME_DIR=${runtimeDir}`, cmd, ...args], { encoding: 'utf8', timeout: o.timeout ?? 60_000, ...(user && { cwd: user.home }) });
  const systemctl = (args: readonly string[]) => exec('systemctl', ['--user', ...args]);
  const deadline = Date.now() + 15_000;
  for (;;) {
    const r = systemctl(['is-system-running']);
    if (r.stdout.trim() === 'running' || r.stdout.trim() === 'degraded') break;
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`systemd --user did not come up: ${stderr || r.stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    pid,
    runtimeDir,
    unitDir: join(runtimeDir, 'systemd', 'user.control'),
    exec,
    systemctl,
    installGenerator(name, script) {
      const r = spawnSync('nsenter', ['--target', String(pid), '--mount', '--', 'sh', '-c', 'cat > "$0" && chmod 755 "$0"', `/run/systemd/user-generators/${name}`], { input: script, encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`installing generator ${name}: ${r.stderr}`);
    },
    async stop() {
      process.kill(pid, 'SIGTERM');
      const t = setTimeout(() => { if (child.exitCode === null) process.kill(pid, 'SIGKILL'); }, 10_000);
      await exited;
      clearTimeout(t);
      // what the test's units left in the delegated cgroups (a rootless pause process) goes by pid, then the cgroups
      for (const cg of cgroups) {
        for (const p of pidsUnder(cg)) {
          try {
            process.kill(p, 'SIGKILL');
          } catch {
            /* gone */
          }
        }
      }
      for (let i = 0; i < 20 && cgroups.some((cg) => existsSync(cg)); i++) {
        for (const cg of cgroups) rmdirTree(cg);
        if (cgroups.some((cg) => existsSync(cg))) await new Promise((r) => setTimeout(r, 100));
      }
    },
  };
}

/** `systemd-analyze verify` of `files` (system, or --user with `runtimeDir` as XDG_RUNTIME_DIR). */
export function verifyUnits(files: readonly string[], user?: { runtimeDir: string }): SpawnSyncReturns<string> {
  return spawnSync('systemd-analyze', [...(user ? ['--user'] : []), 'verify', ...files], { encoding: 'utf8', env: { ...process.env, ...(user && { XDG_RUNTIME_DIR: user.runtimeDir }) }, timeout: 60_000 });
}
