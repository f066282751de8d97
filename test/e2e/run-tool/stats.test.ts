// `run-tool stats` (podman 4.3's): pure formatting and cgroup parsing, then real containers under runc/conmon.
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasBusybox, makeBusyboxImage } from '../../helpers/busybox.ts';
import { isRoot, scratchDir } from '../../helpers/tmp.ts';
import { buildRunTool, hasConmon, rt, rtSpawn } from './core-helpers.ts';
import {
  cgroupVersion, controllerDir, parseBlkioV1, parseCgroupMounts, parseIoStatV2, parseMemLimit, parseProcCgroup, readCgroupSample,
} from '../../../run-tool/containers/cgroup-stats.ts';
import { nextStats, parseNetDev } from '../../../run-tool/containers/container-stats.ts';
import { goBytesSize, goDuration, goHumanSize, statsHeaderFor } from '../../../run-tool/commands/stats-format.ts';

describe('stats formatting (podman units)', () => {
  it('sizes as go-units: decimal with 4 significant digits, binary for MemUsageBytes', () => {
    expect(goHumanSize(0)).toBe('0B');
    expect(goHumanSize(553)).toBe('553B');
    expect(goHumanSize(1500)).toBe('1.5kB');
    expect(goHumanSize(483_328)).toBe('483.3kB');
    expect(goHumanSize(1_012_000)).toBe('1.012MB');
    expect(goHumanSize(67_108_864)).toBe('67.11MB');
    expect(goHumanSize(25_276_502_016)).toBe('25.28GB');
    expect(goBytesSize(344_064)).toBe('336KiB');
    expect(goBytesSize(67_108_864)).toBe('64MiB');
    expect(goBytesSize(25_276_502_016)).toBe('23.54GiB');
  });

  it('CPU time as Go durations', () => {
    expect(goDuration(0)).toBe('0s');
    expect(goDuration(512)).toBe('512ns');
    expect(goDuration(1500)).toBe('1.5µs');
    expect(goDuration(39_890_693)).toBe('39.890693ms');
    expect(goDuration(11_803_532_522)).toBe('11.803532522s');
    expect(goDuration(62_763_350_904)).toBe('1m2.763350904s');
    expect(goDuration(3_723_500_000_000)).toBe('1h2m3.5s');
    expect(goDuration(3_600_000_000_000)).toBe('1h0m0s');
  });

  it('table headers for template fields as podman derives them', () => {
    expect(statsHeaderFor('CPUPerc')).toBe('CPU %');
    expect(statsHeaderFor('UpTime')).toBe('CPU TIME');
    expect(statsHeaderFor('ContainerID')).toBe('CONTAINER ID');
    expect(statsHeaderFor('AvgCPU')).toBe('AVG CPU');
    expect(statsHeaderFor('MemLimit')).toBe('MEM LIMIT');
    expect(statsHeaderFor('PIDs')).toBe('PI DS');
    expect(statsHeaderFor('Name')).toBe('NAME');
  });

  it('CPU % over the interval, the first one against the start time; running average; restart resets', () => {
    const s = { cpuNano: 2e9, cpuSystemNano: 0, perCpu: null, memUsage: 1000, memLimit: Infinity, pids: 2, blockRead: 5, blockWrite: 7 };
    const first = nextStats({ id: 'a'.repeat(64), name: 'n' }, s, { rx: 10, tx: 20 }, undefined, 14e9, 10e9);
    expect(first.CPU).toBeCloseTo(50);
    expect(first.AvgCPU).toBeCloseTo(50);
    expect(first.NetInput).toBe(20); // podman's "input" is what the container sent
    expect(first.NetOutput).toBe(10);
    expect(first.MemLimit).toBeGreaterThan(0); // unlimited → the host's RAM
    expect(first.MemLimit).toBeLessThan(Infinity);
    const second = nextStats({ id: 'a'.repeat(64), name: 'n' }, { ...s, cpuNano: 2.5e9 }, undefined, first, 19e9, 10e9);
    expect(second.CPU).toBeCloseTo(10);
    expect(second.AvgCPU).toBeCloseTo(30);
    expect(second.NetInput).toBe(0);
    const restarted = nextStats({ id: 'a'.repeat(64), name: 'n' }, { ...s, cpuNano: 1e9, memLimit: 4096 }, undefined, second, 30e9, 28e9);
    expect(restarted.CPU).toBeCloseTo(50);
    expect(restarted.DataPoints).toBe(1);
    expect(restarted.MemPerc).toBeCloseTo((1000 / 4096) * 100);
  });
});

