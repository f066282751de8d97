import { describe, expect, it } from 'vitest';
import { parseShareFlags } from '../../../run-tool/commands/create-flags.ts';
import { nsPathOf, placeholderJoinPaths, dependenciesOf } from '../../../run-tool/containers/ns-join.ts';
import type { ContainerRecord } from '../../../run-tool/containers/state.ts';
import { parseShare } from '../../../run-tool/ops/pods.ts';
import { podStatusOf } from '../../../run-tool/pods/members.ts';
import { validatePodName } from '../../../run-tool/pods/state.ts';
import { podLimitsOf, sliceStartArgs } from '../../../run-tool/pods/cgroup.ts';
import { cgroupsPathFor, podCgroupOf } from '../../../shared/runtime/cgroup-manager.ts';

describe('pod names (DNS-1123 labels)', () => {
  it('accepts lower-case letters, digits and inner dashes up to 63 characters', () => {
    for (const n of ['p1', 'my-pod', 'a', '0abc', 'x'.repeat(63)]) expect(validatePodName(n)).toBe(n);
  });
  it('refuses what Kubernetes would refuse, with one line saying why', () => {
    expect(() => validatePodName('my_pod')).toThrow(/invalid pod name "my_pod": use lower-case letters, digits and '-'.*DNS-1123/);
    for (const n of ['My-pod', '-pod', 'pod-', 'a.b', '', 'x'.repeat(64), '../x']) expect(() => validatePodName(n), n).toThrow(/invalid pod name/);
    expect(() => validatePodName('x'.repeat(64))).toThrow(/at most 63/);
  });
});

describe('--share', () => {
  it('defaults to ipc, net, uts; + adds; none is nothing; unknown kinds are refused', () => {
    expect(parseShare(undefined)).toEqual(['ipc', 'net', 'uts']);
    expect(parseShare('+pid')).toEqual(['ipc', 'net', 'uts', 'pid']);
    expect(parseShare('net')).toEqual(['net']);
    expect(parseShare('none')).toEqual([]);
    expect(parseShare('')).toEqual([]);
    expect(() => parseShare('user')).toThrow(/invalid kernel namespace to share: user/);
  });
});

describe('pod status (podman rules)', () => {
  it('derives Created/Running/Degraded/Exited/Stopped from the containers', () => {
    expect(podStatusOf([])).toBe('Created');
    expect(podStatusOf(['created', 'created'])).toBe('Created');
    expect(podStatusOf(['running', 'running'])).toBe('Running');
    expect(podStatusOf(['running', 'exited'])).toBe('Degraded');
    expect(podStatusOf(['exited', 'exited'])).toBe('Exited');
    expect(podStatusOf(['exited', 'created'])).toBe('Stopped');
  });
});

describe('namespace joining', () => {
  it('container: modes parse as podman spells them', () => {
    expect(parseShareFlags({ network: 'container:abc', ipc: 'container:abc', uts: 'private', pid: undefined })).toEqual({ network: 'abc', ipc: 'abc' });
    expect(parseShareFlags({ network: 'bridge' })).toEqual({});
    expect(() => parseShareFlags({ pid: 'host' })).toThrow(/--pid host is not supported/);
    expect(() => parseShareFlags({ ipc: 'container:' })).toThrow(/needs a container name or ID/);
  });
  it('paths name /proc/<pid>/ns/<file> (net for network); dependencies are distinct', () => {
    expect(nsPathOf(42, 'network')).toBe('/proc/42/ns/net');
    expect(nsPathOf(42, 'ipc')).toBe('/proc/42/ns/ipc');
    expect(placeholderJoinPaths({ network: 'a', uts: 'a' })).toEqual({ network: '/proc/0/ns/net', uts: '/proc/0/ns/uts' });
    expect(dependenciesOf({ namespaces: { network: 'a', ipc: 'a', pid: 'b' } } as unknown as ContainerRecord)).toEqual(['a', 'b']);
  });
});

