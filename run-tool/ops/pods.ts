// The pod operations (podman's `pod …`): create, start, stop, restart, kill, remove, list, inspect, exists,
// prune. Plain options in, plain results out, SkiffError on failure; nothing here parses argv or prints. The
// machinery is run-tool/pods/ (state, members, infra image) over run-tool/containers/.
import { isSkiffError, SkiffError } from '../../shared/errors.ts';
import type { MountRequest } from '../../shared/runtime/mounts.ts';
import type { Store } from '../../shared/store/store.ts';
import { createContainer as createFromImage } from '../containers/create.ts';
import { exitError } from '../containers/exit-status.ts';
import { parseSignal } from '../containers/signals.ts';
import { startDetached } from '../containers/start-container.ts';
import { killContainer, removeContainer, stopContainer } from '../containers/stop-container.ts';
import { generateName, listContainers, newContainerId, type LoadedContainer, type PortMapping } from '../containers/state.ts';
import { containersConf } from '../../shared/config/containers-conf.ts';
import { cgroupManager, podCgroupOf, type PodCgroup } from '../../shared/runtime/cgroup-manager.ts';
import { isRootless } from '../../shared/runtime/rootless.ts';
import { cgroupVersion } from '../containers/cgroup-stats.ts';
import { makePodCgroup, podLimitsOf, removePodCgroup } from '../pods/cgroup.ts';
import { ensureInfraImage } from '../pods/infra-image.ts';
import { podShmMount, unmountPodShm } from '../pods/shm.ts';
import { podView, reconcilePods, removePodFully, type PodView } from '../pods/members.ts';
import { recordEvent } from '../containers/record-event.ts';
import {
  findPod, lockPod, makePodDir, newPodId, releasePodName, removePodDir, reservePodName, savePod, thisProcess, validatePodName,
  type PodNamespace, type PodRecord,
} from '../pods/state.ts';

export type { PodView };

/** createPod's options: podman's `pod create` flags, parsed. */
export interface CreatePodOptions {
  name?: string;
  labels?: Record<string, string>;
  /** namespaces members share (default ipc, net, uts) */
  share?: PodNamespace[];
  /** make an infra container (default true) */
  infra?: boolean;
  infraImage?: string;
  infraName?: string;
  infraCommand?: string[];
  /** a file that receives the infra container's conmon pid at every start */
  infraConmonPidFile?: string;
  /** the infra container starts at once (`run --pod new:`): its rootfs stays mounted from the create for that start */
  startsNow?: boolean;
  exitPolicy?: 'continue' | 'stop';
  hostname?: string;
  network?: string;
  ports?: PortMapping[];
  addHosts?: string[];
  dns?: string[];
  /** `-v`: mounts and named volumes every member gets */
  mounts?: MountRequest[];
  volumes?: { name: string; destination: string; options: string[] }[];
  /** `--memory` in bytes: the pod cgroup's limit, shared by its members */
  memory?: number;
  /** `--cpus`: the pod cgroup's CFS quota */
  cpus?: number;
  /** `--shm-size` in bytes: the infra container's /dev/shm (members sharing IPC use it) */
  shmSize?: number;
  /** `--share-parent=false`: members get cgroups of their own, not under the pod's */
  shareParent?: boolean;
  /** remove a pod of the same name first */
  replace?: boolean;
  /** the command line, for inspect's CreateCommand */
  createCommand?: string[];
  onWarning?: (m: string) => void;
  signal?: AbortSignal;
}

/** podman's default `--share`. */
export const DEFAULT_SHARE: PodNamespace[] = ['ipc', 'net', 'uts'];

/**
 * Parses `--share` as podman: a comma list of ipc, net, pid, uts, cgroup (`none` or '' for nothing); a leading
 * `+` adds to the default. EINVALID for another name. Pure.
 */
