// systemd-generator: Quadlet files become units systemd accepts (systemd-analyze verify, system and --user: exit
// 0, nothing on stderr); bad files give one `file:line: message` line each, a non-zero exit and no unit, while
// the good ones are still written; under a real systemd user manager the generator runs on daemon-reload and
// its container unit starts (active through sd_notify, its volume unit first) and stops (container removed).
import { spawnSync } from 'node:child_process';
import { connect, createServer } from 'node:net';
import { existsSync, mkdirSync, readFileSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasBusybox, makeBusyboxImage } from '../../helpers/busybox.ts';
import { startRegistry, type TestRegistry } from '../../helpers/registry.ts';
import { hasSystemd, startUserManager, verifyUnits, type UserManager } from '../../helpers/systemd-user.ts';
import { isRoot, scratchDir } from '../../helpers/tmp.ts';
import { buildRunTool, hasConmon } from '../run-tool/core-helpers.ts';

let bundle = '';
let root = '';
let dir = '';
let units = '';
let cleanup: (() => Promise<void>) | undefined;
const gen = (args: string[]) => spawnSync(process.execPath, [bundle, '--root', root, 'systemd-generator', ...args], { encoding: 'utf8', env: { ...process.env, QUADLET_UNIT_DIRS: units }, timeout: 60_000 });

const WEB = `[Unit]
Description=A test web container

[Container]
Image=busybox
Exec=sh -c 'echo up 100%; trap "exit 0" TERM; sleep 1000 & wait'
Environment=A=1 "B=two words"
Volume=data.volume:/data
Network=none
Label=app=web

[Service]
Restart=on-failure

[Install]
WantedBy=default.target
`;

