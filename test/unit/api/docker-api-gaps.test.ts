// The pure parts of the later Docker API endpoints: prune filters, the /build query as build-tool arguments, the
// host CPU time stats report, and the stats JSON shape.
import { describe, expect, it } from 'vitest';
import { buildArgs } from '../../../run-tool/api/build.ts';
import { createOptionsOf } from '../../../run-tool/api/create-body.ts';
import { withEndpointSettings } from '../../../run-tool/containers/net-wiring.ts';
import { dockerStats, hostCpuNano } from '../../../run-tool/api/stats.ts';
import { ApiError } from '../../../run-tool/api/http-util.ts';
import { zeroStats } from '../../../run-tool/containers/container-stats.ts';
import { parsePruneFilters, passesPruneFilters } from '../../../run-tool/ops/prune.ts';

describe('prune filters', () => {
  it('label, label! and until select as Docker does', () => {
    const f = parsePruneFilters(['label=a=1', 'label!=b', 'until=1700000000']);
    expect(passesPruneFilters(f, { a: '1' }, 1_600_000_000_000)).toBe(true);
    expect(passesPruneFilters(f, { a: '1', b: 'x' }, 1_600_000_000_000)).toBe(false);
    expect(passesPruneFilters(f, { a: '2' }, 1_600_000_000_000)).toBe(false);
    expect(passesPruneFilters(f, { a: '1' }, 1_800_000_000_000)).toBe(false);
    const ago = parsePruneFilters(['until=1h30m']).until!;
    expect(Math.abs(Date.now() - 5_400_000 - ago)).toBeLessThan(5000);
    expect(parsePruneFilters(['until=2024-01-02T03:04:05Z']).until).toBe(Date.parse('2024-01-02T03:04:05Z'));
  });
  it('dangling only for images; unknown keys and bad values are EINVALID with the accepted forms', () => {
    expect(parsePruneFilters(['dangling=false'], { dangling: true }).dangling).toBe(false);
    expect(() => parsePruneFilters(['dangling=false'])).toThrow(/dangling applies to images only/);
    expect(() => parsePruneFilters(['dangling=maybe'], { dangling: true })).toThrow(/use true or false/);
    expect(() => parsePruneFilters(['colour=red'])).toThrow(/invalid prune filter "colour=red": use label=KEY\[=VALUE\]/);
    expect(() => parsePruneFilters(['until=soonish'])).toThrow(/invalid until filter/);
  });
});

describe('/build query', () => {
  it("maps Docker's parameters onto build-tool's flags", () => {
    const q = new URLSearchParams({ dockerfile: 'sub/Df', buildargs: '{"A":"1","N":null}', labels: '{"l":"v"}', target: 'st', nocache: '1', pull: '1', networkmode: 'none' });
    q.append('t', 'x:1');
    q.append('t', 'y');
    expect(buildArgs(q, '/r', '/c')).toEqual(['--root', '/r', 'build', '--progress', 'plain', '-f', '/c/sub/Df', '-t', 'x:1', '-t', 'y', '--build-arg', 'A=1', '--label', 'l=v', '--target', 'st', '--no-cache', '--pull', 'always', '--network', 'none', '/c']);
    expect(buildArgs(new URLSearchParams({ networkmode: 'bridge' }), '/r', '/c')).toContain('private');
  });
  it('a Dockerfile outside the context, a remote context or a bad buildargs JSON is a 400', () => {
    for (const q of ['dockerfile=../x', 'dockerfile=/etc/passwd', 'remote=x', 'buildargs=[1]', 'buildargs=nope']) {
      let err: unknown;
      try {
        buildArgs(new URLSearchParams(q), '/r', '/c');
      } catch (e) {
        err = e;
      }
      expect(err instanceof ApiError && err.status).toBe(400);
    }
  });
});

describe('stats', () => {
  it("host CPU time is /proc/stat's first seven fields in ns", () => {
    expect(hostCpuNano('cpu  10 0 5 100 1 0 4 0 0 0\ncpu0 1 2 3\n')).toBe(120 * 1e7);
    expect(hostCpuNano('')).toBe(0);
  });
  it("Docker's keys, the name with its slash, precpu zeros without a previous reading", () => {
    const s = { ...zeroStats({ id: 'abc', name: 'web' }), CPUNano: 50, CPUSystemNano: 20, PIDs: 3, MemUsage: 10, MemLimit: 100 };
    const j = dockerStats({ s, system: 1000, at: 't1' }, undefined) as Record<string, any>;
    expect(Object.keys(j).sort()).toEqual(['blkio_stats', 'cpu_stats', 'id', 'memory_stats', 'name', 'networks', 'num_procs', 'pids_stats', 'precpu_stats', 'preread', 'read', 'storage_stats']);
    expect([j.name, j.pids_stats.current, j.cpu_stats.cpu_usage.usage_in_usermode, j.precpu_stats.system_cpu_usage, j.preread]).toEqual(['/web', 3, 30, 0, '0001-01-01T00:00:00Z']);
    const k = dockerStats({ s, system: 2000, at: 't2' }, { s, system: 1000, at: 't1' }) as Record<string, any>;
    expect([k.precpu_stats.system_cpu_usage, k.preread]).toEqual([1000, 't1']);
  });
});

describe('endpoint settings', () => {
  it("create keeps EndpointsConfig's aliases and IPv4 address per network", () => {
    const o = createOptionsOf({ Image: 'i', NetworkingConfig: { EndpointsConfig: { p_default: { Aliases: ['web', 'www'], IPAMConfig: { IPv4Address: '10.1.2.3' } }, other: null } } }, 'n');
    expect([o.network, o.networkAliases, o.networkIps]).toEqual(['p_default', { p_default: ['web', 'www'] }, { p_default: '10.1.2.3' }]);
  });
  it('the record keeps them only for bridge networks it joins', () => {
    expect(withEndpointSettings({ mode: 'bridge', networks: ['a'] }, { a: ['x'], b: ['y'] }, { b: '10.0.0.2' })).toEqual({ mode: 'bridge', networks: ['a'], aliases: { a: ['x'] } });
    expect(withEndpointSettings({ mode: 'none' }, { a: ['x'] }, undefined)).toEqual({ mode: 'none' });
  });
});