export function parseShare(v: string | undefined): PodNamespace[] {
  if (v === undefined) return [...DEFAULT_SHARE];
  const add = v.startsWith('+');
  const items = (add ? v.slice(1) : v).split(',').map((s) => s.trim()).filter((s) => s !== '' && s !== 'none');
  const out = new Set<PodNamespace>(add ? DEFAULT_SHARE : []);
  for (const s of items) {
    if (!['ipc', 'net', 'pid', 'uts', 'cgroup'].includes(s)) throw new SkiffError('EINVALID', `invalid kernel namespace to share: ${s}. Options are: cgroup, ipc, net, pid, uts or none`);
    out.add(s as PodNamespace);
  }
  return [...out];
}

/** A DNS-1123 pod name: podman's adjective_noun form with '-' (podman's '_' would not be a valid Kubernetes name). */
function generatePodName(): string {
  return generateName().replace(/_/g, '-');
}

/**
 * Creates a pod (podman's `pod create`): validates the name (DNS-1123) and reserves it, writes the record as
 * `creating`, makes the infra container (default image built locally: ensureInfraImage) with the pod's network,
 * ports, hostname and DNS, then marks the pod `ready`. A failure removes what was made; a killed CLI leaves a
 * `creating` pod the next pod command removes (reconcilePods).
 */
