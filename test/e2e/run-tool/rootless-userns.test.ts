import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scratchDir } from '../../helpers/tmp.ts';
import { asUser, bundle, canRunRootless, makeUser, pausePidOf, pidsOf, removeUser, repo, type TestUser } from './rootless-helpers.ts';

/*
 * Rootless run-tool, as an ordinary user made for the test (useradd gives it /etc/subuid and /etc/subgid
 * ranges): run-tool re-executes itself in a user+mount namespace mapping the user to 0 and the ranges to 1…,
 * unpacks and mounts overlayfs there and runs runc inside it. A second user made without subordinate ids gets
 * the single-UID fallback with a warning.
 */

describe.skipIf(!canRunRootless)('rootless run-tool in a user namespace', () => {
  let scratch: { dir: string; cleanup: () => Promise<void> };
  let tarball: string;
  let full: TestUser;
  let single: TestUser;
  let subuidStart: number;

  beforeAll(async () => {
    scratch = await scratchDir('skiff-rootless-');
    chmodSync(scratch.dir, 0o755);
    // a busybox rootfs with /data/owned owned by 1000:1000 (the acceptance check)
    const rootfs = join(scratch.dir, 'rootfs');
    execFileSync('bash', [join(repo, 'scripts/make-busybox-rootfs.sh'), rootfs]);
    mkdirSync(join(rootfs, 'data'));
    execFileSync('sh', ['-c', `echo owned > ${rootfs}/data/owned && chown -R 1000:1000 ${rootfs}/data`]);
    tarball = join(scratch.dir, 'busybox.tar');
    execFileSync('tar', ['--numeric-owner', '-C', rootfs, '-cf', tarball, '.']);
    chmodSync(tarball, 0o644);
    const tag = randomBytes(3).toString('hex');
    full = makeUser(`skiff-rl-${tag}`, true);
    single = makeUser(`skiff-rl1-${tag}`, false);
    const line = readFileSync('/etc/subuid', 'utf8').split('\n').find((l) => l.startsWith(`${full.name}:`));
    if (!line) throw new Error(`useradd gave ${full.name} no /etc/subuid entry`);
    subuidStart = Number(line.split(':')[1]);
    for (const u of [full, single]) {
      const r = asUser(u, ['import', tarball, 'busybox']);
      if (r.status !== 0) throw new Error(`import as ${u.name} failed: ${r.stderr}`);
    }
  }, 120_000);

  afterAll(async () => {
    for (const u of [full, single]) if (u) removeUser(u);
    await scratch?.cleanup();
  }, 60_000);

  it('rootless run: the user is root inside, mapped to their uid and subuid range; the store is ~/.local/share/skiff', () => {
    const r = asUser(full, ['run', '--rm', '--network', 'none', 'busybox', 'sh', '-c', 'id -u; id -g; cat /proc/self/uid_map']);
    expect(r.stderr).not.toMatch(/WARNING: using a single-UID/);
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toBe('0');
    expect(lines[1]).toBe('0');
    const map = lines.slice(2).map((l) => l.trim().split(/\s+/).map(Number));
    expect(map).toContainEqual([0, full.uid, 1]);
    expect(map).toContainEqual([1, subuidStart, 65536]);
    expect(statSync(join(full.home, '.local/share/skiff/images/index.json')).uid).toBe(full.uid);
    expect(existsSync('/var/lib/skiff/containers') ? execFileSync('ls', ['/var/lib/skiff/containers'], { encoding: 'utf8' }) : '').not.toContain(full.name);
  });

  it('rootless: an image file owned by 1000:1000 keeps that owner inside the container (subuid mapping)', () => {
    const r = asUser(full, ['run', '--rm', '--network', 'none', 'busybox', 'stat', '-c', '%u:%g', '/data/owned']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('1000:1000');
    // on the host the unpacked layer holds it as subuid start + 999
    const found = execFileSync('sh', ['-c', `find ${join(full.home, '.local/share/skiff/overlay')} -path '*/diff/data/owned' -printf '%U:%G\\n'`], { encoding: 'utf8' }).trim();
    expect(found).toBe(`${subuidStart + 999}:${subuidStart + 999}`);
  });

  it('rootless: no mount is left in the host mount namespace and files written in the container are the user\'s', () => {
    const r = asUser(full, ['run', '--rm', '--network', 'none', 'busybox', 'sh', '-c', 'echo x > /tmp/f && stat -c %u /tmp/f']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('0');
    expect(readFileSync('/proc/mounts', 'utf8')).not.toContain(full.home);
  });

  it('rootless run -d, ps, logs, stop, rm under conmon', () => {
    const run = asUser(full, ['run', '-d', '--name', 'rl-detached', '--network', 'none', 'busybox', 'sh', '-c', 'echo started; trap "exit 3" TERM; while :; do sleep 0.1; done']);
    expect(run.status, run.stderr).toBe(0);
    const id = run.stdout.trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    let logs = '';
    for (let i = 0; i < 50 && !logs.includes('started'); i++) {
      logs = asUser(full, ['logs', 'rl-detached']).stdout;
      if (!logs.includes('started')) execFileSync('sleep', ['0.1']);
    }
    expect(logs).toContain('started');
    const ps = asUser(full, ['ps', '--format', '{{.Names}} {{.Status}}']);
    expect(ps.stdout).toMatch(/rl-detached Up/);
    // the container's processes run as the user on the host
    const t0 = Date.now();
    const stop = asUser(full, ['stop', '-t', '5', 'rl-detached']);
    expect(stop.status, stop.stderr).toBe(0);
    expect(Date.now() - t0).toBeLessThan(4000); // SIGTERM handled: no wait for the timeout
    const psa = asUser(full, ['ps', '-a', '--format', '{{.Names}} {{.Status}}']);
    expect(psa.stdout).toMatch(/rl-detached Exited \(3\)/);
    const rm = asUser(full, ['rm', 'rl-detached']);
    expect(rm.status, rm.stderr).toBe(0);
    expect(asUser(full, ['ps', '-aq']).stdout.trim()).toBe('');
    expect(existsSync(join(full.home, '.local/share/skiff/containers', id))).toBe(false);
    // no conmon or container process of the user is left: only the pause process holding the user namespace
    const left = () => pidsOf(full.uid).filter((p) => p !== pausePidOf(full));
    for (let i = 0; i < 20 && left().length > 0; i++) execFileSync('sleep', ['0.1']);
    expect(left()).toEqual([]);
  });

  it('rootless stop of a container ignoring SIGTERM kills it after the timeout', () => {
    const run = asUser(full, ['run', '-d', '--name', 'rl-stubborn', '--network', 'none', 'busybox', 'sleep', '100']);
    expect(run.status, run.stderr).toBe(0);
    const t0 = Date.now();
    const stop = asUser(full, ['stop', '-t', '1', 'rl-stubborn']);
    expect(stop.status, stop.stderr).toBe(0);
    expect(Date.now() - t0).toBeLessThan(4500);
    expect(asUser(full, ['ps', '-a', '--format', '{{.Names}} {{.Status}}']).stdout).toMatch(/rl-stubborn Exited \(137\)/);
    expect(asUser(full, ['rm', 'rl-stubborn']).status).toBe(0);
  });

  it('rootless info reports rootless true, the user store, and a passing doctor for subuid/subgid/newuidmap', () => {
    const r = asUser(full, ['info', '--format', 'json']);
    expect(r.status, r.stderr).toBe(0);
    const info = JSON.parse(r.stdout) as { host: { rootless: boolean }; store: { graphRoot: string }; doctor: { checks: { name: string; ok: boolean; detail: string }[] } };
    expect(info.host.rootless).toBe(true);
    expect(info.store.graphRoot).toBe(join(full.home, '.local/share/skiff'));
    const check = (n: string) => info.doctor.checks.find((c) => c.name === n);
    for (const n of ['subuid', 'subgid', 'newuidmap', 'newgidmap', 'XDG_RUNTIME_DIR']) expect(check(n)?.ok, `${n}: ${check(n)?.detail}`).toBe(true);
    expect(check('subuid')?.detail).toContain(`${subuidStart}+65536`);
  });

  it('rootless without subuid entries: single-UID fallback with a clear warning, info says what is missing', () => {
    const r = asUser(single, ['run', '--rm', '--network', 'none', 'busybox', 'sh', '-c', 'id -u; stat -c %u:%g /data/owned; cat /proc/self/uid_map']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/WARNING: using a single-UID user namespace \(no \/etc\/subuid entry/);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toBe('0');
    expect(lines[1]).toBe('0:0'); // only the user's own id exists in the namespace: owners are flattened to it
    expect(lines.slice(2).map((l) => l.trim().split(/\s+/).map(Number))).toEqual([[0, single.uid, 1]]);
    const info = JSON.parse(asUser(single, ['info', '--format', 'json']).stdout) as { host: { rootless: boolean }; doctor: { ok: boolean; missing: string[] } };
    expect(info.host.rootless).toBe(true);
    expect(info.doctor.ok).toBe(false);
    expect(info.doctor.missing.join('\n')).toMatch(/no entry for skiff-rl1-\w+ in \/etc\/subuid/);
  });

  it('rootless: a root process cannot be talked into rootless mode by the SKIFF_USERNS variable', () => {
    const r = spawnSync(process.execPath, [bundle, '--root', join(scratch.dir, 'root-store'), 'info', '--format', 'json'], { encoding: 'utf8', env: { ...process.env, SKIFF_USERNS: '1000:1000:full' } });
    expect(r.status, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as { host: { rootless: boolean } }).host.rootless).toBe(false);
  });
});
