// The lifecycle operations on an existing container: start, stop, kill, restart, remove, wait. Both front ends call
// these with a name or ID and plain options and get plain results; a failure is a SkiffError. This module does not
// load the creation machinery, nor the start machinery (networking, mounts, conmon) until a start needs it, so
// `stop`, `rm`, `kill` or `wait` start up light.
import { setTimeout as sleep } from 'node:timers/promises';
import { isSkiffError, SkiffError } from '../../shared/errors.ts';
import type { Store } from '../../shared/store/store.ts';
import { exitError } from '../containers/exit-status.ts';
import { killContainer as killById, removeContainer as removeById, stopContainer as stopById, waitContainer as waitById } from '../containers/stop-container.ts';
import { parseSignal } from '../containers/signals.ts';
import { listContainers, loadById, loadContainer } from '../containers/state.ts';
import { reconcile } from '../containers/cleanup-container.ts';
import { removedExitCode } from '../containers/removed-exits.ts';
import { notifyContainerStarted } from '../systemd/notify.ts';
import { setPaused } from '../containers/pause-container.ts';
import type { ExitClaim } from '../containers/exit-watch.ts';

/** How a long-lived caller claims the cleanup of a container's next exit (containers/exit-watch.ts claimExitCleanup). */
export type ClaimCleanup = (root: string, id: string) => Promise<ExitClaim | undefined>;

/**
 * Starts container `id` under its monitor (the start machinery loaded only now); with `claimCleanup`, the cleanup
 * of this run's exit is claimed before the start, released when the start fails, and watched once it ran.
 */
async function startClaimed(store: Store, id: string, claimCleanup: ClaimCleanup | undefined): Promise<void> {
  const { startDetached } = await import('../containers/start-container.ts');
  const claim = await claimCleanup?.(store.paths.root, id);
  try {
    await startDetached(store, id);
  } catch (e) {
    await claim?.release();
    throw e;
  }
  void claim?.watch();
}

/**
 * Starts the container `nameOrId` under its monitor; a failure names the container, as podman's does. With
 * `claimCleanup` (a long-lived caller, the API service, passes containers/exit-watch.ts claimExitCleanup) this
 * process claims the cleanup of the run's exit before the start and does it itself when the container exits,
 * sparing the exit command's Node start; the exit command still cleans up should this process die first. (Passed in
 * rather than imported: the CLI's bundles of stop/rm stay free of it.)
 */
export async function startContainer(store: Store, nameOrId: string, o: { claimCleanup?: ClaimCleanup } = {}): Promise<{ id: string }> {
  const c = await loadContainer(store.paths.root, nameOrId);
  try {
    await startClaimed(store, c.record.id, o.claimCleanup);
  } catch (e) {
    if (isSkiffError(e) && e.exitStatus !== undefined) throw exitError(e.exitStatus, `unable to start container "${c.record.id}": ${e.message}`);
    throw e;
  }
  await notifyContainerStarted(store, c.record.id);
  return { id: c.record.id };
}

/**
 * Stops the container `nameOrId`: its stop signal, then SIGKILL after `timeout` seconds (default the container's
 * stop timeout). With `ignoreMissing`, a container that cannot be loaded is no error and the result is undefined.
 * `onTimeout` hears podman's warning when the stop signal timed out and SIGKILL was sent.
 */
export async function stopContainer(store: Store, nameOrId: string, o: { timeout?: number; ignoreMissing?: boolean; onWarning?: (m: string) => void; onTimeout?: (m: string) => void } = {}): Promise<{ id: string } | undefined> {
  let id: string;
  try {
    id = (await loadContainer(store.paths.root, nameOrId)).record.id;
  } catch (e) {
    if (o.ignoreMissing) return undefined;
    throw e;
  }
  await stopById(store, id, { timeout: o.timeout, onWarning: o.onWarning, onTimeout: o.onTimeout });
  return { id };
}

/** Sends `signal` (a name or number, parseSignal's forms; default SIGKILL) to the container `nameOrId`. */
export async function killContainer(store: Store, nameOrId: string, o: { signal?: string } = {}): Promise<{ id: string }> {
  const sig = parseSignal(o.signal ?? 'KILL');
  const c = await loadContainer(store.paths.root, nameOrId);
  await killById(store, c.record.id, sig);
  return { id: c.record.id };
}

/**
 * Stops the container `nameOrId` if it runs (as stopContainer, `timeout` seconds) and starts it again; what the
 * stop could not tear down (its network) goes to `onWarning`, podman's SIGKILL warning to `onTimeout`. With
 * `claimCleanup` the new run's exit is cleaned up by this process, as startContainer's.
 */
export async function restartContainer(store: Store, nameOrId: string, o: { timeout?: number; onWarning?: (m: string) => void; onTimeout?: (m: string) => void; claimCleanup?: ClaimCleanup } = {}): Promise<{ id: string }> {
  const c = await loadContainer(store.paths.root, nameOrId);
  await stopById(store, c.record.id, { timeout: o.timeout, onWarning: o.onWarning, onTimeout: o.onTimeout });
  // the stop cleaned up the old run itself; the new run's exit is claimed as startContainer claims it
  await startClaimed(store, c.record.id, o.claimCleanup);
  return { id: c.record.id };
}