export async function createPod(store: Store, o: CreatePodOptions): Promise<{ id: string }> {
  const root = store.paths.root;
  await reconcilePods(store, o.onWarning ? { onWarning: o.onWarning } : {});
  const infra = o.infra ?? true;
  const share = o.share ?? [...DEFAULT_SHARE];
  if (!infra && share.length > 0 && o.share !== undefined) throw new SkiffError('EINVALID', 'you cannot share kernel namespaces on the pod level without an infra container');
  if (!infra && (o.ports?.length ?? 0) > 0) throw new SkiffError('EINVALID', 'you must have an infra container to publish port bindings to the host');
  if (o.name !== undefined) validatePodName(o.name);
  const limits = podLimitsOf({ ...(o.memory !== undefined && { memory: o.memory }), ...(o.cpus !== undefined && { cpus: o.cpus }) });
  const rootless = isRootless();
  if (rootless && Object.keys(limits).length > 0) {
    const flag = o.memory !== undefined ? '--memory' : '--cpus';
    throw new SkiffError('EUNSUPPORTED', cgroupVersion() === 1
      ? `${flag} is not supported for rootless pods on cgroups v1: the kernel gives an unprivileged user no cgroup to limit`
      : `${flag} is not supported for rootless pods yet: set the limit on each container`);
  }
  // the manager is resolved before anything is made: `systemd` without systemd fails here, with nothing half-made
  const manager = rootless ? undefined : cgroupManager(containersConf());
  if (o.replace && o.name !== undefined) {
    const old = await findPod(root, o.name).catch((e: unknown) => {
      if (isSkiffError(e, 'ENOTFOUND')) return undefined;
      throw e;
    });
    if (old) await removePodFully(store, old, o.onWarning ? { onWarning: o.onWarning } : {});
  }
  const id = newPodId();
  let name = o.name;
  if (name !== undefined) await reservePodName(root, name, id);
  else {
    for (let i = 0; ; i++) {
      name = generatePodName();
      try {
        await reservePodName(root, name, id);
        break;
      } catch (e) {
        if (i > 20) throw e;
      }
    }
  }
  const record: PodRecord = {
    id,
    name,
    created: new Date().toISOString(),
    createCommand: o.createCommand ?? [],
    exitPolicy: o.exitPolicy ?? 'continue',
    hostname: o.hostname ?? '',
    labels: o.labels ?? {},
    share: infra ? share : [],
    infra,
    ports: o.ports ?? [],
    ...(o.network !== undefined && { network: o.network }),
    dns: o.dns ?? [],
    addHosts: o.addHosts ?? [],
    ...(o.mounts?.length && { mounts: o.mounts }),
    ...(o.volumes?.length && { volumes: o.volumes }),
    ...(Object.keys(limits).length > 0 && { limits }),
    ...(o.shmSize !== undefined && { shmSize: o.shmSize }),
    ...(o.shareParent === false && { shareParent: false }),
    members: [],
    phase: 'creating',
    creator: thisProcess(),
  };
  try {
    await makePodDir(root, id);
    if (manager) {
      // recorded before it is made: a killed create leaves a cgroup the sweep can name
      record.cgroup = podCgroupOf(id, manager);
      await savePod(root, record);
      await makePodCgroup(record.cgroup, limits);
    } else await savePod(root, record);
    // the pod's /dev/shm, bound into the infra container and every member sharing its IPC namespace (rootless: a
    // mount in the user's own mount namespace, which the CLI and the containers share): recorded here, mounted by
    // the pod's first start (pods/host-resources.ts), as podman makes it with the infra
    const shm = infra && share.includes('ipc');
    if (shm) record.shmMounted = true;
    if (infra) {
      const image = o.infraImage ?? (await ensureInfraImage(store, { signal: o.signal }));
      // the infra container's id is recorded before it is made: a killed create leaves debris the sweep can name
      record.infraId = newContainerId();
      record.infraName = o.infraName ?? `${id.slice(0, 12)}-infra`;
      await savePod(root, record);
      const c = await createFromImage(store, {
        id: record.infraId,
        image,
        name: record.infraName,
        ...(o.infraCommand && { entrypoint: o.infraCommand }),
        hostname: o.hostname ?? name,
        ...(o.network !== undefined && { network: o.network }),
        ports: o.ports ?? [],
        addHosts: o.addHosts ?? [],
        dns: o.dns ?? [],
        pod: id,
        isInfra: true,
        ...(record.cgroup && { podCgroup: record.cgroup }),
        ...(shm ? { mounts: [podShmMount(root, id)] } : o.shmSize !== undefined ? { shmSize: o.shmSize } : {}),
        // mounted again at its start: a pod that is never started holds no overlay mount (`run --pod new:`, whose
        // start follows at once, keeps it)
        ...(o.startsNow && { keepMounted: true }),
        ...(o.infraConmonPidFile !== undefined && { conmonPidFile: o.infraConmonPidFile }),
        ...(o.onWarning && { onWarning: o.onWarning }),
        ...(o.signal && { signal: o.signal }),
      });
      record.infraId = c.id;
      record.infraName = c.name;
    }
    record.phase = 'ready';
    delete record.creator;
    await savePod(root, record);
    recordEvent(root, 'pod', 'create', record.name, id);
    return { id };
  } catch (e) {
    if (record.infraId) await removeContainer(store, record.infraId, { force: true, podRemoval: true }).catch(() => {});
    if (record.cgroup) await removePodCgroup(record.cgroup).catch(() => {});
    if (record.shmMounted) await unmountPodShm(root, id).catch(() => {});
    await releasePodName(root, name, id);
    await removePodDir(root, id);
    throw e;
  }
}

/** A pod by name, id or id prefix, with its containers (podView); half-made pods are swept first. */
export async function getPod(store: Store, nameOrId: string): Promise<PodView> {
  await reconcilePods(store);
  return podView(store, await findPod(store.paths.root, nameOrId));
}

/** Whether a pod exists (podman's `pod exists`). */
export async function podExists(store: Store, nameOrId: string): Promise<boolean> {
  try {
    await getPod(store, nameOrId);
    return true;
  } catch (e) {
    if (isSkiffError(e, 'ENOTFOUND')) return false;
    throw e;
  }
}

/** Every pod with its containers, oldest first (podman's `pod ps` before filtering). */
export async function listPods(store: Store): Promise<PodView[]> {
  const records = await reconcilePods(store);
  const all = await listContainers(store.paths.root);
  const out: PodView[] = [];
  for (const r of records) out.push(await podView(store, r, all));
  return out;
}

/**
 * Resolves the `--pod` of a container create (`NAME|ID`, or `new:NAME` which creates the pod first: `created`): the
 * pod's id, its infra container's id and the namespaces a member shares with it. EINVALID (podman's message) for `-p` on a member
 * of a pod that shares its network.
 */
