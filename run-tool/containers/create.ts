import { materialiseSecret, readSecretData } from './secrets.ts';
import { statSync } from 'node:fs';
import { chown, lstat, mkdir, readFile, rm, symlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { isSkiffError, SkiffError, type Cancellable } from '../../shared/errors.ts';
import { hostPlatform, selectManifest } from '../../shared/image/platform.ts';
import { chainIDs } from '../../shared/layer/unpack-cache.ts';
import { isDigest, type Digest } from '../../shared/oci/digest.ts';
import { MediaType } from '../../shared/oci/media-types.ts';
import type { ContainerConfig, Descriptor, ImageConfig, Index, Manifest } from '../../shared/oci/types.ts';
import { buildSpec, missingWorkdir } from '../../shared/runtime/build-spec.ts';
import { addAccountEntries, writeEtcFiles } from '../../shared/runtime/etc-files.ts';
import { checkWorkdir } from '../../shared/runtime/spec.ts';
import { resolveInRoot } from '../../shared/runtime/in-root.ts';
import type { MountRequest } from '../../shared/runtime/mounts.ts';
import { isRootless } from '../../shared/runtime/rootless.ts';
import { cgroupManager, cgroupsPathFor } from '../../shared/runtime/cgroup-manager.ts';
import { containersConf } from '../../shared/config/containers-conf.ts';
import { planUserNamespace } from '../../shared/runtime/userns.ts';
import { hostGid, hostUid, usernsMarker } from '../../shared/runtime/userns-marker.ts';
import { readIdMap } from '../../shared/process/proc.ts';
import { ensurePrivateDir } from '../../shared/runtime/runc.ts';
import type { RuntimeSpec } from '../../shared/runtime/types.ts';
import { createLease } from '../../shared/store/lease.ts';
import { lookupImage } from '../../shared/store/lookup.ts';
import { withLock } from '../../shared/store/lock.ts';
import type { Store } from '../../shared/store/store.ts';
import { writeFileAtomic } from '../../shared/store/atomic.ts';
import { hostAccountOf, resolveUser } from '../../shared/runtime/user.ts';
import { idMapSize, keepIdMappings, keepIdToOuter } from '../../shared/runtime/keep-id.ts';
import { parseSignal } from './signals.ts';
import type { CreateOptions } from './create-options.ts';
import { resolveNetworkChoice, resolvePorts, specNetwork, withEndpointSettings } from './net-wiring.ts';
import { placeholderJoinPaths, resolveJoins } from './ns-join.ts';
import { pastaHook } from '../../shared/network/pasta-hook.ts';
import { removeVolume, resolveVolumeMount } from './volumes.ts';
import { mountRootfs, prepareLayers, rootfsUnmountHook, unmountRootfs } from './rootfs-mount.ts';
import { exitError } from './exit-status.ts';
import { prepareNotifyProxy } from '../systemd/notify.ts';
import {
  checkId, containerPaths, generateName, initialState, loadById, newContainerId, releaseName, reserveName, saveRecord, saveState, validateName,
  type ContainerRecord,
} from './state.ts';
import { recordContainerEvent } from './record-event.ts';

/** Everything `create`/`run` accept (the sections are in create-options.ts). */
export type { CreateOptions };

/** keep-id's inputs: the user's host ids and the sizes of the outer (rootless) namespace's id spaces. */
export interface KeepId {
  uid: number;
  gid: number;
  uidSize: number;
  gidSize: number;
}

/**
 * The keep-id context of this process: EPERM "keep-id is only supported in rootless mode" for root (podman's
 * message; exit 125), EINVALID in a single-id namespace (no ids to map the container's others to). Reads
 * /proc/self/{uid,gid}_map.
 */
export async function keepIdContext(): Promise<KeepId> {
  if (!isRootless()) throw new SkiffError('EPERM', 'keep-id is only supported in rootless mode');
  const marker = usernsMarker();
  const uidSize = idMapSize(readIdMap('uid') ?? []);
  const gidSize = idMapSize(readIdMap('gid') ?? []);
  if (!marker || marker.mode === 'single' || uidSize < 2 || gidSize < 2) {
    throw new SkiffError('EINVALID', '--userns=keep-id needs subordinate ids: only your own uid is mapped', { hint: 'add ranges for your user to /etc/subuid and /etc/subgid (see run-tool info)' });
  }
  return { uid: marker.uid, gid: marker.gid, uidSize, gidSize };
}

/** The image a container runs, read from the store. */
export interface RunImage {
  name: string;
  id: Digest;
  digest: Digest;
  config: ImageConfig;
  /** manifest layers paired with diff IDs, bottom first */
  layers: { desc: Descriptor; diffID: Digest }[];
  /** every blob digest the image needs (index, manifest, config, layers) */
  blobs: Digest[];
}

const INIT_PATH = '/run/podman-init';

/** Reads the image `input` names from the store (index → this platform's manifest). ENOTFOUND "image not known". */
export async function readRunImage(store: Store, input: string, o: Cancellable = {}): Promise<RunImage> {
  const so = { signal: o.signal };
  const found = await lookupImage(store.layout, input, so).catch((e: unknown) => {
    // marked, so a caller can tell "this image is not stored" from the other failures of creating a container
    if (isSkiffError(e, 'ENOTFOUND') || isSkiffError(e, 'EINVALID')) throw new SkiffError(e.code, e.message, { ...(e.hint && { hint: e.hint }), cause: e, details: { ...e.details, imageLookup: true } });
    throw e;
  });
  const blobs: Digest[] = [found.descriptor.digest as Digest];
  let desc = found.descriptor;
  if (desc.mediaType === MediaType.OciIndex || desc.mediaType === MediaType.DockerManifestList) {
    const idx = await store.blobs.readJson<Index>(desc, so);
    const pick = selectManifest(idx.manifests, hostPlatform());
    if (!pick) throw new SkiffError('ENOTFOUND', `${input}: no image for ${hostPlatform().os}/${hostPlatform().architecture} in the index`);
    desc = pick;
    blobs.push(desc.digest as Digest);
  }
  const manifest = await store.blobs.readJson<Manifest>(desc, so);
  const config = await store.blobs.readJson<ImageConfig>(manifest.config, so);
  blobs.push(manifest.config.digest as Digest);
  const diffIDs = config.rootfs?.diff_ids ?? [];
  if (diffIDs.length !== manifest.layers.length) throw new SkiffError('EINVALID', `image ${input}: ${manifest.layers.length} layers but ${diffIDs.length} diff_ids`);
  const layers = manifest.layers.map((l, i) => {
    if (!isDigest(diffIDs[i])) throw new SkiffError('EINVALID', `image ${input}: invalid diff_id`);
    blobs.push(l.digest as Digest);
    return { desc: l, diffID: diffIDs[i]! };
  });
  return { name: found.name ?? input, id: manifest.config.digest as Digest, digest: desc.digest as Digest, config, layers, blobs };
}

/**
 * Reads `input` (readRunImage) and leases it for container `id` (RU-14) in one section under the shared gc
 * lock: gc cannot remove the image between the read and the lease. The persistent lease `container-<id>`
 * holds every blob and chain ID; the caller removes it if the container is not made.
 */
export async function readAndLeaseImage(store: Store, input: string, id: string, o: Cancellable = {}): Promise<{ img: RunImage; leaseId: string }> {
  const so = { signal: o.signal };
  const leaseId = `container-${id}`;
  return withLock(store.gcLockPath, { shared: true, ...so }, async () => {
    const img = await readRunImage(store, input, so);
    const chains = chainIDs(img.layers.map((l) => l.diffID));
    await createLease(store.paths, [...img.blobs, ...chains], { owner: `container ${id}`, persistent: true, id: leaseId, ...so });
    return { img, leaseId };
  });
}

/**
 * Gives the container `/etc/mtab -> /proc/mounts` as podman does, when the image has no /etc/mtab and /etc is a
 * directory inside the rootfs (resolved in-root: an image's /etc symlink never leads the link out). Idempotent.
 */
async function linkMtab(rootfs: string): Promise<void> {
  const etc = await resolveInRoot(rootfs, '/etc');
  if (!(await lstat(etc).catch(() => undefined))?.isDirectory()) return;
  await symlink('/proc/mounts', join(etc, 'mtab')).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== 'EEXIST') throw e;
  });
}

