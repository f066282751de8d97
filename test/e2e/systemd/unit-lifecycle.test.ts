// Units under a real systemd user manager, for what a unit's life needs beyond start and stop: a container that
// reports READY=1 itself (--sdnotify=container, relayed by conmon's proxy), one that ignores SIGTERM (stopped by
// SIGKILL after its stop timeout, the unit ending inactive, not failed), template units (`%i` instances) and a
// typical Quadlet .container. Every generated unit passes systemd-analyze verify (system and --user) first.
// (--cgroups=disabled needs a rootless container: rootless-unit.test.ts.)
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasBusybox, makeBusyboxImage } from '../../helpers/busybox.ts';
import { hasSystemd, startUserManager, verifyUnits, type UserManager } from '../../helpers/systemd-user.ts';
import { isRoot, scratchDir } from '../../helpers/tmp.ts';
import { buildRunTool, hasConmon, rt } from '../run-tool/core-helpers.ts';

let bundle = '';
let root = '';
let dir = '';
let mgr: UserManager | undefined;
let cleanup: (() => Promise<void>) | undefined;
const run = (args: string[]) => rt(bundle, root, args);
const rtIn = (args: string[]) => mgr!.exec(process.execPath, [bundle, '--root', root, ...args]);

/** The host's systemd-notify inside a busybox container: /usr and the loader's directories bound read-only (the command then names /bin/sh, busybox's, as /usr/bin comes first on PATH). */
const WITH_NOTIFY = ['-v', '/usr:/usr:ro', '-v', '/usr/lib:/lib:ro', '-v', '/usr/lib64:/lib64:ro'];

/** `generate systemd --new --name` for `name` (a container or pod), verified by systemd-analyze (system and --user), installed into the manager. */
function installGenerated(name: string, extra: string[] = []): Map<string, string> {
  const g = run(['generate', 'systemd', '--new', '--name', '--format', 'json', ...extra, name]);
  expect(g.stderr).toBe('');
  const units = new Map(Object.entries(JSON.parse(g.stdout) as Record<string, string>));
  const out = join(dir, `units-${name}`);
  mkdirSync(out, { recursive: true });
  const files: string[] = [];
  for (const [n, text] of units) {
    const file = join(out, `${n}${extra.includes('--template') ? '@' : ''}.service`);
    writeFileSync(file, text);
    writeFileSync(join(mgr!.unitDir, `${n}${extra.includes('--template') ? '@' : ''}.service`), text);
    files.push(file);
  }
  // a template is verified as an instance of it (systemd-analyze refuses to load a bare template file)
  const verified = files.map((f) => {
    if (!f.endsWith('@.service')) return f;
    const inst = f.replace(/@\.service$/, '@v1.service');
    writeFileSync(inst, readFileSync(f));
    return inst;
  });
  for (const user of [undefined, { runtimeDir: join(dir, 'xdg-verify') }]) {
    const v = verifyUnits(verified, user);
    expect({ user: user !== undefined, status: v.status, stderr: v.stderr }).toEqual({ user: user !== undefined, status: 0, stderr: '' });
  }
  expect(mgr!.systemctl(['daemon-reload']).status).toBe(0);
  return units;
}