export async function podForMember(store: Store, ref: string, o: { ports?: readonly PortMapping[]; publishAll?: boolean; network?: string; onWarning?: (m: string) => void; startsNow?: boolean }): Promise<{ pod: string; infra?: string; created: boolean; shareNamespaces: Partial<Record<'network' | 'ipc' | 'uts' | 'pid', string>>; mounts: MountRequest[]; volumes: { name: string; destination: string; options: string[] }[]; podCgroup?: PodCgroup }> {
  let view: PodView;
  const created = ref.startsWith('new:');
  if (created) {
    const { id } = await createPod(store, { name: ref.slice(4), ...(o.onWarning && { onWarning: o.onWarning }), ...(o.startsNow && { startsNow: true }) });
    view = await getPod(store, id);
  } else {
    view = await getPod(store, ref);
  }
  const r = view.record;
  const joins: Partial<Record<'network' | 'ipc' | 'uts' | 'pid', string>> = {};
  if (r.infraId) {
    const sharesNet = r.share.includes('net') && o.network === undefined;
    if (sharesNet && ((o.ports?.length ?? 0) > 0 || o.publishAll)) {
      throw new SkiffError('EINVALID', 'invalid config provided: published or exposed ports must be defined when the pod is created: network cannot be configured when it is shared with a pod');
    }
    if (sharesNet) joins.network = r.infraId;
    if (r.share.includes('ipc')) joins.ipc = r.infraId;
    if (r.share.includes('uts')) joins.uts = r.infraId;
    if (r.share.includes('pid')) joins.pid = r.infraId;
  }
  // a member sharing the infra's IPC namespace uses its /dev/shm too (its own -v at /dev/shm wins, as any pod volume)
  const shm = r.shmMounted && joins.ipc ? [podShmMount(store.paths.root, r.id)] : [];
  return { pod: r.id, ...(r.infraId && { infra: r.infraId }), created, shareNamespaces: joins, mounts: [...shm, ...(r.mounts ?? [])], volumes: r.volumes ?? [], ...(r.cgroup && r.shareParent !== false && { podCgroup: r.cgroup }) };
}

/**
 * Runs `make` (a container create) as a member of pod `pod` under the pod lock and lists the new member in the
 * pod record. A killed CLI may leave the member unlisted: its container record names the pod, and podView finds it.
 */
export async function addPodMember<T extends { id: string }>(store: Store, pod: string, make: () => Promise<T>): Promise<T> {
  const root = store.paths.root;
  const lock = await lockPod(root, pod);
  try {
    const r = await findPod(root, pod);
    if (r.phase !== 'ready') throw new SkiffError('ENOTFOUND', `no pod with name or ID ${pod} found: no such pod`);
    const made = await make();
    // members removed one by one (`rm`) leave the list here: dropped as the next member is added
    const live = new Set((await listContainers(root)).map((c) => c.record.id));
    await savePod(root, { ...r, members: [...r.members.filter((m) => live.has(m)), made.id] });
    return made;
  } finally {
    await lock.release();
  }
}

/** One container's failure in a pod operation (podman reports each and carries on). */
export interface PodErrors {
  id: string;
  errors: { container: string; message: string }[];
}

/** `fn` on every container of `list` at once (members of one pod depend on the infra only, never on each other). */
async function allContainers(list: readonly LoadedContainer[], fn: (c: LoadedContainer) => Promise<void>): Promise<{ container: string; message: string }[]> {
  const rs = await Promise.allSettled(list.map((c) => fn(c)));
  return rs.flatMap((r, i) => (r.status === 'rejected' ? [{ container: list[i]!.record.id, message: (r.reason as Error).message }] : []));
}