/** Whether no lower dir of `lowers` has an `etc` entry of any kind (so the merged rootfs has no /etc). */
async function noneHasEtc(lowers: readonly string[]): Promise<boolean> {
  const found = await Promise.all(lowers.map((l) => lstat(join(l, 'etc')).then(() => true, (e: NodeJS.ErrnoException) => e.code !== 'ENOENT')));
  return !found.includes(true);
}

/** A volume of a container record; `anonymous` ones (image Volumes) go with `rm -v` / `--rm`. */
export type RecordVolume = ContainerRecord['volumes'][number] & { anonymous?: boolean };

function cleanDest(d: string): string {
  return join('/', d);
}

function checkVolumes(cfg: ContainerConfig): string[] {
  // RU-06: image Volumes are container paths, cleaned and confined (join('/', …) cannot climb above /).
  const out: string[] = [];
  for (const v of Object.keys(cfg.Volumes ?? {})) {
    const c = join('/', v);
    if (c === '/' || c.startsWith('/proc') || c.startsWith('/sys')) continue;
    out.push(c);
  }
  return out;
}

/**
 * Creates a container: validates the name (RU-07) and reserves it, reads the image, leases and unpacks its
 * layers (RU-14), mounts the overlay (per-container upper/work), writes /etc files and the validated runtime
 * config, then records it with status `created`. On failure everything made is removed. With `keepMounted`
 * the rootfs stays mounted (run starts at once); otherwise it is unmounted until start.
 */
