import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SkiffError } from '../../shared/errors.ts';
import { resetPastaHook } from '../../shared/network/pasta-hook.ts';
import type { NetworkState } from '../../shared/network/types.ts';
import { isAlive, procStartTime } from '../../shared/process/proc.ts';
import { requireProgram } from '../../shared/process/system-programs.ts';
import { spawnError } from '../../shared/process/run.ts';
import { missingWorkdir } from '../../shared/runtime/build-spec.ts';
import { startFailureCode } from '../../shared/runtime/runc.ts';
import type { Store } from '../../shared/store/store.ts';
import { startHealthTimer } from './health.ts';
import { connectContainer, disconnectContainer, serveContainerPastaHook, type NetworkChoice } from './net-wiring.ts';
import { bindJoinedNamespaces } from './ns-join.ts';
import { getRunc, selfCommand } from './runc-handle.ts';
import { lowersOf, mountRootfs, unmountRootfs } from './rootfs-mount.ts';
import { clearExitTaken, containerPaths, exitTakenPath, loadById, lockContainer, saveState, type ContainerRecord, type ContainerState, type LoadedContainer } from './state.ts';
import { exitError } from './exit-status.ts';
import { notifyProxyArgs, takeNotifySocket } from '../systemd/notify.ts';
import { recordContainerEvent } from './record-event.ts';
import { ensurePodHostResourcesOf } from '../pods/host-resources.ts';

/** The container state of a run: what state.ts records plus the monitor's and the network's own fields. */
export interface StateExt extends ContainerState {
  monitorStart?: string;
  /** what attachNetwork returned for the current run (bridge/pasta) */
  network?: NetworkState;
  /** start time of the container's init process `pid` (pid reuse guard for signals sent without runc) */
  pidStart?: string;
  /** start time of healthPid (pid reuse guard) */
  healthStart?: string;
  /**
   * The token of the current conmon run: its exit command passes it to `container-cleanup --run`, so the exit
   * command of an earlier run that lands after a new start (restart) finds another token and does nothing.
   */
  runId?: string;
}

/** The network state a container's current run holds (bridge/pasta), for inspect/ps. */
export function networkStateOf(s: ContainerState): NetworkState | undefined {
  return (s as StateExt).network;
}

/**
 * Starts a created or exited container detached under conmon (the monitor outlives the CLI, keeps the
 * k8s-file log, writes the exit file and runs `container-cleanup` when the container exits). Takes the
 * container lock. `preserveFds` passes this process's fds 3… on to the container (socket activation). A SkiffError with exit status 126/127 when runc cannot invoke or find the command. Idempotent on a running
 * container.
 */
export async function startDetached(store: Store, id: string, o: { restart?: boolean; preserveFds?: number; initOnly?: boolean } = {}): Promise<void> {
  const root = store.paths.root;
  takeNotifySocket();
  const lock = await lockContainer(root, id);
  try {
    const c = await loadById(root, id);
    if (!c) throw new SkiffError('ENOTFOUND', `no container with ID ${id} found: no such container`);
    const live = c.state.status === 'running' && isAlive(c.state.monitorPid, (c.state as StateExt).monitorStart);
    if (live && o.initOnly) throw new SkiffError('EINVALID', `container ${id} has already been created in runtime: container state improper`);
    if (live && c.state.initialized) return await startInitialized(store, c);
    if (live) return;
    await launchConmon(store, c, o.restart === true, o.preserveFds ?? 0, o.initOnly === true);
  } finally {
    await lock.release();
  }
}

/** Starts the process of a container `init` left created in runc (the caller holds the container lock). */
async function startInitialized(store: Store, c: LoadedContainer): Promise<void> {
  const root = store.paths.root;
  const id = c.record.id;
  const state: StateExt = { ...(c.state as StateExt), startedAt: new Date().toISOString() };
  delete state.initialized;
  await saveState(root, id, state);
  await runStarted(store, c.record, state);
}

