// The attach operation (podman's `attach`): a running container's output from now on until it stops or the user
// detaches. run-tool's monitor (conmon) runs containers with no stdin kept open and Node has no SOCK_SEQPACKET
// client for conmon's attach socket, so the output comes from the log conmon writes as the container prints
// (partial lines included): the same bytes, in the same order per stream.
import { SkiffError } from '../../shared/errors.ts';
import type { Store } from '../../shared/store/store.ts';
import { loadContainer } from '../containers/state.ts';
import { streamLog, type LogEntry } from './container-logs.ts';

/** podman's default detach sequence (ctrl-p, ctrl-q). */
export const DEFAULT_DETACH_KEYS = 'ctrl-p,ctrl-q';

/**
 * Parses a detach-key spec as podman does (`ctrl-p,ctrl-q`, `a,ctrl-@`, `ctrl-[`): comma-separated single
 * characters or `ctrl-X` for X in a-z, @, [, \, ], ^, _. An empty spec disables detaching (no bytes). EINVALID
 * otherwise. Pure.
 */
export function parseDetachKeys(spec: string): number[] {
  if (spec === '') return [];
  return spec.split(',').map((k) => {
    if (k.length === 1) return k.charCodeAt(0);
    const m = /^ctrl-([a-z@[\\\]^_])$/.exec(k);
    if (!m) throw new SkiffError('EINVALID', `invalid detach keys ${JSON.stringify(spec)}: ${JSON.stringify(k)} is not a character or ctrl-<a-z, @, [, \\, ], ^, _>`, { hint: `the default is ${DEFAULT_DETACH_KEYS}` });
    const c = m[1]!;
    if (c >= 'a' && c <= 'z') return c.charCodeAt(0) - 96; // ctrl-a = 1 … ctrl-z = 26
    const i = '@[\\]^_'.indexOf(c); // ctrl-@ = 0, ctrl-[ = 27 … ctrl-_ = 31
    return i === 0 ? 0 : 26 + i;
  });
}

/** A detector for a detach sequence in a byte stream: `push` returns true once the whole sequence has been typed. */
export function detachDetector(keys: readonly number[]): { push: (chunk: Uint8Array) => boolean } {
  let at = 0;
  return {
    push(chunk) {
      if (keys.length === 0) return false;
      for (const b of chunk) {
        at = b === keys[at] ? at + 1 : b === keys[0] ? 1 : 0;
        if (at === keys.length) return true;
      }
      return false;
    },
  };
}

/**
 * Streams the output of the running container `nameOrId` to `onEntries` from now on, until it stops running or
 * `signal` aborts (a detach). EINVALID with podman's message when it does not run.
 */
export async function attachContainer(store: Store, nameOrId: string, onEntries: (e: LogEntry[]) => void, o: { signal?: AbortSignal } = {}): Promise<{ id: string; detached: boolean }> {
  const c = await loadContainer(store.paths.root, nameOrId);
  if (c.state.status !== 'running' && c.state.status !== 'stopping') throw new SkiffError('EINVALID', 'you can only attach to running containers');
  await streamLog(store, c.record.id, onEntries, { tail: 0, follow: true, ...(o.signal && { signal: o.signal }) });
  return { id: c.record.id, detached: o.signal?.aborted === true };
}