export async function createContainer(store: Store, o: CreateOptions & { keepMounted?: boolean }): Promise<ContainerRecord> {
  const root = store.paths.root;
  const so = { signal: o.signal };
  const keep = o.userns === 'keep-id' ? await keepIdContext() : undefined;
  const id = o.id !== undefined ? checkId(o.id) : newContainerId();
  const { img, leaseId } = await readAndLeaseImage(store, o.image, id, so);
  const cfg = img.config.config ?? {};
  let name: string;
  try {
    if (o.name !== undefined) {
      name = validateName(o.name);
      await reserveName(root, name, id);
    } else {
      for (let i = 0; ; i++) {
        name = generateName();
        try {
          await reserveName(root, name, id);
          break;
        } catch (e) {
          if (i > 20) throw e;
        }
      }
    }
  } catch (e) {
    await rm(join(store.paths.leases, `${leaseId}.json`), { force: true }).catch(() => {});
    throw e;
  }
  const p = containerPaths(root, id);
  const createdVolumes: RecordVolume[] = [];
  try {
    await mkdir(join(root, 'containers'), { recursive: true, mode: 0o700 });
    await ensurePrivateDir(p.dir);
    for (const d of [p.bundle, p.rootfs, p.work, p.exits, p.sockets]) await mkdir(d, { mode: 0o700 });
    // the overlay's root directory takes the upper dir's mode: 0755 as images have it, or non-root users could not
    // traverse / (the container dir above stays 0700)
    await mkdir(p.upper, { mode: 0o755 });
    // keep-id: / belongs to the container's root, outer id 1 (the upper dir gives the overlay root its owner)
    if (keep) await chown(p.upper, keepIdToOuter(0, keep.uid), keepIdToOuter(0, keep.gid));
    const layers = await prepareLayers(store, img, leaseId, { ...so, onWarning: o.onWarning, ...(keep && { keepId: keep }) });
    const stopSignal = parseSignal(o.stopSignal ?? cfg.StopSignal ?? 'SIGTERM');
    const rootless = isRootless();
    if (usernsMarker()?.mode === 'single') {
      const plan = await planUserNamespace({ uid: hostUid(), gid: hostGid() });
      o.onWarning?.(plan.warning ?? 'WARNING: using a single-UID user namespace: only your own uid maps into the container');
    }
    // `network: 'container:ID'` from any front end means the same as shareNamespaces.network
    const netTarget = o.network?.startsWith('container:') ? o.network.slice('container:'.length) : undefined;
    const joins = await resolveJoins(root, { ...o.shareNamespaces, ...(netTarget && { network: netTarget }) });
    // keep-id's nested user namespace would not own the namespaces it joins
    if (keep && Object.keys(joins).length > 0) throw new SkiffError('EUNSUPPORTED', '--userns=keep-id cannot be combined with shared namespaces (--pod, container:ID)', { hint: 'drop --userns=keep-id for containers in a pod' });
    // a shared network: nothing to attach (the target holds it); the spec joins the target's namespace at start
    const { choice: netChoice, recordMode } = joins.network ? { choice: { mode: 'none' as const }, recordMode: `container:${joins.network}` } : await resolveNetworkChoice(root, o.network, rootless);
    const specNet = joins.network ? { network: 'bridge' as const } : await specNetwork(id, netChoice);
    const ports = await resolvePorts(netChoice, o.ports ?? [], o.publishAll === true, Object.keys(cfg.ExposedPorts ?? {}), { ...so, onWarning: o.onWarning });
    const utsHolder = joins.uts ? await loadById(root, joins.uts) : undefined;
    const hostname = utsHolder?.record.config.hostname ?? o.hostname ?? (netChoice.mode === 'host' ? (await import('node:os')).hostname() : id.slice(0, 12));
    // the overlay mount (a `mount` child process) and the /etc files (written to userdata, outside the rootfs) are
    // independent: made side by side; both settle before anything else happens, so a failure cleans up after both.
    // A container not started now whose create reads and writes nothing in its rootfs needs no mount (nor umount)
    // at all: no volume to copy up, and no /etc in any layer (what create reads or writes there: the mtab link,
    // account files, the user's entry) — the empty mount point then reads as the merged rootfs would (a pod's infra)
    const mountNow = o.keepMounted === true || (o.volumes?.length ?? 0) > 0 || checkVolumes(cfg).length > 0 || !(await noneHasEtc(layers.lowers));
    const [mounted, etcFiles] = await Promise.allSettled([mountNow ? mountRootfs(root, id, layers.lowers, so) : Promise.resolve(), writeEtcFiles(p.userdata, {
      hostname,
      network: specNet.network,
      ...(o.addHosts && { addHosts: o.addHosts }),
      ...(o.dns && { dns: o.dns }),
      ...(o.dnsSearch && { dnsSearch: o.dnsSearch }),
      ...(o.dnsOptions && { dnsOptions: o.dnsOptions }),
      containerEnv: { name, id, image: img.name, imageId: img.id.slice(7), rootless },
      ...(keep && { owner: { uid: keepIdToOuter(0, keep.uid), gid: keepIdToOuter(0, keep.gid) } }),
      ...so,
    })]);
    if (mounted.status === 'rejected') throw mounted.reason;
    if (etcFiles.status === 'rejected') throw etcFiles.reason;
    const etcOwn = etcFiles.value;
    // a shared network uses the holder's hosts and resolv.conf (the files its network set-up rewrites); a shared
    // uts namespace its hostname file
    const netHolder = joins.network ? containerPaths(root, joins.network).userdata : undefined;
    const utsPaths = joins.uts ? containerPaths(root, joins.uts).userdata : undefined;
    const etc = {
      ...etcOwn,
      ...(netHolder && { hosts: join(netHolder, 'hosts'), resolvConf: join(netHolder, 'resolv.conf') }),
      ...(utsPaths && { hostname: join(utsPaths, 'hostname') }),
    };
    const mounts: MountRequest[] = [...(o.mounts ?? [])];
    const volumes: RecordVolume[] = [];
    const userDests = new Set([...mounts.map((m) => cleanDest(m.destination)), ...(o.volumes ?? []).map((v) => cleanDest(v.destination))]);
    // `-v /path` and `--mount type=volume,dst=/path` (name ''): anonymous volumes, removed with the container
    const wantVolumes: RecordVolume[] = (o.volumes ?? []).map((v) => (v.name === '' ? { ...v, name: newContainerId(), anonymous: true } : v));
    // RU-06: image Volumes are container paths, cleaned and confined; each becomes an anonymous named volume in
    // the volume store (copy-up resolves the path inside the rootfs), as podman does
    for (const v of checkVolumes(cfg)) if (!userDests.has(v)) wantVolumes.push({ name: newContainerId(), destination: v, options: [], anonymous: true });
    if (wantVolumes.length > 0) {
      const needUser = wantVolumes.some((v) => v.options.includes('U'));
      const user = needUser ? await resolveUser(p.rootfs, o.user ?? cfg.User ?? '', o.groupAdd ? { groupAdd: o.groupAdd } : {}) : undefined;
      for (const v of wantVolumes) {
        const r = await resolveVolumeMount(root, `${v.name}:${v.destination}${v.options.length ? `:${v.options.join(',')}` : ''}`, { rootfs: p.rootfs, ...(user && { user: { uid: user.uid, gid: user.gid } }), ...so });
        mounts.push(r.mount);
        volumes.push({ ...r.volume, ...(v.anonymous && { anonymous: true }) });
        createdVolumes.push(v);
      }
    }
    // --secret: mount secrets are private copies bind-mounted read-only; env secrets reach only the runtime config
    const secretEnv: string[] = [];
    const recordSecrets: NonNullable<ContainerRecord['secrets']> = [];
    for (const [i, use] of (o.secrets ?? []).entries()) {
      const { info, data } = await readSecretData(root, use.name);
      if (use.type === 'env') secretEnv.push(`${use.target}=${data.toString('utf8')}`);
      else mounts.push({ type: 'bind', source: await materialiseSecret(p.userdata, use, i, data), destination: use.target, options: ['ro'] });
      recordSecrets.push({ Name: info.Spec.Name, ID: info.ID, UID: use.uid, GID: use.gid, Mode: use.mode });
    }
    await linkMtab(p.rootfs);
    // podman's /etc/passwd and /etc/group entries for a user the image lacks (read-only rootfs: bind-mounted copies)
    const cwd = checkWorkdir(o.workdir ?? cfg.WorkingDir);
    const mountDests = new Set(mounts.map((m) => cleanDest(m.destination)));
    // keep-id: the process runs as the invoking user unless -u or the image's User says otherwise (podman)
    const user = o.user ?? (cfg.User || (keep ? `${keep.uid}:${keep.gid}` : ''));
    const hostAccount = keep && hostAccountOf(keep.uid, keep.gid, await readFile('/etc/passwd', 'utf8').catch(() => ''), await readFile('/etc/group', 'utf8').catch(() => ''));
    const accounts = await addAccountEntries(p.rootfs, p.userdata, { user, workdir: cwd, readOnly: o.readOnly === true, mountedPaths: mountDests, ...(hostAccount && { keepId: hostAccount }) });
    mounts.push(...accounts.mounts);
    // podman 4.3 refuses a `-w` directory the image lacks when the container starts (an image WorkingDir is made): run exits 126
    const missing = o.workdir !== undefined && o.keepMounted ? await missingWorkdir(p.rootfs, cwd, [...mountDests], id) : undefined;
    if (missing) throw exitError(126, missing);
    const entrypoint = o.entrypoint;
    if (o.init) {
      const catatonit = (o.initPath !== undefined ? [o.initPath] : ['/usr/libexec/podman/catatonit', '/usr/bin/catatonit']).find((c) => statSync(c, { throwIfNoEntry: false })?.isFile() === true);
      if (!catatonit) throw new SkiffError('ENODEP', o.initPath !== undefined ? `init_path ${o.initPath} is not a file` : 'catatonit is not installed', { hint: o.initPath !== undefined ? 'fix init_path in containers.conf' : 'apt-get install catatonit' });
      mounts.push({ type: 'bind', source: catatonit, destination: INIT_PATH, options: ['ro'] });
    }
    // --sdnotify=container under a unit: conmon's notify proxy socket, bind-mounted at /run/notify
    const notify = await prepareNotifyProxy(p.bundle, o.sdNotify);
    if (notify) mounts.push(notify.mount);
    const env = notify ? [...(o.env ?? []), notify.env] : o.env;
    const spec: RuntimeSpec = await buildSpec(cfg, p.rootfs, {
      ...(o.shmSize !== undefined && { shmSize: o.shmSize }),
      ...(o.args && o.args.length > 0 && { args: o.args }),
      ...(entrypoint && { entrypoint }),
      ...(env && { env }),
      ...(o.workdir !== undefined && { workdir: o.workdir }),
      ...((o.user !== undefined || keep) && { user }),
      // keep-id: the user's own group is always a supplementary group, whatever -u says (podman 4.3)
      ...((o.groupAdd || keep) && { groupAdd: [...(o.groupAdd ?? []), ...(keep ? [String(keep.gid)] : [])] }),
      tty: o.tty === true,
      defaultEnv: ['TERM=xterm', ...(accounts.keepIdHome !== undefined ? [`HOME=${accounts.keepIdHome}`] : [])],
      ...(keep && { uidMappings: keepIdMappings(keep.uid, keep.uidSize), gidMappings: keepIdMappings(keep.gid, keep.gidSize) }),
      podmanUser: true,
      hostname,
      ...(o.capAdd && { capAdd: o.capAdd }),
      ...(o.capDrop && { capDrop: o.capDrop }),
      ...(o.privileged && { privileged: true }),
      noNewPrivileges: o.noNewPrivileges === true,
      ...(o.ulimits && { ulimits: o.ulimits }),
      mounts,
      readOnly: o.readOnly === true,
      network: specNet.network,
      ...(specNet.netnsPath && { netnsPath: specNet.netnsPath }),
      ...(Object.keys(joins).length > 0 && { joinNamespaces: placeholderJoinPaths(joins) }),
      ...(o.memory !== undefined && !isRootless() && { memory: o.memory }),
      ...(o.cpus !== undefined && !isRootless() && { cpus: o.cpus }),
      ...(o.pidsLimit !== undefined && !isRootless() && { pidsLimit: o.pidsLimit }),
      ...(o.devices && { devices: o.devices }),
      ...(o.sysctls && { sysctls: o.sysctls }),
      etcFiles: etc,
      // rootless: runc (in our user namespace) cannot make cgroups on v1; with no path its rootless manager skips them
      ...(!isRootless() && { cgroupsPath: cgroupsPathFor(id, o.podCgroup?.manager ?? cgroupManager(containersConf()), o.podCgroup) }),
      ...(o.seccomp && { seccomp: o.seccomp === 'unconfined' ? ('unconfined' as const) : { path: o.seccomp } }),
      onWarning: o.onWarning,
      annotations: { 'io.container.manager': 'skiff', 'org.opencontainers.image.stopSignal': stopSignal },
      ...so,
    });
    await accounts.append(); // after buildSpec resolved the user against the image's own files (podman's order)
    if (o.init) spec.process.args = [INIT_PATH, '--', ...spec.process.args];
    // pasta joins between runc create and runc start: a createRuntime hook makes that point reachable from `runc run`
    const hooks: Record<string, unknown[]> = {};
    if (netChoice.mode === 'pasta') hooks.createRuntime = [pastaHook(p.dir)];
    // --rm: runc unmounts the rootfs as it destroys the container, so the exit's cleanup spawns no umount
    if (o.rm === true) hooks.poststop = [rootfsUnmountHook(p.rootfs)];
    if (Object.keys(hooks).length > 0) (spec as RuntimeSpec & { hooks?: Record<string, unknown[]> }).hooks = hooks;
    if (isRootless() && (o.memory !== undefined || o.cpus !== undefined || o.pidsLimit !== undefined)) {
      o.onWarning?.('WARNING: resource limits are ignored for rootless containers on cgroups v1');
    }
    const recordEnv = [...spec.process.env];
    spec.process.env.push(...secretEnv);
    await writeFileAtomic(join(p.bundle, 'config.json'), `${JSON.stringify(spec)}\n`, 0o600);
    const record: ContainerRecord = {
      id,
      name,
      created: new Date().toISOString(),
      image: { name: img.name, id: img.id, digest: img.digest },
      args: spec.process.args,
      config: {
        env: recordEnv,
        cmd: o.args && o.args.length > 0 ? o.args : o.entrypoint !== undefined ? [] : [...(cfg.Cmd ?? [])],
        entrypoint: o.entrypoint ?? [...(cfg.Entrypoint ?? [])],
        workingDir: spec.process.cwd,
        ...(o.workdir !== undefined && { workdirFromFlag: true }),
        user,
        labels: { ...(cfg.Labels ?? {}), ...(o.labels ?? {}) },
        stopSignal,
        stopTimeout: o.stopTimeout ?? 10,
        hostname,
        tty: o.tty === true,
        openStdin: o.interactive === true,
        annotations: {},
      },
      hostConfig: {
        autoRemove: o.rm === true,
        restartPolicy: o.restart ?? { name: 'no', maximumRetryCount: 0 },
        networkMode: recordMode,
        portBindings: ports,
        publishAll: o.publishAll === true,
        readOnly: o.readOnly === true,
        privileged: o.privileged === true,
        capAdd: o.capAdd ?? [],
        capDrop: o.capDrop ?? [],
        memory: o.memory ?? 0,
        nanoCpus: Math.round((o.cpus ?? 0) * 1e9),
        pidsLimit: o.pidsLimit ?? 2048,
        init: o.init === true,
        dns: o.dns ?? [],
        extraHosts: o.addHosts ?? [],
        securityOpt: o.securityOpt ?? [],
        preserveFds: o.preserveFds ?? 0,
      },
      mounts,
      volumes,
      ...(o.health && { health: o.health }),
      chainIDs: layers.chains,
      leaseId: layers.leaseId,
      rootless,
      ...(usernsMarker()?.mode === 'single' && { singleIdMapping: true }),
      ...(keep && { keepId: { uid: keep.uid, gid: keep.gid } }),
      network: withEndpointSettings(netChoice, o.networkAliases, o.networkIps),
      ...(Object.keys(joins).length > 0 && { namespaces: joins }),
      ...(o.pod !== undefined && { pod: o.pod }),
      ...(o.isInfra && { isInfra: true }),
      ...(o.conmonPidFile !== undefined && { conmonPidFile: resolve(o.conmonPidFile) }),
      ...(o.createCommand !== undefined && { createCommand: o.createCommand }),
      ...(o.sdNotify !== undefined && o.sdNotify !== 'container' && { sdNotify: o.sdNotify }),
      ...(recordSecrets.length > 0 && { secrets: recordSecrets }),
    };
    const state = initialState();
    state.mounted = o.keepMounted === true;
    if (o.health) state.health = { status: 'starting', failingStreak: 0, log: [] };
    if (!o.keepMounted && mountNow) await unmountRootfs(root, id);
    await saveState(root, id, state);
    await saveRecord(root, record); // the record is the commit point: before it, the dir is debris
    recordContainerEvent(root, record, 'create');
    return record;
  } catch (e) {
    await unmountRootfs(root, id).catch(() => {});
    await rm(p.dir, { recursive: true, force: true }).catch(() => {});
    await rm(join(store.paths.leases, `${leaseId}.json`), { force: true }).catch(() => {});
    for (const v of createdVolumes) if (v.anonymous) await removeVolume(root, v.name).catch(() => {});
    await releaseName(root, name, id);
    throw e;
  }
}
