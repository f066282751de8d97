// podman's `start --attach`: start a container and hand its output over as it is written, until it exits.
import type { Store } from '../../shared/store/store.ts';
import { removedExitCode } from '../containers/removed-exits.ts';
import { loadById, loadContainer } from '../containers/state.ts';
import { startContainer } from './container-lifecycle.ts';
import { followContainerLog, openContainerLog, type LogEntry } from './container-logs.ts';

/**
 * Starts container `nameOrId` and hands this run's output to `onEntries` until the container no longer runs (or
 * `signal` aborts). The log is opened before the start (created as conmon would when the container never ran), so
 * the output of a container that exits and is removed at once (AutoRemove) is still read in full; an earlier run's
 * output is skipped. Returns the container's exit code (the one its removal recorded when it is gone; 0 when
 * `signal` ended the wait before the exit). Start failures are startContainer's.
 */
export async function startAttached(store: Store, nameOrId: string, onEntries: (entries: LogEntry[]) => void, o: { signal?: AbortSignal } = {}): Promise<{ id: string; exitCode: number }> {
  const root = store.paths.root;
  const c = await loadContainer(root, nameOrId);
  const id = c.record.id;
  const log = await openContainerLog(root, id, { create: c.state.status === 'created', fromEnd: true });
  try {
    await startContainer(store, id);
    await followContainerLog(root, log, onEntries, { follow: true, whileCreated: true, ...(o.signal && { signal: o.signal }) });
  } finally {
    await log.close();
  }
  const now = await loadById(root, id);
  if (o.signal?.aborted && now) return { id, exitCode: 0 };
  return { id, exitCode: now ? now.state.exitCode : (await removedExitCode(root, id)) ?? 0 };
}
