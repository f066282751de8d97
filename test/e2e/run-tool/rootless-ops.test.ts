import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../../shared/network/publish.ts';
import { scratchDir } from '../../helpers/tmp.ts';
import { addSubIdRange, asUser, makeUserWithBusybox, bundle, canRunRootless, firstSubId, pausePidOf, pollSync, removeContainers, removeUser, type TestUser } from './rootless-helpers.ts';

/*
 * Rootless operations on running containers, as an ordinary user: exec, cp, commit, pasta networking (a host
 * service on 127.0.0.1 and a published port), health checks, several subordinate id ranges and info. Every
 * invocation joins the user's one namespace (held by a pause process), so it reaches what `run -d` started.
 */


describe.skipIf(!canRunRootless)('rootless exec, cp, commit, networking, health, id ranges', () => {
  let scratch: { dir: string; cleanup: () => Promise<void> };
  let u: TestUser;
  let hostDir: string;

  beforeAll(async () => {
    scratch = await scratchDir('skiff-rlops-');
    ({ u, hostDir } = makeUserWithBusybox(scratch.dir, 'skiff-rlo'));
    // rootless networking needs the tun device usable by ordinary users (documented requirement)
    if ((statSync('/dev/net/tun').mode & 0o006) !== 0o006) chmodSync('/dev/net/tun', 0o666);
  }, 120_000);

  afterEach(() => removeContainers(u), 60_000);

  afterAll(async () => {
    if (u) removeUser(u);
    await scratch?.cleanup();
  }, 60_000);

  const up = (name: string, cmd: string[], extra: string[] = []): void => {
    const r = asUser(u, ['run', '-d', '--name', name, ...extra, 'busybox', ...cmd]);
    expect(r.status, r.stderr).toBe(0);
  };

  it('exec into a rootless run -d container: root inside, -u 1000, the command\'s exit code, 126/127', () => {
    up('rx', ['sleep', '300'], ['--network', 'none']);
    const pause = pausePidOf(u);
    expect(pause).toBeGreaterThan(0);
    const id = asUser(u, ['exec', 'rx', 'id', '-u']);
    expect(id.status, id.stderr).toBe(0);
    expect(id.stdout.trim()).toBe('0');
    const as1000 = asUser(u, ['exec', '-u', '1000', 'rx', 'sh', '-c', 'id -u; id -g']);
    expect(as1000.status, as1000.stderr).toBe(0);
    expect(as1000.stdout.trim().split('\n')).toEqual(['1000', '0']);
    expect(asUser(u, ['exec', 'rx', 'sh', '-c', 'exit 7']).status).toBe(7);
    expect(asUser(u, ['exec', 'rx', 'no-such-command']).status).toBe(127);
    expect(asUser(u, ['exec', 'rx', '/etc/passwd']).status).toBe(126);
    // exec sees the container's processes: it is in the container's namespaces, not a copy
    expect(asUser(u, ['exec', 'rx', 'sh', '-c', 'cat /proc/1/cmdline | tr "\\0" " "']).stdout.trim()).toBe('sleep 300');
    // the same pause process served every invocation
    expect(pausePidOf(u)).toBe(pause);
  });

  it('cp both ways with a running rootless container: a file copied in is owned by the container\'s root', () => {
    up('rcp', ['sleep', '300'], ['--network', 'none']);
    const src = join(hostDir, 'in.txt');
    writeFileSync(src, 'from-host\n');
    chownSync(src, u.uid, u.gid);
    const cin = asUser(u, ['cp', src, 'rcp:/tmp/in.txt']);
    expect(cin.status, cin.stderr).toBe(0);
    const st = asUser(u, ['exec', 'rcp', 'sh', '-c', 'stat -c %u:%g /tmp/in.txt; cat /tmp/in.txt']);
    expect(st.stdout.trim().split('\n')).toEqual(['0:0', 'from-host']);
    expect(asUser(u, ['exec', 'rcp', 'sh', '-c', 'echo from-ctr > /tmp/out.txt && chown 1000:1000 /tmp/out.txt']).status).toBe(0);
    const dst = join(hostDir, 'out.txt');
    const cout = asUser(u, ['cp', 'rcp:/tmp/out.txt', dst]);
    expect(cout.status, cout.stderr).toBe(0);
    expect(readFileSync(dst, 'utf8')).toBe('from-ctr\n');
    // podman: what is copied out belongs to the user who copies
    expect(statSync(dst).uid).toBe(u.uid);
    // the container kept running (frozen by signals while copying, thawed after: no freezer cgroup here)
    expect(asUser(u, ['exec', 'rcp', 'sh', '-c', 'grep State /proc/1/status']).stdout).not.toMatch(/stopped/);
    // stopped container: cp still works (its overlay mounted for the copy)
    expect(asUser(u, ['stop', '-t', '0', 'rcp']).status).toBe(0);
    const cout2 = asUser(u, ['cp', 'rcp:/tmp/in.txt', join(hostDir, 'again.txt')]);
    expect(cout2.status, cout2.stderr).toBe(0);
    expect(readFileSync(join(hostDir, 'again.txt'), 'utf8')).toBe('from-host\n');
  });

  it('commit of a running rootless container: the image shows the change, 1000:1000 owners kept', () => {
    up('rcm', ['sleep', '300'], ['--network', 'none']);
    expect(asUser(u, ['exec', 'rcm', 'sh', '-c', 'echo changed > /etc/marker && echo mine > /mine && chown 1000:1000 /mine']).status).toBe(0);
    const c = asUser(u, ['commit', '-q', 'rcm', 'rl-committed']);
    expect(c.status, c.stderr).toBe(0);
    expect(c.stdout.trim()).toMatch(/^[0-9a-f]{64}$/);
    const r = asUser(u, ['run', '--rm', '--network', 'none', 'rl-committed', 'sh', '-c', 'cat /etc/marker; stat -c %u:%g /mine /data/owned']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual(['changed', '1000:1000', '1000:1000']);
    expect(asUser(u, ['rmi', 'rl-committed']).status).toBe(0);
  });

  describe('pasta', () => {
    let server: Server | undefined;
    afterEach(() => void server?.close());

    it('a rootless container reaches a TCP server on the host\'s 127.0.0.1 through host.containers.internal', async () => {
      const port = await freePort('tcp', '127.0.0.1');
      let served = 0;
      // request/response, as a real service
      server = createServer((s) => {
        served++;
        s.once('data', () => s.end('hello-from-host\n'));
      });
      server.maxConnections = 1; // one connection (closed after the test)
      await new Promise<void>((res) => server!.listen(port, '127.0.0.1', res));
      // spawnSync would block the event loop the server needs: run the user's command asynchronously
      const script = `echo ping | timeout -s KILL 6 nc -w 3 $(awk '/host.containers.internal/{print $1; exit}' /etc/hosts) ${port}`;
      const out = await asUserAsync(u, ['run', '--rm', '--network', 'pasta', 'busybox', 'sh', '-c', script]);
      // the reply arrives; the exit code is not checked: this pasta (2023-03) at times keeps re-sending the reply
      // after the host closed (measured: the greeting repeated, nc never sees FIN), so nc may end by the timeout
      expect(out.stdout.split('\n')[0], out.stderr).toBe('hello-from-host');
      expect([0, 137]).toContain(out.code);
      expect(served).toBe(1);
    });

    it('rootless default network is pasta; -p 127.0.0.1:PORT:80 reaches busybox httpd; /etc/hosts names the container and the host', async () => {
      const port = await freePort('tcp', '127.0.0.1');
      up('rweb', ['sh', '-c', 'mkdir -p /www && echo hi-from-ctr > /www/index.html && exec httpd -f -p 80 -h /www'], ['--hostname', 'rlweb', '-p', `127.0.0.1:${port}:80`]);
      let body = '';
      const ok = pollSync(() => {
        const r = spawnSync('curl', ['-s', '-m', '2', `http://127.0.0.1:${port}/`], { encoding: 'utf8' });
        body = r.stdout;
        return r.status === 0;
      }, 10_000);
      expect(ok).toBe(true);
      expect(body).toBe('hi-from-ctr\n');
      const insp = JSON.parse(asUser(u, ['inspect', 'rweb']).stdout) as { HostConfig: { NetworkMode: string } }[];
      expect(insp[0]!.HostConfig.NetworkMode).toBe('pasta');
      const hosts = asUser(u, ['exec', 'rweb', 'cat', '/etc/hosts']).stdout;
      expect(hosts).toMatch(/^\d+\.\d+\.\d+\.\d+\thost\.containers\.internal host\.docker\.internal$/m);
      expect(hosts).toMatch(/^\d+\.\d+\.\d+\.\d+\trlweb rweb$/m);
      expect(hosts).not.toMatch(/^127\.0\.1\.1/m);
    });
  });

  it('--health-cmd on a rootless detached container: the timer runs and inspect shows the status', () => {
    up('rhc', ['sleep', '300'], ['--network', 'none', '--health-cmd', 'test -e /tmp/ok', '--health-interval', '1s', '--health-retries', '1']);
    const status = () => (JSON.parse(asUser(u, ['inspect', 'rhc']).stdout) as { State: { Health?: { Status: string; FailingStreak: number; Log: unknown[] } } }[])[0]!.State.Health;
    expect(pollSync(() => status()?.Status === 'unhealthy', 10_000), JSON.stringify(status())).toBe(true);
    expect(asUser(u, ['exec', 'rhc', 'touch', '/tmp/ok']).status).toBe(0);
    expect(pollSync(() => status()?.Status === 'healthy', 10_000), JSON.stringify(status())).toBe(true);
    expect(status()!.Log.length).toBeGreaterThan(1);
    expect(asUser(u, ['healthcheck', 'run', 'rhc']).status).toBe(0);
  });

  it('several /etc/subuid ranges: all are mapped (newuidmap triplets), ids in the second range are usable', () => {
    const first = firstSubId('/etc/subuid', u.name);
    const extra = addSubIdRange(u.name, 2000);
    try {
      const r = asUser(u, ['run', '--rm', '--network', 'none', 'busybox', 'sh', '-c', `cat /proc/self/uid_map /proc/self/gid_map; touch /tmp/x; chown ${first.count + 10}:${first.count + 11} /tmp/x; stat -c %u:%g /tmp/x`]);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/subordinate id ranges changed/); // the pause process of the old maps was replaced
      const lines = r.stdout.trim().split('\n');
      const maps = lines.slice(0, 6).map((l) => l.trim().split(/\s+/).map(Number));
      const want = [[0, u.uid, 1], [1, first.start, first.count], [1 + first.count, extra.start, extra.count]];
      expect(maps.slice(0, 3)).toEqual(want);
      expect(maps.slice(3)).toEqual([[0, u.gid, 1], [1, first.start, first.count], [1 + first.count, extra.start, extra.count]]);
      expect(lines[6]).toBe(`${first.count + 10}:${first.count + 11}`);
      const info = JSON.parse(asUser(u, ['info', '--format', 'json']).stdout) as { doctor: { checks: { name: string; detail: string }[] } };
      expect(info.doctor.checks.find((c) => c.name === 'subuid')?.detail).toBe(`${first.start}+${first.count}, ${extra.start}+${extra.count}`);
    } finally {
      extra.restore();
    }
    expect(readFileSync('/etc/subuid', 'utf8')).not.toContain(`${u.name}:${extra.start}:`);
    // back to one range: the next invocation gets a namespace with the first range only
    const r2 = asUser(u, ['run', '--rm', '--network', 'none', 'busybox', 'cat', '/proc/self/uid_map']);
    expect(r2.status, r2.stderr).toBe(0);
    expect(r2.stdout.trim().split('\n')).toHaveLength(2);
  });

  it('info as the user: rootless, its store, the namespace id mappings, and the doctor checks pass', () => {
    const r = asUser(u, ['info', '--format', 'json']);
    expect(r.status, r.stderr).toBe(0);
    const info = JSON.parse(r.stdout) as {
      host: { rootless: boolean; security: { rootless: boolean }; idMappings: { uidmap: { container_id: number; host_id: number; size: number }[]; gidmap: unknown[] } };
      store: { graphRoot: string };
      doctor: { ok: boolean; missing: string[]; checks: { name: string; ok: boolean; detail: string }[] };
    };
    const first = firstSubId('/etc/subuid', u.name);
    expect(info.host.rootless).toBe(true);
    expect(info.host.security.rootless).toBe(true);
    expect(info.store.graphRoot).toBe(join(u.home, '.local/share/skiff'));
    expect(info.host.idMappings.uidmap).toEqual([{ container_id: 0, host_id: u.uid, size: 1 }, { container_id: 1, host_id: first.start, size: first.count }]);
    expect(info.host.idMappings.gidmap).toHaveLength(2);
    const check = (n: string) => info.doctor.checks.find((c) => c.name === n);
    expect(check('XDG_RUNTIME_DIR')?.detail).toBe(u.runtimeDir);
    for (const n of ['subuid', 'subgid', 'newuidmap', 'newgidmap', 'XDG_RUNTIME_DIR']) expect(check(n)?.ok, `${n}: ${check(n)?.detail}`).toBe(true);
    expect(check('pasta')?.ok).toBe(true);
    // the tun check reports the device's real state for this user
    const tunOk = (statSync('/dev/net/tun').mode & 0o006) === 0o006;
    expect(check('tun')?.ok).toBe(tunOk);
    // without XDG_RUNTIME_DIR the doctor says so
    const noX = JSON.parse(asUser(u, ['info', '--format', 'json'], { env: { XDG_RUNTIME_DIR: '' } }).stdout) as typeof info;
    expect(noX.doctor.checks.find((c) => c.name === 'XDG_RUNTIME_DIR')?.ok).toBe(false);
  });
});

/** asUser, but asynchronous (the test process keeps serving while the user's command runs); bounded to 30 s. */
function asUserAsync(u: TestUser, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((res) => {
    const ch = spawn('setpriv', ['--reuid', String(u.uid), '--regid', String(u.gid), '--init-groups', '--', process.execPath, bundle, ...args], {
      cwd: u.home,
      timeout: 30_000,
      env: { PATH: '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin', HOME: u.home, USER: u.name, LOGNAME: u.name, XDG_RUNTIME_DIR: u.runtimeDir },
    });
    let stdout = '';
    let stderr = '';
    ch.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    ch.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    ch.on('close', (code) => res({ code, stdout, stderr }));
  });
}
