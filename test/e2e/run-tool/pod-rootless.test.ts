// Pods as an ordinary user with subordinate id ranges: the infra container holds a pasta network with a port
// published on 127.0.0.1; members share its net/ipc/uts namespaces (same inodes), reach each other over
// localhost, and pod rm -f leaves none of the user's container processes behind.
import { chmodSync, statSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../../shared/network/publish.ts';
import { scratchDir } from '../../helpers/tmp.ts';
import { NC_GET, hasPodPrograms, nsInode, until } from './pod-helpers.ts';
import { asUser, canRunRootless, makeUserWithBusybox, pausePidOf, pidsOf, removeUser, type TestUser } from './rootless-helpers.ts';

describe.skipIf(!canRunRootless || !hasPodPrograms)('rootless pods (an ordinary user, pasta)', () => {
  let scratch: { dir: string; cleanup: () => Promise<void> };
  let u: TestUser;
  const okU = (args: string[]): string => {
    const r = asUser(u, args);
    if (r.status !== 0) throw new Error(`run-tool ${args.join(' ')} as ${u.name} exited ${r.status}: ${r.stderr}`);
    return r.stdout.trim();
  };

  beforeAll(async () => {
    scratch = await scratchDir('skiff-podrl-');
    ({ u } = makeUserWithBusybox(scratch.dir, 'skiff-pod'));
    // rootless networking needs the tun device usable by ordinary users (documented requirement)
    if ((statSync('/dev/net/tun').mode & 0o006) !== 0o006) chmodSync('/dev/net/tun', 0o666);
  }, 120_000);

  afterAll(async () => {
    if (u) {
      asUser(u, ['pod', 'rm', '-af', '-t', '0']);
      removeUser(u);
    }
    await scratch?.cleanup();
  }, 60_000);

  it('a pasta pod: shared namespaces, member-to-member and host-to-pod HTTP, and a clean pod rm -f', async () => {
    const port = await freePort('tcp', '127.0.0.1');
    const podId = okU(['pod', 'create', '--name', 'rlweb', '-p', `127.0.0.1:${port}:80`]);
    okU(['run', '-d', '--pod', 'rlweb', '--name', 'httpd', 'busybox', 'sh', '-c', 'mkdir -p /w && echo rootless-pod > /w/index.html && exec httpd -f -p 80 -h /w']);
    okU(['run', '-d', '--pod', 'rlweb', '--name', 'side', 'busybox', 'sleep', '300']);
    const infra = okU(['pod', 'inspect', 'rlweb', '--format', '{{.InfraContainerID}}']);
    const pidOf = (c: string) => Number(okU(['inspect', c, '--format', '{{.State.Pid}}']));
    const pids = [pidOf(infra), pidOf('httpd'), pidOf('side')];
    for (const kind of ['net', 'ipc', 'uts'] as const) expect(new Set(pids.map((p) => nsInode(p, kind))).size, kind).toBe(1);
    expect(new Set(pids.map((p) => nsInode(p, 'pid'))).size).toBe(3);
    let got = '';
    expect(await until(() => (got = asUser(u, ['exec', 'side', 'sh', '-c', NC_GET]).stdout.trim()) === 'rootless-pod', 10_000), got).toBe(true);
    // pasta binds the published port as the infra starts: at most 50 tries, 200 ms apart
    let host = '';
    for (let i = 0; i < 50 && host !== 'rootless-pod'; i++) {
      host = await fetch(`http://127.0.0.1:${port}/`).then(async (r) => (await r.text()).trim(), () => '');
      if (host !== 'rootless-pod') await new Promise((r) => setTimeout(r, 200));
    }
    expect(host).toBe('rootless-pod');
    expect(okU(['pod', 'ps', '--format', '{{.Name}} {{.Status}} {{.NumberOfContainers}}'])).toBe('rlweb Running 3');
    expect(okU(['pod', 'rm', '-f', '-t', '0', 'rlweb'])).toBe(podId);
    const pause = pausePidOf(u);
    // only the user's pause process (the namespace holder) may remain
    expect(await until(() => pidsOf(u.uid).filter((p) => p !== pause).length === 0)).toBe(true);
    expect(okU(['ps', '-aq'])).toBe('');
  }, 120_000);

  it('rootless on cgroups v1: pod --memory/--cpus refused with one line; members still share the pod\'s /dev/shm', () => {
    for (const flag of [['--memory', '64m'], ['--cpus', '1']]) {
      const r = asUser(u, ['pod', 'create', '--name', 'rllim', ...flag]);
      expect(r.status, r.stderr).toBe(125);
      expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
      expect(r.stderr).toContain(`${flag[0]} is not supported for rootless pods on cgroups v1`);
      expect(asUser(u, ['pod', 'exists', 'rllim']).status).toBe(1);
    }
    okU(['pod', 'create', '--name', 'rlshm', '--network', 'none', '--shm-size', '8m']);
    expect(okU(['pod', 'inspect', 'rlshm', '--format', '{{.CgroupPath}}'])).toBe('');
    okU(['run', '-d', '--pod', 'rlshm', '--name', 'sw', 'busybox', 'sh', '-c', 'echo rl-shm > /dev/shm/n && sleep 300']);
    let seen = '';
    for (let i = 0; i < 50 && seen !== 'rl-shm'; i++) seen = asUser(u, ['run', '--rm', '--pod', 'rlshm', 'busybox', 'cat', '/dev/shm/n']).stdout.trim();
    expect(seen).toBe('rl-shm');
    expect(okU(['exec', 'sw', 'sh', '-c', 'df -k /dev/shm | tail -1']).split(/\s+/)[1]).toBe(String(8 * 1024));
    okU(['pod', 'rm', '-f', '-t', '0', 'rlshm']);
    expect(okU(['ps', '-aq'])).toBe('');
  }, 120_000);
});
