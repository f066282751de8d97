import { SkiffError } from '../errors.ts';
import type { ContainerConfig } from '../oci/types.ts';
import { capabilitySet } from './capabilities.ts';
import type { EtcFiles } from './etc-files.ts';
import { checkHostname } from './etc-files.ts';
import { cleanContainerPath, isUnder, validateMount, type MountRequest } from './mounts.ts';
import { clampRlimits, type HostLimits } from './rlimits.ts';
import type { ResolvedUser } from './user.ts';
import type { RuntimeSpec, SpecDevice, SpecDeviceCgroup, SpecIDMapping, SpecMount, SpecNamespace, SpecRlimit, SpecSeccomp } from './types.ts';

/** The runtime-spec version skiff writes (what runc 1.1 understands). */
export const OCI_VERSION = '1.0.2';

/** The PATH a container gets when its image sets none. */
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** podman's masked paths. */
export const MASKED_PATHS = ['/proc/acpi', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list', '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware', '/sys/fs/selinux', '/sys/dev/block'];
/** podman's read-only paths. */
export const READONLY_PATHS = ['/proc/asound', '/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

/** The namespace kinds a container can share with another (the runtime spec's names). */
export type JoinableNamespace = 'network' | 'ipc' | 'uts' | 'pid';

/** What a container runs with, beyond its image config. All optional; podman's defaults otherwise. */
export interface RunOptions {
  /** replaces the image Cmd when non-empty */
  args?: readonly string[];
  /** `--entrypoint`: replaces the image Entrypoint and clears Cmd unless args are given ([] clears it) */
  entrypoint?: readonly string[];
  /** `-e K=V` entries, applied after the image Env */
  env?: readonly string[];
  /** `-w` */
  workdir?: string;
  tty?: boolean;
  hostname?: string;
  capAdd?: readonly string[];
  capDrop?: readonly string[];
  privileged?: boolean;
  /** default true (build RUN always sets it; podman run's default is false — callers pass false) */
  noNewPrivileges?: boolean;
  ulimits?: readonly SpecRlimit[];
  mounts?: readonly MountRequest[];
  readOnly?: boolean;
  network?: 'none' | 'host' | 'bridge';
  /** a network namespace to join (bridge networking prepared by the caller) */
  netnsPath?: string;
  /**
   * namespaces to join by path (`--network/--ipc/--uts/--pid container:ID`, pod members): each listed kind gets
   * `path` instead of a fresh namespace (network's wins over `netnsPath`); a joined uts namespace takes no hostname
   */
  joinNamespaces?: Partial<Record<JoinableNamespace, string>>;
  cgroupsPath?: string;
  /** bytes */
  memory?: number;
  cpus?: number;
  pidsLimit?: number;
  annotations?: Record<string, string>;
  devices?: readonly (SpecDevice & { access?: string })[];
  sysctls?: Record<string, string>;
  /** user-namespace mappings (rootless or --userns) */
  uidMappings?: readonly SpecIDMapping[];
  gidMappings?: readonly SpecIDMapping[];
  /** generated files to bind-mount (writeEtcFiles) */
  etcFiles?: EtcFiles;
  /** size of /dev/shm in bytes (default 64 MiB) */
  shmSize?: number;
  onWarning?: (msg: string) => void;
}

/** Inputs of generateSpec that came from I/O: the rootfs path, resolved user, seccomp filter, host limits. */
export interface SpecContext {
  rootfs: string;
  user: ResolvedUser;
  seccomp: SpecSeccomp | undefined;
  hostLimits: HostLimits;
  /**
   * the runtime itself runs inside a user namespace (rootless skiff): with the host's network namespace, which
   * that user namespace does not own, sysfs cannot be mounted, so /sys is bound read-only as with `uidMappings`
   */
  runtimeInUserNamespace?: boolean;
}

/**
 * Validates a working directory (RU-03, BU-05): absolute, cleaned, never /proc or under it. EINVALID before any
 * config is written. Empty means `/`. Pure.
 */
export function checkWorkdir(w: string | undefined): string {
  if (w === undefined || w === '') return '/';
  const c = cleanContainerPath(w, 'working directory');
  if (isUnder(c, '/proc')) throw new SkiffError('EINVALID', `invalid working directory ${JSON.stringify(w)}: /proc is not allowed`, { hint: 'a working directory under /proc can reach host files (CVE-2024-21626)' });
  return c;
}

/**
 * The process arguments with podman's precedence: `--entrypoint` replaces Entrypoint and drops the image Cmd;
 * non-empty `args` replace Cmd. EINVALID "no command specified" when nothing is left. Pure.
 */
export function processArgs(image: ContainerConfig, o: Pick<RunOptions, 'args' | 'entrypoint'>): string[] {
  const ep = o.entrypoint !== undefined ? [...o.entrypoint] : [...(image.Entrypoint ?? [])];
  let cmd: string[];
  if (o.args && o.args.length > 0) cmd = [...o.args];
  else if (o.entrypoint !== undefined) cmd = [];
  else cmd = [...(image.Cmd ?? [])];
  const args = [...ep, ...cmd];
  if (args.length === 0) throw new SkiffError('EINVALID', 'no command or entrypoint specified', { hint: 'give a command after the image name' });
  return args;
}

function mergeEnv(layers: readonly (readonly string[])[]): string[] {
  const m = new Map<string, string>();
  for (const l of layers) {
    for (const e of l) {
      const i = e.indexOf('=');
      if (i <= 0) throw new SkiffError('EINVALID', `invalid environment variable ${JSON.stringify(e)}: want KEY=VALUE`);
      m.set(e.slice(0, i), e);
    }
  }
  return [...m.values()];
}

const SYSCTL_OK = [/^kernel\.msg[a-z_]+$/, /^kernel\.sem$/, /^kernel\.shm[a-z_]+$/, /^fs\.mqueue\.[a-z_]+$/, /^net\.[a-z0-9_.]+$/];

function baseMounts(o: RunOptions, userns: boolean, runtimeInUserns = false): SpecMount[] {
  const shm = o.shmSize ?? 64 * 1024 * 1024;
  const m: SpecMount[] = [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', ...(userns ? [] : ['gid=5'])] },
    { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', `size=${Math.floor(shm / 1024)}k`] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
  ];
  if ((userns || runtimeInUserns) && o.network === 'host') m.push({ destination: '/sys', type: 'bind', source: '/sys', options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'] });
  else m.push({ destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', o.privileged ? 'rw' : 'ro'] });
  if (!userns) m.push({ destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', o.privileged ? 'rw' : 'ro'] });
  return m;
}

/**
 * Generates a runtime-spec config from an image config and run options, with podman's defaults (see the
 * module's tests for each field). Validates every input it takes from the image or the user (workdir, env,
 * mounts, hostname, sysctls) and throws EINVALID before anything is written. Pure: I/O-derived inputs come in
 * `ctx`. Run validateSpec on the result before runc sees it.
 */
export function generateSpec(image: ContainerConfig, o: RunOptions, ctx: SpecContext): RuntimeSpec {
  const userns = (o.uidMappings?.length ?? 0) > 0;
  const network = o.network ?? 'none';
  const hostname = checkHostname(o.hostname ?? 'localhost');
  const args = processArgs(image, o);
  const cwd = checkWorkdir(o.workdir ?? image.WorkingDir);
  const defaults = ['PATH=' + DEFAULT_PATH, 'container=skiff', ...(o.tty ? ['TERM=xterm'] : [])];
  let env = mergeEnv([defaults, image.Env ?? [], o.env ?? []]);
  if (!env.some((e) => e.startsWith('HOME='))) env.push(`HOME=${ctx.user.home && ctx.user.home.startsWith('/') ? ctx.user.home : '/'}`);
  env = mergeEnv([env, [`HOSTNAME=${hostname}`]]);
  const caps = capabilitySet({ add: o.capAdd, drop: o.capDrop, privileged: o.privileged });
  const mounts = baseMounts(o, userns, ctx.runtimeInUserNamespace === true);
  const user = (o.mounts ?? []).map(validateMount);
  const dests = new Set(user.map((m) => m.destination));
  if (o.etcFiles) {
    const f = o.etcFiles;
    const gen: [string, string][] = [['/etc/hosts', f.hosts], ['/etc/resolv.conf', f.resolvConf], ['/etc/hostname', f.hostname], ['/run/.containerenv', f.containerEnv]];
    for (const [dest, src] of gen) if (!dests.has(dest)) mounts.push({ destination: dest, type: 'bind', source: src, options: ['bind', 'rprivate', ...(dest === '/run/.containerenv' ? ['ro'] : [])] });
  }
  for (const m of user) {
    const i = mounts.findIndex((b) => b.destination === m.destination);
    if (i >= 0) mounts.splice(i, 1); // a user mount at /dev/shm etc. replaces the default
    mounts.push(m);
  }
  const join = o.joinNamespaces ?? {};
  const ns = (type: JoinableNamespace): SpecNamespace => (join[type] ? { type, path: join[type] } : { type });
  const namespaces: SpecNamespace[] = [ns('pid'), ns('ipc'), ns('uts'), { type: 'mount' }];
  if (join.network) namespaces.push(ns('network'));
  else if (network !== 'host') namespaces.push(o.netnsPath ? { type: 'network', path: o.netnsPath } : { type: 'network' });
  if (userns) namespaces.push({ type: 'user' });
  const sysctl: Record<string, string> = {};
  for (const [k, v] of Object.entries(o.sysctls ?? {})) {
    if (!SYSCTL_OK.some((r) => r.test(k))) throw new SkiffError('EINVALID', `sysctl ${k} is not allowed: it is not namespaced`);
    if (k.startsWith('net.') && network === 'host') throw new SkiffError('EINVALID', `sysctl ${k} cannot be set with the host network`);
    sysctl[k] = v;
  }
  const devices: SpecDevice[] = [];
  const devCgroup: SpecDeviceCgroup[] = [{ allow: o.privileged === true, access: 'rwm' }];
  for (const d of o.devices ?? []) {
    const { access, ...dev } = d;
    devices.push({ fileMode: 0o666, uid: 0, gid: 0, ...dev, path: cleanContainerPath(dev.path, 'device path') });
    if (!/^[rwm]{1,3}$/.test(access ?? 'rwm')) throw new SkiffError('EINVALID', `invalid device access ${JSON.stringify(access)}: want a combination of r, w, m`);
    devCgroup.push({ allow: true, type: dev.type, major: dev.major, minor: dev.minor, access: access ?? 'rwm' });
  }
  const spec: RuntimeSpec = {
    ociVersion: OCI_VERSION,
    process: {
      terminal: o.tty === true,
      user: { uid: ctx.user.uid, gid: ctx.user.gid, umask: 0o022, ...(ctx.user.additionalGids.length ? { additionalGids: [...ctx.user.additionalGids] } : {}) },
      args,
      env,
      cwd,
      capabilities: { bounding: [...caps], effective: [...caps], permitted: [...caps], inheritable: [], ambient: [] },
      rlimits: clampRlimits(o.ulimits ?? [], ctx.hostLimits, o.onWarning),
      noNewPrivileges: o.noNewPrivileges ?? true,
    },
    root: { path: ctx.rootfs, readonly: o.readOnly === true },
    ...(!join.uts && { hostname }),
    mounts,
    linux: {
      namespaces,
      devices,
      resources: { devices: devCgroup },
      rootfsPropagation: 'rprivate',
      maskedPaths: o.privileged ? [] : [...MASKED_PATHS],
      readonlyPaths: o.privileged ? [] : [...READONLY_PATHS],
    },
  };
  if (o.annotations && Object.keys(o.annotations).length) spec.annotations = { ...o.annotations };
  if (Object.keys(sysctl).length) spec.linux.sysctl = sysctl;
  if (userns) {
    spec.linux.uidMappings = (o.uidMappings ?? []).map((m) => ({ ...m }));
    spec.linux.gidMappings = (o.gidMappings ?? o.uidMappings ?? []).map((m) => ({ ...m }));
  }
  if (ctx.seccomp && !o.privileged) spec.linux.seccomp = ctx.seccomp;
  if (o.cgroupsPath) spec.linux.cgroupsPath = o.cgroupsPath;
  const res = spec.linux.resources!;
  if (o.memory !== undefined) {
    if (!Number.isSafeInteger(o.memory) || o.memory < 6 * 1024 * 1024) throw new SkiffError('EINVALID', `invalid memory limit ${o.memory}: at least 6 MiB`);
    res.memory = { limit: o.memory };
  }
  if (o.cpus !== undefined) {
    if (!(o.cpus > 0) || !Number.isFinite(o.cpus)) throw new SkiffError('EINVALID', `invalid --cpus ${o.cpus}`);
    res.cpu = { period: 100000, quota: Math.round(o.cpus * 100000) };
  }
  if (o.pidsLimit !== undefined && o.pidsLimit !== 0) {
    if (!Number.isSafeInteger(o.pidsLimit) || o.pidsLimit < -1) throw new SkiffError('EINVALID', `invalid --pids-limit ${o.pidsLimit}`);
    res.pids = { limit: o.pidsLimit };
  }
  return spec;
}