describe('pod state on disk', () => {
  it('names are reserved once (O_EXCL), found by name, id and unique prefix, and released only by their owner', async () => {
    const { mkdtemp, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const st = await import('../../../run-tool/pods/state.ts');
    const root = await mkdtemp(join(tmpdir(), 'skiff-podstate-'));
    try {
      const a = st.newPodId();
      const b = st.newPodId();
      await st.reservePodName(root, 'alpha', a);
      await st.makePodDir(root, a);
      const rec: import('../../../run-tool/pods/state.ts').PodRecord = { id: a, name: 'alpha', created: new Date().toISOString(), createCommand: [], exitPolicy: 'continue', hostname: '', labels: {}, share: ['ipc', 'net', 'uts'], infra: true, ports: [], dns: [], addHosts: [], members: [], phase: 'ready' };
      await st.savePod(root, rec);
      await expect(st.reservePodName(root, 'alpha', b)).rejects.toThrow('adding pod to state: name "alpha" is in use: pod already exists');
      await expect(st.reservePodName(root, 'Alpha', b)).rejects.toThrow(/invalid pod name/);
      expect((await st.findPod(root, 'alpha')).id).toBe(a);
      expect((await st.findPod(root, a)).id).toBe(a);
      expect((await st.findPod(root, a.slice(0, 6))).id).toBe(a);
      await expect(st.findPod(root, 'beta')).rejects.toThrow('no pod with name or ID beta found: no such pod');
      await st.releasePodName(root, 'alpha', b); // not the owner: kept
      await expect(st.reservePodName(root, 'alpha', b)).rejects.toThrow(/in use/);
      // a reservation whose pod directory is gone is stale and reclaimed
      await st.removePodDir(root, a);
      await st.reservePodName(root, 'alpha', b);
      expect(st.isAbandoned({ ...rec, phase: 'creating', creator: { pid: 2 ** 22 + 1 } })).toBe(true);
      expect(st.isAbandoned({ ...rec, phase: 'creating', creator: st.thisProcess() })).toBe(false);
      expect(st.isAbandoned(rec)).toBe(false);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe('pod cgroup and limits (podman layout and values)', () => {
  const id = 'a'.repeat(64);
  it('cgroupfs: /skiff_parent/<pod>, members skiff-<id> below it; systemd: a machine-skiff_pod_<pod>.slice', () => {
    const fs = podCgroupOf(id, 'cgroupfs');
    expect(fs).toEqual({ manager: 'cgroupfs', parent: '/skiff_parent', path: `/skiff_parent/${id}`, slice: '' });
    expect(cgroupsPathFor('c1', 'cgroupfs', fs)).toBe(`/skiff_parent/${id}/skiff-c1`);
    const sd = podCgroupOf(id, 'systemd');
    expect(sd).toEqual({ manager: 'systemd', parent: 'machine.slice', path: `machine.slice/machine-skiff_pod_${id}.slice`, slice: `machine-skiff_pod_${id}.slice` });
    expect(cgroupsPathFor('c1', 'systemd', sd)).toBe(`machine-skiff_pod_${id}.slice:skiff:c1`);
    expect(() => podCgroupOf('../x', 'cgroupfs')).toThrow(/invalid pod id/);
  });
  it('--memory gives twice as memory+swap, --cpus a quota over 100 ms; the slice carries them as systemd properties', () => {
    expect(podLimitsOf({})).toEqual({});
    const l = podLimitsOf({ memory: 100 * 1024 * 1024, cpus: 0.5 });
    expect(l).toEqual({ memory: 104857600, memorySwap: 209715200, cpuPeriod: 100000, cpuQuota: 50000 });
    const args = sliceStartArgs(podCgroupOf(id, 'systemd'), l);
    expect(args.slice(5, 9)).toEqual(['ssa(sv)a(sa(sv))', `machine-skiff_pod_${id}.slice`, 'replace', '6']);
    expect(args.join(' ')).toContain('MemoryMax t 104857600');
    expect(args.join(' ')).toContain('MemorySwapMax t 104857600');
    expect(args.join(' ')).toContain('CPUQuotaPerSecUSec t 500000');
    expect(args.at(-1)).toBe('0');
  });
});
