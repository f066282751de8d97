// Pods as root with real runc, conmon and netavark: namespace sharing (inodes), a member's httpd reached from
// another member over localhost and from the host through a port published on the pod, the lifecycle order,
// --exit-policy stop, container:ID joining without a pod, and a pod rm -f that leaves nothing behind.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../../shared/network/publish.ts';
import { makeBusyboxImage } from '../../helpers/busybox.ts';
import { isRoot, scratchDir } from '../../helpers/tmp.ts';
import { ok, run } from './commit-cp-helpers.ts';
import { NC_GET, firewallRulesWith, hasPodPrograms, mountsUnder, netnsOf, nsInode, podCgroups, until } from './pod-helpers.ts';

const bin = join(import.meta.dirname, '../../../bin/run-tool.mjs');
const IMG = 'localhost/busybox:latest';

describe.skipIf(!isRoot || !hasPodPrograms)('pods (root, real runc/conmon/netavark)', () => {
  let s: { dir: string; cleanup: () => Promise<void> };
  let root: string;
  const sk = (args: string[]) => run(bin, root, args);
  const okk = (args: string[]) => ok(bin, root, args).trim();
  const pidOf = (c: string) => Number(okk(['inspect', c, '--format', '{{.State.Pid}}']));

  beforeAll(async () => {
    s = await scratchDir('skiff-pod-');
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

  it('members share net, ipc and uts with the infra container (same inodes), not pid unless --share +pid', () => {
    const podId = okk(['pod', 'create', '--name', 'nsp', '--network', 'none']);
    expect(podId).toMatch(/^[0-9a-f]{64}$/);
    okk(['run', '-d', '--pod', 'nsp', '--name', 'a', IMG, 'sleep', '300']);
    okk(['run', '-d', '--pod', 'nsp', '--name', 'b', IMG, 'sleep', '300']);
    const infra = okk(['pod', 'inspect', 'nsp', '--format', '{{.InfraContainerID}}']);
    expect(okk(['inspect', infra, '--format', '{{.Name}}'])).toBe(`${podId.slice(0, 12)}-infra`);
    const pids = [pidOf(infra), pidOf('a'), pidOf('b')];
    for (const kind of ['net', 'ipc', 'uts'] as const) expect(new Set(pids.map((p) => nsInode(p, kind))).size, kind).toBe(1);
    expect(new Set(pids.map((p) => nsInode(p, 'pid'))).size).toBe(3);
    // the shared uts namespace carries the pod's name as host name
    expect(okk(['exec', 'a', 'hostname'])).toBe('nsp');

    okk(['pod', 'create', '--name', 'pidp', '--network', 'none', '--share', '+pid']);
    okk(['run', '-d', '--pod', 'pidp', '--name', 'c', IMG, 'sleep', '300']);
    const pinfra = okk(['pod', 'inspect', 'pidp', '--format', '{{.InfraContainerID}}']);
    expect(nsInode(pidOf('c'), 'pid')).toBe(nsInode(pidOf(pinfra), 'pid'));
    // catatonit -P is pid 1 of the shared pid namespace
    expect(okk(['exec', 'c', 'cat', '/proc/1/cmdline']).replace(/\0/g, ' ').trim()).toBe('/catatonit -P');
  });

  it('httpd in one member answers another over localhost, and the host through the port published on the pod', async () => {
    const port = await freePort('tcp', '127.0.0.1');
    okk(['pod', 'create', '--name', 'web', '-p', `127.0.0.1:${port}:80`]);
    okk(['run', '-d', '--pod', 'web', '--name', 'httpd', IMG, 'sh', '-c', 'mkdir -p /w && echo hello-pod > /w/index.html && exec httpd -f -p 80 -h /w']);
    let got = '';
    expect(await until(() => (got = sk(['run', '--rm', '--pod', 'web', IMG, 'sh', '-c', NC_GET]).stdout.trim()) === 'hello-pod', 10_000), got).toBe(true);
    const res = await fetch(`http://127.0.0.1:${port}/`);
    expect((await res.text()).trim()).toBe('hello-pod');
    // ps shows the pod; the filter finds its containers by pod name
    const ps = okk(['ps', '--pod', '--filter', 'pod=web', '--format', '{{.Names}} {{.PodName}}']).split('\n').sort();
    expect(ps).toEqual([`${okk(['pod', 'inspect', 'web', '--format', '{{.Id}}']).slice(0, 12)}-infra web`, 'httpd web']);
  }, 60_000);

  it('a member refuses -p (publish on the pod) and the infra container cannot be removed while the pod exists', () => {
    const podId = okk(['pod', 'create', '--name', 'strict', '--network', 'none']);
    const r = sk(['create', '--pod', 'strict', '-p', '8080:80', IMG, 'true']);
    expect(r.status).toBe(125);
    expect(r.stderr.trim().split('\n')).toEqual(['Error: invalid config provided: published or exposed ports must be defined when the pod is created: network cannot be configured when it is shared with a pod']);
    const infra = okk(['pod', 'inspect', 'strict', '--format', '{{.InfraContainerID}}']);
    const rm = sk(['rm', '-f', infra]);
    expect(rm.status).toBe(125);
    expect(rm.stderr.trim()).toBe(`Error: container ${infra} is the infra container of pod ${podId} and cannot be removed without removing the pod`);
  });

  it('pod start starts infra then members in creation order; pod stop stops members then infra', () => {
    okk(['pod', 'create', '--name', 'life', '--network', 'none']);
    okk(['create', '--pod', 'life', '--name', 'm1', IMG, 'sleep', '300']);
    okk(['create', '--pod', 'life', '--name', 'm2', IMG, 'sleep', '300']);
    expect(okk(['pod', 'ps', '--filter', 'name=life', '--format', '{{.Status}} {{.NumberOfContainers}}'])).toBe('Created 3');
    okk(['pod', 'start', 'life']);
    const started = ['m1', 'm2'].map((n) => okk(['inspect', n, '--format', '{{.State.StartedAt}}']));
    const infraStart = okk(['inspect', okk(['pod', 'inspect', 'life', '--format', '{{.InfraContainerID}}']), '--format', '{{.State.StartedAt}}']);
    expect([infraStart, ...started]).toEqual([...[infraStart, ...started]].sort());
    expect(okk(['pod', 'ps', '--filter', 'name=life', '--format', '{{.Status}}'])).toBe('Running');
    okk(['stop', '-t', '0', 'm2']);
    expect(okk(['pod', 'ps', '--filter', 'name=life', '--format', '{{.Status}}'])).toBe('Degraded');
    okk(['pod', 'stop', '-t', '0', 'life']);
    const finished = okk(['pod', 'inspect', 'life', '--format', '{{.State}}']);
    expect(finished).toBe('Exited');
    // a member started alone brings its infra container up first (podman starts dependencies)
    okk(['start', 'm1']);
    expect(okk(['pod', 'ps', '--filter', 'name=life', '--format', '{{.ContainerStatuses}}', '--ctr-status'])).toBe('running,running,exited');
  }, 60_000);

  it('--exit-policy stop stops the infra container once the last member exits (from the member\'s monitor)', async () => {
    okk(['pod', 'create', '--name', 'ep', '--network', 'none', '--exit-policy', 'stop']);
    okk(['run', '-d', '--pod', 'ep', '--name', 'short', IMG, 'sleep', '1']);
    const infra = okk(['pod', 'inspect', 'ep', '--format', '{{.InfraContainerID}}']);
    expect(okk(['inspect', infra, '--format', '{{.State.Status}}'])).toBe('running');
    expect(await until(() => okk(['inspect', infra, '--format', '{{.State.Status}}']) !== 'running', 15_000)).toBe(true);
    expect(okk(['pod', 'inspect', 'ep', '--format', '{{.State}} {{.ExitPolicy}}'])).toBe('Exited stop');
  }, 30_000);

  it('--network/--ipc container:ID joins a running container; start brings a stopped target up; the target is not removable while used', () => {
    okk(['run', '-d', '--name', 'holder', '--network', 'none', IMG, 'sleep', '300']);
    const out = okk(['run', '--rm', '--network', 'container:holder', '--ipc', 'container:holder', IMG, 'sh', '-c', 'readlink /proc/self/ns/net; readlink /proc/self/ns/ipc']);
    const hp = pidOf('holder');
    expect(out.split('\n')).toEqual([`net:[${nsInode(hp, 'net')}]`, `ipc:[${nsInode(hp, 'ipc')}]`]);
    const dep = okk(['create', '--name', 'dep', '--network', 'container:holder', IMG, 'sleep', '300']);
    const holderId = okk(['inspect', 'holder', '--format', '{{.Id}}']);
    expect(okk(['inspect', 'dep', '--format', '{{.HostConfig.NetworkMode}}'])).toBe(`container:${holderId}`);
    const rm = sk(['rm', '-f', 'holder']);
    expect(rm.status).toBe(125);
    expect(rm.stderr.trim()).toBe(`Error: container ${holderId} has dependent containers which must be removed before it: ${dep}: container already exists`);
    okk(['stop', '-t', '0', 'holder']);
    okk(['start', 'dep']);
    expect(okk(['inspect', 'holder', '--format', '{{.State.Status}}'])).toBe('running');
    expect(nsInode(pidOf('dep'), 'net')).toBe(nsInode(pidOf('holder'), 'net'));
    const missing = sk(['create', '--pid', 'container:nope', IMG, 'true']);
    expect(missing.status).toBe(125);
    expect(missing.stderr.trim()).toBe('Error: looking up container to share pid namespace with: no container with name or ID "nope" found: no such container');
  }, 60_000);

  it('pod rm -f leaves no process, mount, netns, firewall rule, lease or name behind', async () => {
    const port = await freePort('tcp', '127.0.0.1');
    const podId = okk(['pod', 'create', '--name', 'gone', '-p', `127.0.0.1:${port}:80`]);
    okk(['run', '-d', '--pod', 'gone', '--name', 'g1', IMG, 'sleep', '300']);
    const infra = okk(['pod', 'inspect', 'gone', '--format', '{{.InfraContainerID}}']);
    const pids = [pidOf(infra), pidOf('g1')];
    const memberId = okk(['inspect', 'g1', '--format', '{{.Id}}']);
    // members live below the pod's own cgroup (podman's layout)
    expect(existsSync(join('/sys/fs/cgroup/memory/skiff_parent', podId, `skiff-${memberId}`))).toBe(true);
    expect(netnsOf(infra)).toHaveLength(1);
    expect(firewallRulesWith(String(port)).length).toBeGreaterThan(0);
    expect(okk(['pod', 'rm', '-f', '-t', '0', 'gone'])).toBe(podId);
    for (const p of pids) expect(existsSync(`/proc/${p}`)).toBe(false);
    // no cgroup of the pod or of its containers is left in any hierarchy
    expect(podCgroups(podId)).toEqual([]);
    expect(mountsUnder(root)).toEqual([]);
    expect(netnsOf(infra)).toEqual([]);
    expect(firewallRulesWith(String(port))).toEqual([]);
    expect(readdirSync(join(root, 'leases')).filter((l) => l.startsWith('container-'))).toEqual([]);
    expect(readdirSync(join(root, 'pods', 'names'))).toEqual([]);
    expect(sk(['pod', 'exists', 'gone']).status).toBe(1);
    // the name is free again
    okk(['pod', 'create', '--name', 'gone', '--network', 'none']);
  }, 60_000);

  it('pod rm -f of a pod with 3 members that ignore SIGTERM stops them all within one grace period', () => {
    const podId = okk(['pod', 'create', '--name', 'grace', '--network', 'none']);
    const ids = ['s1', 's2', 's3'].map((n) => okk(['run', '-d', '--pod', 'grace', '--name', n, IMG, 'sh', '-c', 'trap "" TERM; while :; do sleep 0.1; done']));
    const pids = ids.map((id) => pidOf(id));
    const t0 = Date.now();
    const r = sk(['pod', 'rm', '-f', '-t', '3', 'grace']);
    const took = Date.now() - t0;
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(podId);
    for (const p of pids) expect(existsSync(`/proc/${p}`)).toBe(false);
    // one grace period (3 s) for all three, not one each (9 s and more)
    expect(took).toBeGreaterThanOrEqual(3000);
    expect(took).toBeLessThan(6500);
    expect(okk(['ps', '-a', '--format', '{{.Names}}'])).toBe('');
  }, 60_000);

  it('run -d --pod starts the infra container with the member: both run, the member in the infra\'s namespaces', () => {
    okk(['pod', 'create', '--name', 'early', '--network', 'none']);
    const infra = okk(['pod', 'inspect', 'early', '--format', '{{.InfraContainerID}}']);
    expect(okk(['inspect', infra, '--format', '{{.State.Status}}'])).toBe('created');
    okk(['run', '-d', '--pod', 'early', '--name', 'e1', IMG, 'sleep', '300']);
    expect(okk(['inspect', infra, '--format', '{{.State.Status}}'])).toBe('running');
    for (const kind of ['net', 'ipc', 'uts'] as const) expect(nsInode(pidOf('e1'), kind), kind).toBe(nsInode(pidOf(infra), kind));
    // a member whose image is missing leaves the infra as it was: not started
    okk(['pod', 'create', '--name', 'early2', '--network', 'none']);
    const infra2 = okk(['pod', 'inspect', 'early2', '--format', '{{.InfraContainerID}}']);
    expect(sk(['run', '-d', '--pull', 'never', '--pod', 'early2', 'localhost/no-such-image:1', 'true']).status).not.toBe(0);
    expect(okk(['inspect', infra2, '--format', '{{.State.Status}}'])).toBe('created');
    // a pod that is created and never started holds no overlay mount: the infra's rootfs is mounted at its start
    expect(mountsUnder(root).some((m) => m.includes(infra2))).toBe(false);
    expect(okk(['pod', 'rm', 'early2'])).toMatch(/^[0-9a-f]{64}$/);
    expect(mountsUnder(root).some((m) => m.includes(infra2))).toBe(false);
  }, 60_000);

  it('run --pod new: whose member create fails after its image was found leaves the new pod\'s infra not running', () => {
    // -w of a directory the image lacks: run refuses it while creating the member (exit 126), after the image
    // was found and the infra started early
    const r = sk(['run', '-d', '--pod', 'new:wfail', '-w', '/no/such/dir', IMG, 'true']);
    expect(r.status).toBe(126);
    const infra = okk(['pod', 'inspect', 'wfail', '--format', '{{.InfraContainerID}}']);
    expect(okk(['inspect', infra, '--format', '{{.State.Status}}'])).not.toBe('running');
    expect(mountsUnder(root).some((m) => m.includes(infra))).toBe(false);
    // the pod stays, as podman's does, and its next member starts it again
    okk(['run', '-d', '--pod', 'wfail', '--name', 'w2', IMG, 'sleep', '300']);
    expect(okk(['inspect', infra, '--format', '{{.State.Status}}'])).toBe('running');
  }, 60_000);

  it('pod create loads no gzip/zstd, tar or layer-unpacking code (the infra image is unpacked already)', () => {
    okk(['pod', 'create', '--name', 'warm', '--network', 'none']);
    const r = spawnSync(process.execPath, ['--import', join(import.meta.dirname, '../../helpers/log-loads.mjs'), bin, '--root', root, 'pod', 'create', '--name', 'light', '--network', 'none'], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const files = r.stderr.split('\n').filter((l) => l.startsWith('LOADED ')).map((l) => fileURLToPath(l.slice(7)));
    expect(files.some((f) => f.includes('/dist/'))).toBe(true); // the hook saw the bundle's files (it can fail)
    const heavy = files.filter((f) => /\/\/ (shared\/layer\/(compression|apply|tar-[a-z]+|confined-root)\.ts|node_modules\/tar-stream\/)|from "node:zlib"/m.test(readFileSync(f, 'utf8')));
    expect(heavy).toEqual([]);
  }, 60_000);

  it('pod pause/unpause freeze and thaw every container; top, logs, kill, restart and prune act on the whole pod', async () => {
    const podId = okk(['pod', 'create', '--name', 'ops', '--network', 'none']);
    okk(['run', '-d', '--pod', 'ops', '--name', 'talker', IMG, 'sh', '-c', 'echo said-hello; exec sleep 300']);
    expect(okk(['pod', 'pause', 'ops'])).toBe(podId);
    expect(okk(['pod', 'inspect', 'ops', '--format', '{{.State}}'])).toBe('Paused');
    expect(okk(['ps', '--filter', 'name=talker', '--format', '{{.Status}}'])).toBe('Paused');
    const state = readFileSync(`/sys/fs/cgroup/freezer/skiff_parent/${podId}/skiff-${okk(['inspect', 'talker', '--format', '{{.Id}}'])}/freezer.state`, 'utf8').trim();
    expect(state).toBe('FROZEN');
    expect(sk(['pod', 'pause', 'ops']).status).toBe(0); // nothing left to pause is no error
    expect(okk(['pod', 'unpause', 'ops'])).toBe(podId);
    expect(okk(['pod', 'inspect', 'ops', '--format', '{{.State}}'])).toBe('Running');
    const top = okk(['pod', 'top', 'ops']).split('\n');
    expect(top[0]).toMatch(/^USER\s+PID/);
    expect(top.some((l) => l.endsWith('/catatonit -P'))).toBe(true);
    expect(top.some((l) => l.endsWith('sleep 300'))).toBe(true);
    expect(await until(() => sk(['pod', 'logs', 'ops']).stdout.includes('said-hello'))).toBe(true);
    expect(sk(['pod', 'logs', 'ops']).stdout).toMatch(/^[0-9a-f]{12} said-hello$/m);
    // one container picked with -c: its lines carry no prefix, with or without -n (podman 4.3)
    expect(okk(['pod', 'logs', '-c', 'talker', 'ops'])).toBe('said-hello');
    expect(okk(['pod', 'logs', '-n', '-c', 'talker', 'ops'])).toBe('said-hello');
    expect(okk(['pod', 'kill', 'ops'])).toBe(podId);
    expect(await until(() => okk(['pod', 'inspect', 'ops', '--format', '{{.State}}']) === 'Exited')).toBe(true);
    expect(sk(['pod', 'kill', 'ops']).status).toBe(125);
    expect(okk(['pod', 'restart', 'ops'])).toBe(podId);
    expect(okk(['pod', 'inspect', 'ops', '--format', '{{.State}}'])).toBe('Running');
    const idle = okk(['pod', 'create', '--name', 'idle', '--network', 'none']);
    // prune takes the pods none of whose containers runs
    expect(okk(['pod', 'prune', '-f'])).toBe(idle);
    expect(sk(['pod', 'exists', 'idle']).status).toBe(1);
    expect(sk(['pod', 'exists', 'ops']).status).toBe(0);
  }, 60_000);

  it('pod create -v: every member gets the pod\'s bind mount and named volume; its own -v at the same path wins', () => {
    const host = join(s.dir, 'shared');
    mkdirSync(host, { recursive: true });
    writeFileSync(join(host, 'from-host'), 'hi\n');
    okk(['pod', 'create', '--name', 'vols', '--network', 'none', '-v', `${host}:/shared`, '-v', 'podvol:/data']);
    okk(['run', '--rm', '--pod', 'vols', IMG, 'sh', '-c', 'echo one > /data/x']);
    expect(okk(['run', '--rm', '--pod', 'vols', IMG, 'sh', '-c', 'cat /shared/from-host /data/x'])).toBe('hi\none');
    const own = join(s.dir, 'own');
    mkdirSync(own, { recursive: true });
    expect(okk(['run', '--rm', '--pod', 'vols', '-v', `${own}:/shared`, IMG, 'ls', '/shared'])).toBe('');
    const anon = sk(['pod', 'create', '--name', 'anon', '-v', '/x']);
    expect(anon.status).toBe(125);
    expect(anon.stderr).toMatch(/anonymous volumes cannot be shared/);
  }, 60_000);

  it('--infra-conmon-pidfile receives the infra container\'s monitor pid at each start', () => {
    const f = join(s.dir, 'infra-conmon.pid');
    okk(['pod', 'create', '--name', 'cpid', '--network', 'none', '--infra-conmon-pidfile', f]);
    expect(existsSync(f)).toBe(false);
    okk(['pod', 'start', 'cpid']);
    const infra = okk(['pod', 'inspect', 'cpid', '--format', '{{.InfraContainerID}}']);
    const first = readFileSync(f, 'utf8').trim();
    expect(first).toBe(readFileSync(join(root, 'containers', infra, 'conmon.pid'), 'utf8').trim());
    expect(readFileSync(`/proc/${first}/comm`, 'utf8').trim()).toBe('conmon');
    okk(['pod', 'restart', 'cpid']);
    expect(readFileSync(f, 'utf8').trim()).not.toBe(first);
    expect(sk(['pod', 'create', '--infra=false', '--infra-conmon-pidfile', f]).status).toBe(125);
  }, 60_000);

  it('rm -af removes the members, then each infra container with its pod (podman\'s rm --all)', () => {
    okk(['pod', 'create', '--name', 'rma', '--network', 'none']);
    const member = okk(['create', '--pod', 'rma', IMG, 'true']);
    const infra = okk(['pod', 'inspect', 'rma', '--format', '{{.InfraContainerID}}']);
    expect(okk(['rm', '-af']).split('\n')).toEqual([member, infra]);
    expect(sk(['pod', 'exists', 'rma']).status).toBe(1);
    expect(okk(['ps', '-aq'])).toBe('');
  });

  it('system prune removes stopped pods with their containers and a running pod\'s exited member, never a running infra', async () => {
    okk(['pod', 'create', '--name', 'stale', '--network', 'none']);
    okk(['create', '--pod', 'stale', IMG, 'true']);
    okk(['pod', 'create', '--name', 'live', '--network', 'none']);
    okk(['run', '-d', '--pod', 'live', '--name', 'keeper', IMG, 'sleep', '300']);
    const done = okk(['run', '-d', '--pod', 'live', IMG, 'true']);
    expect(done).toMatch(/^[0-9a-f]{64}$/);
    expect(await until(() => okk(['inspect', done, '--format', '{{.State.Status}}']) === 'exited')).toBe(true);
    const r = sk(['system', 'prune', '-f']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain(done);
    expect(sk(['pod', 'exists', 'stale']).status).toBe(1);
    expect(okk(['pod', 'inspect', 'live', '--format', '{{.State}} {{.NumContainers}}'])).toBe('Running 2');
  }, 60_000);

  it('names are DNS-1123 labels: my_pod is refused with one line; a duplicate name exits 125', () => {
    const bad = sk(['pod', 'create', '--name', 'my_pod']);
    expect(bad.status).toBe(125);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toMatch(/invalid pod name "my_pod": use lower-case letters, digits and '-'/);
    okk(['pod', 'create', '--name', 'dup', '--network', 'none']);
    const dup = sk(['pod', 'create', '--name', 'dup', '--network', 'none']);
    expect(dup.status).toBe(125);
    expect(dup.stderr.trim()).toBe('Error: adding pod to state: name "dup" is in use: pod already exists');
    // the infra image was built once into the store and is reused
    expect(okk(['images', '--format', '{{.Repository}}']).split('\n').filter((r) => r === 'localhost/skiff-infra')).toHaveLength(1);
  });
});