async function launchConmon(store: Store, c: LoadedContainer, isRestart: boolean, preserveFds: number, initOnly: boolean): Promise<void> {
  const root = store.paths.root;
  const { record } = c;
  const id = record.id;
  const p = containerPaths(root, id);
  const runc = await getRunc();
  // runc state is left only by an earlier start of this container: a fresh one needs no `runc delete`
  if (runc.hasState(id)) await runc.delete(id, { force: true }).catch(() => {});
  await unlink(join(p.exits, id)).catch(() => {});
  await unlink(p.pidFile).catch(() => {});
  // a pod's container: the pod's cgroup and /dev/shm first (gone after a reboot; the tmpfs waits for the first start)
  if (record.pod !== undefined) await ensurePodHostResourcesOf(root, record.pod);
  // shared namespaces: their holders run first (started when they do not, as podman starts dependencies)
  await bindJoinedNamespaces(root, record, (dep) => startDetached(store, dep));
  await mountRootfs(root, id, await lowersOf(store, record));
  if (record.config.workdirFromFlag) {
    const dests = [...record.mounts.map((m) => m.destination), ...record.volumes.map((v) => v.destination)].map((d) => join('/', d));
    const missing = await missingWorkdir(p.rootfs, record.config.workingDir, dests, id);
    if (missing) {
      await unmountRootfs(root, id);
      throw exitError(125, missing);
    }
  }
  const choice = record.network as NetworkChoice | undefined;
  let net: NetworkState | undefined;
  if (choice?.mode === 'pasta') await resetPastaHook(p.dir);
  if (choice?.mode === 'bridge') {
    try {
      net = await connectContainer(root, p.userdata, record);
    } catch (e) {
      await unmountRootfs(root, id);
      throw e;
    }
  }
  const runId = randomBytes(8).toString('hex');
  await clearExitTaken(p.dir);
  const args = [
    '--api-version', '1', '-c', id, '-u', id, '-r', runc.path, '-b', p.bundle, '-p', p.pidFile, '-n', record.name,
    '--exit-dir', p.exits, '-l', `k8s-file:${p.log}`, '--log-level', 'error', ...runc.globalArgs().flatMap((a) => ['--runtime-arg', a]),
    '-P', p.conmonPid, '--socket-dir-path', p.sockets,
    // conmon 2.1 has no --preserve-fds: with LISTEN_FDS set it hands fds 3… to runc, which passes them to the
    // container as socket activation (LISTEN_PID rewritten to runc's pid by --replace-listen-pid)
    ...(preserveFds > 0 ? ['--replace-listen-pid'] : []),
    ...(await notifyProxyArgs(p.bundle, record.sdNotify)),
    // an open stdin (`-i`): conmon holds it and feeds it from its attach socket (attach with stdin). With a TTY,
    // -t alone does that (as podman passes it): -i there would make conmon close the terminal's input when the
    // first attach hangs up (a detach), leaving nothing for the next attach
    ...(record.config.tty ? ['-t'] : record.config.openStdin ? ['-i'] : []),
    ...exitCommand(p.cleanupClaim, runId, p.serviceClaim, p.dir, exitTakenPath(p.dir, runId), [...selfCommand(), '--root', root, 'container-cleanup', '--run', runId, id]).flatMap((a, i) => (i === 0 ? ['--exit-command', a] : ['--exit-command-arg', a])),
  ];
  const conmon = requireProgram('conmon');
  let syncDone = false;
  let hookError: unknown;
  const hook = choice?.mode === 'pasta'
    ? serveContainerPastaHook(root, p.dir, p.userdata, record, () => syncDone).catch((e: unknown) => {
      hookError = e;
      return undefined;
    })
    : undefined;
  const sync = await new Promise<{ pid: number; message?: string }>((res, rej) => {
    // conmon's own stderr is not kept: the daemonised monitor would hold the pipe (and this CLI) open
    // this process's fds 3… (socket activation's listeners) stay at 3… for conmon and runc; the sync pipe follows them
    const inherited = Array.from({ length: preserveFds }, (_, i) => i + 3);
    const syncFd = 3 + preserveFds;
    const child = spawn(conmon, args, { stdio: ['ignore', 'ignore', 'ignore', ...inherited, 'pipe'], env: { ...process.env, _OCI_SYNCPIPE: String(syncFd), ...(preserveFds > 0 && { LISTEN_FDS: String(preserveFds), LISTEN_PID: String(process.pid) }) }, detached: true, cwd: p.dir });
    let out = '';
    const pipe = child.stdio[syncFd] as import('node:stream').Readable;
    pipe.on('data', (b: Buffer) => {
      out += b.toString();
      try {
        const m = JSON.parse(out) as { data?: number; pid?: number; message?: string };
        pipe.destroy();
        res({ pid: m.data ?? m.pid ?? -1, ...(m.message !== undefined && { message: m.message }) });
      } catch {
        /* partial */
      }
    });
    pipe.on('end', () => res({ pid: -1, message: 'conmon exited without reporting the container pid' }));
    child.on('error', (e) => rej(spawnError(conmon, e)));
    child.unref();
  });
  syncDone = true;
  if (hook) net = await hook;
  if (sync.pid <= 0 || hookError) {
    await runc.delete(id, { force: true }).catch(() => {});
    await unmountRootfs(root, id);
    await disconnectContainer(root, record, net).catch(() => {});
    if (hookError) throw hookError;
    const msg = sync.message ?? 'container create failed';
    throw exitError(startFailureCode(msg) ?? 125, cleanRuncMessage(msg));
  }
  const monitorPid = Number((await readFile(p.conmonPid, 'utf8').catch(() => '0')).trim()) || 0;
  if (record.conmonPidFile && monitorPid > 0) await writeFile(record.conmonPidFile, String(monitorPid));
  const state: StateExt = {
    ...c.state,
    status: 'running',
    pid: sync.pid,
    monitorPid,
    monitor: 'conmon',
    exitCode: 0,
    startedAt: new Date().toISOString(),
    finishedAt: '',
    stoppedByUser: false,
    mounted: true,
    restartCount: isRestart ? c.state.restartCount + 1 : c.state.restartCount,
    runId,
    ...(procStartTime(monitorPid) !== undefined && { monitorStart: procStartTime(monitorPid) }),
    ...(procStartTime(sync.pid) !== undefined && { pidStart: procStartTime(sync.pid) }),
    ...(net && { network: net }),
    ...(record.health && { health: { status: 'starting' as const, failingStreak: 0, log: c.state.health?.log ?? [] } }),
  };
  delete state.error;
  if (!net) delete state.network;
  delete state.healthPid;
  delete state.healthStart;
  if (initOnly) state.initialized = true;
  await saveState(root, id, state);
  recordContainerEvent(root, record, 'init');
  if (initOnly) return;
  await runStarted(store, record, state, isRestart);
}

