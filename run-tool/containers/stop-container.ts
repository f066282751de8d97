import { stat, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { SkiffError } from '../../shared/errors.ts';
import { isAlive } from '../../shared/process/proc.ts';
import type { Store } from '../../shared/store/store.ts';
import { cleanupContainer, reconcile, removeLocked } from './cleanup-container.ts';
import { getRunc } from './runc-handle.ts';
import type { StateExt } from './start-container.ts';
import { signalInit, signalNumber } from './signals.ts';
import { containerPaths, loadById, lockContainer, saveState, type ContainerRecord } from './state.ts';
import { exitError } from './exit-status.ts';
import { removedExitCode } from './removed-exits.ts';
import { dependentsOf } from './ns-join.ts';
import { loadPodById, podPaths } from '../pods/state.ts';
import { recordContainerEvent } from './record-event.ts';

async function podExists(root: string, pod: string): Promise<boolean> {
  return stat(podPaths(root, pod).record).then(() => true, () => false);
}

/**
 * True when the CLI stopping container `c` may clean it up itself instead of its monitor's exit command: always,
 * except for a member of a ready pod with the exit policy `stop`, whose exit command also stops the pod's infra.
 */
async function mayClaimCleanup(root: string, r: ContainerRecord): Promise<boolean> {
  if (!r.pod || r.isInfra) return true;
  const pod = await loadPodById(root, r.pod);
  return !pod || pod.exitPolicy !== 'stop' || pod.phase !== 'ready';
}

async function waitDead(pid: number, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (!isAlive(pid)) return true;
    await sleep(5);
  }
  return !isAlive(pid);
}

/**
 * Stops a container (RU-10): sends its StopSignal (or `signal`), waits up to `timeout` s for it to exit,
 * then SIGKILLs the whole container; records the exit and cleans up before returning (and, with `remove`,
 * removes it in the same locked step). The lock is not held while waiting. A container that is not running is
 * left as is. True when it removed the container (`remove`). Before signalling, it claims the cleanup (see
 * exitCommand), so the monitor's exit command does not start a second run-tool to do the same work. `onTimeout`
 * hears podman's warning line when the signal did not end it in time and SIGKILL follows.
 */
export async function stopContainer(store: Store, id: string, o: { timeout?: number; signal?: string; onWarning?: (message: string) => void; onTimeout?: (message: string) => void; remove?: { volumes?: boolean } } = {}): Promise<boolean> {
  const root = store.paths.root;
  const runc = await getRunc();
  let pid = 0;
  let pidStart: string | undefined;
  let record: ContainerRecord | undefined;
  const lock = await lockContainer(root, id);
  try {
    const c = await loadById(root, id);
    if (!c) throw new SkiffError('ENOTFOUND', `no container with ID ${id} found: no such container`);
    record = c.record;
    if (c.state.status !== 'running') return false;
    pid = c.state.pid;
    pidStart = (c.state as StateExt).pidStart;
    // a frozen container cannot act on its stop signal: thawed first, as podman does
    if (c.state.paused) await runc.resume(id).catch(() => {});
    const next = { ...c.state, stoppedByUser: true };
    delete next.paused;
    await saveState(root, id, next);
    if (c.state.monitor === 'conmon' && (await mayClaimCleanup(root, c.record))) await writeFile(containerPaths(root, id).cleanupClaim, `${(c.state as StateExt).runId ?? ''}\n`, { mode: 0o600 });
  } finally {
    await lock.release();
  }
  const timeout = o.timeout ?? record.config.stopTimeout;
  if (timeout > 0) {
    const signal = o.signal ?? record.config.stopSignal;
    // straight to the recorded init process when it still is that process; runc otherwise
    if (!signalInit(pid, pidStart, signal)) await runc.kill(id, signal).catch(() => {});
    if (pid > 0 && !(await waitDead(pid, timeout * 1000))) o.onTimeout?.(`StopSignal ${signal} failed to stop container ${record.name} in ${timeout} seconds, resorting to SIGKILL`);
  }
  if (pid === 0 || isAlive(pid)) {
    await runc.kill(id, 'KILL', { all: true }).catch(() => runc.kill(id, 'KILL')).catch(() => {});
    if (pid > 0) await waitDead(pid, 5000);
  }
  const removed = await cleanupContainer(store, id, { exitCode: 137, fromMonitor: true, onWarning: o.onWarning, ...(o.remove && { remove: o.remove }) });
  recordContainerEvent(root, record, 'stop');
  return removed;
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
  recordContainerEvent(root, c.record, 'kill');
}

/**
 * Removes a container: a running one only with `force` (stopped first: stop signal, then SIGKILL after `timeout`
 * seconds, default 0; cleanup), then runc state, mount, store
 * lease (RU-14), name and directory. ENOTFOUND when it does not exist; EINVALID (podman's exit 2) when it
 * runs and `force` is not given.
 */
export async function removeContainer(store: Store, id: string, o: { force?: boolean; volumes?: boolean; timeout?: number; onWarning?: (message: string) => void; onTimeout?: (message: string) => void; podRemoval?: boolean } = {}): Promise<void> {
  const root = store.paths.root;
  let c = await loadById(root, id);
  if (!c) throw new SkiffError('ENOTFOUND', `no container with ID ${id} found: no such container`);
  // podman's rules: a pod's infra container goes only with its pod; a container whose namespaces others share
  // goes only after them
  if (c.record.isInfra && c.record.pod && !o.podRemoval && (await podExists(root, c.record.pod))) {
    throw new SkiffError('EINVALID', `container ${id} is the infra container of pod ${c.record.pod} and cannot be removed without removing the pod`);
  }
  const deps = await dependentsOf(root, id);
  if (deps.length > 0) throw new SkiffError('EINVALID', `container ${id} has dependent containers which must be removed before it: ${deps.join(',')}: container already exists`);
  const warn = o.onWarning ? { onWarning: o.onWarning } : {};
  c = await reconcile(store, c, warn);
  if (c.state.status === 'running') {
    if (!o.force) throw exitError(2, `cannot remove container ${id} as it is running - running or paused containers cannot be removed without force: container state improper`);
    // the stop's cleanup removes it too, under the lock it takes anyway
    if (await stopContainer(store, id, { timeout: o.timeout ?? 0, ...warn, ...(o.onTimeout && { onTimeout: o.onTimeout }), remove: { ...(o.volumes && { volumes: true }) } })) return;
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

/**
 * Waits until the container is no longer running (reconciling every second, so a dead monitor does not hang
 * the wait) and returns its exit code. ENOTFOUND when it is removed meanwhile (e.g. --rm). Between looks it sleeps
 * `interval` ms, or as long as `nudge(interval)` takes (a process that learns of exits itself ends that sooner).
 */
export async function waitContainer(store: Store, id: string, o: { signal?: AbortSignal; interval?: number; nudge?: (ms: number) => Promise<void> } = {}): Promise<number> {
  const root = store.paths.root;
  let n = 0;
  for (;;) {
    let c = await loadById(root, id);
    if (!c) {
      const code = await removedExitCode(root, id);
      if (code !== undefined) return code;
      throw new SkiffError('ENOTFOUND', `no container with ID ${id} found: no such container`);
    }
    if (++n % 20 === 0) c = await reconcile(store, c);
    if (c.state.status !== 'running' && c.state.status !== 'stopping') return c.state.exitCode;
    if (o.signal?.aborted) throw new SkiffError('EABORT', 'wait cancelled');
    await (o.nudge ?? sleep)(o.interval ?? 50);
  }
}
