import { constants } from 'node:fs';
import { open, readFile, type FileHandle } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Store } from '../../shared/store/store.ts';
import { containerPaths, loadById, loadContainer } from '../containers/state.ts';

// A container's log as data: the k8s-file lines conmon writes, parsed into entries (podman's `logs`, `start -a`).

/** One k8s-file log entry: a line (with its newline when complete) of one stream. */
export interface LogEntry {
  time: string;
  stream: 'stdout' | 'stderr';
  text: string;
}

/** Parses k8s-file log text (`TIME STREAM F|P CONTENT`); partial (P) pieces are joined with the next one. Pure. */
export function parseK8sLog(text: string): LogEntry[] {
  const out: LogEntry[] = [];
  let pending: LogEntry | undefined;
  for (const line of text.split('\n')) {
    const m = /^(\S+) (stdout|stderr) ([FP]) ?(.*)$/s.exec(line);
    if (!m) continue;
    const piece = m[4]!;
    if (pending && pending.stream === m[2]) pending.text += piece;
    else {
      if (pending) out.push(pending);
      pending = { time: m[1]!, stream: m[2] as 'stdout', text: piece };
    }
    if (m[3] === 'F') {
      pending.text += '\n';
      out.push(pending);
      pending = undefined;
    }
  }
  if (pending) out.push(pending);
  return out;
}

/** Reads a container's whole log. */
export async function readK8sLog(root: string, id: string): Promise<LogEntry[]> {
  return parseK8sLog(await readFile(containerPaths(root, id).log, 'utf8').catch(() => ''));
}

/** streamLog's options (podman's `logs` flags). */
export interface StreamLogOptions {
  /** Only the last `tail` entries of what is there already (all when negative or undefined). */
  tail?: number;
  /** Then keep reading what is appended, until the container no longer runs. */
  follow?: boolean;
  /** Ends following quietly. */
  signal?: AbortSignal;
}

/**
 * A container's k8s-file log held open by one descriptor: conmon appends to the same inode, so what it wrote stays
 * readable after the container's directory is removed (an AutoRemove container that exits at once).
 */
export interface ContainerLog {
  /** The container's full id. */
  readonly id: string;
  /** Entries appended since the last call, complete lines only; `final` also hands out an unfinished last line. */
  read(final?: boolean): Promise<LogEntry[]>;
  /** Closes the descriptor; idempotent. */
  close(): Promise<void>;
}

/**
 * Opens container `id`'s log for reading from its start. With `create` a missing log is created as conmon would
 * create it (0600, conmon then appends to it), so a reader opened before the container starts holds the inode the
 * output goes to; without it a missing log is retried by path on each read. `fromEnd` skips what is there already
 * (an earlier run's output). The container directory must exist (ENOENT otherwise, nothing created).
 */
export async function openContainerLog(root: string, id: string, o: { create?: boolean; fromEnd?: boolean } = {}): Promise<ContainerLog> {
  const path = containerPaths(root, id).log;
  const openIt = (): Promise<FileHandle | undefined> => open(path, o.create ? constants.O_RDONLY | constants.O_CREAT : constants.O_RDONLY, 0o600)
    .catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT' && !o.create) return undefined;
      throw e;
    });
  let fh = await openIt();
  let pos = o.fromEnd && fh ? (await fh.stat()).size : 0;
  let carry = '';
  return {
    id,
    async read(final = false) {
      fh ??= await openIt().catch(() => undefined);
      let chunk = carry;
      if (fh) {
        const { size } = await fh.stat();
        if (size > pos) {
          const buf = Buffer.alloc(size - pos);
          const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
          pos += bytesRead;
          chunk += buf.subarray(0, bytesRead).toString('utf8');
        }
      }
      // keep an unfinished last line for the next read
      carry = final || chunk.endsWith('\n') ? '' : chunk.slice(chunk.lastIndexOf('\n') + 1);
      return parseK8sLog(chunk.slice(0, chunk.length - carry.length));
    },
    async close() {
      const h = fh;
      fh = undefined;
      await h?.close();
    },
  };
}

/**
 * Hands what `log` has to `onEntries` (its last `tail` entries, all when negative), then with `follow` what is
 * appended (polled every 100 ms) until container `log.id` no longer runs — with `whileCreated` a container not yet
 * started counts as running (a reader opened before the start) — its last piece included, or until `signal` aborts.
 * Reads through the log's descriptor, so the end of the output is seen even when the container is removed at once.
 */
export async function followContainerLog(root: string, log: ContainerLog, onEntries: (entries: LogEntry[]) => void, o: StreamLogOptions & { whileCreated?: boolean } = {}): Promise<void> {
  const tail = o.tail ?? -1;
  let entries = await log.read();
  if (tail >= 0) entries = tail === 0 ? [] : entries.slice(-tail);
  onEntries(entries);
  if (!o.follow) return;
  for (;;) {
    const now = await loadById(root, log.id);
    const live = now !== undefined && (now.state.status === 'running' || now.state.status === 'stopping' || (o.whileCreated === true && now.state.status === 'created'));
    // the state is read before the log: output written before the exit is in this read
    const got = await log.read(!live);
    if (got.length) onEntries(got);
    if (!live) return;
    const stopped = await sleep(100, undefined, { signal: o.signal }).then(() => false, () => true);
    if (stopped) return;
  }
}

/**
 * Hands the log of container `nameOrId` to `onEntries` in order: what is there (its last `tail` entries), then
 * with `follow` what is appended (polled every 100 ms; an unfinished last line waits for its end) until the
 * container stops running — its last piece included — or `signal` aborts.
 */
export async function streamLog(store: Store, nameOrId: string, onEntries: (entries: LogEntry[]) => void, o: StreamLogOptions = {}): Promise<void> {
  const id = (await loadContainer(store.paths.root, nameOrId)).record.id;
  const log = await openContainerLog(store.paths.root, id);
  try {
    await followContainerLog(store.paths.root, log, onEntries, o);
  } finally {
    await log.close();
  }
}
