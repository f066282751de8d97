// The container creation operations: create (with its pull policy) and run. Both front ends (the CLI's commands/
// and the coming API service) call these with plain options and get plain results; a failure is a SkiffError.
// Nothing here parses argv or prints: the machinery is run-tool/containers/.
import type { RegistryOptions } from '../../shared/registry/types.ts';
import type { Store } from '../../shared/store/store.ts';
import { createContainer as createFromImage } from '../containers/create.ts';
import type { CreateOptions } from '../containers/create-options.ts';
import { removeContainer as removeById, stopContainer as stopById } from '../containers/stop-container.ts';
import { runForeground } from '../containers/run-foreground.ts';
import { startDetached } from '../containers/start-container.ts';
import { withImage, type PullPolicy } from '../containers/pull-policy.ts';
import type { ContainerRecord } from '../containers/state.ts';
import { existsSync } from 'node:fs';
import { SkiffError } from '../../shared/errors.ts';
import { writeFileAtomic } from '../../shared/store/atomic.ts';
import { notifyContainerStarted } from '../systemd/notify.ts';
import { removeContainer } from './container-lifecycle.ts';
import { containersConf } from '../../shared/config/containers-conf.ts';
import { isRootless } from '../../shared/runtime/rootless.ts';
import { checkEngineConf, withConfDefaults } from './conf-defaults.ts';

/** createContainer's options: the container's spec plus how its image is made present. */
export interface CreateContainerOptions extends CreateOptions {
  /** When the image is pulled (default `missing`: only when it is not stored). */
  pull?: PullPolicy;
  /** Registry options of that pull. */
  registry?: RegistryOptions;
  /** Pull progress lines (podman's "Copying blob …"). */
  log?: (line: string) => void;
  /** Keep the rootfs mounted for a start that follows at once (run). */
  keepMounted?: boolean;
  /**
   * A start follows at once (run): a pod's infra container whose namespaces the new member joins (which that
   * start would bring up first anyway) is started while the member is being made, once its image is present.
   */
  startInfraEarly?: boolean;
  /** `--pod NAME|ID|new:NAME`: the container joins that pod (sharing its infra container's namespaces) */
  podRef?: string;
  /** `--replace`: a container already named `name` is removed first (stopped if it runs) */
  replace?: boolean;
  /** `--cidfile`: receives the new container's ID; it must not exist yet (podman's rule) */
  cidFile?: string;
}

/**
 * Creates a container from `o.image`, pulling it first as `o.pull` says (withImage: with `missing` the store is
 * searched once). Returns the stored record; a failure leaves no container behind.
 */
export async function createContainer(store: Store, o: CreateContainerOptions): Promise<ContainerRecord> {
  const { replace, cidFile, ...given } = o;
  // containers.conf fills in what the caller left unset (read here, so only container creation pays for it)
  const conf = containersConf();
  checkEngineConf(conf, isRootless(), given.onWarning);
  const rest = withConfDefaults(given, conf, isRootless());
  if (cidFile !== undefined) assertNoCidFile(cidFile);
  if (replace && rest.name !== undefined) await removeContainer(store, rest.name, { force: true, ignoreMissing: true });
  const r = await createFromSpec(store, rest);
  if (cidFile !== undefined) {
    try {
      await writeFileAtomic(cidFile, r.id);
    } catch (e) {
      await removeById(store, r.id, { force: true }).catch(() => {});
      throw new SkiffError('EIO', `writing --cidfile ${cidFile}: ${(e as Error).message}`);
    }
  }
  return r;
}

/** EEXIST when `path` exists (podman: another container may own it). */
function assertNoCidFile(path: string): void {
  if (existsSync(path)) throw new SkiffError('EEXIST', `container id file exists. Ensure another container is not using it or delete ${path}`);
}

