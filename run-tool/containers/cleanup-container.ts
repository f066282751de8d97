import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { isAlive } from '../../shared/process/proc.ts';
import { openLease } from '../../shared/store/lease.ts';
import type { Store } from '../../shared/store/store.ts';
import { stopHealthTimer } from './health.ts';
import { disconnectContainer } from './net-wiring.ts';
import { getRunc } from './runc-handle.ts';
import { unmountRootfs } from './rootfs-mount.ts';
import type { StateExt } from './start-container.ts';
import type { RecordVolume } from './create.ts';
import { recordRemovedExit } from './removed-exits.ts';
import {
  containerPaths, listContainers, loadById, lockContainer, releaseName, removeContainerDir, saveState,
  type ContainerRecord, type ContainerState, type LoadedContainer,
} from './state.ts';
import { recordContainerEvent } from './record-event.ts';

async function readExitFile(root: string, id: string): Promise<number | undefined> {
  const t = await readFile(join(containerPaths(root, id).exits, id), 'utf8').catch(() => undefined);
  if (t === undefined || !/^-?[0-9]+\s*$/.test(t)) return undefined;
  return Number(t);
}

/**
 * Records a container's exit and releases what it held (idempotent; the conmon exit command and any CLI
 * that notices the exit may all call it): exit code from conmon's exit file (else `exitCode`, else 137),
 * `runc delete` (skipped with `runcGone`: the caller knows runc's state is already gone), unmount, then `--rm`
 * removal (under the same container lock) or the restart policy. With `remove` (a forced `rm` of a running
 * container) the container is removed too, under the same lock. Never waits with the lock held. A network
 * that cannot be torn down does not stop the cleanup: its message goes to `onWarning`. True when this call
 * removed the container. With `run` (the exit command's token of the conmon run it belongs to) a cleanup whose run is
 * no longer the container's current one (a restart started another meanwhile) does nothing and calls `onStale`.
 */
export async function cleanupContainer(store: Store, id: string, o: { exitCode?: number; fromMonitor?: boolean; runcGone?: boolean; run?: string; onStale?: () => void; onWarning?: (message: string) => void; remove?: { volumes?: boolean } } = {}): Promise<boolean> {
  const root = store.paths.root;
  const runc = await getRunc();
  let after: ContainerState | undefined;
  let record: ContainerRecord | undefined;
  const lock = await lockContainer(root, id);
  try {
    const c = await loadById(root, id);
    if (!c) return false;
    record = c.record;
    const s = c.state as StateExt;
    // a late exit command of an earlier run: the exit it reports was recorded by the stop that ended that run
    if (o.run !== undefined && s.runId !== undefined && s.runId !== o.run) {
      o.onStale?.();
      return false;
    }
    if (s.status !== 'running' && s.status !== 'stopping' && !s.mounted) return false;
    if (s.status === 'running' && !o.fromMonitor && o.exitCode === undefined) {
      // only clean a running container once its processes are gone
      const rs = await runc.state(id).catch(() => undefined);
      if (rs && rs.status !== 'stopped' && isAlive(rs.pid)) return false;
    }
    let code = await readExitFile(root, id);
    for (let i = 0; code === undefined && s.monitor === 'conmon' && isAlive(s.monitorPid, s.monitorStart) && i < 200; i++) {
      await sleep(5);
      code = await readExitFile(root, id);
    }
    code ??= o.exitCode ?? (s.status === 'running' ? 137 : s.exitCode);
    if (s.healthPid) stopHealthTimer(s.healthPid, s.healthStart);
    // runc's state and the host's rootfs mount are independent: dropped side by side
    await Promise.all([!o.runcGone && runc.hasState(id) ? runc.delete(id, { force: true }).catch(() => {}) : undefined, unmountRootfs(root, id)]);
    await disconnectContainer(root, record, s.network).catch((e: unknown) => o.onWarning?.((e as Error).message));
    after = { ...s, status: 'exited', pid: 0, exitCode: code, finishedAt: new Date().toISOString(), mounted: false };
    delete (after as StateExt).network;
    delete after.healthPid;
    delete after.paused;
    delete after.initialized;
    delete (after as StateExt).healthStart;
    if (s.status !== 'running' && s.status !== 'stopping') after.status = s.status;
    await saveState(root, id, after);
    if (s.status === 'running' || s.status === 'stopping') recordContainerEvent(root, record, 'died', { exitCode: code });
    recordContainerEvent(root, record, 'cleanup');
    // --rm: remove now, still under this lock (runc's state is gone: deleted above or by `runc run`)
    if (record.hostConfig.autoRemove) {
      await recordRemovedExit(root, id, code);
      await removeLocked(store, id, { ...c, state: after }, { runcGone: true });
      return true;
    }
    // rm -f: removed now, under the lock this cleanup holds (no second lock round trip)
    if (o.remove) {
      await removeLocked(store, id, { ...c, state: after }, { runcGone: true, ...(o.remove.volumes && { volumes: true }) });
      return true;
    }
  } finally {
    await lock.release();
  }
  if (!after || !record) return false;
  const pol = record.hostConfig.restartPolicy;
  const restart = !after.stoppedByUser && after.monitor === 'conmon' &&
    (pol.name === 'always' || pol.name === 'unless-stopped' || (pol.name === 'on-failure' && after.exitCode !== 0 && (pol.maximumRetryCount === 0 || after.restartCount < pol.maximumRetryCount)));
  // the start machinery loads only for a restart: stop and rm never need it
  if (restart) await (await import('./start-container.ts')).startDetached(store, id, { restart: true }).catch(() => {});
  return false;
}

