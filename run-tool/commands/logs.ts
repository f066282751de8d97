import { open, readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { addRootOption } from '../../shared/cli/program.ts';
import { SkiffError } from '../../shared/errors.ts';
import { containerPaths, loadById, loadContainer } from '../containers/state.ts';
import { parseDuration } from '../../shared/cli/units.ts';
import { withStore } from './cli-util.ts';
import { parseK8sLog, type LogEntry } from '../ops/container-logs.ts';

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
    await withStore(cmd, async (store) => {
      const c = await loadContainer(store.paths.root, name);
      const id = c.record.id;
      const path = containerPaths(store.paths.root, id).log;
      const since = f.since ? sinceTime(f.since) : undefined;
      const until = f.until ? sinceTime(f.until) : undefined;
      const emit = (es: LogEntry[]) => {
        for (const e of es) {
          const t = Date.parse(e.time.replace(/(\.\d{3})\d*/, '$1'));
          if (since !== undefined && t < since) continue;
          if (until !== undefined && t > until) continue;
          (e.stream === 'stderr' ? process.stderr : process.stdout).write(f.timestamps ? `${e.time} ${e.text}` : e.text);
        }
      };
      let text = await readFile(path, 'utf8').catch(() => '');
      let pos = Buffer.byteLength(text);
      // keep an unfinished last line for the next read
      let carry = text.endsWith('\n') ? '' : text.slice(text.lastIndexOf('\n') + 1);
      text = text.slice(0, text.length - carry.length);
      let entries = parseK8sLog(text);
      if (tail >= 0) entries = tail === 0 ? [] : entries.slice(-tail);
      emit(entries);
      if (!f.follow) return;
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
            emit(parseK8sLog(chunk.slice(0, chunk.length - carry.length)));
          }
          await fh.close();
        }
        if (done) {
          if (carry) emit(parseK8sLog(carry));
          return;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    });
  });
}
