// In-process cleanup of a container's exit by a long-lived process (the API service), instead of the Node start of
// `container-cleanup` that conmon's exit command would otherwise make. The protocol with the exit command
// (start-container.ts exitCommand), through the container's `cleanup-service` token file:
//   1. before the start (or, for a running container, before it signals it: the API's kill), the service takes the
//      claim's lock (exclusive between services) and writes `claim PID`, followed by the run the file said was done
//      (`claim PID <token>`): the exit command of that run, still polling, reads its run as done in the new claim;
//   2. once the run is up, it writes `<token> PID` and watches for conmon's exit file;
//   3. on the exit it takes the run's cleanup (the exitTakenPath marker, one mkdir the exit command makes too: when
//      the exit command made it first, the service leaves that exit alone), runs cleanupContainer itself (the
//      container lock orders it against everybody else), writes
//      `done <token>` (nothing when the cleanup removed the directory) and only then lets the claim go.
// The exit command waits while the file names the pending claim or its run and that PID lives, then skips only
// when it reads `done <token>` or the directory is gone. A service that dies at any point (even SIGKILL
// mid-cleanup) leaves no `done` token, so the exit command does the cleanup as ever: no run is left neither
// cleaned nor recorded. Letting the claim go without a cleanup removes the file, so nothing waits for it.
// Each token replaces the file in one rename (writeFileAtomic), never by truncating and rewriting it in place: the
// exit command polls the file, and an empty file read between a truncation and its write (`claim` → `<token>`
// under load) ended its wait and let it start `container-cleanup` for a run this process then cleaned up too.
import { EventEmitter } from 'node:events';
import { watch, type FSWatcher } from 'node:fs';
import { mkdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { isAlive } from '../../shared/process/proc.ts';
import { writeFileAtomic } from '../../shared/store/atomic.ts';
import { acquireLock, type LockHandle } from '../../shared/store/lock.ts';
import { openStore } from '../../shared/store/store.ts';
import { cleanupContainer } from './cleanup-container.ts';
import type { StateExt } from './start-container.ts';
import { containerPaths, exitTakenPath, loadById } from './state.ts';

const cleaned = new EventEmitter().setMaxListeners(0);

/**
 * Resolves after the next exit this process cleans up in-process (of any container; its state is saved by then), or
 * after `ms`, whichever comes first: a waiter in this process looks again at once instead of at its next poll.
 */
export function nextInProcessCleanup(ms: number): Promise<void> {
  return new Promise<void>((done) => {
    const finish = (): void => {
      clearTimeout(timer);
      cleaned.off('cleaned', finish);
      done();
    };
    const timer = setTimeout(finish, ms);
    cleaned.once('cleaned', finish);
  });
}

/** A claim on the cleanup of a container's next exit, taken before its start (or before a running one is signalled). */
export interface ExitClaim {
  /** Starts watching the run that is up now: cleans it up in-process when it exits, then lets the claim go. Never rejects. */
  watch(): Promise<void>;
  /** Lets the claim go without watching (the start failed); idempotent. */
  release(): Promise<void>;
}

/** The claims this process holds, by container ID: each resolves once let go. */
const held = new Map<string, Promise<void>>();

/**
 * Claims the cleanup of container `id`'s next exit for this process (step 1 above). Undefined when another process
 * holds the claim already or the container is gone: then the exit command cleans up as usual. A claim this process
 * still holds on an earlier run (its watch finishing the cleanup of an exit that was just recorded: a start or a
 * restart right after it) is waited for, at most `ownWaitMs` (default 2 s; 0 to not wait, as for a running
 * container whose current run this process may be watching).
 */
export async function claimExitCleanup(root: string, id: string, o: { ownWaitMs?: number } = {}): Promise<ExitClaim | undefined> {
  const p = containerPaths(root, id);
  const own = held.get(id);
  if (own) {
    const ms = o.ownWaitMs ?? 2000;
    if (ms <= 0) return undefined;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([own, new Promise<void>((ok) => (timer = setTimeout(ok, ms)))]);
    clearTimeout(timer);
  }
  let lock: LockHandle;
  try {
    lock = await acquireLock(p.serviceClaimLock, { wait: false });
  } catch {
    return undefined;
  }
  try {
    const last = /^done ([0-9A-Za-z]+)$/.exec((await readFile(p.serviceClaim, 'utf8').catch(() => '')).trim())?.[1];
    await writeFileAtomic(p.serviceClaim, `claim ${process.pid}${last ? ` ${last}` : ''}\n`, 0o600);
  } catch {
    await lock.release();
    return undefined;
  }
  let cleaned = false;
  let letGo!: () => void;
  const gone = new Promise<void>((ok) => (letGo = ok));
  held.set(id, gone);
  const release = async (): Promise<void> => {
    if (!cleaned) await rm(p.serviceClaim, { force: true }).catch(() => {});
    await lock.release();
    if (held.get(id) === gone) held.delete(id);
    letGo();
  };
  return {
    release,
    async watch() {
      try {
        cleaned = await watchRun(root, id);
      } catch {
        /* the exit command cleans up */
      } finally {
        await release();
      }
    },
  };
}

/** Watches the run that is up now and cleans up its exit; true when it did and wrote the `done` token. */
async function watchRun(root: string, id: string): Promise<boolean> {
  const p = containerPaths(root, id);
  const c = await loadById(root, id);
  const s = c?.state as StateExt | undefined;
  if (!s || s.status !== 'running' || s.monitor !== 'conmon' || !s.runId) return false;
  const runId = s.runId;
  await writeFileAtomic(p.serviceClaim, `${runId} ${process.pid}\n`, 0o600);
  const exitFile = join(p.exits, id);
  await new Promise<void>((done) => {
    let watcher: FSWatcher | undefined;
    let timer: NodeJS.Timeout | undefined;
    let polls = 0;
    const finish = (): void => {
      watcher?.close();
      clearTimeout(timer);
      done();
    };
    const check = async (): Promise<void> => {
      if (await stat(exitFile).then(() => true, () => false)) return finish();
      // every ~2 s: a run that ended another way (stopped and cleaned by someone, a dead monitor) is not ours to clean
      if (++polls % 20 === 0) {
        const now = (await loadById(root, id))?.state as StateExt | undefined;
        if (!now || now.runId !== runId || now.status !== 'running' || !isAlive(now.monitorPid, now.monitorStart)) return finish();
      }
      timer = setTimeout(() => void check(), 100);
      timer.unref();
    };
    try {
      watcher = watch(p.exits, () => void stat(exitFile).then(finish, () => {}));
      watcher.unref();
      watcher.on('error', () => {});
    } catch {
      /* polled only */
    }
    void check();
  });
  if (!(await stat(exitFile).then(() => true, () => false))) return false;
  // take this exit's cleanup: the exit command that got there first (it looked before our claim) keeps it
  if (!(await mkdir(exitTakenPath(p.dir, runId)).then(() => true, () => false))) return false;
  const store = await openStore(root, { create: false });
  try {
    await cleanupContainer(store, id, { fromMonitor: true, run: runId });
  } finally {
    await store.close();
  }
  // a removed container has no file to mark: its exit command sees the directory gone
  await writeFileAtomic(p.serviceClaim, `done ${runId}\n`, 0o600).catch(() => {});
  cleaned.emit('cleaned', id);
  return true;
}