async function eachContainer(list: readonly LoadedContainer[], fn: (c: LoadedContainer) => Promise<void>): Promise<{ container: string; message: string }[]> {
  const errors: { container: string; message: string }[] = [];
  for (const c of list) {
    try {
      await fn(c);
    } catch (e) {
      errors.push({ container: c.record.id, message: (e as Error).message });
    }
  }
  return errors;
}

/** Starts pod `nameOrId`: its cgroup and /dev/shm made again if gone (a reboot), then the infra container, then the members in creation order (podman's `pod start`). */
export async function startPod(store: Store, nameOrId: string): Promise<PodErrors> {
  const v = await getPod(store, nameOrId);
  // after a reboot the pod's cgroup and /dev/shm tmpfs are gone: each container's start makes them again first
  const list = [...(v.infra ? [v.infra] : []), ...v.members];
  const errors = await eachContainer(list, (c) => startDetached(store, c.record.id));
  return { id: v.record.id, errors };
}

/** Stops pod `nameOrId`: the members (all at once, as podman), then the infra container; `timeout` seconds before SIGKILL. */
export async function stopPod(store: Store, nameOrId: string, o: { timeout?: number; onWarning?: (m: string) => void } = {}): Promise<PodErrors> {
  const v = await getPod(store, nameOrId);
  const so = { ...(o.timeout !== undefined && { timeout: o.timeout }), ...(o.onWarning && { onWarning: o.onWarning }) };
  const errors = await allContainers(v.members, async (c) => void (await stopContainer(store, c.record.id, so)));
  if (v.infra) errors.push(...(await eachContainer([v.infra], async (c) => void (await stopContainer(store, c.record.id, so)))));
  return { id: v.record.id, errors };
}

/** Restarts pod `nameOrId`: stopPod, then startPod. */
export async function restartPod(store: Store, nameOrId: string, o: { timeout?: number } = {}): Promise<PodErrors> {
  const a = await stopPod(store, nameOrId, o);
  const b = await startPod(store, a.id);
  return { id: a.id, errors: [...a.errors, ...b.errors] };
}

/** Sends `signal` (default SIGKILL) to every running container of pod `nameOrId`; ENOTFOUND-like error when none runs. */
export async function killPod(store: Store, nameOrId: string, o: { signal?: string } = {}): Promise<PodErrors> {
  const sig = parseSignal(o.signal ?? 'KILL');
  const v = await getPod(store, nameOrId);
  const running = [...v.members, ...(v.infra ? [v.infra] : [])].filter((c) => c.state.status === 'running');
  if (running.length === 0) throw exitError(125, `no containers in pod ${v.record.id} are running: container state improper`);
  const errors = await eachContainer(running, (c) => killContainer(store, c.record.id, sig));
  return { id: v.record.id, errors };
}

/**
 * Removes pod `nameOrId` (podman's `pod rm`): with running containers only with `force` (stopped first,
 * `timeout` seconds before SIGKILL, default 10 as podman); members, then infra, name and record. `ignoreMissing`
 * makes a missing pod no error (result undefined).
 */
export async function removePod(store: Store, nameOrId: string, o: { force?: boolean; timeout?: number; ignoreMissing?: boolean; onWarning?: (m: string) => void } = {}): Promise<{ id: string } | undefined> {
  let v: PodView;
  try {
    v = await getPod(store, nameOrId);
  } catch (e) {
    if (o.ignoreMissing && isSkiffError(e, 'ENOTFOUND')) return undefined;
    throw e;
  }
  const running = [...v.members, ...(v.infra ? [v.infra] : [])].filter((c) => c.state.status === 'running' || c.state.status === 'stopping');
  if (running.length > 0 && !o.force) {
    throw new SkiffError('EINVALID', `pod ${v.record.id} has containers that are not ready to be removed: cannot remove container ${running[0]!.record.id} as it is running - running or paused containers cannot be removed without force: container state improper`);
  }
  await removePodFully(store, v.record, { timeout: o.timeout ?? 10, ...(o.onWarning && { onWarning: o.onWarning }) });
  recordEvent(store.paths.root, 'pod', 'remove', v.record.name, v.record.id);
  return { id: v.record.id };
}

