import { parseSecretFlag } from '../containers/secrets.ts';
import { readFileSync, statSync } from 'node:fs';
import type { Command } from 'commander';
import { SkiffError } from '../../shared/errors.ts';
import { parseMountFlag, type MountRequest } from '../../shared/runtime/mounts.ts';
import { parseUlimit } from '../../shared/runtime/rlimits.ts';
import { isRootless } from '../../shared/runtime/rootless.ts';
import type { SpecDevice } from '../../shared/runtime/types.ts';
import type { CreateOptions } from '../containers/create.ts';
import type { SdNotifyMode } from '../containers/create-options.ts';
import { unitLabels } from '../systemd/systemctl.ts';
import { parsePublishFlags } from '../containers/net-wiring.ts';
import { parseSignal } from '../containers/signals.ts';
import type { HealthConfig } from '../containers/state.ts';
import { collect, goBool } from '../../shared/cli/flags.ts';
import { parseByteSize, parseDuration } from '../../shared/cli/units.ts';
import type { RegistryOptions } from '../../shared/registry/types.ts';
import { registryOptionsOf } from './registry-options.ts';
import { parsePort, parseRestart, parseVolume } from '../ops/create-values.ts';

export { parsePort, parseRestart, parseVolume };


/** Adds podman's `create`/`run` flags to `cmd` (positional parsing stops at the image, as podman). */
export function addCreateFlags(cmd: Command): Command {
  return cmd
    .option('--name <name>', 'assign a name to the container')
    .option('-e, --env <env>', 'set environment variables', collect, [])
    .option('--env-file <file>', 'read in a file of environment variables', collect, [])
    .option('--env-host', 'use all current host environment variables in container')
    .option('-i, --interactive', 'keep STDIN open even if not attached')
    .option('-t, --tty', 'allocate a pseudo-TTY for container')
    .option('-w, --workdir <dir>', 'working directory inside the container')
    .option('-u, --user <user>', 'username or UID (format: <name|uid>[:<group|gid>])')
    .option('--entrypoint <cmd>', 'overwrite the default ENTRYPOINT of the image')
    .option('-h, --hostname <name>', 'set container hostname')
    .option('--add-host <host:ip>', 'add a custom host-to-IP mapping', collect, [])
    .option('--dns <ip>', 'set custom DNS servers', collect, [])
    .option('--dns-search <domain>', 'set custom DNS search domains', collect, [])
    .option('--dns-option <opt>', 'set custom DNS options', collect, [])
    .option('--read-only', 'make containers root filesystem read-only')
    .option('--cap-add <cap>', 'add capabilities to the container', collect, [])
    .option('--cap-drop <cap>', 'drop capabilities from the container', collect, [])
    .option('--privileged', 'give extended privileges to container')
    .option('--security-opt <opt>', 'security options (no-new-privileges, seccomp=PROFILE|unconfined)', collect, [])
    .option('-m, --memory <limit>', 'memory limit (format: <number>[<unit>], where unit = b, k, m or g)')
    .option('--cpus <n>', 'number of CPUs')
    .option('--pids-limit <n>', 'tune container pids limit (set -1 for unlimited)')
    .option('--ulimit <name=soft:hard>', 'ulimit options', collect, [])
    .option('--init', 'run an init inside the container that forwards signals and reaps processes')
    .option('--restart <policy>', 'restart policy: no, on-failure[:max], always, unless-stopped', 'no')
    .option('--health-cmd <cmd>', 'set a healthcheck command for the container')
    .option('--health-interval <d>', 'time between healthchecks', '30s')
    .option('--health-retries <n>', 'retries before a container is unhealthy', '3')
    .option('--health-timeout <d>', 'maximum time a healthcheck may take', '30s')
    .option('--health-start-period <d>', 'initialization time before failures count', '0s')
    .option('--stop-signal <sig>', 'signal to stop a container')
    .option('--stop-timeout <s>', 'timeout (in seconds) to stop a container')
    .option('-l, --label <k=v>', 'set metadata on container', collect, [])
    .option('--pull <policy>', 'pull image policy: always, missing, never, newer', 'missing')
    .option('--device <dev>', 'add a host device to the container', collect, [])
    .option('--group-add <group>', 'add additional groups', collect, [])
    .option('--secret <secret>', 'add secret to container: NAME[,type=mount|env][,target=…][,uid=,gid=,mode=]', collect, [])
    .option('--sysctl <k=v>', 'sysctl options', collect, [])
    .option('--preserve-fds <n>', 'pass a number of additional file descriptors into the container', '0')
    .option('--tls-verify <bool>', 'require HTTPS and verify certificates when pulling')
    .option('--authfile <path>', 'path of the authentication file (for --pull)')
    .option('--creds <user[:password]>', 'use USERNAME[:PASSWORD] for accessing the registry (for --pull)')
    .option('--rm', 'remove container (and pod if created) after exit')
    .option('-v, --volume <spec>', 'bind mount a volume: SRC:DST[:OPTS]', collect, [])
    .option('--mount <spec>', 'attach a filesystem mount: type=bind|tmpfs,…', collect, [])
    .option('--tmpfs <dst[:opts]>', 'mount a temporary filesystem', collect, [])
    .option('--network <mode>', 'network mode: none, host, bridge, pasta, NAME (default: bridge for root, pasta rootless)')
    .option('-p, --publish <spec>', 'publish a container port to the host: [ip:][hostPort:]containerPort[/proto]', collect, [])
    .option('-P, --publish-all', 'publish all exposed ports to random ports on the host')
    .option('--userns <mode>', 'user namespace to use: host (default) or keep-id (rootless)')
    .option('--ipc <mode>', 'IPC namespace to use: private (default) or container:ID')
    .option('--uts <mode>', 'UTS namespace to use: private (default) or container:ID')
    .option('--pid <mode>', 'PID namespace to use: private (default) or container:ID')
    .option('--pod <pod>', 'run container in an existing pod (NAME, ID or new:NAME)')
    .option('--pod-id-file <file>', 'read the pod ID from the file')
    // what systemd units run (generate systemd, systemd-generator)
    .option('--cidfile <file>', 'write the container ID to the file')
    .option('--sdnotify <mode>', 'control sd-notify behavior: conmon, container or ignore', 'container')
    .option('--replace', 'if a container with the same name exists, replace it')
    .option('--cgroups <mode>', 'control container cgroup configuration: enabled, no-conmon, split or disabled', 'enabled')
    .option('--root <dir>', 'store root (same as the global --root)');
}

