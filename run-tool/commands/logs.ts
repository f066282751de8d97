import type { Command } from 'commander';
import { addRootOption } from '../../shared/cli/program.ts';
import { SkiffError } from '../../shared/errors.ts';
import { parseDuration } from '../../shared/cli/units.ts';
import { withStore } from './cli-util.ts';
import { streamLog, type LogEntry } from '../ops/container-logs.ts';

function sinceTime(s: string): number {
  const t = Date.parse(s);
  if (!Number.isNaN(t)) return t;
  if (/^[0-9]+(\.[0-9]+)?$/.test(s)) return Number(s) * 1000;
  return Date.now() - parseDuration(s, 'ms');
}

/** Adds `logs [-f] [--tail N] [--since T] [-t] CONTAINER` (podman's, from the k8s-file log). */
export function addLogsCommand(program: Command): void {
  const cmd = program.command('logs').description('fetch the logs of a container').argument('<container>')
    .option('-f, --follow', 'follow log output')
    .option('--tail <n>', 'output the specified number of lines at the end of logs', '-1')
    .option('--since <time>', 'show logs since TIMESTAMP or DURATION')
    .option('--until <time>', 'show logs until TIMESTAMP or DURATION')
    .option('-t, --timestamps', 'output the timestamps in the log');
  addRootOption(cmd).action(async (name: string, f: { follow?: boolean; tail: string; since?: string; until?: string; timestamps?: boolean }) => {
    const tail = Number(f.tail);
    if (!Number.isInteger(tail)) throw new SkiffError('EINVALID', `invalid --tail ${f.tail}`);
    const since = f.since ? sinceTime(f.since) : undefined;
    const until = f.until ? sinceTime(f.until) : undefined;
    const emit = (es: LogEntry[]): void => {
      for (const e of es) {
        const t = Date.parse(e.time.replace(/(\.\d{3})\d*/, '$1'));
        if (since !== undefined && t < since) continue;
        if (until !== undefined && t > until) continue;
        (e.stream === 'stderr' ? process.stderr : process.stdout).write(f.timestamps ? `${e.time} ${e.text}` : e.text);
      }
    };
    await withStore(cmd, (store) => streamLog(store, name, emit, { tail, follow: f.follow === true }));
  });
}
