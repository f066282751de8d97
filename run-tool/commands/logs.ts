import type { Command } from 'commander';
import { addRootOption } from '../../shared/cli/program.ts';
import { SkiffError } from '../../shared/errors.ts';
import { parseInputTime } from '../../shared/time/input-time.ts';
import { withStore } from './cli-util.ts';
import { streamLog, type LogEntry } from '../ops/container-logs.ts';
import { loadContainer } from '../containers/state.ts';

/**
 * A k8s-file log time (`2026-01-02T03:04:05.120000000+00:00`, as conmon writes it) as podman prints it with `-t`:
 * Go's RFC3339Nano, `Z` for a zero offset and no trailing zeros in the fraction. Pure.
 */
export function goLogTime(t: string): string {
  const m = /^(.*?T\d\d:\d\d:\d\d)(?:\.(\d+))?([+-]\d\d:\d\d|Z)$/.exec(t);
  if (!m) return t;
  const frac = (m[2] ?? '').replace(/0+$/, '');
  const zone = m[3] === '+00:00' || m[3] === '-00:00' ? 'Z' : m[3];
  return `${m[1]}${frac ? `.${frac}` : ''}${zone}`;
}

/**
 * The writer of log entries for `logs` and `pod logs`: `emitter(prefix)` writes each entry to stdout or stderr as
 * it was logged, after `prefix` and (with `timestamps`) its time as podman prints it, skipping entries before
 * `since` or after `until` (podman's TIMESTAMP or DURATION; EINVALID when unreadable, before anything is written).
 */
export function logEmitter(f: { since?: string; until?: string; timestamps?: boolean }): (prefix: string) => (es: LogEntry[]) => void {
  const since = f.since ? parseInputTime(f.since, '--since') : undefined;
  const until = f.until ? parseInputTime(f.until, '--until', { direction: 'future' }) : undefined;
  return (prefix) => (es) => {
    for (const e of es) {
      const t = Date.parse(e.time.replace(/(\.\d{3})\d*/, '$1'));
      if (since !== undefined && t < since) continue;
      if (until !== undefined && t > until) continue;
      (e.stream === 'stderr' ? process.stderr : process.stdout).write(`${prefix}${f.timestamps ? `${goLogTime(e.time)} ` : ''}${e.text}`);
    }
  };
}

/**
 * Adds `logs [-f] [--tail N] [--since T] [-t] [-n] CONTAINER…` (podman's, from the k8s-file log). With several
 * containers each line starts with the container's short ID, or its name with `-n/--names`, as podman's.
 */
export function addLogsCommand(program: Command): void {
  const cmd = program.command('logs').description('fetch the logs of a container').argument('<containers...>')
    .option('-f, --follow', 'follow log output')
    .option('--tail <n>', 'output the specified number of lines at the end of logs', '-1')
    .option('--since <time>', 'show logs since TIMESTAMP or DURATION')
    .option('--until <time>', 'show logs until TIMESTAMP or DURATION')
    .option('-t, --timestamps', 'output the timestamps in the log')
    .option('-n, --names', 'output the container name in the log (with several containers)');
  addRootOption(cmd).action(async (names: string[], f: { follow?: boolean; tail: string; since?: string; until?: string; timestamps?: boolean; names?: boolean }) => {
    const tail = Number(f.tail);
    if (!Number.isInteger(tail)) throw new SkiffError('EINVALID', `invalid --tail ${f.tail}`);
    const emitter = logEmitter(f);
    await withStore(cmd, async (store) => {
      if (names.length === 1) return streamLog(store, names[0]!, emitter(''), { tail, follow: f.follow === true });
      const loaded = await Promise.all(names.map((n) => loadContainer(store.paths.root, n)));
      const one = (c: (typeof loaded)[number]) => streamLog(store, c.record.id, emitter(`${f.names ? c.record.name : c.record.id.slice(0, 12)} `), { tail, follow: f.follow === true });
      if (f.follow) await Promise.all(loaded.map(one));
      else for (const c of loaded) await one(c);
    });
  });
}