async function createFromSpec(store: Store, o: Omit<CreateContainerOptions, 'replace' | 'cidFile'>): Promise<ContainerRecord> {
  const { pull = 'missing', registry, log, podRef, startInfraEarly, ...spec } = o;
  const make = (extra: Partial<CreateOptions>, imageReady?: () => void) => withImage(store, spec.image, pull, { ...(registry && { registry }), ...(log && { log }), onWarning: spec.onWarning }, (image) => {
    imageReady?.();
    return createFromImage(store, { ...spec, ...extra, image });
  });
  if (podRef === undefined) return make({});
  const { podForMember, addPodMember } = await import('./pods.ts');
  const m = await podForMember(store, podRef, { ...(spec.ports && { ports: spec.ports }), ...(spec.publishAll && { publishAll: true }), ...(spec.network !== undefined && { network: spec.network }), ...(spec.onWarning && { onWarning: spec.onWarning }), ...(startInfraEarly && { startsNow: true }) });
  // the pod's volumes come first; the container's own at the same destination win
  const own = new Set([...(spec.mounts ?? []), ...(spec.volumes ?? [])].map((x) => x.destination));
  const mounts = [...m.mounts.filter((x) => !own.has(x.destination)), ...(spec.mounts ?? [])];
  const volumes = [...m.volumes.filter((x) => !own.has(x.destination)), ...(spec.volumes ?? [])];
  const shareNamespaces = { ...m.shareNamespaces, ...spec.shareNamespaces };
  // the infra start (conmon, runc) overlaps the member's create; a failure here is left to the member's own start,
  // which starts its dependencies again and reports it
  const infra = m.infra;
  let infraStarted: Promise<void> | undefined;
  const early = startInfraEarly && infra !== undefined && Object.values(shareNamespaces).includes(infra)
    ? () => void (infraStarted = startDetached(store, infra).catch(() => {}))
    : undefined;
  try {
    return await addPodMember(store, m.pod, () => make({ pod: m.pod, shareNamespaces, mounts, volumes, ...(m.podCgroup && { podCgroup: m.podCgroup }) }, early));
  } catch (e) {
    // a pod this call made whose member was not made: its infra, started early, does not run on alone
    if (infraStarted && m.created && infra !== undefined) {
      await infraStarted;
      await stopById(store, infra).catch(() => {});
    }
    throw e;
  } finally {
    await infraStarted;
  }
}

/** runContainer's options: createContainer's plus whether it runs detached. */
export interface RunContainerOptions extends CreateContainerOptions {
  /** Start under the monitor and return at once; otherwise run attached to this process's stdio until it exits. */
  detach?: boolean;
  /** Detached: socket activation's listening fds (3…) this process holds, passed on to the container */
  listenFds?: number;
  /** Attached: what went wrong cleaning up after the container exited (the exit code still stands). */
  onCleanupWarning?: (m: string) => void;
}

/**
 * Creates and starts a container (podman's `run`). Detached: started under its monitor; when that start fails a
 * `rm` container is removed again. Attached: runs in the foreground and returns the container's exit code (125
 * skiff errors, 126 cannot invoke, 127 not found).
 */
export async function runContainer(store: Store, o: RunContainerOptions): Promise<{ id: string; exitCode?: number; error?: string }> {
  const { detach, onCleanupWarning, listenFds, ...create } = o;
  const r = await createContainer(store, { ...create, keepMounted: true, startInfraEarly: true });
  if (detach) {
    try {
      await startDetached(store, r.id, { ...(listenFds && { preserveFds: listenFds }) });
    } catch (e) {
      if (o.rm) await removeById(store, r.id, { force: true }).catch(() => {});
      throw e;
    }
    await notifyContainerStarted(store, r.id);
    return { id: r.id };
  }
  const res = await runForeground(store, r, { interactive: o.interactive === true, preserveFds: o.preserveFds ?? 0, ...(onCleanupWarning && { onWarning: onCleanupWarning }) });
  if (r.pod) await (await import('../pods/members.ts')).applyExitPolicy(store, r.id, r.pod).catch(() => {});
  return { id: r.id, ...res };
}
