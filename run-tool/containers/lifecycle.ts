import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { readFile, rm, unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { SkiffError, isSkiffError } from '../../shared/errors.ts';
import { missingWorkdir } from '../../shared/runtime/build-spec.ts';
import { requireProgram } from '../../shared/process/system-programs.ts';
import { ensurePrivateDir, locateRunc, Runc, runcRootFor, startFailureCode } from '../../shared/runtime/runc.ts';
import { openLease } from '../../shared/store/lease.ts';
import type { Store } from '../../shared/store/store.ts';
import { lowersOf, mountRootfs, unmountRootfs } from './create.ts';
import type { RecordVolume } from './create.ts';
import { startHealthTimer, stopHealthTimer } from './health.ts';
import { connectContainer, disconnectContainer, serveContainerPastaHook, type NetworkChoice } from './net-wiring.ts';
import { resetPastaHook } from '../../shared/network/pasta-hook.ts';
import type { NetworkState } from '../../shared/network/types.ts';
import { signalNumber } from './signals.ts';
import { removeVolume } from './volumes.ts';
import {
  containerPaths, listContainers, loadById, lockContainer, releaseName, removeContainerDir, saveState,
  type ContainerRecord, type ContainerState, type LoadedContainer,
} from './state.ts';

/** A failure with the exit code podman would return (126/127 for start failures, 125 otherwise). */
export class ExitCodeError extends SkiffError {
  readonly exitCode: number;
  constructor(exitCode: number, message: string) {
    super('EIO', message);
    this.exitCode = exitCode;
  }
}

let runcCache: Runc | undefined;

/** The runc binary and its per-user state dir (RU-16: 0700, owned by the caller). */
export async function getRunc(): Promise<Runc> {
  if (runcCache) return runcCache;
  const root = process.env.SKIFF_RUNC_ROOT ?? runcRootFor();
  await ensurePrivateDir(root);
  runcCache = new Runc(locateRunc(), root);
  return runcCache;
}

/** How the exit command reaches this program: `node <script> --root ROOT container-cleanup ID`. */
export function selfCommand(): string[] {
  const script = process.env.SKIFF_RUN_TOOL_SCRIPT ?? process.argv[1];
  if (!script) throw new SkiffError('EIO', 'cannot locate run-tool for the exit command');
  return [process.execPath, resolve(script)];
}

/** Start time (jiffies since boot) of `pid`, or undefined when it does not exist: identifies a process across pid reuse. */
export function procStartTime(pid: number): string | undefined {
  if (!(pid > 0)) return undefined;
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const after = s.slice(s.lastIndexOf(')') + 2).split(' ');
    if (after[0] === 'Z' || after[0] === 'X') return undefined;
    return after[19];
  } catch {
    return undefined;
  }
}

