// The attach operation (podman's `attach`, `start -a`): a running container's output until it stops or the user
// detaches, and — for a container created with an open stdin (`-i`) — the caller's input into its stdin. The output
// comes from the log conmon writes as the container prints (partial lines included): the same bytes, in the same
// order per stream. The input goes through conmon's attach socket (ops/attach-stdin.ts, the bridge the API's
// attach uses too).
import type { Readable } from 'node:stream';
import { SkiffError } from '../../shared/errors.ts';
import type { Store } from '../../shared/store/store.ts';
import { loadById, loadContainer } from '../containers/state.ts';
import { feedContainerStdin } from './attach-stdin.ts';
import { followContainerLog, streamLog, type ContainerLog, type LogEntry } from './container-logs.ts';

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

/**
 * A filter for the detach sequence in typed input: `push` returns the bytes to pass on and whether the whole
 * sequence has now been typed (across chunks as well as within one). Bytes that may begin the sequence are held
 * back until it is broken (then they pass, in order) or completed (then they and anything after them in the chunk
 * are dropped). No keys: everything passes, never detached.
 */
export function detachFilter(keys: readonly number[]): { push: (chunk: Uint8Array) => { pass: Buffer; detached: boolean } } {
  let at = 0; // how many bytes of the sequence are held
  return {
    push(chunk) {
      if (keys.length === 0) return { pass: Buffer.from(chunk), detached: false };
      const out: number[] = [];
      for (const b of chunk) {
        if (b === keys[at]) {
          at++;
          if (at === keys.length) return { pass: Buffer.from(out), detached: true };
          continue;
        }
        // broken: the held prefix goes on; this byte may begin the sequence again
        for (let i = 0; i < at; i++) out.push(keys[i]!);
        at = 0;
        if (b !== keys[0]) out.push(b);
        else if (++at === keys.length) return { pass: Buffer.from(out), detached: true };
      }
      return { pass: Buffer.from(out), detached: false };
    },
  };
}

/** What attaching to a container depends on: whether it runs, has a terminal and an open stdin. */
export interface AttachTarget {
  id: string;
  name: string;
  running: boolean;
  tty: boolean;
  openStdin: boolean;
}

/**
 * The container `nameOrId` as an attach target; EINVALID with podman's message when it does not run, unless
 * `justStarted` (`start -a`: a short-lived container may have stopped already; its output is in its log).
 */
export async function attachTarget(store: Store, nameOrId: string, o: { justStarted?: boolean } = {}): Promise<AttachTarget> {
  const c = await loadContainer(store.paths.root, nameOrId);
  const running = c.state.status === 'running' || c.state.status === 'stopping';
  if (!running && !o.justStarted) throw new SkiffError('EINVALID', 'you can only attach to running containers');
  return { id: c.record.id, name: c.record.name, running, tty: c.record.config.tty, openStdin: c.record.config.openStdin };
}

/** attachContainer's options. */
export interface AttachOptions {
  /** Detaches: the output stops, the input is no longer passed; the container keeps running. */
  signal?: AbortSignal;
  /**
   * The input for the container's stdin, used only when it was created with an open stdin (else ignored, as
   * podman does); its end closes the container's stdin.
   */
  stdin?: Readable;
  /**
   * `start -a`: the container's log as opened (from its end) before the caller started it — this run's output is
   * read through it from there, whole even when the container has exited and been removed already.
   */
  log?: ContainerLog;
}

/**
 * Streams the output of container `nameOrId` to `onEntries` — from now on, or with `log` from where that descriptor
 * stands — until it stops running or `signal` aborts (a detach), while `stdin` feeds its stdin. EINVALID with
 * podman's message when it does not run; an input bridge that fails while the container still runs fails the
 * attach (a failure after it stopped is its end, not an error).
 */
export async function attachContainer(store: Store, nameOrId: string, onEntries: (e: LogEntry[]) => void, o: AttachOptions = {}): Promise<{ id: string; detached: boolean }> {
  const t = await attachTarget(store, nameOrId, { justStarted: o.log !== undefined });
  const out = new AbortController();
  const stop = (): void => out.abort();
  o.signal?.addEventListener('abort', stop, { once: true });
  if (o.signal?.aborted) stop();
  const feedAc = new AbortController();
  let feedError: unknown;
  let feed: Promise<void> | undefined;
  // the input goes in only once the log's position is taken (streamLog hands what is there first, even nothing):
  // output the input causes at once is then this attach's, not skipped as earlier output
  const startFeed = (): void => {
    if (feed || !o.stdin || !t.openStdin || !t.running) return;
    feed = feedContainerStdin(store.paths.root, t.id, o.stdin, { signal: feedAc.signal }).catch(async (e: unknown) => {
      const now = await loadById(store.paths.root, t.id).catch(() => undefined);
      if (now?.state.status === 'running' && !feedAc.signal.aborted) {
        feedError = e;
        stop();
      }
    });
  };
  const hand = (es: LogEntry[]): void => {
    startFeed();
    if (es.length > 0) onEntries(es);
  };
  try {
    if (o.log) await followContainerLog(store.paths.root, o.log, hand, { follow: true, whileCreated: true, signal: out.signal });
    else await streamLog(store, t.id, hand, { tail: 0, follow: true, signal: out.signal });
  } finally {
    o.signal?.removeEventListener('abort', stop);
    feedAc.abort();
    await feed;
  }
  if (feedError) throw feedError;
  return { id: t.id, detached: o.signal?.aborted === true };
}