/** Raw commander values of the create flags. */
export interface CreateFlags {
  name?: string; env: string[]; envFile: string[]; envHost?: boolean; interactive?: boolean; tty?: boolean; workdir?: string; user?: string;
  entrypoint?: string; hostname?: string; addHost: string[]; dns: string[]; dnsSearch: string[]; dnsOption: string[]; readOnly?: boolean;
  capAdd: string[]; capDrop: string[]; privileged?: boolean; securityOpt: string[]; memory?: string; cpus?: string; pidsLimit?: string;
  ulimit: string[]; init?: boolean; restart: string; healthCmd?: string; healthInterval: string; healthRetries: string; healthTimeout: string;
  healthStartPeriod: string; stopSignal?: string; stopTimeout?: string; label: string[]; pull: string; device: string[]; groupAdd: string[]; secret?: string[];
  sysctl: string[]; preserveFds: string; tlsVerify?: string; authfile?: string; creds?: string; rm?: boolean; volume: string[]; mount: string[]; tmpfs: string[]; network?: string;
  publish: string[]; publishAll?: boolean; userns?: string; ipc?: string; uts?: string; pid?: string; pod?: string; podIdFile?: string;
  cidfile?: string; sdnotify?: string; replace?: boolean; cgroups?: string;
}

/**
 * Parses `--network/--ipc/--uts/--pid container:ID` (podman's spelling) into the namespaces to share. `private`
 * and '' mean a namespace of its own; `host` and other modes are EINVALID with a one-line reason. Pure.
 */
