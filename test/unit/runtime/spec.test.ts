import { describe, expect, it } from 'vitest';
import { capabilitySet, DEFAULT_CAPS } from '../../../shared/runtime/capabilities.ts';
import { parseMountFlag, validateMount } from '../../../shared/runtime/mounts.ts';
import { clampRlimits, parseProcLimits, parseUlimit } from '../../../shared/runtime/rlimits.ts';
import { checkWorkdir, generateSpec, MASKED_PATHS, processArgs, READONLY_PATHS, type RunOptions, type SpecContext } from '../../../shared/runtime/spec.ts';
import { specProblems, validateSpec } from '../../../shared/runtime/validate.ts';

const ctx: SpecContext = { rootfs: '/b/rootfs', user: { uid: 0, gid: 0, additionalGids: [], home: '/root', name: 'root' }, seccomp: { defaultAction: 'SCMP_ACT_ERRNO', syscalls: [] }, hostLimits: { RLIMIT_NOFILE: 20000, RLIMIT_NPROC: 96365 } };
const gen = (img: object, o: RunOptions = {}) => generateSpec(img, o, ctx);

describe('generateSpec', () => {
  it('entrypoint/cmd precedence as podman', () => {
    const img = { Entrypoint: ['/ep'], Cmd: ['a', 'b'] };
    expect(processArgs(img, {})).toEqual(['/ep', 'a', 'b']);
    expect(processArgs(img, { args: ['x'] })).toEqual(['/ep', 'x']);
    expect(processArgs(img, { entrypoint: ['/other'] })).toEqual(['/other']);
    expect(processArgs(img, { entrypoint: ['/other'], args: ['y'] })).toEqual(['/other', 'y']);
    expect(processArgs(img, { entrypoint: [], args: ['sh'] })).toEqual(['sh']);
    expect(() => processArgs({}, {})).toThrow(/no command/);
  });

  it('env: PATH default, container=skiff, image then options, HOME, HOSTNAME, TERM with tty', () => {
    const s = gen({ Env: ['A=1', 'B=2'], Cmd: ['sh'] }, { env: ['B=3'], hostname: 'box', tty: true });
    expect(s.process.env).toEqual(['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'container=skiff', 'TERM=xterm', 'A=1', 'B=3', 'HOME=/root', 'HOSTNAME=box']);
    const p = gen({ Env: ['PATH=/x'], Cmd: ['sh'] }, {});
    expect(p.process.env[0]).toBe('PATH=/x');
    expect(p.process.env).not.toContain('TERM=xterm');
    expect(generateSpec({ Cmd: ['sh'] }, {}, { ...ctx, user: { uid: 5, gid: 5, additionalGids: [] } }).process.env).toContain('HOME=/');
    expect(() => gen({ Cmd: ['sh'], Env: ['novalue'] })).toThrow(/KEY=VALUE/);
  });

  it('RU-03 cwd: /proc paths and relative dirs rejected, /../.. cleaned', () => {
    for (const w of ['/proc/self/fd/7', '/proc/self/cwd', '/proc/1/root', '/proc', '/x/../proc/self']) expect(() => gen({ Cmd: ['sh'], WorkingDir: w }), w).toThrow(/proc/);
    expect(() => gen({ Cmd: ['sh'], WorkingDir: 'relative/dir' })).toThrow(/absolute/);
    expect(gen({ Cmd: ['sh'], WorkingDir: '/../..' }).process.cwd).toBe('/');
    expect(gen({ Cmd: ['sh'], WorkingDir: '/a/./b//' }).process.cwd).toBe('/a/b');
    expect(gen({ Cmd: ['sh'] }).process.cwd).toBe('/');
    expect(checkWorkdir('/srv')).toBe('/srv');
  });

  it('BU-05 WORKDIR under /proc is rejected for RUN steps too', () => {
    expect(() => checkWorkdir('/proc/self/fd/7')).toThrow(/CVE|proc/);
    expect(() => gen({ Cmd: ['ls'] }, { workdir: '/proc/1/root' })).toThrow(/proc/);
  });

  it('BU-12 capabilities: podman defaults, add/drop, inheritable always empty', () => {
    const s = gen({ Cmd: ['sh'] }, { capAdd: ['net_admin'], capDrop: ['CAP_KILL'] });
    const c = s.process.capabilities!;
    expect(c.inheritable).toEqual([]);
    expect(c.ambient).toEqual([]);
    expect(c.bounding).toContain('CAP_NET_ADMIN');
    expect(c.bounding).not.toContain('CAP_KILL');
    expect(c.effective).toEqual(c.bounding);
    expect(capabilitySet()).toEqual([...DEFAULT_CAPS].sort());
    expect(capabilitySet({ drop: ['all'], add: ['chown'] })).toEqual(['CAP_CHOWN']);
    expect(capabilitySet({ add: ['ALL'] }).length).toBe(41);
    expect(() => capabilitySet({ add: ['CAP_BOGUS'] })).toThrow(/unknown capability/);
    expect(s.process.noNewPrivileges).toBe(true);
    expect(gen({ Cmd: ['sh'] }, { noNewPrivileges: false }).process.noNewPrivileges).toBe(false);
  });

  it('rlimits default to podman values clamped to the host hard limits', () => {
    const s = gen({ Cmd: ['sh'] });
    expect(s.process.rlimits).toEqual([{ type: 'RLIMIT_NOFILE', soft: 20000, hard: 20000 }, { type: 'RLIMIT_NPROC', soft: 96365, hard: 96365 }]);
    const warnings: string[] = [];
    expect(clampRlimits([parseUlimit('nofile=100:30000'), parseUlimit('core=-1')], { RLIMIT_NOFILE: 20000 }, (m) => warnings.push(m), [])).toEqual([
      { type: 'RLIMIT_NOFILE', soft: 100, hard: 20000 },
      { type: 'RLIMIT_CORE', soft: Number.MAX_SAFE_INTEGER, hard: Number.MAX_SAFE_INTEGER },
    ]);
    expect(warnings).toHaveLength(1);
    expect(() => parseUlimit('nofile=10:5')).toThrow();
    expect(() => parseUlimit('bogus=1')).toThrow();
    expect(parseProcLimits('Max open files            1024                 20000                files     \nMax core file size        0                    unlimited            bytes\n')).toEqual({ RLIMIT_NOFILE: 20000, RLIMIT_CORE: Number.MAX_SAFE_INTEGER });
  });

  it('a runtime inside the rootless user namespace binds the host /sys read-only for the host network (sysfs cannot be mounted there)', () => {
    const inside = { ...ctx, runtimeInUserNamespace: true };
    const host = generateSpec({ Cmd: ['sh'] }, { network: 'host' }, inside).mounts.find((m) => m.destination === '/sys')!;
    expect(host).toMatchObject({ type: 'bind', source: '/sys' });
    expect(host.options).toEqual(expect.arrayContaining(['rbind', 'ro']));
    // its own network namespace: sysfs as usual; outside a user namespace: sysfs even for the host network
    expect(generateSpec({ Cmd: ['sh'] }, { network: 'none' }, inside).mounts.find((m) => m.destination === '/sys')!.type).toBe('sysfs');
    expect(generateSpec({ Cmd: ['sh'] }, { network: 'host' }, ctx).mounts.find((m) => m.destination === '/sys')!.type).toBe('sysfs');
  });

  it('mounts, namespaces, masked/readonly paths, hostname, resources', () => {
    const s = gen({ Cmd: ['sh'] }, { hostname: 'h1', memory: 64 << 20, cpus: 1.5, pidsLimit: 100, mounts: [{ type: 'tmpfs', destination: '/scratch' }], readOnly: true, cgroupsPath: '/skiff/x', sysctls: { 'net.ipv4.ip_forward': '1' } });
    expect(s.mounts.map((m) => m.destination)).toEqual(['/proc', '/dev', '/dev/pts', '/dev/shm', '/dev/mqueue', '/sys', '/sys/fs/cgroup', '/scratch']);
    expect(s.mounts.find((m) => m.destination === '/dev/shm')!.options).toContain('size=65536k');
    expect(s.mounts.find((m) => m.destination === '/sys')!.options).toContain('ro');
    expect(s.linux.namespaces.map((n) => n.type)).toEqual(['pid', 'ipc', 'uts', 'mount', 'network']);
    expect(gen({ Cmd: ['sh'] }, { network: 'host' }).linux.namespaces.map((n) => n.type)).not.toContain('network');
    expect(s.linux.maskedPaths).toEqual(MASKED_PATHS);
    expect(s.linux.readonlyPaths).toEqual(READONLY_PATHS);
    expect(s.linux.rootfsPropagation).toBe('rprivate');
    expect(s.root).toEqual({ path: '/b/rootfs', readonly: true });
    expect(s.hostname).toBe('h1');
    expect(s.linux.resources).toMatchObject({ memory: { limit: 64 << 20 }, cpu: { quota: 150000, period: 100000 }, pids: { limit: 100 } });
    expect(s.linux.sysctl).toEqual({ 'net.ipv4.ip_forward': '1' });
    expect(() => gen({ Cmd: ['sh'] }, { sysctls: { 'kernel.panic': '1' } })).toThrow(/not namespaced/);
    expect(() => gen({ Cmd: ['sh'] }, { hostname: 'bad host' })).toThrow(/hostname/);
    expect(s.process.oomScoreAdj).toBeUndefined();
    const e = gen({ Cmd: ['sh'] }, { etcFiles: { hosts: '/c/hosts', resolvConf: '/c/resolv.conf', hostname: '/c/hostname', containerEnv: '/c/.containerenv' } });
    expect(e.mounts.filter((m) => m.type === 'bind').map((m) => `${m.destination}=${m.source}`)).toEqual(['/etc/hosts=/c/hosts', '/etc/resolv.conf=/c/resolv.conf', '/etc/hostname=/c/hostname', '/run/.containerenv=/c/.containerenv']);
    const d = gen({ Cmd: ['sh'] }, { devices: [{ type: 'c', path: '/dev/fuse', major: 10, minor: 229, access: 'rw' }] });
    expect(d.linux.devices).toEqual([{ type: 'c', path: '/dev/fuse', major: 10, minor: 229, fileMode: 0o666, uid: 0, gid: 0 }]);
    expect(d.linux.resources!.devices).toEqual([{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 10, minor: 229, access: 'rw' }]);
    const u = gen({ Cmd: ['sh'] }, { uidMappings: [{ containerID: 0, hostID: 1000, size: 1 }] });
    expect(u.linux.namespaces.map((n) => n.type)).toContain('user');
    expect(u.linux.gidMappings).toEqual([{ containerID: 0, hostID: 1000, size: 1 }]);
    const p = gen({ Cmd: ['sh'] }, { privileged: true });
    expect(p.linux.maskedPaths).toEqual([]);
    expect(p.linux.seccomp).toBeUndefined();
  });

  it('BU-10 mount option validation', () => {
    expect(() => parseMountFlag('type=bind,source=/a,target=/b,bind-propagation=suid')).toThrow(/invalid mount option bind-propagation=suid/);
    expect(() => parseMountFlag('type=bind,source=/a,target=/b,frobnicate')).toThrow(/invalid mount option/);
    expect(() => parseMountFlag('type=bind,source=/a,target=rel/b')).toThrow(/absolute/);
    expect(() => parseMountFlag('type=bind,source=/a,target=/proc/sys')).toThrow(/\/proc/);
    expect(() => parseMountFlag('type=bind,source=/a,target=/sys')).toThrow(/\/sys/);
    expect(() => parseMountFlag('type=bind,source=/a,target=/x/../proc')).toThrow(/\/proc/);
    expect(() => parseMountFlag('type=volume,target=/a')).toThrow(/mount type/);
    expect(() => validateMount({ type: 'tmpfs', destination: '/t', options: ['bind'] })).toThrow(/invalid mount option/);
    expect(() => validateMount({ type: 'bind', source: '/a', destination: '/t', options: ['ro', 'rw'] })).toThrow();
    expect(() => validateMount({ type: 'bind', source: 'rel', destination: '/t' })).toThrow(/absolute/);
    expect(validateMount(parseMountFlag('type=bind,source=/a,target=/b/,ro,bind-propagation=rslave'))).toEqual({ destination: '/b', type: 'bind', source: '/a', options: ['rbind', 'rslave', 'ro'] });
    expect(validateMount(parseMountFlag('type=tmpfs,target=/t,tmpfs-size=10m'))).toEqual({ destination: '/t', type: 'tmpfs', source: 'tmpfs', options: ['nodev', 'nosuid', 'size=10m', 'mode=1777'] });
  });
});

describe('validateSpec', () => {
  it('RU-15 generated configs validate and carry the hardening fields', () => {
    const s = gen({ Cmd: ['sh'] }, { mounts: [{ type: 'bind', source: '/tmp', destination: '/mnt' }] });
    expect(specProblems(s)).toEqual([]);
    expect(s.linux.maskedPaths!.length).toBeGreaterThan(0);
    expect(s.linux.readonlyPaths!.length).toBeGreaterThan(0);
    expect(s.linux.seccomp).toBeDefined();
    expect(s.process.noNewPrivileges).toBe(true);
    expect(s.linux.rootfsPropagation).toBe('rprivate');
  });

  it('RU-15 reports every problem of a broken config', () => {
    const s = gen({ Cmd: ['sh'] });
    const bad = structuredClone(s);
    bad.ociVersion = '0.9';
    bad.root.path = '';
    bad.process.cwd = 'rel';
    bad.process.args = [];
    bad.process.env.push('NOEQ');
    bad.process.capabilities!.bounding.push('CAP_FAKE');
    bad.process.capabilities!.inheritable.push('CAP_CHOWN');
    bad.process.rlimits!.push({ type: 'RLIMIT_BOGUS', soft: 1, hard: 1 }, { type: 'RLIMIT_CORE', soft: 5, hard: 1 });
    bad.mounts.push({ destination: 'relative' });
    bad.linux.namespaces.push({ type: 'pid' });
    bad.linux.uidMappings = [{ containerID: 0, hostID: 1, size: 10 }, { containerID: 5, hostID: 100, size: 1 }];
    delete bad.linux.maskedPaths;
    delete bad.linux.readonlyPaths;
    bad.linux.rootfsPropagation = 'rshared';
    const p = specProblems(bad);
    for (const re of [/ociVersion/, /root.path/, /cwd/, /args is empty/, /NOEQ/, /CAP_FAKE/, /inheritable/, /RLIMIT_BOGUS/, /soft 5 exceeds/, /relative/, /pid is listed twice/, /without a user namespace/, /overlap/, /maskedPaths/, /readonlyPaths/, /shared/]) {
      expect(p.some((x) => re.test(x)), String(re)).toBe(true);
    }
    expect(() => validateSpec(bad)).toThrow(/generated runtime config is invalid/);
    const cwdProc = structuredClone(s);
    cwdProc.process.cwd = '/proc/self/fd/7';
    expect(specProblems(cwdProc)).toEqual(['process.cwd /proc/self/fd/7 is under /proc']);
  });
});

describe('generateSpec joinNamespaces', () => {
  it('joined kinds get the path, the others a fresh namespace; a joined uts namespace takes no hostname', () => {
    const s = gen({ Cmd: ['sh'] }, { hostname: 'box', network: 'bridge', netnsPath: '/run/netns/x', joinNamespaces: { network: '/proc/7/ns/net', ipc: '/proc/7/ns/ipc', uts: '/proc/7/ns/uts' } });
    const byType = Object.fromEntries(s.linux.namespaces!.map((n) => [n.type, n.path]));
    expect(byType).toEqual({ pid: undefined, ipc: '/proc/7/ns/ipc', uts: '/proc/7/ns/uts', mount: undefined, network: '/proc/7/ns/net' });
    expect(s.hostname).toBeUndefined();
    expect(specProblems(s)).toEqual([]);
    const own = gen({ Cmd: ['sh'] }, { hostname: 'box', joinNamespaces: { pid: '/proc/7/ns/pid' } });
    expect(own.hostname).toBe('box');
    expect(own.linux.namespaces!.find((n) => n.type === 'pid')?.path).toBe('/proc/7/ns/pid');
    expect(own.linux.namespaces!.find((n) => n.type === 'network')?.path).toBeUndefined();
  });
});