function show(unit: string, ...props: string[]): Record<string, string> {
  const r = mgr!.systemctl(['show', ...props.flatMap((p) => ['-p', p]), unit]);
  return Object.fromEntries(r.stdout.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}

describe.skipIf(!isRoot || !hasBusybox || !hasConmon || !hasSystemd)('systemd units: readiness, stop, templates, Quadlet keys', () => {
  beforeAll(async () => {
    bundle = await buildRunTool();
    const sd = await scratchDir('skiff-sdlife-');
    cleanup = sd.cleanup;
    dir = sd.dir;
    root = join(dir, 'root');
    await makeBusyboxImage(root, dir);
    mkdirSync(join(dir, 'xdg-verify'), { mode: 0o700 });
    mgr = await startUserManager(join(dir, 'mgr'));
  }, 120_000);
  afterAll(async () => {
    if (mgr) {
      for (const u of ['container-ready.service', 'container-silent.service', 'container-stubborn.service', 'container-tpl@a.service', 'container-tpl@b.service', 'pod-tp@x.service', 'typical.service']) mgr.systemctl(['stop', u]);
      rtIn(['pod', 'rm', '-af']);
      rtIn(['rm', '-af']);
      await mgr.stop();
    }
    if (root) run(['rm', '-a', '-f']);
    await cleanup?.();
  });

  it('--sdnotify=container: the unit becomes active when the container itself sends READY=1, through conmon\'s proxy', () => {
    expect(run(['create', '--network', 'none', '--sdnotify=container', '--name', 'ready', ...WITH_NOTIFY, 'busybox', '/bin/sh', '-c',
      'echo "socket=$NOTIFY_SOCKET"; sleep 2; /usr/bin/systemd-notify --no-block --status=warming READY=1 || echo notify failed; trap "exit 0" TERM; sleep 1000 & wait']).status).toBe(0);
    const units = installGenerated('ready');
    expect(units.get('container-ready')).toContain('--sdnotify=container');
    run(['rm', '-f', 'ready']);
    const t0 = Date.now();
    const st = mgr!.systemctl(['start', 'container-ready.service']);
    const took = Date.now() - t0;
    expect(st.stderr).toBe('');
    // start waited for the container's own READY=1 (sent 2 s in), not for the container to run
    expect(took).toBeGreaterThanOrEqual(1900);
    const s = show('container-ready.service', 'ActiveState', 'SubState', 'MainPID');
    expect([s.ActiveState, s.SubState]).toEqual(['active', 'running']);
    expect(rtIn(['inspect', '--format', '{{.State.ConmonPid}}', 'ready']).stdout.trim()).toBe(s.MainPID);
    expect(rtIn(['logs', 'ready']).stdout).toBe('socket=/run/notify/notify.sock\n');
    expect(mgr!.systemctl(['stop', 'container-ready.service']).status).toBe(0);
    expect(rtIn(['ps', '-a', '-q']).stdout).toBe('');
  }, 120_000);

  it('--sdnotify=container: a container that never says READY=1 leaves the unit failing its start timeout', () => {
    expect(run(['create', '--network', 'none', '--sdnotify=container', '--name', 'silent', 'busybox', 'sh', '-c', 'trap "exit 0" TERM; sleep 1000 & wait']).status).toBe(0);
    installGenerated('silent', ['--start-timeout', '4', '--restart-policy', 'no']);
    run(['rm', '-f', 'silent']);
    const st = mgr!.systemctl(['start', 'container-silent.service']);
    expect(st.status).not.toBe(0);
    expect(show('container-silent.service', 'Result').Result).toBe('timeout');
    mgr!.systemctl(['reset-failed', 'container-silent.service']);
    expect(rtIn(['ps', '-a', '-q']).stdout).toBe('');
  }, 120_000);

  it('a container that ignores SIGTERM is killed after its stop timeout and the unit ends inactive, not failed', () => {
    expect(run(['create', '--network', 'none', '--stop-timeout', '2', '--name', 'stubborn', 'busybox', 'sh', '-c', 'trap "" TERM; sleep 1000 & wait']).status).toBe(0);
    installGenerated('stubborn');
    run(['rm', '-f', 'stubborn']);
    expect(mgr!.systemctl(['start', 'container-stubborn.service']).stderr).toBe('');
    expect(show('container-stubborn.service', 'ActiveState').ActiveState).toBe('active');
    // a SIGKILL from outside a stop still counts as a failure to restart on (Restart=on-failure)
    expect(rtIn(['kill', 'stubborn']).status).toBe(0);
    let s0 = show('container-stubborn.service', 'ActiveState', 'NRestarts');
    for (let i = 0; i < 100 && !(s0.NRestarts === '1' && s0.ActiveState === 'active'); i++) {
      spawnSync('sleep', ['0.2']);
      s0 = show('container-stubborn.service', 'ActiveState', 'NRestarts');
    }
    expect([s0.ActiveState, s0.NRestarts]).toEqual(['active', '1']);
    const t0 = Date.now();
    const stop = mgr!.systemctl(['stop', 'container-stubborn.service']);
    const took = Date.now() - t0;
    expect(stop.status).toBe(0);
    expect(took).toBeGreaterThanOrEqual(1900);
    expect(took).toBeLessThan(30_000);
    const s = show('container-stubborn.service', 'ActiveState', 'Result');
    expect([s.ActiveState, s.Result]).toEqual(['inactive', 'success']);
    expect(rtIn(['ps', '-a', '-q']).stdout).toBe('');
  }, 120_000);

  it('generate systemd --template: one unit file, an instance per %i, each with its own container named after the instance', () => {
    expect(run(['create', '--network', 'none', '--name', 'tpl', '-e', 'WHO=x', 'busybox', 'sh', '-c', 'echo "$WHO"; trap "exit 0" TERM; sleep 1000 & wait']).status).toBe(0);
    const units = installGenerated('tpl', ['--template']);
    const text = units.get('container-tpl')!;
    expect(text).toMatch(/^# container-tpl@\.service\n/);
    expect(text).toContain('Description=skiff container-tpl.service for %I');
    expect(text).toContain('\t--replace \\\n\t--network none \\\n\t--name=tpl-%i \\\n');
    run(['rm', '-f', 'tpl']);
    for (const i of ['a', 'b']) expect(mgr!.systemctl(['start', `container-tpl@${i}.service`]).stderr).toBe('');
    expect(mgr!.systemctl(['is-active', 'container-tpl@a.service', 'container-tpl@b.service']).stdout).toBe('active\nactive\n');
    const ps = rtIn(['ps', '--format', '{{.Names}} {{index .Labels "PODMAN_SYSTEMD_UNIT"}}']);
    expect(ps.stderr).toBe('');
    expect(ps.stdout.split('\n').filter(Boolean).sort()).toEqual(['tpl-a container-tpl@a.service', 'tpl-b container-tpl@b.service']);
    // stopping one instance leaves the other
    expect(mgr!.systemctl(['stop', 'container-tpl@a.service']).status).toBe(0);
    expect(rtIn(['ps', '--format', '{{.Names}}']).stdout).toBe('tpl-b\n');
    expect(mgr!.systemctl(['stop', 'container-tpl@b.service']).status).toBe(0);
    expect(rtIn(['ps', '-a', '-q']).stdout).toBe('');
  }, 120_000);

  it('generate systemd --template on a pod: the pod and member units are templates tied instance to instance, and verify', () => {
    expect(run(['pod', 'create', '--name', 'tp', '--network', 'none']).status).toBe(0);
    expect(run(['create', '--pod', 'tp', '--name', 'tm', 'busybox', 'sh', '-c', 'trap "exit 0" TERM; sleep 1000 & wait']).status).toBe(0);
    const units = installGenerated('tp', ['--template']);
    const pod = units.get('pod-tp')!;
    expect(pod.split('\n')).toEqual(expect.arrayContaining(['Wants=container-tm@%i.service', 'Before=container-tm@%i.service', 'PIDFile=%t/pod-tp@%i.pid']));
    expect(pod).toContain('--pod-id-file %t/pod-tp@%i.pod-id \\\n\t--exit-policy=stop \\\n\t--name=tp-%i');
    const member = units.get('container-tm')!;
    expect(member.split('\n')).toEqual(expect.arrayContaining(['BindsTo=pod-tp@%i.service', 'After=pod-tp@%i.service']));
    expect(member).toContain('--pod-id-file %t/pod-tp@%i.pod-id \\\n\t--name=tm-%i');
    expect(run(['pod', 'rm', '-f', 'tp']).status).toBe(0);
    expect(mgr!.systemctl(['start', 'pod-tp@x.service']).stderr).toBe('');
    let a = '';
    for (let i = 0; i < 100 && a !== 'active'; i++) {
      spawnSync('sleep', ['0.2']);
      a = mgr!.systemctl(['is-active', 'container-tm@x.service']).stdout.trim();
    }
    expect(a).toBe('active');
    expect(rtIn(['pod', 'ps', '--format', '{{.Name}}']).stdout).toBe('tp-x\n');
    expect(rtIn(['ps', '--format', '{{.Names}}']).stdout).toContain('tm-x\n');
    expect(mgr!.systemctl(['stop', 'pod-tp@x.service']).status).toBe(0);
    expect(rtIn(['pod', 'ps', '-q']).stdout).toBe('');
    expect(rtIn(['ps', '-a', '-q']).stdout).toBe('');
  }, 120_000);

  it('the generator: a typical .container (Image, Exec, Environment(File), Volume, Network, Label, User, WorkingDir, PodmanArgs, Notify, HealthCmd, AutoUpdate, ContainerName…) verifies and runs', () => {
    const units = join(dir, 'quadlet');
    mkdirSync(units, { recursive: true });
    writeFileSync(join(dir, 'typical.env'), 'FROM=the file\n');
    writeFileSync(join(units, 'typical.container'), `[Unit]
Description=A typical Quadlet container

[Container]
Image=busybox
ContainerName=typical
Exec=/bin/sh -c 'echo "$GREETING $WHO, $FROM, uid $(id -u) in $(pwd) on $(hostname)"; /usr/bin/systemd-notify --no-block READY=1; trap "exit 0" TERM; sleep 1000 & wait'
Environment=GREETING=hello "WHO=the world"
EnvironmentFile=${join(dir, 'typical.env')}
Volume=/usr:/usr:ro
Volume=/usr/lib:/lib:ro
Volume=/usr/lib64:/lib64:ro
Network=none
Label=app=typical
User=1000
Group=1000
WorkingDir=/tmp
HostName=typ
ReadOnly=true
VolatileTmp=true
DropCapability=MKNOD
PodmanArgs=--pids-limit 200
Notify=true
HealthCmd=true
HealthInterval=30s
AutoUpdate=local
StopTimeout=3

[Service]
Restart=on-failure
TimeoutStartSec=30
`);
    const out = join(dir, 'quadlet-out');
    const g = spawnSync(process.execPath, [bundle, '--root', root, 'systemd-generator', out], { encoding: 'utf8', env: { ...process.env, QUADLET_UNIT_DIRS: units } });
    expect([g.status, g.stderr]).toEqual([0, '']);
    for (const user of [undefined, { runtimeDir: join(dir, 'xdg-verify') }]) {
      const v = verifyUnits([join(out, 'typical.service')], user);
      expect({ status: v.status, stderr: v.stderr }).toEqual({ status: 0, stderr: '' });
    }
    mgr!.installGenerator('skiff-user-generator', `#!/bin/sh\nQUADLET_UNIT_DIRS=${units} exec ${process.execPath} ${bundle} --root ${root} systemd-generator --user "$@"\n`);
    expect(mgr!.systemctl(['daemon-reload']).status).toBe(0);
    expect(mgr!.systemctl(['start', 'typical.service']).stderr).toBe('');
    expect(mgr!.systemctl(['is-active', 'typical.service']).stdout).toBe('active\n');
    expect(rtIn(['logs', 'typical']).stdout).toBe('hello the world, the file, uid 1000 in /tmp on typ\n');
    const fmt = '{{index .Config.Labels "app"}} {{index .Config.Labels "io.containers.autoupdate"}} {{index .Config.Labels "PODMAN_SYSTEMD_UNIT"}} {{.HostConfig.ReadonlyRootfs}} {{.Config.StopTimeout}}';
    expect(rtIn(['inspect', '--format', fmt, 'typical']).stdout).toBe('typical local typical.service true 3\n');
    expect(mgr!.systemctl(['stop', 'typical.service']).status).toBe(0);
    expect(rtIn(['ps', '-a', '-q']).stdout).toBe('');
  }, 120_000);
});