/** `runc start` of a container whose monitor holds it created, then its health timer; a failure is recorded as its exit. */
async function runStarted(store: Store, record: ContainerRecord, state: StateExt, isRestart = false): Promise<void> {
  const root = store.paths.root;
  const id = record.id;
  const runc = await getRunc();
  const net = state.network;
  try {
    await runc.start(id);
  } catch (e) {
    const stderr = String((e as SkiffError).details?.stderr ?? (e as Error).message);
    await runc.delete(id, { force: true }).catch(() => {});
    await unmountRootfs(root, id);
    await disconnectContainer(root, record, net).catch(() => {});
    await saveState(root, id, { ...state, status: 'exited', pid: 0, exitCode: startFailureCode(stderr) ?? 125, finishedAt: new Date().toISOString(), mounted: false, error: cleanRuncMessage(stderr) });
    throw exitError(startFailureCode(stderr) ?? 125, cleanRuncMessage(stderr));
  }
  recordContainerEvent(root, record, isRestart ? 'restart' : 'start');
  if (record.health) {
    // the caller holds the container lock: record the timer directly
    const t = startHealthTimer(root, id, record.health.interval);
    await saveState(root, id, { ...state, healthPid: t.pid, ...(t.start !== undefined && { healthStart: t.start }) } as StateExt);
  }
}

