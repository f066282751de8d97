import { isSkiffError, SkiffError } from '../../shared/errors.ts';
import type { Store } from '../../shared/store/store.ts';
import { readRunImage } from '../containers/create.ts';
import { LayerSizes, layerSizesDir } from '../../shared/store/layer-sizes.ts';
import { listImages, repoDigests } from '../../shared/store/list-images.ts';
import { networkStateOf } from '../containers/start-container.ts';
import { reconcile } from '../containers/cleanup-container.ts';
import { containerPaths, loadContainer, type LoadedContainer, type PortMapping } from '../containers/state.ts';

// The inspect operations: podman's inspect records of containers (state reconciled first) and images.

const ZERO_TIME = '0001-01-01T00:00:00Z';

/** podman's `Ports` map: "80/tcp" → [{HostIp, HostPort}]. Pure. */
export function portsMap(ports: readonly PortMapping[]): Record<string, { HostIp: string; HostPort: string }[]> {
  const out: Record<string, { HostIp: string; HostPort: string }[]> = {};
  for (const b of ports) (out[`${b.containerPort}/${b.protocol}`] ??= []).push({ HostIp: b.hostIP, HostPort: String(b.hostPort) });
  return out;
}

/**
 * podman's `NetworkSettings`: the address, gateway and MAC of the current run (empty when not running or not on a
 * bridge), the published ports, the netns (SandboxKey) and one entry per joined network. Pure.
 */
export function networkSettings(c: LoadedContainer): Record<string, unknown> {
  const r = c.record;
  const running = c.state.status === 'running' || c.state.status === 'stopping';
  const net = running ? networkStateOf(c.state) : undefined;
  const first = net?.networks[0];
  const prefix = (cidr: string | undefined) => Number(cidr?.split('/')[1] ?? 0);
  const endpoint = (n: typeof first) => ({
    EndpointID: '',
    Gateway: n?.gateway ?? '',
    IPAddress: n?.ips[0] ?? '',
    IPPrefixLen: prefix(n?.cidrs[0]),
    IPv6Gateway: '',
    GlobalIPv6Address: '',
    GlobalIPv6PrefixLen: 0,
    MacAddress: n?.macAddress ?? '',
  });
  const choice = r.network as { mode?: string; networks?: string[]; aliases?: Record<string, string[]> } | undefined;
  const networks: Record<string, unknown> = {};
  if (choice?.mode === 'bridge') {
    for (const name of choice.networks ?? []) {
      const n = net?.networks.find((x) => x.name === name);
      networks[name] = { ...endpoint(n), NetworkID: name, DriverOpts: null, IPAMConfig: null, Links: null, Aliases: [...(choice.aliases?.[name] ?? []), r.id.slice(0, 12)] };
    }
  }
  return {
    ...endpoint(first),
    Bridge: '',
    SandboxID: '',
    HairpinMode: false,
    LinkLocalIPv6Address: '',
    LinkLocalIPv6PrefixLen: 0,
    Ports: portsMap(r.hostConfig.portBindings),
    SandboxKey: running && net?.netnsPath ? net.netnsPath : '',
    ...(Object.keys(networks).length > 0 && { Networks: networks }),
  };
}

