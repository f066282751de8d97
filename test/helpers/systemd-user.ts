// A real systemd user manager for tests, without systemd as PID 1 (ENVIRONMENT.md): in a private mount namespace
// with a tmpfs on /run/systemd (an empty `system` directory makes systemctl believe in systemd, `user-generators`
// takes generators), XDG_RUNTIME_DIR private, `systemd --user` started with an empty environment (so units get
// systemd's default PATH) and killed by PID at the end.
import { spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
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

/** Starts a user manager with its runtime dir under `dir`; waits until it answers (15 s at most). */
export async function startUserManager(dir: string): Promise<UserManager> {
  const runtimeDir = join(dir, 'xdg');
  mkdirSync(join(runtimeDir, 'systemd', 'user.control'), { recursive: true, mode: 0o700 });
  const script = 'mount -t tmpfs tmpfs /run/systemd && mkdir -p /run/systemd/system /run/systemd/user-generators && exec /lib/systemd/systemd --user';
  const child: ChildProcess = spawn('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script], {
    env: { XDG_RUNTIME_DIR: runtimeDir, HOME: dir, LANG: 'C.UTF-8' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (b: Buffer) => (stderr += b.toString()));
  const pid = child.pid!;
  const exited = new Promise<void>((r) => child.on('exit', () => r()));
  const exec = (cmd: string, args: readonly string[], o: { timeout?: number } = {}) =>
    spawnSync('nsenter', ['--target', String(pid), '--mount', '--', 'env', `XDG_RUNTIME_DIR=${runtimeDir}`, cmd, ...args], { encoding: 'utf8', timeout: o.timeout ?? 60_000 });
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
    },
  };
}

/** `systemd-analyze verify` of `files` (system, or --user with `runtimeDir` as XDG_RUNTIME_DIR). */
export function verifyUnits(files: readonly string[], user?: { runtimeDir: string }): SpawnSyncReturns<string> {
  return spawnSync('systemd-analyze', [...(user ? ['--user'] : []), 'verify', ...files], { encoding: 'utf8', env: { ...process.env, ...(user && { XDG_RUNTIME_DIR: user.runtimeDir }) }, timeout: 60_000 });
}
