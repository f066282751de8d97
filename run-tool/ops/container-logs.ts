import { readFile } from 'node:fs/promises';
import { containerPaths } from '../containers/state.ts';

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