export function parseShareFlags(f: Pick<CreateFlags, 'network' | 'ipc' | 'uts' | 'pid'>): Partial<Record<'network' | 'ipc' | 'uts' | 'pid', string>> {
  const out: Partial<Record<'network' | 'ipc' | 'uts' | 'pid', string>> = {};
  if (f.network?.startsWith('container:')) out.network = f.network.slice('container:'.length);
  for (const [kind, v] of [['ipc', f.ipc], ['uts', f.uts], ['pid', f.pid]] as const) {
    if (v === undefined || v === '' || v === 'private') continue;
    if (!v.startsWith('container:')) throw new SkiffError('EINVALID', `--${kind} ${v} is not supported: use private or container:ID`);
    out[kind] = v.slice('container:'.length);
  }
  for (const [k, v] of Object.entries(out)) if (v === '') throw new SkiffError('EINVALID', `--${k === 'network' ? 'network' : k} container: needs a container name or ID`);
  return out;
}

/** The pod `--pod` or `--pod-id-file` names (podman: both given is an error). Reads the file. */
export function podRefOf(f: Pick<CreateFlags, 'pod' | 'podIdFile'>): string | undefined {
  if (f.pod !== undefined && f.podIdFile !== undefined) throw new SkiffError('EINVALID', 'cannot specify both --pod and --pod-id-file');
  if (f.podIdFile !== undefined) {
    const id = readFileSync(f.podIdFile, 'utf8').trim();
    if (id === '') throw new SkiffError('EINVALID', `--pod-id-file ${f.podIdFile} is empty`);
    return id;
  }
  if (f.pod === '') throw new SkiffError('EINVALID', '--pod "": want a pod name or ID');
  return f.pod;
}

/**
 * Parses `--userns` as podman 4.3: '' and `host` are the default (undefined), `keep-id` asks for the invoking
 * user's ids kept inside (rootless only; createContainer refuses it for root). podman's other modes are EINVALID
 * (not supported here), and anything else is podman's "unrecognized namespace mode". Pure.
 */
export function parseUserns(v: string | undefined): 'keep-id' | undefined {
  if (v === undefined || v === '' || v === 'host') return undefined;
  if (v === 'keep-id') return 'keep-id';
  const mode = v.split(':')[0]!;
  if (['keep-id', 'auto', 'nomap', 'private', 'ns', 'container'].includes(mode)) {
    throw new SkiffError('EINVALID', `--userns=${v} is not supported`, { hint: 'use --userns=keep-id or --userns=host' });
  }
  throw new SkiffError('EINVALID', `unrecognized namespace mode ${v} passed`);
}

/**
 * Registry options of the pull `--pull` may do, from run/create's `--tls-verify`, `--authfile` and `--creds`
 * (the same parsing as `pull`: registryOptionsOf; EINVALID for a bad --creds or --tls-verify). Pure.
 */
export function createRegistryOptions(f: Pick<CreateFlags, 'tlsVerify' | 'authfile' | 'creds'>): RegistryOptions {
  return { ...registryOptionsOf({ ...(f.authfile !== undefined && { authfile: f.authfile }), ...(f.creds !== undefined && { creds: f.creds }) }), ...registryFromCreateFlags(f) };
}

/**
 * `--mount type=volume,src=NAME,dst=/path[,ro|readonly[=true]|rw][,volume-nocopy]` as a named volume (podman's keys);
 * without `src`, an anonymous volume (name ''), as podman. Undefined for other mount types. EINVALID for unknown
 * keys or a missing destination.
 */