describe('cgroup and procfs parsing', () => {
  it('parses /proc/<pid>/cgroup and cgroup mounts (v1 split and co-mounted, v2)', () => {
    const pc = parseProcCgroup('12:cpu,cpuacct:/skiff/x\n4:memory:/skiff/x\n1:name=systemd:/s\n0::/u\n');
    expect(pc.get('cpuacct')).toBe('/skiff/x');
    expect(pc.get('cpu')).toBe('/skiff/x');
    expect(pc.get('')).toBe('/u');
    const mounts = parseCgroupMounts([
      '32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct',
      '35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory',
      '36 31 0:33 /nested /mnt/pids rw - cgroup cgroup rw,pids',
      '41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw',
    ].join('\n'));
    expect(controllerDir(mounts, 'cpuacct', '/skiff/x')).toBe('/sys/fs/cgroup/cpu,cpuacct/skiff/x');
    expect(controllerDir(mounts, 'memory', '/skiff/x')).toBe('/sys/fs/cgroup/memory/skiff/x');
    expect(controllerDir(mounts, 'pids', '/nested/c')).toBe('/mnt/pids/c');
    expect(controllerDir(mounts, 'pids', '/other')).toBeUndefined();
    expect(controllerDir(mounts, '', '/u')).toBe('/sys/fs/cgroup/unified/u');
    expect(controllerDir(mounts, 'blkio', '/x')).toBeUndefined();
  });

  it('parses blkio, io.stat, memory limits and net/dev', () => {
    expect(parseBlkioV1('8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 1\n8:16 Read 4\nTotal 12292\n')).toEqual({ read: 4100, write: 8192 });
    expect(parseIoStatV2('8:0 rbytes=100 wbytes=200 rios=1 wios=2\n8:16 rbytes=1 wbytes=2\n')).toEqual({ read: 101, write: 202 });
    expect(parseMemLimit('max\n')).toBe(Infinity);
    expect(parseMemLimit('9223372036854771712\n')).toBe(Infinity);
    expect(parseMemLimit('67108864\n')).toBe(67108864);
    const dev = [
      'Inter-|   Receive                                                |  Transmit',
      ' face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed',
      '    lo:     999       9    0    0    0     0          0         0      999       9    0    0    0     0       0          0',
      '  eth0:    1500      18    0    0    0     0          0         0      586       7    0    0    0     0       0          0',
      '  eth1:       5       1    0    0    0     0          0         0        6       1    0    0    0     0       0          0',
    ].join('\n');
    expect(parseNetDev(dev)).toEqual({ rx: 1505, tx: 592 });
  });

  it('reads a cgroups v2 container from a unified hierarchy', async () => {
    const sd = await scratchDir('skiff-stats-v2-');
    try {
      const proc = join(sd.dir, 'proc');
      const cg = join(sd.dir, 'cg');
      mkdirSync(join(proc, '42'), { recursive: true });
      mkdirSync(join(proc, 'self'), { recursive: true });
      mkdirSync(join(cg, 'skiff', 'c1'), { recursive: true });
      writeFileSync(join(proc, '42', 'cgroup'), '0::/skiff/c1\n');
      writeFileSync(join(proc, 'self', 'mountinfo'), `30 23 0:26 / ${cg} rw,nosuid - cgroup2 cgroup2 rw\n`);
      writeFileSync(join(cg, 'cgroup.controllers'), 'cpu io memory pids\n');
      const d = join(cg, 'skiff', 'c1');
      writeFileSync(join(d, 'cpu.stat'), 'usage_usec 1500\nuser_usec 1000\nsystem_usec 500\n');
      writeFileSync(join(d, 'memory.current'), '4096\n');
      writeFileSync(join(d, 'memory.max'), '67108864\n');
      writeFileSync(join(d, 'pids.current'), '3\n');
      writeFileSync(join(d, 'io.stat'), '8:0 rbytes=10 wbytes=20 rios=1 wios=1\n');
      expect(cgroupVersion(cg)).toBe(2);
      expect(await readCgroupSample(42, { procfs: proc, sysfs: cg })).toEqual({
        cpuNano: 1_500_000, cpuSystemNano: 500_000, perCpu: null, memUsage: 4096, memLimit: 67108864, pids: 3, blockRead: 10, blockWrite: 20,
      });
      expect(await readCgroupSample(43, { procfs: proc, sysfs: cg })).toBeUndefined();
    } finally {
      await sd.cleanup();
    }
  });
});