describe.skipIf(!isRoot || !hasBusybox || !hasConmon || !hasSystemd)('systemd-generator', () => {
  let mgr: UserManager | undefined;
  let reg: TestRegistry | undefined;
  beforeAll(async () => {
    bundle = await buildRunTool();
    const sd = await scratchDir('skiff-quadlet-');
    cleanup = sd.cleanup;
    dir = sd.dir;
    root = join(dir, 'root');
    units = join(dir, 'units');
    mkdirSync(units);
    mkdirSync(join(dir, 'xdg-verify'), { mode: 0o700 });
    await makeBusyboxImage(root, dir);
    writeFileSync(join(units, 'web.container'), WEB);
    mkdirSync(join(units, 'web.container.d'));
    writeFileSync(join(units, 'web.container.d', '10-extra.conf'), '[Container]\nLabel=extra=yes\n');
    writeFileSync(join(units, 'data.volume'), '[Volume]\nLabel=k=v\n');
    writeFileSync(join(units, 'lan.network'), '[Network]\nInternal=true\nLabel=k=v\n');
    writeFileSync(join(units, 'pp.pod'), '[Pod]\nNetwork=none\n');
    writeFileSync(join(units, 'member.container'), '[Container]\nImage=busybox\nExec=sleep 1000\nPod=pp.pod\n');
    writeFileSync(join(units, 'app.kube'), '[Kube]\nYaml=app.yaml\n');
  }, 120_000);
  afterAll(async () => {
    if (mgr) {
      mgr.systemctl(['stop', 'web.service']);
      mgr.exec(process.execPath, [bundle, '--root', root, 'rm', '-af']);
      await mgr.stop();
    }
    spawnSync(process.execPath, [bundle, '--root', root, 'rm', '-af']);
    await reg?.stop();
    await cleanup?.();
  });

  it('converts every kind, applies drop-ins, makes the [Install] links, and systemd verifies the units cleanly', () => {
    const out = join(dir, 'out1');
    const r = gen([out, join(dir, 'early'), join(dir, 'late')]);
    expect([r.status, r.stderr]).toEqual([0, '']);
    expect(readdirSync(out).sort()).toEqual(['app.service', 'data-volume.service', 'default.target.wants', 'lan-network.service', 'member.service', 'pp-pod.service', 'web.service']);
    expect(readlinkSync(join(out, 'default.target.wants', 'web.service'))).toBe('../web.service');
    const web = readFileSync(join(out, 'web.service'), 'utf8');
    for (const l of ['[X-Container]', 'SourcePath=' + join(units, 'web.container'), 'Requires=data-volume.service', 'After=data-volume.service', 'Restart=on-failure', 'Type=notify', 'NotifyAccess=all']) {
      expect(web.split('\n')).toContain(l);
    }
    expect(web).toContain(`--root ${root} run \\\n\t--name=systemd-%N \\\n\t--cidfile=%t/%N.cid`);
    expect(web).toContain('--env "B=two words"');
    expect(web).toContain('--volume systemd-data:/data');
    expect(web).toContain('--label extra=yes');
    expect(readFileSync(join(out, 'member.service'), 'utf8')).toContain('--pod-id-file %t/pp-pod.pod-id');
    expect(readFileSync(join(out, 'pp-pod.service'), 'utf8').split('\n')).toEqual(expect.arrayContaining(['Wants=member.service', 'Before=member.service']));
    expect(readFileSync(join(out, 'app.service'), 'utf8')).toContain(`kube play \\\n\t--replace ${join(units, 'app.yaml')}`);
    const files = readdirSync(out).filter((n) => n.endsWith('.service')).map((n) => join(out, n));
    for (const user of [undefined, { runtimeDir: join(dir, 'xdg-verify') }]) {
      const v = verifyUnits(files, user);
      expect({ user: user !== undefined, status: v.status, stderr: v.stderr }).toEqual({ user: user !== undefined, status: 0, stderr: '' });
    }
    // --dryrun prints the same units and writes nothing
    const dry = gen(['--dryrun']);
    expect(dry.status).toBe(0);
    expect(dry.stdout).toContain(`---web.service---\n${web}`);
  });

  it('bad files: unknown key, missing Image=, a Pod= with no .pod file — one line each naming file and line, no unit for them, the others written', () => {
    const bad = join(dir, 'bad-units');
    mkdirSync(bad);
    writeFileSync(join(bad, 'good.container'), '[Container]\nImage=busybox\n');
    writeFileSync(join(bad, 'unknown.container'), '[Container]\nImage=busybox\n\nFrobnicate=yes\n');
    writeFileSync(join(bad, 'noimage.container'), '[Container]\nExec=true\n');
    writeFileSync(join(bad, 'nopod.container'), '# a member of nothing\n[Container]\nImage=busybox\nPod=nosuch.pod\n');
    const out = join(dir, 'out2');
    const r = spawnSync(process.execPath, [bundle, '--root', root, 'systemd-generator', out], { encoding: 'utf8', env: { ...process.env, QUADLET_UNIT_DIRS: bad } });
    expect(r.status).toBe(1);
    expect(r.stderr.split('\n').filter(Boolean)).toEqual([
      `${join(bad, 'noimage.container')}:1: no Image= key in [Container]`,
      `${join(bad, 'nopod.container')}:4: Pod=nosuch.pod: no nosuch.pod file found`,
      `${join(bad, 'unknown.container')}:4: unknown key Frobnicate in [Container]`,
    ]);
    expect(readdirSync(out)).toEqual(['good.service']);
    expect(existsSync(join(out, 'unknown.service'))).toBe(false);
  });

  it('runs as a user generator on daemon-reload; the unit starts its volume and container and stop removes the container', async () => {
    mgr = await startUserManager(join(dir, 'mgr'));
    mgr.installGenerator('skiff-user-generator', `#!/bin/sh\nQUADLET_UNIT_DIRS=${units} exec ${process.execPath} ${bundle} --root ${root} systemd-generator --user "$@"\n`);
    expect(mgr.systemctl(['daemon-reload']).status).toBe(0);
    expect(mgr.systemctl(['cat', 'web.service']).stdout).toContain('[X-Container]');
    const st = mgr.systemctl(['start', 'web.service']);
    expect(st.stderr).toBe('');
    expect(mgr.systemctl(['is-active', 'web.service', 'data-volume.service']).stdout).toBe('active\nactive\n');
    const rtIn = (args: string[]) => mgr!.exec(process.execPath, [bundle, '--root', root, ...args]);
    expect(rtIn(['ps', '--format', '{{.Names}} {{.Labels}}']).stdout).toMatch(/^systemd-web .*app:web/);
    expect(rtIn(['volume', 'ls', '-q']).stdout).toContain('systemd-data');
    expect(mgr.systemctl(['stop', 'web.service']).status).toBe(0);
    expect(mgr.systemctl(['is-active', 'web.service']).stdout.trim()).toBe('inactive');
    expect(rtIn(['ps', '-a', '-q']).stdout).toBe('');
  }, 120_000);

  it('the shipped restart-at-boot units (both flavours) verify, and the user one starts and stops restart=always containers', () => {
    expect(mgr).toBeDefined();
    const script = join(import.meta.dirname, '../../../scripts/install-systemd.sh');
    const sys = spawnSync('sh', [script, '--store', root, '--unit-dir', join(dir, 'inst-sys'), '--generator-dir', join(dir, 'inst-sys-gen')], { encoding: 'utf8' });
    expect([sys.status, sys.stderr]).toEqual([0, '']);
    const usr = spawnSync('sh', [script, '--user', '--store', root, '--unit-dir', mgr!.unitDir, '--generator-dir', join(dir, 'inst-user-gen')], { encoding: 'utf8' });
    expect([usr.status, usr.stderr]).toEqual([0, '']);
    const unitFile = join(mgr!.unitDir, 'skiff-restart.service');
    for (const [files, user] of [[[join(dir, 'inst-sys', 'skiff-restart.service')], undefined], [[unitFile], { runtimeDir: join(dir, 'xdg-verify') }]] as const) {
      const v = verifyUnits(files, user);
      expect({ status: v.status, stderr: v.stderr }).toEqual({ status: 0, stderr: '' });
    }
    expect(readFileSync(unitFile, 'utf8')).toContain(`ExecStart=${process.execPath.replace(/\/node_modules\/.*$/, '')}/node_modules/node/bin/node`);
    const rtIn = (args: string[]) => mgr!.exec(process.execPath, [bundle, '--root', root, ...args]);
    expect(rtIn(['create', '--network', 'none', '--restart', 'always', '--name', 'boot1', 'busybox', 'sh', '-c', 'trap "exit 0" TERM; sleep 1000 & wait']).status).toBe(0);
    expect(rtIn(['create', '--network', 'none', '--name', 'manual1', 'busybox', 'sleep', '1000']).status).toBe(0);
    expect(mgr!.systemctl(['daemon-reload']).status).toBe(0);
    const st = mgr!.systemctl(['start', 'skiff-restart.service']);
    expect(st.stderr).toBe('');
    expect(rtIn(['ps', '--format', '{{.Names}}']).stdout).toBe('boot1\n');
    expect(mgr!.systemctl(['stop', 'skiff-restart.service']).status).toBe(0);
    expect(rtIn(['ps', '-q']).stdout).toBe('');
    expect(rtIn(['inspect', '--format', '{{.State.Status}}', 'boot1']).stdout.trim()).toBe('exited');
    rtIn(['rm', '-f', 'boot1', 'manual1']);
  }, 120_000);

  it('socket activation: a .socket unit starts its container on the first connection, which gets the listener as fd 3', async () => {
    expect(mgr).toBeDefined();
    const port = await new Promise<number>((res) => {
      const srv = createServer();
      srv.listen(0, '127.0.0.1', () => {
        const p = (srv.address() as { port: number }).port;
        srv.close(() => res(p));
      });
    });
    writeFileSync(join(units, 'sock.container'), `[Container]\nImage=busybox\nNetwork=none\nExec=sh -c 'echo LISTEN_FDS=$LISTEN_FDS LISTEN_PID=$LISTEN_PID; readlink /proc/self/fd/3; trap "exit 0" TERM; sleep 1000 & wait'\n`);
    writeFileSync(join(mgr!.unitDir, 'sock.socket'), `[Socket]\nListenStream=127.0.0.1:${port}\n`);
    expect(mgr!.systemctl(['daemon-reload']).status).toBe(0);
    expect(mgr!.systemctl(['start', 'sock.socket']).stderr).toBe('');
    expect(mgr!.systemctl(['is-active', 'sock.service']).stdout.trim()).toBe('inactive');
    await new Promise<void>((res, rej) => {
      const c = connect(port, '127.0.0.1', () => {
        c.destroy();
        res();
      });
      c.on('error', rej);
    });
    let state = '';
    for (let i = 0; i < 100 && state !== 'active'; i++) {
      await new Promise((r) => setTimeout(r, 200));
      state = mgr!.systemctl(['is-active', 'sock.service']).stdout.trim();
    }
    expect(state).toBe('active');
    const rtIn = (args: string[]) => mgr!.exec(process.execPath, [bundle, '--root', root, ...args]);
    expect(rtIn(['logs', 'systemd-sock']).stdout).toMatch(/^LISTEN_FDS=1 LISTEN_PID=1\nsocket:\[\d+\]\n/);
    expect(mgr!.systemctl(['stop', 'sock.service', 'sock.socket']).status).toBe(0);
    expect(rtIn(['ps', '-a', '-q']).stdout).toBe('');
  }, 120_000);

  it('auto-update (local policy): a changed image restarts the unit on it; an image whose command fails is rolled back', async () => {
    expect(mgr).toBeDefined();
    const rtIn = (args: string[]) => mgr!.exec(process.execPath, [bundle, '--root', root, ...args]);
    expect(rtIn(['tag', 'busybox', 'localhost/upd:latest']).status).toBe(0);
    writeFileSync(join(units, 'upd.container'), `[Container]\nImage=localhost/upd:latest\nNetwork=none\nAutoUpdate=local\nExec=sh -c 'trap "exit 0" TERM; sleep 1000 & wait'\n`);
    expect(mgr!.systemctl(['daemon-reload']).status).toBe(0);
    expect(mgr!.systemctl(['start', 'upd.service']).stderr).toBe('');
    const imageOf = () => rtIn(['inspect', '--format', '{{.Image}}', 'systemd-upd']).stdout.trim();
    const first = imageOf();
    expect(rtIn(['inspect', '--format', '{{index .Config.Labels "PODMAN_SYSTEMD_UNIT"}}', 'systemd-upd']).stdout.trim()).toBe('upd.service');
    const none = rtIn(['auto-update', '--format', '{{.Unit}} {{.Policy}} {{.Updated}}']);
    expect([none.status, none.stdout]).toEqual([0, 'upd.service local false\n']);
    // a new image under the same name
    expect(rtIn(['run', '--name', 'mk', '--network', 'none', 'busybox', 'sh', '-c', 'echo 2 > /version']).status).toBe(0);
    expect(rtIn(['commit', 'mk', 'localhost/upd:latest']).status).toBe(0);
    const dry = rtIn(['auto-update', '--dry-run', '--format', '{{.Unit}} {{.Updated}}']);
    expect(dry.stdout).toBe('upd.service pending\n');
    expect(imageOf()).toBe(first);
    const up = rtIn(['auto-update']);
    expect(up.stderr).toBe('');
    expect(up.stdout.split('\n')[0]).toMatch(/^UNIT\s+CONTAINER\s+IMAGE\s+POLICY\s+UPDATED$/);
    expect(up.stdout).toMatch(/upd\.service\s+[0-9a-f]{12} \(systemd-upd\)\s+localhost\/upd:latest\s+local\s+true/);
    const second = imageOf();
    expect(second).not.toBe(first);
    expect(mgr!.systemctl(['is-active', 'upd.service']).stdout.trim()).toBe('active');
    expect(rtIn(['exec', 'systemd-upd', 'cat', '/version']).stdout).toBe('2\n');
    // an image whose command cannot start: the unit fails, the old image gets the name back and runs again
    expect(rtIn(['commit', '--change', 'ENTRYPOINT ["/nonexistent"]', 'mk', 'localhost/upd:latest']).status).toBe(0);
    const rb = rtIn(['auto-update', '--format', '{{.Unit}} {{.Updated}}']);
    expect(rb.stdout).toBe('upd.service rolled back\n');
    expect(mgr!.systemctl(['is-active', 'upd.service']).stdout.trim()).toBe('active');
    expect(imageOf()).toBe(second);
    expect(mgr!.systemctl(['stop', 'upd.service']).status).toBe(0);
    rtIn(['rm', '-f', 'mk']);
  }, 180_000);

  it('auto-update (registry policy): a new image pushed to the test registry is pulled and run; a broken one is rolled back', async () => {
    expect(mgr).toBeDefined();
    reg = await startRegistry();
    const rtIn = (args: string[]) => mgr!.exec(process.execPath, [bundle, '--root', root, ...args]);
    const push = (local: string) => spawnSync('skopeo', ['copy', '--dest-tls-verify=false', `oci:${root}/images:${local}`, `docker://${reg!.host}/upd:latest`], { encoding: 'utf8' });
    const name = `${reg.host}/upd:latest`;
    expect(push('localhost/busybox:latest').status).toBe(0);
    expect(rtIn(['pull', '--tls-verify=false', name]).status).toBe(0);
    writeFileSync(join(units, 'reg.container'), `[Container]\nImage=${name}\nNetwork=none\nAutoUpdate=registry\nExec=sh -c 'trap "exit 0" TERM; sleep 1000 & wait'\n`);
    expect(mgr!.systemctl(['daemon-reload']).status).toBe(0);
    expect(mgr!.systemctl(['start', 'reg.service']).stderr).toBe('');
    const imageOf = () => rtIn(['inspect', '--format', '{{.Image}}', 'systemd-reg']).stdout.trim();
    const first = imageOf();
    const same = rtIn(['auto-update', '--tls-verify=false', '--format', '{{.Unit}} {{.Policy}} {{.Updated}}']);
    expect(same.stdout).toBe('reg.service registry false\n');
    expect(rtIn(['auto-update', '--dry-run', '--tls-verify=false', '--format', '{{.Unit}} {{.Updated}}']).stdout).toBe('reg.service false\n');
    expect(rtIn(['run', '--name', 'mk3', '--network', 'none', 'busybox', 'sh', '-c', 'echo 3 > /version']).status).toBe(0);
    expect(rtIn(['commit', 'mk3', 'localhost/v3:latest']).status).toBe(0);
    expect(push('localhost/v3:latest').status).toBe(0);
    // a dry run sees the new image in the registry, pulls nothing and leaves the unit on the old container
    const dry = rtIn(['auto-update', '--dry-run', '--tls-verify=false', '--format', '{{.Unit}} {{.Updated}}']);
    expect([dry.stdout, dry.stderr]).toEqual(['reg.service pending\n', '']);
    expect(imageOf()).toBe(first);
    const up = rtIn(['auto-update', '--tls-verify=false', '--format', '{{.Unit}} {{.Updated}}']);
    expect([up.stdout, up.stderr]).toEqual(['reg.service true\n', '']);
    const second = imageOf();
    expect(second).not.toBe(first);
    expect(rtIn(['exec', 'systemd-reg', 'cat', '/version']).stdout).toBe('3\n');
    expect(rtIn(['commit', '--change', 'ENTRYPOINT ["/nonexistent"]', 'mk3', 'localhost/broken:latest']).status).toBe(0);
    expect(push('localhost/broken:latest').status).toBe(0);
    const rb = rtIn(['auto-update', '--tls-verify=false', '--format', '{{.Unit}} {{.Updated}}']);
    expect(rb.stdout).toBe('reg.service rolled back\n');
    expect(mgr!.systemctl(['is-active', 'reg.service']).stdout.trim()).toBe('active');
    expect(imageOf()).toBe(second);
    expect(mgr!.systemctl(['stop', 'reg.service']).status).toBe(0);
    rtIn(['rm', '-f', 'mk3']);
  }, 180_000);
});