export function parseVolumeMountFlag(text: string): { name: string; destination: string; options: string[] } | undefined {
  const parts = text.split(',');
  if (!parts.some((p) => p === 'type=volume')) return undefined;
  let name: string | undefined;
  let dst: string | undefined;
  const options: string[] = [];
  for (const part of parts) {
    const eq = part.indexOf('=');
    const k = eq < 0 ? part : part.slice(0, eq);
    const v = eq < 0 ? undefined : part.slice(eq + 1);
    switch (k) {
      case 'type': break;
      case 'src': case 'source': name = v; break;
      case 'dst': case 'target': case 'destination': dst = v; break;
      case 'ro': case 'readonly':
        if (v === undefined || v === 'true' || v === '1') options.push('ro');
        else if (v !== 'false' && v !== '0') throw new SkiffError('EINVALID', `invalid mount option ${part}`);
        break;
      case 'rw': if (v === undefined || v === 'true') options.push('rw'); break;
      case 'volume-nocopy': options.push('nocopy'); break;
      case 'U': case 'chown': if (v === undefined || v === 'true') options.push('U'); break;
      case 'z': case 'Z': case 'relabel': break;
      default: throw new SkiffError('EINVALID', `invalid mount option ${JSON.stringify(part)}`);
    }
  }
  if (!dst) throw new SkiffError('EINVALID', 'invalid mount: no target');
  if (!name) return { name: '', destination: dst, options };
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(name)) throw new SkiffError('EINVALID', `invalid volume name ${JSON.stringify(name)}`);
  return { name, destination: dst, options };
}

/** Parses `--device /dev/x[:/dev/y][:rwm]` by stat-ing the host device. */
export function parseDevice(s: string): SpecDevice & { access?: string } {
  const [host, ...rest] = s.split(':');
  const dest = rest[0]?.startsWith('/') ? rest[0] : host!;
  const access = rest.find((r) => /^[rwm]{1,3}$/.test(r)) ?? 'rwm';
  const st = statSync(host!, { throwIfNoEntry: false });
  if (!st || (!st.isCharacterDevice() && !st.isBlockDevice())) throw new SkiffError('EINVALID', `invalid device ${JSON.stringify(s)}: ${host} is not a device`);
  const rdev = st.rdev;
  return { type: st.isCharacterDevice() ? 'c' : 'b', path: dest, major: Number((BigInt(rdev) >> 8n) & 0xfffn), minor: Number((BigInt(rdev) & 0xffn) | ((BigInt(rdev) >> 12n) & 0xfff00n)), fileMode: st.mode & 0o777, uid: 0, gid: 0, access };
}

function readEnvFile(path: string): string[] {
  const out: string[] = [];
  for (const raw of readFileSync(path, 'utf8').split('\n')) {
    const l = raw.trim();
    if (!l || l.startsWith('#')) continue;
    if (l.includes('=')) out.push(l);
    else if (process.env[l] !== undefined) out.push(`${l}=${process.env[l]}`);
  }
  return out;
}

function expandEnv(e: string): string[] {
  if (e.includes('=')) return [e];
  if (e.endsWith('*')) return Object.entries(process.env).filter(([k]) => k.startsWith(e.slice(0, -1))).map(([k, v]) => `${k}=${v}`);
  return process.env[e] !== undefined ? [`${e}=${process.env[e]}`] : [];
}

function num(s: string | undefined, what: string): number | undefined {
  if (s === undefined) return undefined;
  const n = Number(s);
  if (!Number.isFinite(n)) throw new SkiffError('EINVALID', `invalid ${what} ${JSON.stringify(s)}`);
  return n;
}

