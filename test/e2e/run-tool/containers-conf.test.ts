import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasBusybox, makeBusyboxImage } from '../../helpers/busybox.ts';
import { isRoot, scratchDir } from '../../helpers/tmp.ts';
import { buildRunTool, hasConmon } from './core-helpers.ts';
import { locateProgram } from '../../../shared/process/system-programs.ts';

const locate = (name: string): string => locateProgram(name) ?? name;

let bundle = '';
let root = '';
let scratch = '';
let cleanup: (() => Promise<void>) | undefined;
const run = (args: string[], env: NodeJS.ProcessEnv) =>
  spawnSync(process.execPath, [bundle, '--root', root, ...args], { encoding: 'utf8', input: '', timeout: 60_000, env: { ...process.env, ...env } });
/** A private containers.conf with `lines`; the VM's rlimits need podman's clamped ulimits. */
const conf = (name: string, lines: string[]): string => {
  const p = join(scratch, name);
  writeFileSync(p, lines.join('\n'));
  return p;
};
const eventLines = (): number => {
  try {
    return readFileSync(join(root, 'events', 'events.log'), 'utf8').split('\n').filter(Boolean).length;
  } catch {
    return 0;
  }
};

describe.skipIf(!isRoot || !hasBusybox || !hasConmon)('containers.conf in a real container', () => {
  beforeAll(async () => {
    bundle = await buildRunTool();
    const sd = await scratchDir('skiff-conf-');
    cleanup = sd.cleanup;
    scratch = sd.dir;
    root = join(scratch, 'root');
    await makeBusyboxImage(root, scratch);
  }, 120_000);
  afterAll(async () => {
    if (root) run(['rm', '-a', '-f'], {});
    await cleanup?.();
  });

  it('CONTAINERS_CONF env, default_capabilities and dns_servers reach the container; flags still win', () => {
    const conf = join(scratch, 'containers.conf');
    writeFileSync(conf, [
      '[containers]',
      'env = ["FROM_CONF=yes", "OVERRIDDEN=conf"]',
      'default_capabilities = ["CHOWN", "NET_RAW"]',
      'dns_servers = ["127.0.0.53"]',
      'unknown_key_podman_ignores = true',
      'shm_size = "8m"',
      '[engine]',
      'events_logger = "file"',
    ].join('\n'));
    const script = 'echo "env=$FROM_CONF/$OVERRIDDEN"; grep CapEff /proc/self/status; grep nameserver /etc/resolv.conf; grep " /dev/shm " /proc/mounts';
    const r = run(['run', '--rm', '--network', 'none', '-e', 'OVERRIDDEN=flag', 'busybox', 'sh', '-c', script], { CONTAINERS_CONF: conf });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('env=yes/flag');
    // CAP_CHOWN (bit 0) and CAP_NET_RAW (bit 13) only
    expect(r.stdout).toMatch(/CapEff:\s+0000000000002001/);
    expect(r.stdout).toContain('nameserver 127.0.0.53');
    expect(r.stdout).toMatch(/ \/dev\/shm tmpfs \S*size=8192k/);
    const f = run(['run', '--rm', '--network', 'none', '--dns', '127.0.0.54', '--cap-drop', 'net_raw', 'busybox', 'sh', '-c', script], { CONTAINERS_CONF: conf });
    expect(f.status).toBe(0);
    expect(f.stdout).toMatch(/CapEff:\s+0000000000000001/);
    expect(f.stdout).toContain('nameserver 127.0.0.54');
    expect(f.stdout).not.toContain('127.0.0.53');
  });

  it('a malformed CONTAINERS_CONF is one line naming file:line, exit 125, no container left', () => {
    const bad = join(scratch, 'bad.conf');
    writeFileSync(bad, '[containers]\nenv = ["A=1"\npids_limit = 5\n');
    const r = run(['run', '--rm', '--network', 'none', 'busybox', 'true'], { CONTAINERS_CONF: bad });
    expect(r.status).toBe(125);
    expect(r.stderr.trim().split('\n')[0]).toMatch(new RegExp(`${bad.replace(/[.]/g, '\\.')}:\\d+: `));
    expect(run(['ps', '-a', '-q'], {}).stdout.trim()).toBe('');
    // commands that need no configuration do not read it
    expect(run(['images', '-q'], { CONTAINERS_CONF: bad }).status).toBe(0);
  });
  it('[engine] runtime: a path is the OCI runtime the container runs under; a missing one is one line, 125, nothing made', () => {
    const log = join(scratch, 'runtime.log');
    const wrapper = join(scratch, 'my-runtime');
    writeFileSync(wrapper, `#!/bin/sh\necho "$@" >> ${log}\nexec ${locate('runc')} "$@"\n`);
    chmodSync(wrapper, 0o755);
    const env = { CONTAINERS_CONF: conf('rt.conf', ['[engine]', `runtime = "${wrapper}"`]), SKIFF_RUNC: '' };
    const r = run(['run', '--rm', '--network', 'none', 'busybox', 'echo', 'via-wrapper'], env);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('via-wrapper\n');
    expect(readFileSync(log, 'utf8')).toMatch(/^--root \S+ (run|create) --bundle /m);
    const missing = run(['run', '--rm', '--network', 'none', 'busybox', 'true'], { CONTAINERS_CONF: conf('crun.conf', ['[engine]', 'runtime = "crun-not-installed"']), SKIFF_RUNC: '' });
    expect(missing.status).toBe(125);
    expect(missing.stderr.split('\n')[0]).toMatch(/^Error: default OCI runtime "crun-not-installed" not found; install it, or set runtime = "runc"/);
    expect(run(['ps', '-a', '-q'], {}).stdout.trim()).toBe('');
  });

  it('[engine] events_logger: none writes no events and `events` refuses; journald falls back to the file log with a warning', () => {
    const before = eventLines();
    const none = { CONTAINERS_CONF: conf('ev-none.conf', ['[engine]', 'events_logger = "none"']) };
    expect(run(['run', '--rm', '--network', 'none', 'busybox', 'true'], none).status).toBe(0);
    expect(eventLines()).toBe(before);
    const ev = run(['events', '--stream=false'], none);
    expect(ev.status).toBe(125);
    expect(ev.stderr.split('\n')[0]).toMatch(/^Error: cannot read events with the "none" backend; set events_logger = "file"/);
    const journald = { CONTAINERS_CONF: conf('ev-journald.conf', ['[engine]', 'events_logger = "journald"']) };
    expect(run(['run', '--rm', '--network', 'none', 'busybox', 'true'], journald).status).toBe(0);
    expect(eventLines()).toBeGreaterThan(before);
    const j = run(['events', '--stream=false', '--filter', 'event=start'], journald);
    expect(j.status).toBe(0);
    expect(j.stdout).toContain('container start');
    expect(j.stderr).toMatch(/level=warning msg="events_logger is \\"journald\\" but .*file log"/);
    expect(run(['events', '--stream=false'], { CONTAINERS_CONF: conf('ev-bad.conf', ['[engine]', 'events_logger = "syslog"']) }).status).toBe(125);
  });

  it('[engine] cgroup_manager: cgroupfs places the container under /skiff/<id>; systemd without systemd is refused up front', () => {
    const fs = run(['run', '--rm', '--network', 'none', 'busybox', 'cat', '/proc/self/cgroup'], { CONTAINERS_CONF: conf('cg-fs.conf', ['[engine]', 'cgroup_manager = "cgroupfs"']) });
    expect(fs.status).toBe(0);
    expect(fs.stdout).toMatch(/:\/skiff\/[0-9a-f]{64}$/m);
    const sd = run(['run', '--rm', '--network', 'none', 'busybox', 'true'], { CONTAINERS_CONF: conf('cg-sd.conf', ['[engine]', 'cgroup_manager = "systemd"']) });
    if (existsSync('/run/systemd/system')) return; // a systemd host runs it in a scope instead
    expect(sd.status).toBe(125);
    expect(sd.stderr.split('\n')[0]).toMatch(/^Error: cgroup manager "systemd" needs systemd running as init \(\/run\/systemd\/system is missing\); set cgroup_manager = "cgroupfs"/);
    expect(run(['ps', '-a', '-q'], {}).stdout.trim()).toBe('');
  });

  it('[network] network_backend: cni warns that netavark is used; an unknown one is refused naming file:line', () => {
    const cni = run(['run', '--rm', '--network', 'none', 'busybox', 'true'], { CONTAINERS_CONF: conf('nb-cni.conf', ['[network]', 'network_backend = "cni"']) });
    expect(cni.status).toBe(0);
    expect(cni.stderr).toMatch(/network_backend "cni" is not supported: skiff sets up container networks with netavark/);
    const bad = run(['run', '--rm', '--network', 'none', 'busybox', 'true'], { CONTAINERS_CONF: conf('nb-bad.conf', ['[network]', 'network_backend = "flannel"']) });
    expect(bad.status).toBe(125);
    expect(bad.stderr.split('\n')[0]).toMatch(/nb-bad\.conf:2: network_backend "flannel" is not one of netavark, cni/);
  });

  it('[engine] image_default_transport and compression_format: push without a transport goes there, layers in zstd', () => {
    const env = { CONTAINERS_CONF: conf('push.conf', ['[engine]', 'image_default_transport = "oci:"', 'compression_format = "zstd"']) };
    const layout = join(scratch, 'pushed-layout');
    const r = run(['push', '-q', 'busybox', `${layout}:v1`], env);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: { digest: string; annotations?: Record<string, string> }[] };
    expect(index.manifests[0]!.annotations?.['org.opencontainers.image.ref.name']).toBe('v1');
    const m = JSON.parse(readFileSync(join(layout, 'blobs', 'sha256', index.manifests[0]!.digest.slice(7)), 'utf8')) as { layers: { mediaType: string }[] };
    expect(m.layers.map((l) => l.mediaType)).toEqual(m.layers.map(() => 'application/vnd.oci.image.layer.v1.tar+zstd'));
    // the flag still wins
    const g = run(['push', '-q', '--compression-format', 'gzip', 'busybox', `oci:${layout}:v2`], env);
    expect(g.status).toBe(0);
  });

  it('storage.conf graphroot and runroot (with $UID expanded) place the store and runc\'s state', async () => {
    const graph = join(scratch, 'graph-$UID');
    const runRoot = join(scratch, 'runroot-$UID');
    const sc = join(scratch, 'storage.conf');
    writeFileSync(sc, `[storage]\ndriver = "overlay"\ngraphroot = "${graph}"\nrunroot = "${runRoot}"\n`);
    const store = join(scratch, 'graph-0', 'skiff');
    await makeBusyboxImage(store, scratch);
    const env: NodeJS.ProcessEnv = { ...process.env, CONTAINERS_STORAGE_CONF: sc };
    delete env.SKIFF_ROOT;
    delete env.SKIFF_RUNC_ROOT;
    const noRoot = (args: string[]) => spawnSync(process.execPath, [bundle, ...args], { encoding: 'utf8', input: '', timeout: 60_000, env });
    const d = noRoot(['run', '-d', '--name', 'sc1', '--network', 'none', 'busybox', 'sleep', '30']);
    expect(d.stderr).toBe('');
    expect(d.status).toBe(0);
    const id = d.stdout.trim();
    try {
      expect(readdirSync(join(store, 'containers'))).toContain(id);
      expect(existsSync(join(scratch, 'runroot-0', 'skiff', 'runc', id))).toBe(true);
      expect(noRoot(['ps', '--format', '{{.Names}}']).stdout.trim()).toBe('sc1');
    } finally {
      noRoot(['rm', '-f', '-t', '0', 'sc1']);
    }
  });
});