/**
 * conmon's exit command: `cleanup` (run-tool's `container-cleanup`), behind two shell gates that skip it when
 * another process cleans this run up itself, so no second Node process starts to race it for the lock:
 * - a CLI stopping the container has claimed the cleanup (`claim` holds `runId`). A claim names its run, so the
 *   claim of an earlier run's stop neither skips this run's cleanup nor needs removing when a restart starts a new
 *   run (whose removal would let the old run's exit command through). A claimant killed before cleaning up leaves
 *   a container whose monitor is gone: the next command's reconcile cleans it (RU-12).
 * - a long-lived process (the API service, exit-watch.ts) has claimed this run's cleanup in `service` (a plain file
 *   replaced by rename: `claim PID [<last done runId>]` from before the start, `<runId> PID` once the run is up,
 *   `done <runId>` after its cleanup; removed when it lets the claim go without cleaning up): while the file names
 *   this run (or a pending claim not taken after this run's cleanup) and the PID lives, the gate waits (at most
 *   ~60 s), then skips only when the container directory `dir` is gone (removed on exit) or `service` says this run
 *   is done (`done <runId>`, or a next claim that carries it: a start right after the cleanup replaced the token
 *   before this gate read it). A service that dies before or during its cleanup leaves no such
 *   token, and this exit command cleans up as ever (a second cleanup of one run is a no-op under the container
 *   lock, so a recycled PID only costs the wait).
 *   Past that gate, it takes the run's cleanup by making the directory `taken` (state.ts exitTakenPath: one atomic
 *   mkdir), which the service makes too before it cleans up. When the service made it first (its claim came after
 *   this gate had looked: a kill of a container exiting by itself), the gate waits for the service again as above,
 *   so exactly one of the two cleans the run up while both live.
 * Pure.
 */
export function exitCommand(claim: string, runId: string, service: string, dir: string, taken: string, cleanup: readonly string[]): string[] {
  const script = [
    '{ IFS= read -r t; } 2>/dev/null <"$0"; [ "$t" = "$1" ] && exit 0',
    'gate() { if [ -e "$2" ]; then i=0',
    '  while t=; p=; d=; { read -r t p d; } 2>/dev/null <"$2"; { [ "$t" = "$1" ] || { [ "$t" = claim ] && [ "$d" != "$1" ]; }; } && [ -n "$p" ] && kill -0 "$p" 2>/dev/null && [ $i -lt 3000 ]; do sleep 0.02; i=$((i+1)); done',
    '  [ -d "$3" ] || exit 0; t=; p=; d=; { read -r t p d; } 2>/dev/null <"$2"',
    '  { [ "$t" = done ] && [ "$p" = "$1" ]; } || { [ "$t" = claim ] && [ "$d" = "$1" ]; } && exit 0',
    'fi; }',
    'gate "$@"',
    'if ! mkdir "$4" 2>/dev/null && [ -d "$3" ]; then gate "$@"; fi',
    'shift 4; exec "$@"',
  ].join('\n');
  return ['/bin/sh', '-c', script, claim, runId, service, dir, taken, ...cleanup];
}

/** runc's `time=… level=error msg="…"` lines as one podman-like message. */
export function cleanRuncMessage(s: string): string {
  const msgs = [...s.matchAll(/msg="((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]!.replace(/\\"/g, '"'));
  const text = (msgs.length ? msgs.join(': ') : s.trim()) || 'container start failed';
  const code = startFailureCode(s);
  const suffix = code === 127 ? ': OCI runtime attempted to invoke a command that was not found' : code === 126 ? ': OCI permission denied' : '';
  return `runc: ${text}${suffix}`;
}

