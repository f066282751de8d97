import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scratchDir } from '../../helpers/tmp.ts';
import { asUser, makeUserWithBusybox, bundle, canRunRootless, removeContainers, removeUser, type TestUser } from './rootless-helpers.ts';


/*
 * `run --userns=keep-id` as an ordinary user with subordinate ids: runc makes a nested user namespace in which the
 * user's host uid/gid are themselves, the image's layers come from a keep-id cache whose owners are shifted so the
 * image's ids show unchanged inside, and files the container writes as the user are the user's on the host.
 */

describe.skipIf(!canRunRootless)('rootless run --userns=keep-id', () => {
  let scratch: { dir: string; cleanup: () => Promise<void> };
  let u: TestUser;
  let hostDir: string;

  beforeAll(async () => {
    scratch = await scratchDir('skiff-keepid-');
    ({ u, hostDir } = makeUserWithBusybox(scratch.dir, 'skiff-kid'));
  }, 120_000);

  afterAll(async () => {
    if (u) {
      removeContainers(u);
      removeUser(u);
    }
    await scratch?.cleanup();
  }, 60_000);

  const run = (args: string[], cmd: string[]) => asUser(u, ['run', '--rm', '--network', 'none', '--userns=keep-id', ...args, 'busybox', ...cmd]);

  it('keep-id: id shows the user\'s own uid and gid, HOME is the added entry\'s', () => {
    const r = run([], ['sh', '-c', 'id -u; id -g; echo $HOME; id -un']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual([String(u.uid), String(u.gid), '/', u.name]);
  });

  it('keep-id: /etc/passwd and /etc/group get entries for the user the image lacks (podman\'s format)', () => {
    const r = run([], ['sh', '-c', 'tail -n 1 /etc/passwd; tail -n 1 /etc/group']);
    expect(r.status, r.stderr).toBe(0);
    const [pw, gr] = r.stdout.trim().split('\n');
    expect(pw).toBe(`${u.name}:*:${u.uid}:${u.gid}::/:/bin/sh`);
    expect(gr).toBe(`${u.name}:x:${u.gid}:${u.name}`);
  });

  it('keep-id: with the home directory mounted, the entry and HOME use the user\'s home', () => {
    const r = run(['-v', `${hostDir}:${u.home}`], ['sh', '-c', `echo $HOME; grep '^${u.name}:' /etc/passwd`]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual([u.home, `${u.name}:*:${u.uid}:${u.gid}::${u.home}:/bin/sh`]);
  });

  it('keep-id: image files keep their owners inside (root-owned busybox is 0, /data/owned stays 1000:1000)', () => {
    const r = run([], ['sh', '-c', 'stat -c %u:%g /bin/busybox; stat -c %u:%g /data/owned; stat -c %u:%g /']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual(['0:0', '1000:1000', '0:0']);
  });

  it('keep-id: the user namespace maps the user to itself, 0… to the outer 1…, the rest to itself', () => {
    const r = run([], ['cat', '/proc/self/uid_map']);
    expect(r.status, r.stderr).toBe(0);
    const map = r.stdout.trim().split('\n').map((l) => l.trim().split(/\s+/).map(Number));
    expect(map[0]).toEqual([0, 1, u.uid]);
    expect(map[1]).toEqual([u.uid, 0, 1]);
    expect(map[2]).toEqual([u.uid + 1, u.uid + 1, 65536 - u.uid]);
  });

  it('keep-id: a file written into a bind-mounted host dir is owned by the user on the host', () => {
    const r = run(['-v', `${hostDir}:/mnt`], ['sh', '-c', 'echo hi > /mnt/written && stat -c %u:%g /mnt/written']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(`${u.uid}:${u.gid}`);
    const st = statSync(join(hostDir, 'written'));
    expect([st.uid, st.gid]).toEqual([u.uid, u.gid]);
    expect(readFileSync(join(hostDir, 'written'), 'utf8')).toBe('hi\n');
  });

  it('keep-id: -u 0 still gives root (and the user\'s entry is still added, its group a supplementary one)', () => {
    const r = run(['-u', '0'], ['sh', '-c', `id -u; id -g; id -G | tr ' ' '\\n' | sort -n | tr '\\n' ' '; echo; grep -c '^${u.name}:' /etc/passwd`]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim().split('\n').map((l) => l.trim())).toEqual(['0', '0', `0 ${u.gid}`, '1']);
  });

  it('keep-id: -u UID gets gid 0 plus the user\'s group, as podman', () => {
    const r = run(['-u', String(u.uid)], ['id']);
    expect(r.status, r.stderr).toBe(0);
    // podman 4.3 prints exactly this (checked here with a rootless podman run --userns=keep-id -u UID)
    expect(r.stdout.trim()).toBe(`uid=${u.uid}(${u.name}) gid=0(root) groups=${u.gid}(${u.name}),0(root)`);
  });

  it('keep-id layers live in their own cache: a plain rootless run afterwards still sees 1000:1000 and root', () => {
    const r = asUser(u, ['run', '--rm', '--network', 'none', 'busybox', 'sh', '-c', 'id -u; stat -c %u:%g /data/owned /bin/busybox']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual(['0', '1000:1000', '0:0']);
    expect(statSync(join(u.home, `.local/share/skiff/overlay-keepid-${u.uid}-${u.gid}`)).isDirectory()).toBe(true);
  });

  it('keep-id: --userns=host is the default and accepted; an unknown mode exits 125', () => {
    const ok = asUser(u, ['run', '--rm', '--network', 'none', '--userns=host', 'busybox', 'id', '-u']);
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout.trim()).toBe('0');
    const bad = asUser(u, ['run', '--rm', '--network', 'none', '--userns=bogus', 'busybox', 'true']);
    expect(bad.status).toBe(125);
    expect(bad.stderr).toContain('Error: unrecognized namespace mode bogus passed');
  });

  it('keep-id: create + start + exec run as the user', () => {
    const c = asUser(u, ['create', '--name', 'kid-c', '--network', 'none', '--userns=keep-id', 'busybox', 'sleep', '60']);
    expect(c.status, c.stderr).toBe(0);
    expect(asUser(u, ['start', 'kid-c']).status).toBe(0);
    const e = asUser(u, ['exec', 'kid-c', 'id', '-u']);
    expect(e.status, e.stderr).toBe(0);
    expect(e.stdout.trim()).toBe(String(u.uid));
    expect(asUser(u, ['rm', '-f', 'kid-c']).status).toBe(0);
  });

  it('keep-id with the default rootless network (pasta): runs as the user, loopback works', () => {
    const r = asUser(u, ['run', '--rm', '--userns=keep-id', 'busybox', 'sh', '-c', 'id -u; ip -o link show lo | grep -c LOOPBACK; ls /sys/class/net | grep -c lo']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual([String(u.uid), '1', '1']);
  });

  it('keep-id --read-only: the entries come from a bind-mounted copy, the user still runs', () => {
    const r = run(['--read-only'], ['sh', '-c', `id -u; grep -c '^${u.name}:' /etc/passwd /etc/group`]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual([String(u.uid), '/etc/passwd:1', '/etc/group:1']);
  });

  it('system prune -a also empties the keep-id layer cache once no image or container needs it', () => {
    asUser(u, ['rm', '-af']);
    const cache = join(u.home, `.local/share/skiff/overlay-keepid-${u.uid}-${u.gid}`);
    const chains = () => readdirSync(cache).filter((n) => /^[a-f0-9]{64}$/.test(n));
    expect(chains().length).toBeGreaterThan(0);
    const r = asUser(u, ['system', 'prune', '-a', '-f']);
    expect(r.status, r.stderr).toBe(0);
    expect(chains()).toEqual([]);
  });

  it('keep-id as root exits 125 with podman\'s message', async () => {
    const store = join(scratch.dir, 'root-store');
    const imp = spawnSync(process.execPath, [bundle, '--root', store, 'import', join(scratch.dir, 'busybox.tar'), 'busybox'], { encoding: 'utf8' });
    expect(imp.status, imp.stderr).toBe(0);
    const r = spawnSync(process.execPath, [bundle, '--root', store, 'run', '--rm', '--network', 'none', '--userns=keep-id', 'busybox', 'true'], { encoding: 'utf8' });
    expect(r.status).toBe(125);
    expect(r.stderr.trim()).toBe('Error: keep-id is only supported in rootless mode');
  });
});