/**
 * Brings recorded state in line with reality (RU-12): a container recorded as running whose monitor (conmon,
 * or the foreground CLI) is gone — killed, or the machine rebooted — has its processes killed and is cleaned
 * up (exit code from the exit file, else 137). Returns the fresh state.
 */
export async function reconcile(store: Store, c: LoadedContainer, o: { onWarning?: (message: string) => void } = {}): Promise<LoadedContainer> {
  const s = c.state as StateExt;
  if (s.status !== 'running' && s.status !== 'stopping') return c;
  if (isAlive(s.monitorPid, s.monitorStart)) return c;
  const root = store.paths.root;
  const runc = await getRunc();
  const rs = await runc.state(c.record.id).catch(() => undefined);
  if (rs && rs.status !== 'stopped') {
    // --all needs the container's cgroup, which a rootless container on cgroups v1 has not: then kill init (its pid namespace goes with it)
    await runc.kill(c.record.id, 'KILL', { all: true }).catch(() => runc.kill(c.record.id, 'KILL')).catch(() => {});
    for (let i = 0; i < 100 && isAlive(rs.pid); i++) await sleep(20);
  }
  await cleanupContainer(store, c.record.id, { exitCode: 137, fromMonitor: true, ...o });
  return (await loadById(root, c.record.id)) ?? c;
}

/** listContainers + reconcile of each (what `ps` shows); what a cleanup could not tear down goes to `onWarning`. */
export async function listReconciled(store: Store, o: { onWarning?: (message: string) => void } = {}): Promise<LoadedContainer[]> {
  const out: LoadedContainer[] = [];
  for (const c of await listContainers(store.paths.root)) out.push(await reconcile(store, c, o));
  return out;
}

/** The removal of a container (runc state, mount, network, record, volumes, lease, name, dir); the caller holds the container lock and has checked it is not running. */
export async function removeLocked(store: Store, id: string, now: LoadedContainer, o: { volumes?: boolean; runcGone?: boolean }): Promise<void> {
  const root = store.paths.root;
  {
    if (now.state.healthPid) stopHealthTimer(now.state.healthPid, (now.state as StateExt).healthStart);
    const runc = await getRunc();
    await Promise.all([!o.runcGone && runc.hasState(id) ? runc.delete(id, { force: true }).catch(() => {}) : undefined, unmountRootfs(root, id, { force: true })]);
    // from the on-disk attachment record: also right after a killed CLI or monitor
    await disconnectContainer(root, now.record, (now.state as StateExt).network);
    const p = containerPaths(root, id);
    await rm(p.record, { force: true }); // from here on the container no longer exists for anyone
    if (o.volumes || now.record.hostConfig.autoRemove) {
      const anonymous = (now.record.volumes as RecordVolume[]).filter((v) => v.anonymous);
      if (anonymous.length > 0) {
        const { removeVolume } = await import('./volumes.ts');
        for (const v of anonymous) await removeVolume(root, v.name).catch(() => {});
      }
    }
    await openLease(store.paths, now.record.leaseId).then((l) => l.release(), () => {});
    await releaseName(root, now.record.name, id);
    await removeContainerDir(root, id);
    recordContainerEvent(root, now.record, 'remove');
  }
}