/** podman-like `inspect` JSON of a container. Pure. */
export function containerInspect(root: string, c: LoadedContainer): Record<string, unknown> {
  const r = c.record;
  const s = c.state;
  const p = containerPaths(root, r.id);
  return {
    Id: r.id,
    Created: r.created,
    Path: r.args[0] ?? '',
    Args: r.args.slice(1),
    State: {
      OciVersion: '1.0.2',
      Status: s.status,
      Running: s.status === 'running',
      Paused: false,
      Restarting: false,
      OOMKilled: false,
      Dead: false,
      Pid: s.pid,
      ConmonPid: s.monitor === 'conmon' ? s.monitorPid : 0,
      ExitCode: s.exitCode,
      Error: s.error ?? '',
      StartedAt: s.startedAt || ZERO_TIME,
      FinishedAt: s.finishedAt || ZERO_TIME,
      ...(s.health && { Health: { Status: s.health.status, FailingStreak: s.health.failingStreak, Log: s.health.log.map((l) => ({ Start: l.start, End: l.end, ExitCode: l.exitCode, Output: l.output })) } }),
    },
    Image: r.image.id.slice(7),
    ImageDigest: r.image.digest,
    ImageName: r.image.name,
    Rootfs: '',
    Pod: r.pod ?? '',
    ResolvConfPath: `${p.userdata}/resolv.conf`,
    HostnamePath: `${p.userdata}/hostname`,
    HostsPath: `${p.userdata}/hosts`,
    StaticDir: p.dir,
    OCIRuntime: 'runc',
    ConmonPidFile: p.conmonPid,
    PidFile: p.pidFile,
    Name: r.name,
    RestartCount: s.restartCount,
    Driver: 'overlay',
    MountLabel: '',
    ProcessLabel: '',
    AppArmorProfile: '',
    EffectiveCaps: null,
    BoundingCaps: null,
    ExecIDs: [],
    GraphDriver: { Name: 'overlay', Data: { UpperDir: p.upper, WorkDir: p.work, MergedDir: p.rootfs } },
    Mounts: r.mounts.map((m) => {
      const vol = m.type === 'bind' ? r.volumes.find((v) => v.destination === m.destination && m.source?.endsWith(`/volumes/${v.name}/_data`)) : undefined;
      return vol
        ? { Type: 'volume', Name: vol.name, Source: m.source ?? '', Destination: m.destination, Driver: 'local', Mode: '', Options: (m.options ?? []).filter((x) => x !== 'rbind' && x !== 'ro' && x !== 'rw'), RW: !(m.options ?? []).includes('ro'), Propagation: 'rprivate' }
        : { Type: m.type, Source: m.source ?? '', Destination: m.destination, Driver: '', Mode: '', Options: m.options ?? [], RW: !(m.options ?? []).includes('ro'), Propagation: 'rprivate' };
    }),
    // the containers whose namespaces this one joins (a pod member: its infra container)
    Dependencies: [...new Set(Object.values(r.namespaces ?? {}))],
    NetworkSettings: networkSettings(c),
    Namespace: '',
    IsInfra: r.isInfra === true,
    Config: {
      Hostname: r.config.hostname,
      Domainname: '',
      User: r.config.user,
      AttachStdin: false,
      AttachStdout: false,
      AttachStderr: false,
      Tty: r.config.tty,
      OpenStdin: r.config.openStdin,
      StdinOnce: false,
      Env: r.config.env,
      Cmd: r.config.cmd,
      Image: r.image.name,
      Volumes: null,
      WorkingDir: r.config.workingDir,
      Entrypoint: r.config.entrypoint.join(' '),
      OnBuild: null,
      Labels: r.config.labels,
      Annotations: r.config.annotations,
      StopSignal: r.config.stopSignal,
      StopTimeout: r.config.stopTimeout,
      ...(r.createCommand && { CreateCommand: r.createCommand }),
      ...(r.secrets && { Secrets: r.secrets }),
      ...(r.health && { Healthcheck: { Test: r.health.test, Interval: r.health.interval * 1e6, Timeout: r.health.timeout * 1e6, Retries: r.health.retries, StartPeriod: r.health.startPeriod * 1e6 } }),
    },
    HostConfig: {
      Binds: r.mounts.filter((m) => m.type === 'bind').map((m) => `${m.source}:${m.destination}${(m.options ?? []).length ? `:${(m.options ?? []).join(',')}` : ''}`),
      AutoRemove: r.hostConfig.autoRemove,
      RestartPolicy: { Name: r.hostConfig.restartPolicy.name, MaximumRetryCount: r.hostConfig.restartPolicy.maximumRetryCount },
      NetworkMode: r.hostConfig.networkMode,
      IpcMode: r.namespaces?.ipc ? `container:${r.namespaces.ipc}` : 'shareable',
      PidMode: r.namespaces?.pid ? `container:${r.namespaces.pid}` : 'private',
      UTSMode: r.namespaces?.uts ? `container:${r.namespaces.uts}` : 'private',
      PortBindings: portsMap(r.hostConfig.portBindings),
      PublishAllPorts: r.hostConfig.publishAll,
      ReadonlyRootfs: r.hostConfig.readOnly,
      Privileged: r.hostConfig.privileged,
      CapAdd: r.hostConfig.capAdd,
      CapDrop: r.hostConfig.capDrop,
      Dns: r.hostConfig.dns,
      ExtraHosts: r.hostConfig.extraHosts,
      SecurityOpt: r.hostConfig.securityOpt,
      Memory: r.hostConfig.memory,
      NanoCpus: r.hostConfig.nanoCpus,
      PidsLimit: r.hostConfig.pidsLimit,
      Init: r.hostConfig.init,
      Tmpfs: Object.fromEntries(r.mounts.filter((m) => m.type === 'tmpfs').map((m) => [m.destination, (m.options ?? []).join(',')])),
    },
  };
}