const sleepSync = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
/** Splits a table line into its cells (columns are separated by two or more spaces). */
const cells = (line: string) => line.trim().split(/\s{2,}/);
const HEADER = ['ID', 'NAME', 'CPU %', 'MEM USAGE / LIMIT', 'MEM %', 'NET IO', 'BLOCK IO', 'PIDS', 'CPU TIME', 'AVG CPU %'];

describe.skipIf(!isRoot || !hasBusybox || !hasConmon)('run-tool stats with real containers', () => {
  let bundle = '';
  let root = '';
  let dir = '';
  let cleanup: (() => Promise<void>) | undefined;
  const run = (args: string[], o: { timeout?: number } = {}) => rt(bundle, root, args, o);
  let sleeperId = '';

  beforeAll(async () => {
    bundle = await buildRunTool();
    const sd = await scratchDir('skiff-stats-');
    cleanup = sd.cleanup;
    dir = sd.dir;
    root = join(dir, 'root');
    await makeBusyboxImage(root, dir);
    const d = run(['run', '-d', '--name', 'st-sleep', '--network', 'none', 'busybox', 'sleep', '1000']);
    expect(d.stderr).toBe('');
    sleeperId = d.stdout.trim();
  }, 120_000);
  afterAll(async () => {
    if (root) run(['rm', '-a', '-f']);
    await cleanup?.();
  });

  it('--no-stream: podman header and a row with pids ≥ 1 and memory in use', () => {
    const r = run(['stats', '--no-stream']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(cells(lines[0]!)).toEqual(HEADER);
    const row = lines.find((l) => l.startsWith(sleeperId.slice(0, 12)));
    expect(row).toBeDefined();
    const c = cells(row!);
    expect(c[1]).toBe('st-sleep');
    expect(c[2]).toMatch(/^\d+\.\d\d%$/);
    expect(c[3]).toMatch(/^[\d.]+[kMG]?B \/ [\d.]+[kMG]B$/);
    expect(c[3]).not.toMatch(/^0B/);
    expect(c[5]).toBe('0B / 0B'); // --network none: no interface but lo
    expect(Number(c[7])).toBeGreaterThanOrEqual(1);
    expect(c[8]).toMatch(/^[\d.]+(ns|µs|ms|s)$/);
    expect(c[9]).toMatch(/^\d+\.\d\d%$/);
  });

  it('--format json: podman 4.3 field names, all strings', () => {
    const r = run(['stats', '--no-stream', '--format', 'json', 'st-sleep']);
    expect(r.status).toBe(0);
    const arr = JSON.parse(r.stdout) as Record<string, string>[];
    expect(arr).toHaveLength(1);
    expect(Object.keys(arr[0]!)).toEqual(['id', 'name', 'cpu_time', 'cpu_percent', 'avg_cpu', 'mem_usage', 'mem_percent', 'net_io', 'block_io', 'pids']);
    expect(arr[0]!.id).toBe(sleeperId.slice(0, 12));
    expect(arr[0]!.name).toBe('st-sleep');
    expect(Number(arr[0]!.pids)).toBeGreaterThanOrEqual(1);
    expect(arr[0]!.mem_percent).toMatch(/^\d+\.\d\d%$/);
    expect(r.stdout.endsWith(']\n')).toBe(true);
  });

  it('--format templates: plain lines, and `table` with derived headers', () => {
    const r = run(['stats', '--no-stream', '--format', '{{.Name}} {{.PIDs}}', 'st-sleep']);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('st-sleep 1\n');
    const t = run(['stats', '--no-stream', '--no-trunc', '--format', 'table {{.ContainerID}} {{.Name}} {{.MemUsage}}', 'st-sleep']);
    const lines = t.stdout.trimEnd().split('\n');
    expect(cells(lines[0]!)).toEqual(['CONTAINER ID', 'NAME', 'MEM USAGE / LIMIT']);
    expect(cells(lines[1]!).slice(0, 2)).toEqual([sleeperId, 'st-sleep']);
  });

  it('--memory 64m shows as the limit', () => {
    expect(run(['run', '-d', '--name', 'st-mem', '--memory', '64m', '--network', 'none', 'busybox', 'sleep', '1000']).status).toBe(0);
    const r = run(['stats', '--no-stream', '--format', '{{.MemUsage}}|{{.MemLimit}}|{{.MemUsageBytes}}', 'st-mem']);
    expect(r.status).toBe(0);
    const [usage, limit, bytes] = r.stdout.trim().split('|');
    expect(usage).toMatch(/ \/ 67\.11MB$/);
    expect(limit).toBe('67108864');
    expect(bytes).toMatch(/ \/ 64MiB$/);
    run(['rm', '-f', 'st-mem']);
  });

  it('a busy container shows CPU time and a CPU %', () => {
    expect(run(['run', '-d', '--name', 'st-busy', '--network', 'none', 'busybox', 'sh', '-c', 'while :; do :; done']).status).toBe(0);
    sleepSync(500);
    const r = run(['stats', '--no-stream', '--format', '{{.CPU}}|{{.CPUNano}}|{{.CPUPerc}}', 'st-busy']);
    const [cpu, nano, perc] = r.stdout.trim().split('|');
    expect(Number(nano)).toBeGreaterThan(50e6);
    expect(Number(cpu)).toBeGreaterThan(5);
    expect(perc).toMatch(/^\d+\.\d\d%$/);
    run(['rm', '-f', 'st-busy']);
  });

  it('stopped containers: skipped without --all, zeros with --all or by name; --no-stream ends', () => {
    expect(run(['create', '--name', 'st-created', '--network', 'none', 'busybox', 'true']).status).toBe(0);
    expect(run(['run', '--name', 'st-exited', '--network', 'none', 'busybox', 'true']).status).toBe(0);
    expect(run(['stats', '--no-stream', '--format', '{{.Name}}']).stdout.split('\n')).not.toContain('st-exited');
    const all = run(['stats', '--no-stream', '-a', '--format', '{{.Name}} {{.PIDs}} {{.MemUsage}} {{.UpTime}} {{.CPUPerc}}']).stdout.split('\n');
    expect(all).toContain('st-exited 0 0B / 0B 0s 0.00%');
    expect(all).toContain('st-created 0 0B / 0B 0s 0.00%');
    const named = run(['stats', '--no-stream', 'st-exited'], { timeout: 10_000 });
    expect(named.status).toBe(0);
    expect(cells(named.stdout.trimEnd().split('\n')[1]!)).toEqual([expect.any(String), 'st-exited', '0.00%', '0B / 0B', '0.00%', '0B / 0B', '0B / 0B', '0', '0s', '0.00%']);
    run(['rm', 'st-created', 'st-exited']);
  });

  it('unknown container: podman message, exit 125, no output; bad interval 125', () => {
    const r = run(['stats', '--no-stream', 'st-sleep', 'nosuch']);
    expect(r.status).toBe(125);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('Error: unable to get list of containers: unable to look up container nosuch: no container with name or ID "nosuch" found: no such container\n');
    const i = run(['stats', '--no-stream', '-i', '0']);
    expect(i.status).toBe(125);
    expect(i.stderr).toBe('Error: invalid interval, must be a positive number greater zero\n');
  });

  it('streaming: a block per interval when not a TTY, ends with 125 when the named container is removed', async () => {
    const d = run(['run', '-d', '--name', 'st-gone', '--network', 'none', 'busybox', 'sleep', '1000']);
    expect(d.status).toBe(0);
    const p = rtSpawn(bundle, root, ['stats', '-i', '1', 'st-gone']);
    let out = '';
    let err = '';
    p.stdout.on('data', (b: Buffer) => (out += b.toString()));
    p.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const exited = new Promise<number | null>((res) => p.on('exit', (code) => res(code)));
    for (let i = 0; i < 100 && (out.match(/^ID /gm) ?? []).length < 2; i++) await new Promise((r) => setTimeout(r, 50));
    expect((out.match(/^ID /gm) ?? []).length).toBeGreaterThanOrEqual(2);
    expect(out).not.toContain('\x1b['); // no screen reset when stdout is not a terminal
    expect(run(['rm', '-f', 'st-gone']).status).toBe(0);
    const code = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 5000))]);
    if (code === 'timeout') p.kill('SIGKILL');
    expect(code).toBe(125);
    expect(err).toContain('unable to look up container st-gone');
  });

  it.skipIf(spawnSync('sh', ['-c', 'command -v script']).status !== 0)('on a terminal each round clears the screen first, unless --no-reset', () => {
    const onTty = (extra: string) => spawnSync('script', ['-qec', `${process.execPath} ${bundle} --root ${root} stats --no-stream ${extra} st-sleep`, '/dev/null'], { encoding: 'utf8', timeout: 30_000 });
    const r = onTty('');
    expect(r.status).toBe(0);
    expect(r.stdout.startsWith('\x1b[2J\x1b[1;1HID ')).toBe(true);
    const n = onTty('--no-reset');
    expect(n.stdout.startsWith('ID ')).toBe(true);
  });

  it('streaming: SIGINT ends it with exit 1, as podman', async () => {
    const p = rtSpawn(bundle, root, ['stats', '-i', '1', '--format', '{{.Name}}']);
    let out = '';
    p.stdout.on('data', (b: Buffer) => (out += b.toString()));
    const exited = new Promise<number | null>((res) => p.on('exit', (code) => res(code)));
    for (let i = 0; i < 100 && !out.includes('st-sleep'); i++) await new Promise((r) => setTimeout(r, 50));
    expect(out).toContain('st-sleep\n');
    p.kill('SIGINT');
    const code = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 5000))]);
    if (code === 'timeout') p.kill('SIGKILL');
    expect(code).toBe(1);
  });

  it.skipIf(cgroupVersion() !== 1 || spawnSync('sh', ['-c', 'command -v setpriv']).status !== 0)('rootless on cgroups v1: podman error, 125', () => {
    // an unprivileged uid (nobody) with its own runtime dir and store inside the scratch dir
    const home = join(dir, 'nobody');
    mkdirSync(home);
    chownSync(home, 65534, 65534);
    chmodSync(dir, 0o711);
    const r = spawnSync('setpriv', ['--reuid', '65534', '--regid', '65534', '--clear-groups', '--', process.execPath, bundle, '--root', join(home, 'store'), 'stats', '--no-stream'], {
      encoding: 'utf8', cwd: home, timeout: 30_000, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, XDG_RUNTIME_DIR: home },
    });
    // the user's namespace-keeping pause process (started by this run) goes with the test
    const pause = Number(readFileSync(join(home, 'skiff', 'pause.pid'), 'utf8').split(/\s/)[0]);
    if (pause > 0) process.kill(pause, 'SIGKILL');
    expect(r.stderr).toContain('Error: stats is not supported in rootless mode without cgroups v2\n');
    expect(r.status).toBe(125);
  });
});