/** Turns raw flags into CreateOptions (validating each; EINVALID on the first bad one). Labels never act as options (RU-06). */
export function parseCreateFlags(image: string, args: string[], f: CreateFlags): CreateOptions {
  const env = [
    ...(f.envHost ? Object.entries(process.env).map(([k, v]) => `${k}=${v}`) : []),
    ...f.envFile.flatMap(readEnvFile),
    ...f.env.flatMap(expandEnv),
  ];
  const mounts: MountRequest[] = [];
  const volumes: { name: string; destination: string; options: string[] }[] = [];
  for (const v of f.volume) {
    const r = parseVolume(v);
    if (r.mount) mounts.push(r.mount);
    if (r.volume) volumes.push(r.volume);
  }
  for (const m of f.mount) {
    const v = parseVolumeMountFlag(m);
    if (v) volumes.push(v);
    else mounts.push(parseMountFlag(m));
  }
  for (const t of f.tmpfs) {
    const [dst, opts] = t.split(':');
    mounts.push({ type: 'tmpfs', destination: dst!, options: opts ? opts.split(',') : ['rw', 'noexec', 'nosuid', 'nodev'] });
  }
  let seccomp: string | undefined;
  let noNewPrivileges = false;
  for (const so of f.securityOpt) {
    if (so === 'no-new-privileges' || so === 'no-new-privileges:true' || so === 'no-new-privileges=true') noNewPrivileges = true;
    else if (so.startsWith('seccomp=') || so.startsWith('seccomp:')) seccomp = so.slice(8);
    else if (so.startsWith('label=') || so.startsWith('apparmor=')) continue;
    else throw new SkiffError('EINVALID', `invalid --security-opt ${JSON.stringify(so)}`);
  }
  // inside a systemd unit the container learns its unit and manager (auto-update restarts through them)
  const labels: Record<string, string> = unitLabels();
  for (const l of f.label) {
    const i = l.indexOf('=');
    labels[i < 0 ? l : l.slice(0, i)] = i < 0 ? '' : l.slice(i + 1);
  }
  const sysctls: Record<string, string> = {};
  for (const s of f.sysctl) {
    const i = s.indexOf('=');
    if (i <= 0) throw new SkiffError('EINVALID', `invalid --sysctl ${JSON.stringify(s)}: want KEY=VALUE`);
    sysctls[s.slice(0, i)] = s.slice(i + 1);
  }
  let health: HealthConfig | undefined;
  if (f.healthCmd && f.healthCmd !== 'none') {
    const t = f.healthCmd.trim().startsWith('[') ? (JSON.parse(f.healthCmd) as string[]) : ['CMD-SHELL', f.healthCmd];
    health = { test: t, interval: parseDuration(f.healthInterval, 'ms', { bareSeconds: true }), timeout: parseDuration(f.healthTimeout, 'ms', { bareSeconds: true }), retries: Number(f.healthRetries), startPeriod: parseDuration(f.healthStartPeriod, 'ms', { bareSeconds: true }) };
  }
  if (!['always', 'missing', 'never', 'newer'].includes(f.pull)) throw new SkiffError('EINVALID', `invalid --pull ${JSON.stringify(f.pull)}: want always, missing, never or newer`);
  if (f.rm && f.restart !== 'no') throw new SkiffError('EINVALID', 'the --rm option conflicts with --restart, when the restartPolicy is not "" and "no"');
  const shareNamespaces = parseShareFlags(f);
  const network = shareNamespaces.network ? undefined : f.network;
  if (network !== undefined && network.trim() === '') throw new SkiffError('EINVALID', 'invalid --network "": want none, host, bridge, pasta or a network name');
  const pidsLimit = num(f.pidsLimit, '--pids-limit');
  const stopTimeout = num(f.stopTimeout, '--stop-timeout');
  const cpus = num(f.cpus, '--cpus');
  const preserveFds = num(f.preserveFds, '--preserve-fds') ?? 0;
  const userns = parseUserns(f.userns);
  const sdNotify = parseSdNotify(f.sdnotify);
  const cgroups = parseCgroupsMode(f.cgroups, isRootless());
  if (cgroups === 'disabled') {
    const limit = ([['--memory', f.memory], ['--cpus', f.cpus], ['--pids-limit', f.pidsLimit]] as const).find(([, v]) => v !== undefined);
    if (limit) throw new SkiffError('EINVALID', `--cgroups=disabled conflicts with ${limit[0]}: without a cgroup there is nothing to limit`, { hint: `drop ${limit[0]} or use --cgroups=enabled` });
  }
  return {
    image,
    args,
    ...(f.name !== undefined && { name: f.name }),
    env,
    ...(f.workdir !== undefined && { workdir: f.workdir }),
    ...(f.user !== undefined && { user: f.user }),
    ...(f.entrypoint !== undefined && { entrypoint: f.entrypoint.trim().startsWith('[') ? (JSON.parse(f.entrypoint) as string[]) : f.entrypoint === '' ? [] : [f.entrypoint] }),
    ...(f.hostname !== undefined && { hostname: f.hostname }),
    addHosts: f.addHost,
    dns: f.dns,
    dnsSearch: f.dnsSearch,
    dnsOptions: f.dnsOption,
    readOnly: f.readOnly === true,
    capAdd: f.capAdd,
    capDrop: f.capDrop,
    privileged: f.privileged === true,
    noNewPrivileges,
    ...(seccomp !== undefined && { seccomp }),
    securityOpt: f.securityOpt,
    ...(f.memory !== undefined && { memory: parseByteSize(f.memory) }),
    ...(cpus !== undefined && { cpus }),
    ...(pidsLimit !== undefined && { pidsLimit }),
    ulimits: f.ulimit.map(parseUlimit),
    init: f.init === true,
    restart: parseRestart(f.restart),
    ...(health && { health }),
    ...(f.stopSignal !== undefined && { stopSignal: parseSignal(f.stopSignal) }),
    ...(stopTimeout !== undefined && { stopTimeout }),
    labels,
    devices: f.device.map(parseDevice),
    ...((f.secret ?? []).length > 0 && { secrets: (f.secret ?? []).map(parseSecretFlag) }),
    groupAdd: f.groupAdd,
    sysctls,
    preserveFds,
    mounts,
    volumes,
    tty: f.tty === true,
    interactive: f.interactive === true,
    rm: f.rm === true,
    ...(network !== undefined && { network }),
    ports: parsePublishFlags(f.publish),
    publishAll: f.publishAll === true,
    ...(userns && { userns }),
    ...(Object.keys(shareNamespaces).length > 0 && { shareNamespaces }),
    ...(sdNotify !== 'container' && { sdNotify }),
  };
}