function alive(pid: number, start?: string): boolean {
  const st = procStartTime(pid);
  return st !== undefined && (start === undefined || start === st);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function readExitFile(root: string, id: string): Promise<number | undefined> {
  const t = await readFile(join(containerPaths(root, id).exits, id), 'utf8').catch(() => undefined);
  if (t === undefined || !/^-?[0-9]+\s*$/.test(t)) return undefined;
  return Number(t);
}

interface StateExt extends ContainerState {
  monitorStart?: string;
  /** what attachNetwork returned for the current run (bridge/pasta) */
  network?: NetworkState;
  /** start time of healthPid (pid reuse guard) */
  healthStart?: string;
}

/** The network state a container's current run holds (bridge/pasta), for inspect/ps. */
export function networkStateOf(s: ContainerState): NetworkState | undefined {
  return (s as StateExt).network;
}

/**
 * Starts a created or exited container detached under conmon (the monitor outlives the CLI, keeps the
 * k8s-file log, writes the exit file and runs `container-cleanup` when the container exits). Takes the
 * container lock. 126/127 ExitCodeError when runc cannot invoke or find the command. Idempotent on a running
 * container.
 */
export async function startDetached(store: Store, id: string, o: { restart?: boolean } = {}): Promise<void> {
  const root = store.paths.root;
  const lock = await lockContainer(root, id);
  try {
    const c = await loadById(root, id);
    if (!c) throw new SkiffError('ENOTFOUND', `no container with ID ${id} found: no such container`);
    if (c.state.status === 'running' && alive(c.state.monitorPid, (c.state as StateExt).monitorStart)) return;
    await launchConmon(store, c, o.restart === true);
  } finally {
    await lock.release();
  }
}

async function launchConmon(store: Store, c: LoadedContainer, isRestart: boolean): Promise<void> {
  const root = store.paths.root;
  const { record } = c;
  const id = record.id;
  const p = containerPaths(root, id);
  const runc = await getRunc();
  // runc state is left only by an earlier start of this container: a fresh one needs no `runc delete`
  if (runc.hasState(id)) await runc.delete(id, { force: true }).catch(() => {});
  await unlink(join(p.exits, id)).catch(() => {});
  await unlink(p.pidFile).catch(() => {});
  await mountRootfs(root, id, lowersOf(store, record));
  if (record.config.workdirFromFlag) {
    const dests = [...record.mounts.map((m) => m.destination), ...record.volumes.map((v) => v.destination)].map((d) => join('/', d));
    const missing = await missingWorkdir(p.rootfs, record.config.workingDir, dests, id);
    if (missing) {
      await unmountRootfs(root, id);
      throw new ExitCodeError(125, missing);
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
  const args = [
    '--api-version', '1', '-c', id, '-u', id, '-r', runc.path, '-b', p.bundle, '-p', p.pidFile, '-n', record.name,
    '--exit-dir', p.exits, '-l', `k8s-file:${p.log}`, '--log-level', 'error', '--runtime-arg', '--root', '--runtime-arg', runc.root,
    '-P', p.conmonPid, '--socket-dir-path', p.sockets,
    ...(record.config.tty ? ['-t'] : []),
    ...selfCommand().flatMap((a, i) => (i === 0 ? ['--exit-command', a] : ['--exit-command-arg', a])),
    ...['--root', root, 'container-cleanup', id].flatMap((a) => ['--exit-command-arg', a]),
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
    const child = spawn(conmon, args, { stdio: ['ignore', 'ignore', 'ignore', 'pipe'], env: { ...process.env, _OCI_SYNCPIPE: '3' }, detached: true, cwd: p.dir });
    let out = '';
    const pipe = child.stdio[3] as import('node:stream').Readable;
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
    child.on('error', (e) => rej((e as NodeJS.ErrnoException).code === 'ENOENT' ? new SkiffError('ENODEP', 'conmon is not installed', { hint: 'apt-get install conmon' }) : e));
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
    throw new ExitCodeError(startFailureCode(msg) ?? 125, cleanRuncMessage(msg));
  }
  const monitorPid = Number((await readFile(p.conmonPid, 'utf8').catch(() => '0')).trim()) || 0;
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
    ...(procStartTime(monitorPid) !== undefined && { monitorStart: procStartTime(monitorPid) }),
    ...(net && { network: net }),
    ...(record.health && { health: { status: 'starting' as const, failingStreak: 0, log: c.state.health?.log ?? [] } }),
  };
  delete state.error;
  if (!net) delete state.network;
  delete state.healthPid;
  delete state.healthStart;
  await saveState(root, id, state);
  try {
    await runc.start(id);
  } catch (e) {
    const stderr = String((e as SkiffError).details?.stderr ?? (e as Error).message);
    await runc.delete(id, { force: true }).catch(() => {});
    await unmountRootfs(root, id);
    await disconnectContainer(root, record, net).catch(() => {});
    await saveState(root, id, { ...state, status: 'exited', pid: 0, exitCode: startFailureCode(stderr) ?? 125, finishedAt: new Date().toISOString(), mounted: false, error: cleanRuncMessage(stderr) });
    throw new ExitCodeError(startFailureCode(stderr) ?? 125, cleanRuncMessage(stderr));
  }
  if (record.health) {
    // the caller holds the container lock: record the timer directly
    const t = startHealthTimer(root, id, record.health.interval);
    await saveState(root, id, { ...state, healthPid: t.pid, ...(t.start !== undefined && { healthStart: t.start }) } as StateExt);
  }
}

/** runc's `time=… level=error msg="…"` lines as one podman-like message. */
export function cleanRuncMessage(s: string): string {
  const msgs = [...s.matchAll(/msg="((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]!.replace(/\\"/g, '"'));
  const text = (msgs.length ? msgs.join(': ') : s.trim()) || 'container start failed';
  const code = startFailureCode(s);
  const suffix = code === 127 ? ': OCI runtime attempted to invoke a command that was not found' : code === 126 ? ': OCI permission denied' : '';
  return `runc: ${text}${suffix}`;
}

/** Writes k8s-file log lines for a stream chunk (complete lines F, a trailing partial line P). */
class K8sLogWriter {
  readonly #out: NodeJS.WritableStream;
  constructor(path: string) {
    this.#out = createWriteStream(path, { flags: 'a', mode: 0o600 });
  }
  write(stream: 'stdout' | 'stderr', b: Buffer): void {
    const parts = b.toString('utf8').split('\n');
    const ts = new Date().toISOString().replace('Z', '000000+00:00');
    for (let i = 0; i < parts.length; i++) {
      const last = i === parts.length - 1;
      if (last && parts[i] === '') break;
      this.#out.write(`${ts} ${stream} ${last ? 'P' : 'F'} ${parts[i]}\n`);
    }
  }
  close(): Promise<void> {
    return new Promise((r) => this.#out.end(r));
  }
}

/**
 * Runs a created container in the foreground with `runc run` (RU-11: SIGINT/SIGTERM/SIGHUP/SIGQUIT/SIGUSR1/2
 * sent to this process are forwarded to runc, which forwards them to the container). Non-tty output is
 * passed through and also logged (k8s-file) so `logs` works; stdin is passed with `interactive`. Returns the
 * container's exit code (126/127 when runc cannot invoke/find the command). Cleans up afterwards (and
 * removes the container with --rm).
 */
export async function runForeground(store: Store, record: ContainerRecord, o: { interactive?: boolean; preserveFds?: number } = {}): Promise<number> {
  const root = store.paths.root;
  const id = record.id;
  const p = containerPaths(root, id);
  const runc = await getRunc();
  const tty = record.config.tty;
  const log = tty ? undefined : new K8sLogWriter(p.log);
  const stdinMode = o.interactive ? 'inherit' : 'ignore';
  const extra = Array.from({ length: o.preserveFds ?? 0 }, (_, i) => i + 3);
  let stderrTail = '';
  let child: ChildProcess | undefined;
  const sigs: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];
  const forward = (s: NodeJS.Signals) => child?.kill(s);
  for (const s of sigs) process.on(s, forward);
  let code: number;
  const choice = record.network as NetworkChoice | undefined;
  let runcDone = false;
  let hook: Promise<NetworkState | undefined> | undefined;
  let hookError: unknown;
  try {
    const st: StateExt = { status: 'running', pid: 0, monitorPid: process.pid, monitor: 'cli', exitCode: 0, startedAt: new Date().toISOString(), finishedAt: '', restartCount: 0, stoppedByUser: false, mounted: true };
    const ms = procStartTime(process.pid);
    if (ms) st.monitorStart = ms;
    if (record.health) st.health = { status: 'starting', failingStreak: 0, log: [] };
    await saveState(root, id, st);
    if (choice?.mode === 'bridge') {
      st.network = await connectContainer(root, p.userdata, record);
      await saveState(root, id, st);
    } else if (choice?.mode === 'pasta') {
      await resetPastaHook(p.dir);
      hook = serveContainerPastaHook(root, p.dir, p.userdata, record, () => runcDone).then(async (n) => {
        if (n) {
          st.network = n;
          await saveState(root, id, st);
        }
        return n;
      }, (e: unknown) => {
        hookError = e;
        return undefined;
      });
    }
    if (record.health) {
      const t = startHealthTimer(root, id, record.health.interval);
      st.healthPid = t.pid;
      st.healthStart = t.start;
      await saveState(root, id, st);
    }
    code = await runc.run(id, p.bundle, {
      stdio: tty ? 'inherit' : [stdinMode, 'pipe', 'pipe', ...extra],
      ...(o.preserveFds && { preserveFds: o.preserveFds }),
      onSpawn: (c) => {
        child = c;
        c.stdout?.on('data', (b: Buffer) => {
          process.stdout.write(b);
          log?.write('stdout', b);
        });
        c.stderr?.on('data', (b: Buffer) => {
          const s = b.toString();
          if (/level=error msg=/.test(s) && / runc run failed|starting container process|unable to start/.test(s)) {
            stderrTail += s;
            return;
          }
          process.stderr.write(b);
          log?.write('stderr', b);
        });
      },
    });
  } finally {
    runcDone = true;
    await hook;
    for (const s of sigs) process.off(s, forward);
    await log?.close();
  }
  if (hookError) {
    process.stderr.write(`Error: ${(hookError as Error).message}\n`);
    stderrTail = '';
    code = 125;
  }
  if (stderrTail) {
    const fc = startFailureCode(stderrTail);
    process.stderr.write(`Error: ${cleanRuncMessage(stderrTail)}\n`);
    code = fc ?? 125;
  }
  // `runc run` (not detached) deleted its own state when it returned: no `runc delete` needed
  await cleanupContainer(store, id, { exitCode: code, runcGone: true }).catch((e) => {
    if (!isSkiffError(e, 'ENOTFOUND')) throw e;
  });
  return code;
}

/**
 * Records a container's exit and releases what it held (idempotent; the conmon exit command and any CLI
 * that notices the exit may all call it): exit code from conmon's exit file (else `exitCode`, else 137),
 * `runc delete` (skipped with `runcGone`: the caller knows runc's state is already gone), unmount, then `--rm`
 * removal (under the same container lock) or the restart policy. Never waits with the lock held.
 */
export async function cleanupContainer(store: Store, id: string, o: { exitCode?: number; fromMonitor?: boolean; runcGone?: boolean } = {}): Promise<void> {
  const root = store.paths.root;
  const runc = await getRunc();
  let after: ContainerState | undefined;
  let record: ContainerRecord | undefined;
  const lock = await lockContainer(root, id);
  try {
    const c = await loadById(root, id);
    if (!c) return;
    record = c.record;
    const s = c.state as StateExt;
    if (s.status !== 'running' && s.status !== 'stopping' && !s.mounted) return;
    if (s.status === 'running' && !o.fromMonitor && o.exitCode === undefined) {
      // only clean a running container once its processes are gone
      const rs = await runc.state(id).catch(() => undefined);
      if (rs && rs.status !== 'stopped' && alive(rs.pid)) return;
    }
    let code = await readExitFile(root, id);
    for (let i = 0; code === undefined && s.monitor === 'conmon' && alive(s.monitorPid, s.monitorStart) && i < 200; i++) {
      await sleep(5);
      code = await readExitFile(root, id);
    }
    code ??= o.exitCode ?? (s.status === 'running' ? 137 : s.exitCode);
    if (s.healthPid) stopHealthTimer(s.healthPid, s.healthStart);
    if (!o.runcGone && runc.hasState(id)) await runc.delete(id, { force: true }).catch(() => {});
    await unmountRootfs(root, id);
    await disconnectContainer(root, record, s.network).catch((e: unknown) => process.stderr.write(`Error: ${(e as Error).message}\n`));
    after = { ...s, status: 'exited', pid: 0, exitCode: code, finishedAt: new Date().toISOString(), mounted: false };
    delete (after as StateExt).network;
    delete after.healthPid;
    delete (after as StateExt).healthStart;
    if (s.status !== 'running' && s.status !== 'stopping') after.status = s.status;
    await saveState(root, id, after);
    // --rm: remove now, still under this lock (runc's state is gone: deleted above or by `runc run`)
    if (record.hostConfig.autoRemove) {
      await removeLocked(store, id, { ...c, state: after }, { runcGone: true });
      return;
    }
  } finally {
    await lock.release();
  }
  if (!after || !record) return;
  const pol = record.hostConfig.restartPolicy;
  const restart = !after.stoppedByUser && after.monitor === 'conmon' &&
    (pol.name === 'always' || pol.name === 'unless-stopped' || (pol.name === 'on-failure' && after.exitCode !== 0 && (pol.maximumRetryCount === 0 || after.restartCount < pol.maximumRetryCount)));
  if (restart) await startDetached(store, id, { restart: true }).catch(() => {});
}

/**
 * Brings recorded state in line with reality (RU-12): a container recorded as running whose monitor (conmon,
 * or the foreground CLI) is gone — killed, or the machine rebooted — has its processes killed and is cleaned
 * up (exit code from the exit file, else 137). Returns the fresh state.
 */
export async function reconcile(store: Store, c: LoadedContainer): Promise<LoadedContainer> {
  const s = c.state as StateExt;
  if (s.status !== 'running' && s.status !== 'stopping') return c;
  if (alive(s.monitorPid, s.monitorStart)) return c;
  const root = store.paths.root;
  const runc = await getRunc();
  const rs = await runc.state(c.record.id).catch(() => undefined);
  if (rs && rs.status !== 'stopped') {
    // --all needs the container's cgroup, which a rootless container on cgroups v1 has not: then kill init (its pid namespace goes with it)
    await runc.kill(c.record.id, 'KILL', { all: true }).catch(() => runc.kill(c.record.id, 'KILL')).catch(() => {});
    for (let i = 0; i < 100 && alive(rs.pid); i++) await sleep(20);
  }
  await cleanupContainer(store, c.record.id, { exitCode: 137, fromMonitor: true });
  return (await loadById(root, c.record.id)) ?? c;
}

/** listContainers + reconcile of each (what `ps` shows). */
export async function listReconciled(store: Store): Promise<LoadedContainer[]> {
  const out: LoadedContainer[] = [];
  for (const c of await listContainers(store.paths.root)) out.push(await reconcile(store, c));
  return out;
}

async function waitDead(pid: number, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (!alive(pid)) return true;
    await sleep(5);
  }
  return !alive(pid);
}

/**
 * Stops a container (RU-10): sends its StopSignal (or `signal`), waits up to `timeout` s for it to exit,
 * then SIGKILLs the whole container; records the exit and cleans up before returning. The lock is not held
 * while waiting. A container that is not running is left as is.
 */
export async function stopContainer(store: Store, id: string, o: { timeout?: number; signal?: string } = {}): Promise<void> {
  const root = store.paths.root;
  const runc = await getRunc();
  let pid = 0;
  let record: ContainerRecord | undefined;
  const lock = await lockContainer(root, id);
  try {
    const c = await loadById(root, id);
    if (!c) throw new SkiffError('ENOTFOUND', `no container with ID ${id} found: no such container`);
    record = c.record;
    if (c.state.status !== 'running') return;
    pid = c.state.pid;
    await saveState(root, id, { ...c.state, stoppedByUser: true });
  } finally {
    await lock.release();
  }
  const timeout = o.timeout ?? record.config.stopTimeout;
  if (timeout > 0) {
    await runc.kill(id, o.signal ?? record.config.stopSignal).catch(() => {});
    if (pid > 0) await waitDead(pid, timeout * 1000);
  }
  if (pid === 0 || alive(pid)) {
    await runc.kill(id, 'KILL', { all: true }).catch(() => runc.kill(id, 'KILL')).catch(() => {});
    if (pid > 0) await waitDead(pid, 5000);
  }
  await cleanupContainer(store, id, { exitCode: 137, fromMonitor: true });
}

/** Sends `signal` (canonical, from parseSignal) to a running container. Marks it stopped by the user for the restart policy. */
export async function killContainer(store: Store, id: string, signal: string): Promise<void> {
  const root = store.paths.root;
  const c = await loadById(root, id);
  if (!c) throw new SkiffError('ENOTFOUND', `no container with ID ${id} found: no such container`);
  if (c.state.status !== 'running') throw new SkiffError('EINVALID', `can only kill running containers. ${id} is in state ${c.state.status}: container state improper`);
  signalNumber(signal);
  await lockContainer(root, id).then(async (l) => {
    try {
      const now = await loadById(root, id);
      if (now) await saveState(root, id, { ...now.state, stoppedByUser: true });
    } finally {
      await l.release();
    }
  });
  const runc = await getRunc();
  await runc.kill(id, signal);
}

/**
 * Removes a container: a running one only with `force` (stopped first: stop signal, then SIGKILL after `timeout`
 * seconds, default 0; cleanup), then runc state, mount, store
 * lease (RU-14), name and directory. ENOTFOUND when it does not exist; EINVALID (podman's exit 2) when it
 * runs and `force` is not given.
 */
export async function removeContainer(store: Store, id: string, o: { force?: boolean; volumes?: boolean; timeout?: number } = {}): Promise<void> {
  const root = store.paths.root;
  let c = await loadById(root, id);
  if (!c) throw new SkiffError('ENOTFOUND', `no container with ID ${id} found: no such container`);
  c = await reconcile(store, c);
  if (c.state.status === 'running') {
    if (!o.force) throw new ExitCodeError(2, `cannot remove container ${id} as it is running - running or paused containers cannot be removed without force: container state improper`);
    await stopContainer(store, id, { timeout: o.timeout ?? 0 });
  }
  const lock = await lockContainer(root, id);
  try {
    const now = await loadById(root, id);
    if (!now) throw new SkiffError('ENOTFOUND', `no container with ID ${id} found: no such container`);
    await removeLocked(store, id, now, o);
  } finally {
    await lock.release();
  }
}

/** The removal itself; the caller holds the container lock and has checked it is not running. */
async function removeLocked(store: Store, id: string, now: LoadedContainer, o: { volumes?: boolean; runcGone?: boolean }): Promise<void> {
  const root = store.paths.root;
  {
    if (now.state.healthPid) stopHealthTimer(now.state.healthPid, (now.state as StateExt).healthStart);
    const runc = await getRunc();
    if (!o.runcGone && runc.hasState(id)) await runc.delete(id, { force: true }).catch(() => {});
    await unmountRootfs(root, id);
    // from the on-disk attachment record: also right after a killed CLI or monitor
    await disconnectContainer(root, now.record, (now.state as StateExt).network);
    const p = containerPaths(root, id);
    await rm(p.record, { force: true }); // from here on the container no longer exists for anyone
    if (o.volumes || now.record.hostConfig.autoRemove) {
      for (const v of now.record.volumes as RecordVolume[]) if (v.anonymous) await removeVolume(root, v.name).catch(() => {});
    }
    await openLease(store.paths, now.record.leaseId).then((l) => l.release(), () => {});
    await releaseName(root, now.record.name, id);
    await removeContainerDir(root, id);
  }
}

/**
 * Waits until the container is no longer running (reconciling every second, so a dead monitor does not hang
 * the wait) and returns its exit code. ENOTFOUND when it is removed meanwhile (e.g. --rm).
 */
export async function waitContainer(store: Store, id: string, o: { signal?: AbortSignal; interval?: number } = {}): Promise<number> {
  const root = store.paths.root;
  let n = 0;
  for (;;) {
    let c = await loadById(root, id);
    if (!c) throw new SkiffError('ENOTFOUND', `no container with ID ${id} found: no such container`);
    if (++n % 20 === 0) c = await reconcile(store, c);
    if (c.state.status !== 'running' && c.state.status !== 'stopping') return c.state.exitCode;
    if (o.signal?.aborted) throw new SkiffError('EABORT', 'wait cancelled');
    await sleep(o.interval ?? 50);
  }
}
