// A pod's own cgroup, its limits, its /dev/shm and `pod logs -f`, as root with real runc and conmon: the pod
// cgroup exists with --memory/--cpus set, every member's processes are in it, pod rm -f leaves no cgroup and no
// mount; a file a member writes to /dev/shm another member reads; pod logs -f streams lines of two members
// written after it started and follows on while the infra runs (podman 4.3), ending when the pod stops.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { makeBusyboxImage } from '../../helpers/busybox.ts';
import { isRoot, scratchDir } from '../../helpers/tmp.ts';
import { ok, run } from './commit-cp-helpers.ts';
import { hasPodPrograms, mountsUnder, podCgroups } from './pod-helpers.ts';

const bin = join(import.meta.dirname, '../../../bin/run-tool.mjs');
const IMG = 'localhost/busybox:latest';
const V1 = !existsSync('/sys/fs/cgroup/cgroup.controllers');

/** The pids listed in `dir`'s tasks file and those of every cgroup below it (v1). */
function tasksUnder(dir: string): number[] {
  const own = readFileSync(join(dir, 'tasks'), 'utf8').split('\n').filter(Boolean).map(Number);
  const below = readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).flatMap((e) => tasksUnder(join(dir, e.name)));
  return [...own, ...below];
}

describe.skipIf(!isRoot || !hasPodPrograms || !V1)('pod cgroup, limits, shared /dev/shm, pod logs -f (root, cgroups v1)', () => {
  let s: { dir: string; cleanup: () => Promise<void> };
  let root: string;
  const sk = (args: string[]) => run(bin, root, args);
  const okk = (args: string[]) => ok(bin, root, args).trim();
  const pidOf = (c: string) => Number(okk(['inspect', c, '--format', '{{.State.Pid}}']));

  beforeAll(async () => {
    s = await scratchDir('skiff-podcg-');
    root = join(s.dir, 'store');
    await makeBusyboxImage(root, s.dir);
  }, 120_000);

  afterEach(() => {
    sk(['pod', 'rm', '-af', '-t', '0']);
    sk(['rm', '-af']);
  }, 60_000);

  afterAll(async () => {
    await s?.cleanup();
  }, 60_000);

  it('pod create -m/--cpus: the pod cgroup carries the limits, members run in cgroups below it, inspect shows podman\'s keys; pod rm -f removes it', () => {
    const podId = okk(['pod', 'create', '--name', 'lim', '--network', 'none', '-m', '96m', '--cpus', '0.5']);
    const mem = `/sys/fs/cgroup/memory/skiff_parent/${podId}`;
    expect(readFileSync(join(mem, 'memory.limit_in_bytes'), 'utf8').trim()).toBe(String(96 * 1024 * 1024));
    expect(readFileSync(`/sys/fs/cgroup/cpu/skiff_parent/${podId}/cpu.cfs_quota_us`, 'utf8').trim()).toBe('50000');
    expect(readFileSync(`/sys/fs/cgroup/cpu/skiff_parent/${podId}/cpu.cfs_period_us`, 'utf8').trim()).toBe('100000');
    const inspect = JSON.parse(okk(['pod', 'inspect', 'lim'])) as Record<string, unknown> & { InfraConfig: Record<string, unknown> };
    expect(inspect).toMatchObject({ CreateCgroup: true, CgroupParent: '/skiff_parent', CgroupPath: `/skiff_parent/${podId}`, cpu_period: 100000, cpu_quota: 50000, memory_limit: 96 * 1024 * 1024, memory_swap: 2 * 96 * 1024 * 1024 });
    expect(inspect.InfraConfig).toMatchObject({ cpu_period: 100000, cpu_quota: 50000 });

    const a = okk(['run', '-d', '--pod', 'lim', '--name', 'a', IMG, 'sleep', '300']);
    okk(['run', '-d', '--pod', 'lim', '--name', 'b', IMG, 'sleep', '300']);
    const infra = okk(['pod', 'inspect', 'lim', '--format', '{{.InfraContainerID}}']);
    const cfg = JSON.parse(readFileSync(join(root, 'containers', a, 'bundle', 'config.json'), 'utf8')) as { linux: { cgroupsPath: string } };
    expect(cfg.linux.cgroupsPath).toBe(`/skiff_parent/${podId}/skiff-${a}`);
    const inPod = new Set(tasksUnder(mem));
    for (const c of [infra, 'a', 'b']) expect(inPod.has(pidOf(c)), c).toBe(true);
    // members share the pod's limit: a member's own cgroup is unlimited, the pod's is what the kernel enforces
    expect(readFileSync(`/proc/${pidOf('b')}/cgroup`, 'utf8')).toContain(`:memory:/skiff_parent/${podId}/skiff-`);

    expect(okk(['pod', 'rm', '-f', '-t', '0', 'lim'])).toBe(podId);
    expect(podCgroups(podId)).toEqual([]);
  }, 120_000);

  it('a pod without limits still gets its cgroup (podman\'s), removed with it; --share-parent=false; bad --cpus and --memory are one-line errors', () => {
    const podId = okk(['pod', 'create', '--name', 'plain', '--network', 'none']);
    expect(podCgroups(podId).length).toBeGreaterThan(0);
    expect(readFileSync(`/sys/fs/cgroup/memory/skiff_parent/${podId}/memory.limit_in_bytes`, 'utf8').trim()).not.toBe('0');
    okk(['pod', 'rm', 'plain']);
    expect(podCgroups(podId)).toEqual([]);
    // --share-parent=false: a member's cgroup is its own, not below the pod's
    okk(['pod', 'create', '--name', 'apart', '--network', 'none', '--share-parent=false']);
    const m = okk(['create', '--pod', 'apart', IMG, 'true']);
    const cfg = JSON.parse(readFileSync(join(root, 'containers', m, 'bundle', 'config.json'), 'utf8')) as { linux: { cgroupsPath: string } };
    expect(cfg.linux.cgroupsPath).toBe(`/skiff/${m}`);
    for (const bad of [['--cpus', 'lots'], ['--cpus', '0'], ['-m', 'ten']]) {
      const r = sk(['pod', 'create', '--name', 'bad', ...bad]);
      expect(r.status, bad.join(' ')).toBe(125);
      expect(r.stderr.trim().split('\n').length, r.stderr).toBeLessThanOrEqual(2);
    }
    expect(sk(['pod', 'exists', 'bad']).status).toBe(1);
  }, 60_000);

  it('members sharing IPC use the pod\'s /dev/shm (--shm-size): a file one writes the other reads; pod rm -f unmounts it', () => {
    const podId = okk(['pod', 'create', '--name', 'shm', '--network', 'none', '--shm-size', '16m']);
    okk(['run', '-d', '--pod', 'shm', '--name', 'w', IMG, 'sh', '-c', 'echo from-w > /dev/shm/note && sleep 300']);
    okk(['run', '-d', '--pod', 'shm', '--name', 'r', IMG, 'sleep', '300']);
    let seen = '';
    for (let i = 0; i < 50 && seen !== 'from-w'; i++) seen = sk(['exec', 'r', 'cat', '/dev/shm/note']).stdout.trim();
    expect(seen).toBe('from-w');
    expect(okk(['exec', 'r', 'sh', '-c', 'df -k /dev/shm | tail -1']).split(/\s+/)[1]).toBe(String(16 * 1024));
    // a container of its own (no pod) keeps its private /dev/shm
    expect(sk(['run', '--rm', IMG, 'cat', '/dev/shm/note']).status).not.toBe(0);
    expect(mountsUnder(podId).length).toBeGreaterThan(0);
    okk(['pod', 'rm', '-f', '-t', '0', 'shm']);
    expect(mountsUnder(podId)).toEqual([]);
    // --shm-size without an infra container has no /dev/shm to size
    const r = sk(['pod', 'create', '--infra=false', '--shm-size', '8m']);
    expect(r.status).toBe(125);
    expect(r.stderr).toMatch(/--shm-size/);
  }, 120_000);

  it('pod logs -f streams the lines two members write after it started, prefixed with their names, follows on while the infra runs (podman 4.3) and ends when pod stop stops it', async () => {
    okk(['pod', 'create', '--name', 'lg', '--network', 'none']);
    okk(['create', '--pod', 'lg', '--name', 'la', IMG, 'sh', '-c', 'sleep 1.5; echo a-one; sleep 1; echo a-two']);
    okk(['create', '--pod', 'lg', '--name', 'lb', IMG, 'sh', '-c', 'sleep 2; echo b-one >&2; sleep 1; echo b-two']);
    okk(['pod', 'start', 'lg']);
    const started = Date.now();
    const child = spawn(process.execPath, [bin, '--root', root, 'pod', 'logs', '-f', '-n', 'lg'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const firstSeen: Record<string, number> = {};
    const note = (chunk: string) => {
      for (const w of ['a-one', 'b-one', 'a-two', 'b-two']) if (chunk.includes(w)) firstSeen[w] ??= Date.now();
    };
    child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; note(d); });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { err += d; note(d); });
    const exited = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    let done = false;
    void exited.then(() => { done = true; });
    // both members have written their last lines and exited: the infra still runs, and so does pod logs -f
    for (let i = 0; i < 200 && !(firstSeen['a-two'] && firstSeen['b-two']); i++) await new Promise((r) => setTimeout(r, 100));
    for (let i = 0; i < 50 && ['la', 'lb'].some((c) => okk(['inspect', c, '--format', '{{.State.Status}}']) !== 'exited'); i++) await new Promise((r) => setTimeout(r, 100));
    expect(['la', 'lb'].map((c) => okk(['inspect', c, '--format', '{{.State.Status}}']))).toEqual(['exited', 'exited']);
    await new Promise((r) => setTimeout(r, 1500));
    expect(done).toBe(false);
    okk(['pod', 'stop', '-t', '0', 'lg']);
    const code = await exited;
    expect(code, err).toBe(0);
    expect(out).toMatch(/^la a-one$/m);
    expect(out).toMatch(/^la a-two$/m);
    expect(out).toMatch(/^lb b-two$/m);
    expect(err).toMatch(/^lb b-one$/m);
    // lines came as they were written, not all at the end
    expect(firstSeen['a-two']! - firstSeen['a-one']!).toBeGreaterThan(500);
    expect(Date.now() - started).toBeLessThan(20_000);
  }, 60_000);

  it('pod start makes the pod cgroup (with its limits) and the /dev/shm tmpfs again when they are gone, as after a reboot', () => {
    const podId = okk(['pod', 'create', '--name', 'boot', '--network', 'none', '-m', '80m']);
    okk(['create', '--pod', 'boot', '--name', 'bm', IMG, 'sleep', '300']);
    // what a reboot does to a pod that is not running: no tmpfs, no cgroup
    for (const m of mountsUnder(podId)) expect(spawnSync('umount', [m]).status).toBe(0);
    for (const d of podCgroups(podId)) rmdirSync(d);
    expect(podCgroups(podId)).toEqual([]);
    okk(['pod', 'start', 'boot']);
    expect(readFileSync(`/sys/fs/cgroup/memory/skiff_parent/${podId}/memory.limit_in_bytes`, 'utf8').trim()).toBe(String(80 * 1024 * 1024));
    expect(mountsUnder(podId).length).toBeGreaterThan(0);
    // podman 4.3's default size: 64000 KiB
    expect(okk(['exec', 'bm', 'sh', '-c', 'df -k /dev/shm | tail -1']).split(/\s+/).slice(0, 2)).toEqual(['shm', '64000']);
  }, 60_000);

  it('a member started alone (start MEMBER, not pod start) after a reboot makes the pod cgroup (with its limits) and the /dev/shm tmpfs again', () => {
    const podId = okk(['pod', 'create', '--name', 'solo', '--network', 'none', '-m', '72m', '--shm-size', '16m']);
    okk(['create', '--pod', 'solo', '--name', 'sm', IMG, 'sleep', '300']);
    // what a reboot does to a pod that is not running: no tmpfs, no cgroup
    for (const m of mountsUnder(podId)) expect(spawnSync('umount', [m]).status).toBe(0);
    for (const d of podCgroups(podId)) rmdirSync(d);
    expect(podCgroups(podId)).toEqual([]);
    okk(['start', 'sm']);
    expect(readFileSync(`/sys/fs/cgroup/memory/skiff_parent/${podId}/memory.limit_in_bytes`, 'utf8').trim()).toBe(String(72 * 1024 * 1024));
    expect(mountsUnder(podId).length).toBeGreaterThan(0);
    // the member and the infra it started share the one tmpfs of the pod's size
    expect(okk(['exec', 'sm', 'sh', '-c', 'df -k /dev/shm | tail -1']).split(/\s+/).slice(0, 2)).toEqual(['shm', String(16 * 1024)]);
    okk(['exec', 'sm', 'sh', '-c', 'echo solo > /dev/shm/mark']);
    const infra = okk(['pod', 'inspect', 'solo', '--format', '{{.InfraContainerID}}']);
    expect(readFileSync(`/proc/${pidOf(infra)}/root/dev/shm/mark`, 'utf8').trim()).toBe('solo');
  }, 60_000);

  it('a foreground run --rm in a pod without infra after a reboot makes the pod cgroup with its limits again, as a detached start does', () => {
    const podId = okk(['pod', 'create', '--name', 'bare', '--network', 'none', '--infra=false', '-m', '80m']);
    for (const d of podCgroups(podId)) rmdirSync(d); // what a reboot does
    expect(podCgroups(podId)).toEqual([]);
    expect(okk(['run', '--rm', '--pod', 'bare', IMG, 'cat', '/sys/fs/cgroup/memory/memory.limit_in_bytes'])).toMatch(/^\d+$/);
    expect(readFileSync(`/sys/fs/cgroup/memory/skiff_parent/${podId}/memory.limit_in_bytes`, 'utf8').trim()).toBe(String(80 * 1024 * 1024));
  }, 60_000);

  it('pod create mounts nothing (no /dev/shm tmpfs, no infra overlay mounted and unmounted): the pod\'s first start does, as podman', () => {
    // every mount and umount skiff runs (found on PATH) goes through a logging shim
    const log = join(s.dir, 'mount-calls.log');
    const shims = join(s.dir, 'mount-shims');
    mkdirSync(shims, { recursive: true });
    for (const prog of ['mount', 'umount']) writeFileSync(join(shims, prog), `#!/bin/sh\necho ${prog} "$@" >> '${log}'\nexec /usr/bin/${prog} "$@"\n`, { mode: 0o755 });
    const env = { ...process.env, PATH: `${shims}:${process.env.PATH ?? ''}` };
    expect(spawnSync('sh', ['-c', 'mount --version >/dev/null'], { env }).status).toBe(0);
    expect(readFileSync(log, 'utf8')).toMatch(/^mount --version$/m);
    writeFileSync(log, '');
    const c = spawnSync(process.execPath, [bin, '--root', root, 'pod', 'create', '--name', 'lazy', '--network', 'none'], { encoding: 'utf8', env });
    expect(c.status, c.stderr).toBe(0);
    const podId = c.stdout.trim();
    expect(readFileSync(log, 'utf8')).toBe('');
    expect(mountsUnder(podId)).toEqual([]);
    expect(okk(['pod', 'inspect', 'lazy', '--format', '{{.State}}'])).toBe('Created');
    okk(['run', '-d', '--pod', 'lazy', '--name', 'lz', IMG, 'sleep', '300']);
    expect(mountsUnder(podId).length).toBeGreaterThan(0);
    expect(okk(['exec', 'lz', 'sh', '-c', 'df -k /dev/shm | tail -1']).split(/\s+/).slice(0, 2)).toEqual(['shm', '64000']);
  }, 60_000);
});
