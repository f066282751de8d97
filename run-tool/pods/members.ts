/**
 * A pod's containers and its status, the half-made-pod sweep, and the removal every path (pod rm, reconcile,
 * --replace) shares. The pod record lists the members; each member's container record names the pod too, so
 * the union is authoritative after any crash.
 */
import { isSkiffError } from '../../shared/errors.ts';
import type { Store } from '../../shared/store/store.ts';
import { reconcile } from '../containers/cleanup-container.ts';
import { removeContainer, stopContainer } from '../containers/stop-container.ts';
import { unmountRootfs } from '../containers/rootfs-mount.ts';
import { listContainers, loadById, releaseName, removeContainerDir, type LoadedContainer } from '../containers/state.ts';
import { openLease } from '../../shared/store/lease.ts';
import { removePodCgroup } from './cgroup.ts';
import { unmountPodShm } from './shm.ts';
import {
  isAbandoned, listPodRecords, loadPodById, lockPod, releasePodName, removePodDir, savePod, thisProcess, type PodRecord,
} from './state.ts';
import { compareTimestamps } from '../../shared/time/compare-timestamps.ts';

/** podman's pod statuses. */
export type PodStatus = 'Created' | 'Running' | 'Degraded' | 'Stopped' | 'Exited' | 'Paused' | 'Error';

/** A pod with its containers (infra first, then members in creation order), states reconciled. */
export interface PodView {
  record: PodRecord;
  infra?: LoadedContainer;
  members: LoadedContainer[];
  status: PodStatus;
}

/** podman's pod status from its containers' statuses (infra included). Pure. */
export function podStatusOf(states: readonly string[]): PodStatus {
  const n = states.length;
  if (n === 0) return 'Created';
  const count = (pred: (s: string) => boolean) => states.filter(pred).length;
  const running = count((s) => s === 'running' || s === 'stopping');
  const stopped = count((s) => s === 'exited' || s === 'stopped');
  const paused = count((s) => s === 'paused');
  const created = count((s) => s === 'created');
  if (running === n) return 'Running';
  if (running > 0) return 'Degraded';
  if (stopped === n) return 'Exited';
  if (stopped > 0) return 'Stopped';
  if (paused === n) return 'Paused';
  if (created === n) return 'Created';
  return 'Error';
}

/** The containers of pod `r` (reconciled), from its record's list and the containers naming it. */
export async function podView(store: Store, r: PodRecord, all?: readonly LoadedContainer[]): Promise<PodView> {
  const root = store.paths.root;
  const every = all ?? (await listContainers(root));
  const mine = every.filter((c) => c.record.pod === r.id || c.record.id === r.infraId || r.members.includes(c.record.id));
  const out: LoadedContainer[] = [];
  for (const c of mine) out.push(await reconcile(store, c));
  const infra = out.find((c) => c.record.id === r.infraId || c.record.isInfra === true);
  const order = (id: string) => {
    const i = r.members.indexOf(id);
    return i < 0 ? Number.MAX_SAFE_INTEGER : i;
  };
  const members = out.filter((c) => c !== infra).sort((a, b) => order(a.record.id) - order(b.record.id) || compareTimestamps(a.record.created, b.record.created));
  const states = out.map((c) => (c.state.paused ? 'paused' : c.state.status));
  return { record: r, ...(infra && { infra }), members, status: podStatusOf(states) };
}

/**
 * Removes pod `r` with everything it holds: marks it `removing` (so a killed removal is finished by the next
 * command), force-removes the members (in parallel) and then the infra container, releases the name, deletes the
 * directory. Idempotent: every step tolerates what an earlier, interrupted run already did.
 */
export async function removePodFully(store: Store, r: PodRecord, o: { timeout?: number; onWarning?: (m: string) => void } = {}): Promise<void> {
  const root = store.paths.root;
  const lock = await lockPod(root, r.id).catch((e: unknown) => {
    if (isSkiffError(e, 'ENOTFOUND')) return undefined;
    throw e;
  });
  if (!lock) return;
  try {
    const now = (await loadPodById(root, r.id)) ?? r;
    await savePod(root, { ...now, phase: 'removing', creator: thisProcess() });
    const view = await podView(store, now);
    const warn = o.onWarning ? { onWarning: o.onWarning } : {};
    // members go together (each under its own lock; none depends on another), then the infra container
    await Promise.all(view.members.map((c) => removeMember(store, c.record.id, o.timeout ?? 0, warn)));
    if (view.infra) await removeMember(store, view.infra.record.id, o.timeout ?? 0, { ...warn, podRemoval: true });
    // an infra container whose create was killed has no record: its mount, lease, name and directory go here
    else if (now.infraId) await removeContainerDebris(store, now.infraId, now.infraName ?? `${now.id.slice(0, 12)}-infra`);
    // the members' cgroups went with them (runc delete); the pod's own goes last, with anything left below it
    if (now.cgroup) await removePodCgroup(now.cgroup);
    if (now.shmMounted) await unmountPodShm(root, now.id);
    await releasePodName(root, now.name, now.id);
  } finally {
    await lock.release();
  }
  await removePodDir(root, r.id);
}

/** Removes what a killed create of container `id` (no record written) may have left: mount, lease, name, directory. */
async function removeContainerDebris(store: Store, id: string, name: string): Promise<void> {
  const root = store.paths.root;
  if (await loadById(root, id)) return;
  await unmountRootfs(root, id).catch(() => {});
  await openLease(store.paths, `container-${id}`).then((l) => l.release(), () => {});
  await releaseName(root, name, id);
  await removeContainerDir(root, id);
}

async function removeMember(store: Store, id: string, timeout: number, o: { onWarning?: (m: string) => void; podRemoval?: boolean }): Promise<void> {
  try {
    await removeContainer(store, id, { force: true, timeout, ...o });
  } catch (e) {
    if (!isSkiffError(e, 'ENOTFOUND')) throw e;
  }
}

/**
 * Finishes half-made pods (RU-12 for pods): a pod still `creating` or `removing` whose process is gone (a killed
 * CLI) is removed with its containers. Returns the pods that remain. Safe to run from every pod command.
 */
export async function reconcilePods(store: Store, o: { onWarning?: (m: string) => void } = {}): Promise<PodRecord[]> {
  const out: PodRecord[] = [];
  for (const r of await listPodRecords(store.paths.root)) {
    if (isAbandoned(r)) await removePodFully(store, r, o);
    else out.push(r);
  }
  return out;
}

/**
 * The exit policy `stop` (podman's): once the last member of the pod of container `id` has exited, the infra
 * container is stopped too. Run from the member's exit path (the monitor's exit command, a foreground run). A
 * no-op for other pods, the infra itself, or while another member still runs. `knownPod` names the pod of a
 * member already removed (--rm).
 */
export async function applyExitPolicy(store: Store, id: string, knownPod?: string): Promise<void> {
  const root = store.paths.root;
  const c = await loadById(root, id);
  if (c?.record.isInfra) return;
  const pod = c?.record.pod ?? knownPod;
  if (!pod) return;
  const r = await loadPodById(root, pod);
  if (!r || r.exitPolicy !== 'stop' || r.phase !== 'ready' || !r.infraId) return;
  const view = await podView(store, r);
  if (view.members.some((m) => m.state.status === 'running' || m.state.status === 'stopping')) return;
  if (view.infra?.state.status === 'running') await stopContainer(store, view.infra.record.id, { timeout: 10 });
}
