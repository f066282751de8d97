// GET /containers/{id}/stats: podman-style data points (run-tool/ops/container-stats.ts) in Docker's JSON shape,
// one per second while `stream` (the default), or one with its precpu reading filled (`stream=false`, a second
// reading after a second unless `one-shot`). system_cpu_usage is the host's CPU time from /proc/stat, so a docker
// client's own CPU % (container CPU delta over system delta × online CPUs) comes out right.
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import type { ContainerStats } from '../containers/container-stats.ts';
import { statsRound } from '../ops/container-stats.ts';
import { withApiStore, type ApiRequest } from './context.ts';
import { ApiError, queryBool } from './http-util.ts';
import { isSkiffError } from '../../shared/errors.ts';

/** The host's total CPU time in ns (the `cpu` line of /proc/stat, USER_HZ 100). Pure. */
export function hostCpuNano(procStat: string): number {
  const line = procStat.split('\n').find((l) => l.startsWith('cpu '));
  if (!line) return 0;
  return line.trim().split(/\s+/).slice(1, 8).reduce((n, x) => n + (Number(x) || 0), 0) * 1e7;
}

interface Reading {
  s: ContainerStats;
  system: number;
  at: string;
}

function cpuStats(r: Reading | undefined): Record<string, unknown> {
  const s = r?.s;
  return {
    cpu_usage: { total_usage: s?.CPUNano ?? 0, percpu_usage: s?.PerCPU ?? undefined, usage_in_kernelmode: s?.CPUSystemNano ?? 0, usage_in_usermode: Math.max(0, (s?.CPUNano ?? 0) - (s?.CPUSystemNano ?? 0)) },
    system_cpu_usage: r?.system ?? 0,
    online_cpus: r ? availableParallelism() : 0,
    throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 },
  };
}

/** Docker's stats JSON of reading `cur` against `prev` (the precpu side; zeros when none). Pure. */
export function dockerStats(cur: Reading, prev: Reading | undefined): Record<string, unknown> {
  const s = cur.s;
  return {
    read: cur.at,
    preread: prev?.at ?? '0001-01-01T00:00:00Z',
    pids_stats: { current: s.PIDs },
    blkio_stats: {
      io_service_bytes_recursive: [{ major: 0, minor: 0, op: 'read', value: s.BlockInput }, { major: 0, minor: 0, op: 'write', value: s.BlockOutput }],
      io_serviced_recursive: null, io_queue_recursive: null, io_service_time_recursive: null, io_wait_time_recursive: null, io_merged_recursive: null, io_time_recursive: null, sectors_recursive: null,
    },
    num_procs: 0,
    storage_stats: {},
    cpu_stats: cpuStats(cur),
    precpu_stats: cpuStats(prev),
    memory_stats: { usage: s.MemUsage, stats: {}, limit: s.MemLimit },
    name: `/${s.Name}`,
    id: s.ContainerID,
    networks: { eth0: { rx_bytes: s.NetOutput, rx_packets: 0, rx_errors: 0, rx_dropped: 0, tx_bytes: s.NetInput, tx_packets: 0, tx_errors: 0, tx_dropped: 0 } },
  };
}

/** GET /containers/{id}/stats?stream=&one-shot= */
export async function statsHandler(r: ApiRequest): Promise<void> {
  const name = r.params[0]!;
  const stream = r.query.get('stream') === null || queryBool(r.query, 'stream');
  const previous = new Map<string, ContainerStats>();
  const read = async (): Promise<Reading> => {
    try {
      const [s] = await withApiStore(r.root, (store) => statsRound(store, [name], { previous }));
      return { s: s!, system: hostCpuNano(await readFile('/proc/stat', 'utf8').catch(() => '')), at: new Date().toISOString() };
    } catch (e) {
      throw isSkiffError(e) && /no container|no such container/i.test(e.message) ? new ApiError(404, `No such container: ${name}`) : e;
    }
  };
  const tick = (): Promise<void> => new Promise((ok) => {
    const t = setTimeout(ok, 1000);
    r.signal.addEventListener('abort', () => { clearTimeout(t); ok(); }, { once: true });
  });
  let prev: Reading | undefined;
  let cur = await read();
  if (!stream) {
    if (!queryBool(r.query, 'one-shot')) {
      prev = cur;
      await tick();
      cur = await read();
    }
    const text = JSON.stringify(dockerStats(cur, prev));
    r.res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) }).end(text);
    return;
  }
  r.res.writeHead(200, { 'Content-Type': 'application/json' });
  while (!r.signal.aborted) {
    if (!r.res.write(`${JSON.stringify(dockerStats(cur, prev))}\n`)) await new Promise((ok) => r.res.once('drain', ok));
    await tick();
    if (r.signal.aborted) break;
    prev = cur;
    try {
      cur = await read();
    } catch {
      break;
    }
  }
  r.res.end();
}
