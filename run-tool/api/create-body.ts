// Docker's container create body (ContainerConfig + HostConfig + NetworkingConfig) translated into the options of
// run-tool's createContainer operation: the same parsers the CLI's flags go through, so `-v`, `-p` and a Binds
// entry mean one thing. Unknown top-level fields are refused; known fields skiff does not implement are accepted
// when they hold their zero value and refused otherwise, so nothing is silently dropped.
import { SkiffError } from '../../shared/errors.ts';
import type { MountRequest } from '../../shared/runtime/mounts.ts';
import { parsePort, parseRestart, parseVolume } from '../ops/create-values.ts';
import type { CreateContainerOptions } from '../ops/create-container.ts';
import type { HealthConfig } from '../containers/state.ts';
import { rejectUnknownFields } from './http-util.ts';

const CONFIG_FIELDS = new Set([
  'Hostname', 'Domainname', 'User', 'AttachStdin', 'AttachStdout', 'AttachStderr', 'ExposedPorts', 'Tty', 'OpenStdin', 'StdinOnce',
  'Env', 'Cmd', 'Healthcheck', 'ArgsEscaped', 'Image', 'Volumes', 'WorkingDir', 'Entrypoint', 'NetworkDisabled', 'MacAddress',
  'OnBuild', 'Labels', 'StopSignal', 'StopTimeout', 'Shell', 'HostConfig', 'NetworkingConfig',
]);

const HOST_HANDLED = new Set([
  'Binds', 'PortBindings', 'AutoRemove', 'RestartPolicy', 'NetworkMode', 'Privileged', 'CapAdd', 'CapDrop', 'Dns', 'DnsSearch',
  'DnsOptions', 'ExtraHosts', 'SecurityOpt', 'Memory', 'NanoCpus', 'PidsLimit', 'Init', 'ReadonlyRootfs', 'PublishAllPorts',
  'Tmpfs', 'Mounts', 'GroupAdd', 'Sysctls', 'LogConfig', 'VolumeDriver', 'VolumesFrom', 'Links', 'ConsoleSize', 'IpcMode', 'PidMode', 'UTSMode', 'Isolation', 'CgroupnsMode',
]);

// known fields whose Docker default is not the zero value
const HOST_DEFAULTS: Record<string, unknown> = { MemorySwappiness: -1 };

const isZero = (v: unknown): boolean =>
  v === undefined || v === null || v === false || v === 0 || v === '' || (Array.isArray(v) && v.every(isZero)) ||
  (typeof v === 'object' && !Array.isArray(v) && Object.values(v as object).every(isZero));

function strings(v: unknown, what: string): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return [v];
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  throw new SkiffError('EINVALID', `${what} must be a list of strings`);
}

function record(v: unknown, what: string): Record<string, string> | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v) || !Object.values(v).every((x) => typeof x === 'string')) throw new SkiffError('EINVALID', `${what} must be an object of strings`);
  return v as Record<string, string>;
}

const nsToMs = (v: unknown): number => (typeof v === 'number' && v > 0 ? Math.round(v / 1e6) : 0);

function health(h: Record<string, unknown>): HealthConfig | undefined {
  const test = strings(h.Test, 'Healthcheck.Test');
  if (!test || test.length === 0 || test[0] === 'NONE') return undefined;
  return { test, interval: nsToMs(h.Interval) || 30_000, timeout: nsToMs(h.Timeout) || 30_000, retries: typeof h.Retries === 'number' && h.Retries > 0 ? h.Retries : 3, startPeriod: nsToMs(h.StartPeriod) };
}

/**
 * The createContainer options of a Docker create request: `body` is the parsed JSON, `name` the `?name=` query.
 * EINVALID for an unknown field, a wrong type, or a set field skiff does not implement. Pure but for the bind
 * source check (parseVolume stats it).
 */