/**
 * podman-like `inspect` JSON of the image `name` (name, ID or prefix): RepoTags every name of the image, RepoDigests
 * each `repo@manifest digest`, Size and VirtualSize what `images` shows (layers counted uncompressed).
 */
export async function imageInspect(store: Store, name: string): Promise<Record<string, unknown>> {
  const img = await readRunImage(store, name);
  const cfg = img.config;
  // the listing's row for this image: every name it has and podman's Size (uncompressed layers, manifest, config)
  const row = (await listImages(store.layout, { sizes: new LayerSizes(layerSizesDir(store.paths.cache), store.layout.blobs) })).find((i) => i.id === img.id);
  const size = row?.size ?? img.layers.reduce((a, l) => a + l.desc.size, 0);
  const names = row?.names ?? [img.name].filter((n) => !n.startsWith('sha256:') && !/^[0-9a-f]{3,64}$/.test(n));
  return {
    Id: img.id.slice(7),
    Digest: img.digest,
    RepoTags: names,
    RepoDigests: repoDigests(names, img.digest),
    Created: cfg.created ?? ZERO_TIME,
    Config: cfg.config ?? {},
    Version: '',
    Author: cfg.author ?? '',
    Architecture: cfg.architecture,
    Os: cfg.os,
    Size: size,
    VirtualSize: size,
    Labels: cfg.config?.Labels ?? null,
    RootFS: { Type: 'layers', Layers: cfg.rootfs.diff_ids },
    History: cfg.history ?? [],
  };
}

/**
 * podman-like `inspect` JSON of the container `nameOrId`, its state reconciled with runc first (what that cleanup
 * could not tear down goes to `onWarning`).
 */
export async function inspectContainer(store: Store, nameOrId: string, o: { onWarning?: (message: string) => void } = {}): Promise<Record<string, unknown>> {
  const c = await reconcile(store, await loadContainer(store.paths.root, nameOrId), o);
  return containerInspect(store.paths.root, c);
}

/** What inspectObjects looks at: containers, images, or containers first and then images. */
export type InspectType = 'all' | 'container' | 'image';

/** `type` as an InspectType; EINVALID for anything else. Pure. */
export function checkInspectType(type: string): InspectType {
  if (type !== 'all' && type !== 'container' && type !== 'image') throw new SkiffError('EINVALID', `invalid --type ${type}: want container, image or all`);
  return type;
}

/** podman's words for a name `inspect --type TYPE` does not find. Pure. */
function notFound(type: InspectType, name: string): string {
  return type === 'container' ? `no such container ${name}` : type === 'image' ? `${name}: image not known` : `no such object: "${name}"`;
}

/**
 * The inspect records of `names` in order, as podman's `inspect`: each name is looked up as a container first
 * (unless `type` is image), then as an image (unless `type` is container). A name that fails is left out and the
 * last such failure is returned as `error` (ENOTFOUND in podman's words for the type: `no such object: "NAME"`,
 * `no such container NAME`, `NAME: image not known`); the others still count.
 * What reconciling a container could not tear down goes to `onWarning`.
 */
export async function inspectObjects(store: Store, names: readonly string[], o: { type?: InspectType; onWarning?: (message: string) => void } = {}): Promise<{ objects: Record<string, unknown>[]; error?: Error }> {
  const type = checkInspectType(o.type ?? 'all');
  const objects: Record<string, unknown>[] = [];
  let error: Error | undefined;
  for (const n of names) {
    try {
      if (type !== 'image') {
        try {
          objects.push(await inspectContainer(store, n, { onWarning: o.onWarning }));
          continue;
        } catch (e) {
          if (!isSkiffError(e, 'ENOTFOUND') || type === 'container') throw e;
        }
      }
      objects.push(await imageInspect(store, n));
    } catch (e) {
      error = isSkiffError(e, 'ENOTFOUND') ? new SkiffError('ENOTFOUND', notFound(type, n)) : (e as Error);
    }
  }
  return { objects, error };
}
