import type { ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { isSkiffError } from '../../shared/errors.ts';
import { resetPastaHook } from '../../shared/network/pasta-hook.ts';
import type { NetworkState } from '../../shared/network/types.ts';
import { procStartTime } from '../../shared/process/proc.ts';
import { startFailureCode } from '../../shared/runtime/runc.ts';
import type { Store } from '../../shared/store/store.ts';
import { cleanupContainer } from './cleanup-container.ts';
import { startHealthTimer } from './health.ts';
import { connectContainer, serveContainerPastaHook, type NetworkChoice } from './net-wiring.ts';
import { getRunc } from './runc-handle.ts';
import { bindJoinedNamespaces } from './ns-join.ts';
import { ensurePodHostResourcesOf } from '../pods/host-resources.ts';
import { cleanRuncMessage, startDetached, type StateExt } from './start-container.ts';
import { containerPaths, saveState, type ContainerRecord } from './state.ts';
import { recordContainerEvent } from './record-event.ts';

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
 * container's exit code (126/127 when runc cannot invoke/find the command, 125 when its network could not be
 * set up) and, when runc or the network failed, the message to print. Cleans up afterwards (and removes the
 * container with --rm); failures of the cleanup that do not stop it go to `onWarning`.
 */
export async function runForeground(store: Store, record: ContainerRecord, o: { interactive?: boolean; preserveFds?: number; onWarning?: (message: string) => void } = {}): Promise<{ exitCode: number; error?: string }> {
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
    // a pod's container: the pod's cgroup and /dev/shm first, as every start makes them (pods/host-resources.ts)
    if (record.pod !== undefined) await ensurePodHostResourcesOf(root, record.pod);
    // shared namespaces: their holders run first (started when they do not), the config names their pids
    await bindJoinedNamespaces(root, record, (dep) => startDetached(store, dep));
  } catch (e) {
    for (const s of sigs) process.off(s, forward);
    await log?.close();
    await cleanupContainer(store, id, { exitCode: 125, runcGone: true, onWarning: o.onWarning }).catch(() => {});
    if (!isSkiffError(e)) throw e;
    return { exitCode: 125, error: e.message };
  }
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
    recordContainerEvent(root, record, 'start');
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
  let error: string | undefined;
  if (hookError) {
    error = (hookError as Error).message;
    code = 125;
  } else if (stderrTail) {
    // podman creates, then starts: a command that cannot run is its runc create's failure
    error = cleanRuncMessage(stderrTail.replace('runc run failed', 'runc create failed'));
    code = startFailureCode(stderrTail) ?? 125;
  }
  // `runc run` (not detached) deleted its own state when it returned: no `runc delete` needed
  await cleanupContainer(store, id, { exitCode: code, runcGone: true, onWarning: o.onWarning }).catch((e) => {
    if (!isSkiffError(e, 'ENOTFOUND')) throw e;
  });
  return error === undefined ? { exitCode: code } : { exitCode: code, error };
}