export function createOptionsOf(body: Record<string, unknown>, name: string | undefined): CreateContainerOptions {
  rejectUnknownFields(body, CONFIG_FIELDS, 'the container create body');
  if (typeof body.Image !== 'string' || body.Image === '') throw new SkiffError('EINVALID', 'Image is required: name the image to create the container from');
  const hc = (body.HostConfig ?? {}) as Record<string, unknown>;
  if (typeof hc !== 'object' || Array.isArray(hc)) throw new SkiffError('EINVALID', 'HostConfig must be an object');
  for (const [k, v] of Object.entries(hc)) if (!HOST_HANDLED.has(k) && !isZero(v) && HOST_DEFAULTS[k] !== v) throw new SkiffError('EINVALID', `HostConfig.${k} is not supported by skiff`);
  for (const k of ['VolumesFrom', 'Links', 'VolumeDriver']) if (!isZero(hc[k])) throw new SkiffError('EINVALID', `HostConfig.${k} is not supported by skiff`);
  const mounts: MountRequest[] = [];
  const volumes: { name: string; destination: string; options: string[] }[] = [];
  for (const b of strings(hc.Binds, 'HostConfig.Binds') ?? []) {
    const v = parseVolume(b);
    if (v.mount) mounts.push(v.mount);
    if (v.volume) volumes.push(v.volume);
  }
  for (const d of Object.keys((body.Volumes ?? {}) as object)) if (!volumes.some((v) => v.destination === d) && !mounts.some((m) => m.destination === d)) volumes.push({ name: '', destination: d, options: [] });
  for (const m of (hc.Mounts ?? []) as Record<string, unknown>[]) {
    const target = String(m.Target ?? '');
    const opts = m.ReadOnly === true ? ['ro'] : [];
    if (m.Type === 'bind') mounts.push({ type: 'bind', source: String(m.Source ?? ''), destination: target, options: ['rbind', ...opts] });
    else if (m.Type === 'volume') volumes.push({ name: String(m.Source ?? ''), destination: target, options: opts });
    else if (m.Type === 'tmpfs') mounts.push({ type: 'tmpfs', destination: target, options: opts });
    else throw new SkiffError('EINVALID', `mount type ${JSON.stringify(m.Type)} is not supported: use bind, volume or tmpfs`);
  }
  for (const [dst, opt] of Object.entries(record(hc.Tmpfs, 'HostConfig.Tmpfs') ?? {})) mounts.push({ type: 'tmpfs', destination: dst, options: opt ? opt.split(',') : [] });
  const ports = Object.entries((hc.PortBindings ?? {}) as Record<string, { HostIp?: string; HostPort?: string }[] | null>).flatMap(([spec, binds]) =>
    (binds && binds.length ? binds : [{}]).map((b) => parsePort(`${b.HostIp ? `${b.HostIp.includes(':') ? `[${b.HostIp}]` : b.HostIp}:` : ''}${b.HostPort ?? ''}:${spec}`)));
  const rp = hc.RestartPolicy as { Name?: string; MaximumRetryCount?: number } | undefined;
  const restart = rp?.Name ? parseRestart(rp.Name === 'on-failure' && rp.MaximumRetryCount ? `on-failure:${rp.MaximumRetryCount}` : rp.Name) : undefined;
  let network = typeof hc.NetworkMode === 'string' && hc.NetworkMode !== '' && hc.NetworkMode !== 'default' ? hc.NetworkMode : undefined;
  const endpointsConfig = ((body.NetworkingConfig as Record<string, unknown> | undefined)?.EndpointsConfig ?? {}) as Record<string, { Aliases?: unknown; IPAMConfig?: { IPv4Address?: unknown } | null } | null>;
  const endpoints = Object.keys(endpointsConfig);
  if (network === undefined && endpoints.length > 0) network = endpoints[0];
  // the aliases (compose: the service name) and fixed addresses of the networks joined, by network name
  const networkAliases: Record<string, string[]> = {};
  const networkIps: Record<string, string> = {};
  for (const [net, ep] of Object.entries(endpointsConfig)) {
    if (Array.isArray(ep?.Aliases) && ep.Aliases.length > 0) networkAliases[net] = ep.Aliases.map(String);
    const ip = ep?.IPAMConfig?.IPv4Address;
    if (typeof ip === 'string' && ip !== '') networkIps[net] = ip;
  }
  const hcheck = body.Healthcheck && typeof body.Healthcheck === 'object' ? health(body.Healthcheck as Record<string, unknown>) : undefined;
  const entrypoint = strings(body.Entrypoint, 'Entrypoint');
  const cmd = strings(body.Cmd, 'Cmd');
  const o: CreateContainerOptions = {
    image: body.Image,
    name: name || undefined,
    args: cmd,
    entrypoint,
    env: strings(body.Env, 'Env'),
    labels: record(body.Labels, 'Labels'),
    hostname: typeof body.Hostname === 'string' && body.Hostname !== '' ? body.Hostname : undefined,
    user: typeof body.User === 'string' && body.User !== '' ? body.User : undefined,
    workdir: typeof body.WorkingDir === 'string' && body.WorkingDir !== '' ? body.WorkingDir : undefined,
    tty: body.Tty === true,
    interactive: body.OpenStdin === true,
    stopSignal: typeof body.StopSignal === 'string' && body.StopSignal !== '' ? body.StopSignal : undefined,
    stopTimeout: typeof body.StopTimeout === 'number' ? body.StopTimeout : undefined,
    health: hcheck,
    rm: hc.AutoRemove === true,
    restart,
    network,
    ...(Object.keys(networkAliases).length > 0 && { networkAliases }),
    ...(Object.keys(networkIps).length > 0 && { networkIps }),
    ports,
    publishAll: hc.PublishAllPorts === true,
    mounts,
    volumes,
    privileged: hc.Privileged === true,
    capAdd: strings(hc.CapAdd, 'HostConfig.CapAdd'),
    capDrop: strings(hc.CapDrop, 'HostConfig.CapDrop'),
    dns: strings(hc.Dns, 'HostConfig.Dns'),
    dnsSearch: strings(hc.DnsSearch, 'HostConfig.DnsSearch'),
    dnsOptions: strings(hc.DnsOptions, 'HostConfig.DnsOptions'),
    addHosts: strings(hc.ExtraHosts, 'HostConfig.ExtraHosts'),
    securityOpt: strings(hc.SecurityOpt, 'HostConfig.SecurityOpt'),
    groupAdd: strings(hc.GroupAdd, 'HostConfig.GroupAdd'),
    sysctls: record(hc.Sysctls, 'HostConfig.Sysctls'),
    memory: typeof hc.Memory === 'number' && hc.Memory > 0 ? hc.Memory : undefined,
    cpus: typeof hc.NanoCpus === 'number' && hc.NanoCpus > 0 ? hc.NanoCpus / 1e9 : undefined,
    pidsLimit: typeof hc.PidsLimit === 'number' && hc.PidsLimit > 0 ? hc.PidsLimit : undefined,
    init: hc.Init === true,
    readOnly: hc.ReadonlyRootfs === true,
  };
  return o;
}