/** Removes every pod none of whose containers runs (podman's `pod prune`); returns the removed ids. */
export async function prunePods(store: Store, o: { onWarning?: (m: string) => void } = {}): Promise<string[]> {
  const out: string[] = [];
  for (const v of await listPods(store)) {
    if (v.status === 'Running' || v.status === 'Degraded' || v.status === 'Paused') continue;
    await removePodFully(store, v.record, o.onWarning ? { onWarning: o.onWarning } : {});
    out.push(v.record.id);
  }
  return out;
}

/** podman 4.3's `pod inspect` object for pod `nameOrId` (the same keys, in the same order). */
export async function inspectPod(store: Store, nameOrId: string): Promise<Record<string, unknown>> {
  const v = await getPod(store, nameOrId);
  const r = v.record;
  const bindings: Record<string, { HostIp: string; HostPort: string }[]> = {};
  for (const p of r.ports) (bindings[`${p.containerPort}/${p.protocol}`] ??= []).push({ HostIp: p.hostIP, HostPort: String(p.hostPort) });
  const infraNet = v.infra?.record.network as { mode?: string; networks?: string[] } | undefined;
  const all = [...(v.infra ? [v.infra] : []), ...v.members];
  const lim = r.limits ?? {};
  return {
    Id: r.id,
    Name: r.name,
    Created: r.created,
    CreateCommand: r.createCommand,
    ExitPolicy: r.exitPolicy,
    State: v.status,
    Hostname: r.hostname,
    ...(Object.keys(r.labels).length > 0 && { Labels: r.labels }), // omitted when empty, as podman's omitempty
    CreateCgroup: r.cgroup !== undefined,
    CgroupParent: r.cgroup?.parent ?? '',
    CgroupPath: r.cgroup?.path ?? '',
    CreateInfra: r.infra,
    ...(r.infraId && { InfraContainerID: r.infraId }),
    ...(r.infra && {
      InfraConfig: {
        PortBindings: bindings,
        HostNetwork: infraNet?.mode === 'host',
        StaticIP: '',
        StaticMAC: '',
        NoManageResolvConf: false,
        DNSServer: r.dns.length ? r.dns : null,
        DNSSearch: null,
        DNSOption: null,
        NoManageHosts: false,
        HostAdd: r.addHosts.length ? r.addHosts : null,
        Networks: infraNet?.mode === 'bridge' ? [...(infraNet.networks ?? [])] : null,
        NetworkOptions: null,
        ...(lim.cpuPeriod !== undefined && { cpu_period: lim.cpuPeriod, cpu_quota: lim.cpuQuota }),
        pid_ns: r.share.includes('pid') ? 'pod' : 'private',
        userns: 'host',
        uts_ns: 'private',
      },
    }),
    SharedNamespaces: r.share.length ? [...r.share].sort() : null,
    NumContainers: all.length,
    Containers: all.map((c) => ({ Id: c.record.id, Name: c.record.name, State: c.state.status })),
    // podman 4.3 repeats the limits at the end (omitempty)
    ...(lim.cpuPeriod !== undefined && { cpu_period: lim.cpuPeriod, cpu_quota: lim.cpuQuota }),
    ...(lim.memory !== undefined && { memory_limit: lim.memory, memory_swap: lim.memorySwap }),
  };
}

/** Pauses (`paused` true) or unpauses every running container of pod `nameOrId` (podman's `pod pause|unpause`). */
export async function pausePod(store: Store, nameOrId: string, paused: boolean): Promise<PodErrors> {
  const v = await getPod(store, nameOrId);
  const { setPaused } = await import('../containers/pause-container.ts');
  const list = [...(v.infra ? [v.infra] : []), ...v.members].filter((c) => c.state.status === 'running' && c.state.paused !== paused);
  const errors = await eachContainer(paused ? list : [...list].reverse(), (c) => setPaused(store, c.record.id, paused));
  return { id: v.record.id, errors };
}