/** removeContainer's options. */
export interface RemoveContainerOptions {
  /** Stop a running container first (waiting `timeout` seconds before killing, default 0). */
  force?: boolean;
  timeout?: number;
  /** Remove its anonymous volumes too. */
  volumes?: boolean;
  /** A container that does not exist (ENOTFOUND) is no error; the result is undefined. */
  ignoreMissing?: boolean;
  /** What went wrong on the way that did not stop the removal. */
  onWarning?: (m: string) => void;
  /** podman's warning when the stop signal of a forced removal timed out and SIGKILL was sent. */
  onTimeout?: (m: string) => void;
}

/** Removes the container `nameOrId` (a running one only with `force`). */
export async function removeContainer(store: Store, nameOrId: string, o: RemoveContainerOptions = {}): Promise<{ id: string } | undefined> {
  try {
    const id = (await loadContainer(store.paths.root, nameOrId)).record.id;
    await removeById(store, id, { force: o.force === true, volumes: o.volumes === true, timeout: o.timeout, onWarning: o.onWarning, onTimeout: o.onTimeout });
    return { id };
  } catch (e) {
    if (o.ignoreMissing && isSkiffError(e, 'ENOTFOUND')) return undefined;
    throw e;
  }
}

/** What waitContainer waits for (Docker's `wait?condition=`). */
export type WaitCondition = 'not-running' | 'next-exit' | 'removed';

/** Checks a Docker wait condition (empty is `not-running`); EINVALID otherwise. Pure. */
export function checkWaitCondition(s: string): WaitCondition {
  if (s === '') return 'not-running';
  if (s === 'not-running' || s === 'next-exit' || s === 'removed') return s;
  throw new SkiffError('EINVALID', `invalid condition ${JSON.stringify(s)}: want not-running, next-exit or removed`);
}

/**
 * Waits until the container `nameOrId` meets `condition` and returns its exit code: `not-running` (default) when
 * it does not run; `next-exit` when it has run and stopped since the call (a created container is waited for
 * through its start); `removed` when it is gone, with the code it exited with (removed on exit: the code its
 * cleanup recorded, as podman's exit-code table). `nudge(ms)`, when given, replaces the sleep between looks (the
 * API service's ends early when it has just cleaned up an exit itself).
 */
export async function waitContainer(store: Store, nameOrId: string, o: { signal?: AbortSignal; interval?: number; condition?: WaitCondition; nudge?: (ms: number) => Promise<void> } = {}): Promise<{ id: string; exitCode: number }> {
  const root = store.paths.root;
  const c = await loadContainer(root, nameOrId);
  const id = c.record.id;
  const cond = o.condition ?? 'not-running';
  if (cond === 'not-running') return { id, exitCode: await waitById(store, id, o) };
  const first = c.state;
  let last = first.exitCode;
  for (let n = 1; ; n++) {
    let now = await loadById(root, id);
    if (!now) return { id, exitCode: (await removedExitCode(root, id)) ?? last };
    if (n % 20 === 0) now = await reconcile(store, now);
    const s = now.state;
    const stopped = s.status !== 'running' && s.status !== 'stopping';
    if (stopped) last = s.exitCode;
    if (cond === 'next-exit' && stopped && s.finishedAt !== first.finishedAt) return { id, exitCode: s.exitCode };
    if (o.signal?.aborted) throw new SkiffError('EABORT', 'wait cancelled');
    await (o.nudge ?? sleep)(o.interval ?? 50);
  }
}

/**
 * Freezes (`paused`) or thaws the running container `nameOrId` (cgroup freezer, pause-container.ts). EINVALID
 * with podman's message when it is not running, already paused, or not paused.
 */
export async function pauseContainer(store: Store, nameOrId: string, paused: boolean): Promise<{ id: string }> {
  const c = await loadContainer(store.paths.root, nameOrId);
  await setPaused(store, c.record.id, paused);
  return { id: c.record.id };
}

/** The IDs of the containers `pause --all` (running, not paused) or `unpause --all` (paused) acts on. */
export async function pausableContainers(store: Store, paused: boolean): Promise<string[]> {
  return (await listContainers(store.paths.root)).filter((c) => c.state.status === 'running' && (c.state.paused === true) !== paused).map((c) => c.record.id);
}

/**
 * Initialises the container `nameOrId` as podman's `init` does: its monitor and runc's container are made (namespaces,
 * mounts, network), its process is not started; a later start only runs it. EINVALID when it already runs or was initialised.
 */
export async function initContainer(store: Store, nameOrId: string): Promise<{ id: string }> {
  const c = await loadContainer(store.paths.root, nameOrId);
  await (await import('../containers/start-container.ts')).startDetached(store, c.record.id, { initOnly: true });
  return { id: c.record.id };
}

/** The IDs of the containers `init --all` acts on: those not running. */
export async function initableContainers(store: Store): Promise<string[]> {
  return (await listContainers(store.paths.root)).filter((c) => c.state.status !== 'running' && c.state.status !== 'stopping').map((c) => c.record.id);
}
