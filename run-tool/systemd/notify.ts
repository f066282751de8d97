// sd_notify for containers run by a systemd unit (`--sdnotify`): Node has no AF_UNIX datagram sockets, so the
// message goes through systemd's own `systemd-notify`, which sends it with the credentials of the pid it names
// (the monitor, which stays in the unit's cgroup) so that `NotifyAccess=all` attributes it to the unit. A container
// that reports readiness itself (`--sdnotify=container`) talks to conmon's relay socket, bind-mounted into it.
import { mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { runProgram } from '../../shared/process/run.ts';
import type { MountRequest } from '../../shared/runtime/mounts.ts';
import { requireProgram } from '../../shared/process/system-programs.ts';
import { SkiffError } from '../../shared/errors.ts';
import { loadById } from '../containers/state.ts';
import type { Store } from '../../shared/store/store.ts';

let taken: { socket: string | undefined } | undefined;

/**
 * This process's NOTIFY_SOCKET, taken out of its environment on the first call (podman does the same): runc and
 * the monitor never see it, so runc 1.1 does not try to proxy it (which fails under skiff's runc root) and the
 * container never gets it. Later calls return the socket taken.
 */
export function takeNotifySocket(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (!taken) {
    taken = { socket: env.NOTIFY_SOCKET || undefined };
    delete env.NOTIFY_SOCKET;
  }
  return taken.socket;
}

/**
 * The message the service manager gets once a container runs: `conmon` → MAINPID (the monitor) and READY=1;
 * `container` → MAINPID only (the container says READY itself); `ignore` → nothing (undefined). Pure.
 */
export function notifyArgs(mode: 'conmon' | 'container' | 'ignore', monitorPid: number): string[] | undefined {
  if (mode === 'ignore' || monitorPid <= 0) return undefined;
  return [`--pid=${monitorPid}`, '--no-block', ...(mode === 'conmon' ? ['READY=1'] : [])];
}

/**
 * Tells the service manager at `$NOTIFY_SOCKET` (takeNotifySocket) that container `id` runs, as its `--sdnotify`
 * mode says. Does nothing without NOTIFY_SOCKET (not under a Type=notify unit). A failed send is an EIO SkiffError.
 */
export async function notifyContainerStarted(store: Store, id: string): Promise<void> {
  const socket = takeNotifySocket();
  if (!socket) return;
  const c = await loadById(store.paths.root, id);
  if (!c || c.state.status !== 'running') return;
  const args = notifyArgs(c.record.sdNotify ?? 'container', c.state.monitorPid);
  if (!args) return;
  const r = await runProgram(requireProgram('systemd-notify'), args, { env: { ...process.env, NOTIFY_SOCKET: socket } });
  if (r.code !== 0) throw new SkiffError('EIO', `sd-notify to ${socket} failed: ${r.stderr.trim() || `exit ${r.code}`}`);
}

/** Where the container sees the notify socket conmon relays (podman's path). */
export const CONTAINER_NOTIFY_SOCKET = '/run/notify/notify.sock';

/** The directory in a bundle that conmon's `--sdnotify-socket` proxy binds `notify.sock` in. Pure. */
export function notifyProxyDir(bundle: string): string {
  return join(bundle, 'notify');
}

/**
 * For `--sdnotify=container` under a unit (this process has a NOTIFY_SOCKET, takeNotifySocket): makes the
 * bundle's `notify` directory (0755, so any container user reaches the 0777 socket conmon binds there) and returns
 * the bind mount of it at /run/notify and the container's NOTIFY_SOCKET. undefined in any other mode or without
 * a socket: the container then gets neither, as under podman.
 */
export async function prepareNotifyProxy(bundle: string, mode: 'conmon' | 'container' | 'ignore' | undefined): Promise<{ mount: MountRequest; env: string } | undefined> {
  if ((mode ?? 'container') !== 'container' || !takeNotifySocket()) return undefined;
  const dir = notifyProxyDir(bundle);
  await mkdir(dir, { mode: 0o755 });
  return { mount: { type: 'bind', source: dir, destination: '/run/notify', options: ['rw'] }, env: `NOTIFY_SOCKET=${CONTAINER_NOTIFY_SOCKET}` };
}

/**
 * conmon's arguments for a container's start: `--sdnotify-socket HOST` when the container was made with the
 * notify proxy (prepareNotifyProxy) and this process runs under a unit — conmon then binds the bundle's
 * notify.sock and relays the container's READY=1 (and WATCHDOG=1) to the unit's socket as itself, the unit's main
 * process. Otherwise none.
 */
export async function notifyProxyArgs(bundle: string, mode: 'conmon' | 'container' | 'ignore' | undefined): Promise<string[]> {
  const socket = takeNotifySocket();
  if ((mode ?? 'container') !== 'container' || !socket) return [];
  const st = await stat(notifyProxyDir(bundle)).catch(() => undefined);
  return st?.isDirectory() ? ['--sdnotify-socket', socket] : [];
}
