import { setTimeout as wait } from 'node:timers/promises';
import type { Command } from 'commander';
import { addRootOption } from '../../../shared/cli/program.ts';
import { formatReport, tableHeaders } from '../../../shared/cli/go-template.ts';
import { formatTable } from '../../../shared/cli/table.ts';
import { SkiffError } from '../../../shared/errors.ts';
import { sampleContainer, type ContainerStats } from '../../containers/container-stats.ts';
import { exitError } from '../../containers/exit-status.ts';
import { getRunc } from '../../containers/runc-handle.ts';
import type { LoadedContainer } from '../../containers/state.ts';
import { streamLog } from '../../ops/container-logs.ts';
import { logEmitter } from '../logs.ts';
import { getPod, listPods, type PodView } from '../../ops/pods.ts';
import { statsText } from '../stats-format.ts';
import { withStore } from '../cli-util.ts';

const running = (c: LoadedContainer) => c.state.status === 'running';
const containersOf = (v: PodView) => [...(v.infra ? [v.infra] : []), ...v.members];

/** Adds `pod top`, `pod stats` and `pod logs` (podman 4.3's columns; over each container's runc ps, cgroup and log). */
export function addPodProcessCommands(pod: Command): void {
  const top = pod.command('top').description('display the running processes of containers in a pod').argument('<pod>').argument('[descriptors...]');
  addRootOption(top).action(async (name: string, desc: string[]) => {
    await withStore(top, async (store) => {
      const v = await getPod(store, name);
      const cs = containersOf(v).filter(running);
      if (cs.length === 0) throw exitError(125, `pod top can only be used on pods with at least one running container: container state improper`);
      const runc = await getRunc();
      const fmt = desc.length ? desc.join(',') : 'user,pid,ppid,pcpu,etime,tty,time,args';
      let header: string | undefined;
      const lines: string[] = [];
      for (const c of cs) {
        const out = (await runc.ps(c.record.id, fmt)).split('\n').filter((l) => l !== '');
        header ??= out[0];
        lines.push(...out.slice(1));
      }
      process.stdout.write(`${[header ?? '', ...lines].join('\n')}\n`);
    });
  });

  const stats = pod.command('stats').description('display a live stream of resource usage statistics for the containers in pods').argument('[pods...]')
    .option('-a, --all', 'provide stats for all pods')
    .option('--format <format>', 'pretty-print container statistics to JSON or using a Go template')
    .option('--no-reset', 'disable resetting the screen when streaming')
    .option('--no-stream', 'disable streaming stats and only pull the first result');
  addRootOption(stats).action(async (names: string[], f: { all?: boolean; format?: string; stream: boolean }) => {
    await withStore(stats, async (store) => {
      const prev = new Map<string, ContainerStats>();
      for (let round = 0; ; round++) {
        const pods = names.length > 0 ? await Promise.all(names.map((n) => getPod(store, n))) : (await listPods(store)).filter((v) => f.all || containersOf(v).some(running));
        const rows: { pod: string; s: ContainerStats }[] = [];
        for (const v of pods) {
          for (const c of containersOf(v).filter(running)) {
            const s = await sampleContainer(c, prev.get(c.record.id));
            prev.set(c.record.id, s);
            rows.push({ pod: v.record.id.slice(0, 12), s });
          }
        }
        const view = rows.map(({ pod: p, s }) => ({ Pod: p, ...statsText(s) }));
        if (f.format === 'json') process.stdout.write(`${JSON.stringify(view.map((r) => ({ pod: r.Pod, cid: r.id, name: r.name, cpu_percent: r.cpuPerc, mem_usage: r.memUsage, mem_percent: r.memPerc, net_io: r.netIO, block_io: r.blockIO, pids: r.pids })), null, 2)}\n`);
        else if (f.format !== undefined) {
          const rowsOut = view.map((r) => ({ Pod: r.Pod, CID: r.id, Name: r.name, CPU: r.cpuPerc, MemUsage: r.memUsage, Mem: r.memPerc, NetIO: r.netIO, BlockIO: r.blockIO, PIDS: r.pids }));
          process.stdout.write(formatReport(f.format, rowsOut, { name: 'stats', headers: tableHeaders({}, { Pod: 'POD', CID: 'CID', Name: 'NAME', CPU: 'CPU %', MemUsage: 'MEM USAGE/ LIMIT', Mem: 'MEM %', NetIO: 'NET IO', BlockIO: 'BLOCK IO', PIDS: 'PIDS' }) }));
        } else {
          const table = [['POD', 'CID', 'NAME', 'CPU %', 'MEM USAGE/ LIMIT', 'MEM %', 'NET IO', 'BLOCK IO', 'PIDS'], ...view.map((r) => [r.Pod, r.id, r.name, r.cpuPerc, r.memUsage, r.memPerc, r.netIO, r.blockIO, r.pids])];
          process.stdout.write(formatTable(table));
        }
        if (!f.stream) return;
        if (round > 1_000_000) return;
        await wait(1000);
      }
    });
  });

  const logs = pod.command('logs').description('fetch logs for pod with one or more containers').argument('<pod>')
    .option('-c, --container <name>', 'filter logs by container name or id which belongs to pod')
    .option('-f, --follow', 'follow log output: the lines of all containers as they come, until they have all exited (the infra too)')
    .option('-n, --names', 'output container names instead of container IDs in the log')
    .option('--since <time>', 'show logs since TIMESTAMP or DURATION')
    .option('--until <time>', 'show logs until TIMESTAMP or DURATION')
    .option('--tail <n>', 'output the specified number of lines at the end of logs', '-1')
    .option('-t, --timestamps', 'output the timestamps in the log');
  addRootOption(logs).action(async (name: string, f: { container?: string; follow?: boolean; names?: boolean; since?: string; until?: string; tail: string; timestamps?: boolean }) => {
    const tail = Number(f.tail);
    if (!Number.isInteger(tail)) throw new SkiffError('EINVALID', `invalid --tail ${f.tail}`);
    const emitter = logEmitter(f);
    await withStore(logs, async (store) => {
      const v = await getPod(store, name);
      // every container of the pod, the infra too (podman 4.3's pod logs takes all of them): following therefore
      // goes on while the infra runs, not only until the members have exited; -c picks one member
      const cs = f.container === undefined ? containersOf(v) : v.members.filter((c) => c.record.name === f.container || c.record.id.startsWith(f.container!));
      if (f.container !== undefined && cs.length === 0) throw exitError(125, `no container with name or ID ${f.container} found in pod ${v.record.name}: no such container`);
      // each line names its container (short ID, or name with -n) only when several are logged, as podman's
      const prefix = (c: LoadedContainer) => (cs.length > 1 ? `${f.names ? c.record.name : c.record.id.slice(0, 12)} ` : '');
      const one = (c: LoadedContainer) => streamLog(store, c.record.id, emitter(prefix(c)), { tail, follow: f.follow === true });
      // following: every container's log at once, each ending when its container has exited
      if (f.follow) await Promise.all(cs.map(one));
      else for (const c of cs) await one(c);
    });
  });
}