/**
 * What `--cidfile` and `--replace` ask of createContainer, plus the command line recorded as the container's
 * CreateCommand (`generate systemd --new` reuses it). Pure but for reading process.argv.
 */
export function systemdCreateOptions(f: Pick<CreateFlags, 'cidfile' | 'replace'>, argv: readonly string[] = process.argv): { cidFile?: string; replace?: boolean; createCommand: string[] } {
  return { ...(f.cidfile !== undefined && { cidFile: f.cidfile }), ...(f.replace && { replace: true }), createCommand: ['run-tool', ...argv.slice(2)] };
}

/** `--sdnotify` (podman's modes; EINVALID otherwise). Pure. */
export function parseSdNotify(v: string | undefined): SdNotifyMode {
  const m = v ?? 'container';
  if (m !== 'conmon' && m !== 'container' && m !== 'ignore') throw new SkiffError('EINVALID', `invalid --sdnotify ${JSON.stringify(m)}: want conmon, container or ignore`);
  return m;
}

/**
 * `--cgroups`: `enabled`, `no-conmon` and `split` are accepted and behave alike here (the container gets its own
 * cgroup; the monitor stays in the caller's, which is what a systemd unit needs). `disabled` (podman's: no cgroup
 * for the container, the monitor in the caller's cgroup) is what a rootless container on cgroups v1 gets anyway
 * (runc's rootless manager makes none); as root runc cannot run a container without one, which podman refuses
 * the same way: EUNSUPPORTED. Anything else is EINVALID. Pure.
 */
export function parseCgroupsMode(v: string | undefined, rootless: boolean): 'enabled' | 'no-conmon' | 'split' | 'disabled' {
  const m = v ?? 'enabled';
  if (m === 'enabled' || m === 'no-conmon' || m === 'split') return m;
  if (m === 'disabled') {
    if (rootless) return m;
    throw new SkiffError('EUNSUPPORTED', 'requested OCI runtime runc is not compatible with NoCgroups: --cgroups=disabled needs a rootless container here', { hint: 'run it as an ordinary user, or use --cgroups=no-conmon or split' });
  }
  throw new SkiffError('EINVALID', `invalid --cgroups ${JSON.stringify(m)}: want enabled, no-conmon, split or disabled`);
}

/** `--tls-verify` of run/create (a Go boolean string) as RegistryOptions. EINVALID for anything else. */
export function registryFromCreateFlags(f: { tlsVerify?: string }): RegistryOptions {
  if (f.tlsVerify === undefined) return {};
  const v = goBool(f.tlsVerify);
  if (v === undefined) throw new SkiffError('EINVALID', `invalid --tls-verify ${JSON.stringify(f.tlsVerify)}: want true or false`);
  return { tlsVerify: v };
}
