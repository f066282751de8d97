// podman's `start --attach`: start a container and hand its output over as it is written, until it exits.
import type { Readable } from 'node:stream';
import type { Store } from '../../shared/store/store.ts';
import { removedExitCode } from '../containers/removed-exits.ts';
import { loadById, loadContainer } from '../containers/state.ts';
import { attachContainer } from './attach-container.ts';
import { startContainer } from './container-lifecycle.ts';
import { openContainerLog, type LogEntry } from './container-logs.ts';

/**
 * Starts container `nameOrId` and attaches to it (attachContainer: this run's output to `onEntries`, `stdin` into a
 * container created with -i) until it no longer runs or `signal` aborts (a detach). The log is opened before the
 * start (created as conmon would when the container never ran) and read through that descriptor, so the output of a
 * container that exits and is removed at once (AutoRemove) is still read in full; an earlier run's output is
 * skipped. Returns the container's exit code (the one its removal recorded when it is gone; 0 after a detach) and
 * whether it was detached. Start failures are startContainer's.
 */
export async function startAttached(store: Store, nameOrId: string, onEntries: (entries: LogEntry[]) => void, o: { signal?: AbortSignal; stdin?: Readable } = {}): Promise<{ id: string; exitCode: number; detached: boolean }> {
  const root = store.paths.root;
  const c = await loadContainer(root, nameOrId);
  const id = c.record.id;
  const log = await openContainerLog(root, id, { create: c.state.status === 'created', fromEnd: true });
  let detached: boolean;
  try {
    await startContainer(store, id);
    ({ detached } = await attachContainer(store, id, onEntries, { log, ...(o.signal && { signal: o.signal }), ...(o.stdin && { stdin: o.stdin }) }));
  } finally {
    await log.close();
  }
  const now = await loadById(root, id);
  if (detached && now) return { id, exitCode: 0, detached };
  return { id, exitCode: now ? now.state.exitCode : (await removedExitCode(root, id)) ?? 0, detached: false };
}
