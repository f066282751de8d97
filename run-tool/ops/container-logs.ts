import { open, readFile } from 'node:fs/promises';
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
 * Hands the log of container `nameOrId` to `onEntries` in order: what is there (its last `tail` entries), then
 * with `follow` what is appended (polled every 100 ms; an unfinished last line waits for its end) until the
 * container stops running — its last piece included — or `signal` aborts.
 */
export async function streamLog(store: Store, nameOrId: string, onEntries: (entries: LogEntry[]) => void, o: StreamLogOptions = {}): Promise<void> {
  const id = (await loadContainer(store.paths.root, nameOrId)).record.id;
  const path = containerPaths(store.paths.root, id).log;
  const tail = o.tail ?? -1;
  let text = await readFile(path, 'utf8').catch(() => '');
  let pos = Buffer.byteLength(text);
  // keep an unfinished last line for the next read
  let carry = text.endsWith('\n') ? '' : text.slice(text.lastIndexOf('\n') + 1);
  text = text.slice(0, text.length - carry.length);
  let entries = parseK8sLog(text);
  if (tail >= 0) entries = tail === 0 ? [] : entries.slice(-tail);
  onEntries(entries);
  if (!o.follow) return;
  for (;;) {
    const now = await loadById(store.paths.root, id);
    const done = !now || (now.state.status !== 'running' && now.state.status !== 'stopping');
    const fh = await open(path, 'r').catch(() => undefined);
    if (fh) {
      const st = await fh.stat();
      if (st.size > pos) {
        const buf = Buffer.alloc(st.size - pos);
        await fh.read(buf, 0, buf.length, pos);
        pos = st.size;
        const chunk = carry + buf.toString('utf8');
        carry = chunk.endsWith('\n') ? '' : chunk.slice(chunk.lastIndexOf('\n') + 1);
        onEntries(parseK8sLog(chunk.slice(0, chunk.length - carry.length)));
      }
      await fh.close();
    }
    if (done) {
      if (carry) onEntries(parseK8sLog(carry));
      return;
    }
    const stopped = await sleep(100, undefined, { signal: o.signal }).then(() => false, () => true);
    if (stopped) return;
  }
}
