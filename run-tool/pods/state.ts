/**
 * Pod state: one record per pod, next to the containers and kept the same way (containers/state.ts).
 *
 * Layout: `<root>/pods/<id>/` (0700), `<id>` always 64 lower-case hex (never a user name):
 *   record.json   what the pod is (PodRecord), rewritten atomically under the pod lock
 *   lock          lock target for every change of the pod (lockPod)
 * Names: `<root>/pods/names/<sha256(name)>` holds the owning id, created with O_EXCL: names are unique without a
 * global lock and a raw name is never part of a path.
 *
 * Crash safety: a record is written first with `phase: 'creating'` (or set to `'removing'` before a removal
 * starts) naming the process doing it; a pod whose phase is not `ready` and whose process is gone is half-made,
 * and the next command finishes its removal (pods/reconcile.ts). Members are listed in the record, and each
 * member's container record names the pod too, so a member made by a killed CLI before the pod's list was
 * updated is still found.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { SkiffError } from '../../shared/errors.ts';
import { isAlive, procStartTime } from '../../shared/process/proc.ts';
import { writeFileAtomic } from '../../shared/store/atomic.ts';
import { acquireLock, type LockHandle } from '../../shared/store/lock.ts';
import { storePaths } from '../../shared/store/paths.ts';
import { nameFileOf, releaseName, reserveName } from '../../shared/store/name-reservation.ts';
import type { PodCgroup } from '../../shared/runtime/cgroup-manager.ts';
import type { MountRequest } from '../../shared/runtime/mounts.ts';
import type { PodLimits } from './cgroup.ts';
import type { PortMapping } from '../containers/state.ts';
import { compareTimestamps } from '../../shared/time/compare-timestamps.ts';

/** The namespaces a pod can share, as podman names them in `--share`. */
export type PodNamespace = 'ipc' | 'net' | 'uts' | 'pid' | 'cgroup';

/** What a pod is. */
export interface PodRecord {
  id: string;
  name: string;
  created: string;
  createCommand: string[];
  exitPolicy: 'continue' | 'stop';
  hostname: string;
  labels: Record<string, string>;
  /** namespaces the members share with the infra container (podman's default ipc, net, uts) */
  share: PodNamespace[];
  /** the pod has an infra container (`--infra`, default true) */
  infra: boolean;
  infraId?: string;
  infraName?: string;
  /** ports published on the infra container */
  ports: PortMapping[];
  /** `--network` of the pod (applies to the infra container) */
  network?: string;
  dns: string[];
  addHosts: string[];
  /** `pod create -v`: bind mounts and named volumes every member gets (podman's pod volumes) */
  mounts?: MountRequest[];
  volumes?: { name: string; destination: string; options: string[] }[];
  /** the pod's own cgroup (root only), recorded before it is made so a killed create's is found and removed */
  cgroup?: PodCgroup;
  /** false (`--share-parent=false`): members are not placed under the pod's cgroup (the infra still is) */
  shareParent?: boolean;
  /** `--memory`/`--cpus` as set on the pod's cgroup (podman's memory_limit, memory_swap, cpu_period, cpu_quota) */
  limits?: PodLimits;
  /** `--shm-size`: the size of the pod's /dev/shm */
  shmSize?: number;
  /** the pod has a /dev/shm tmpfs at `<pod dir>/shm` (pods/shm.ts), mounted by its first start (the name is older) */
  shmMounted?: boolean;
  /** member container ids (infra excluded), in creation order */
  members: string[];
  /** `ready` once made; `creating`/`removing` while a process (creator) is at it */
  phase: 'creating' | 'ready' | 'removing';
  creator?: { pid: number; start?: string };
}

const ID_RE = /^[0-9a-f]{64}$/;
/** Kubernetes' DNS-1123 label: what a pod name must be to become valid Kubernetes YAML later. */
const DNS1123 = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** The directory holding all pods of the store at `root`. Pure. */
export function podsDir(root: string): string {
  return join(storePaths(root).root, 'pods');
}

/** Paths of pod `id` (validated 64 hex). Pure. */
export function podPaths(root: string, id: string): { dir: string; record: string; lock: string } {
  if (!ID_RE.test(id)) throw new SkiffError('EINVALID', `invalid pod id ${JSON.stringify(id)}`);
  const dir = join(podsDir(root), id);
  return { dir, record: join(dir, 'record.json'), lock: join(dir, 'lock') };
}

/**
 * Validates a pod name as a DNS-1123 label (lower-case letters, digits and '-', starting and ending with a letter
 * or digit, at most 63 characters), so the pod can always become Kubernetes YAML. EINVALID saying why. Pure.
 */
export function validatePodName(name: string): string {
  const shown = JSON.stringify(name.length > 80 ? `${name.slice(0, 80)}…` : name);
  if (name.length === 0) throw new SkiffError('EINVALID', 'invalid pod name "": a pod name must not be empty');
  if (name.length > 63) throw new SkiffError('EINVALID', `invalid pod name ${shown}: at most 63 characters (a Kubernetes DNS-1123 label)`);
  if (!DNS1123.test(name)) {
    throw new SkiffError('EINVALID', `invalid pod name ${shown}: use lower-case letters, digits and '-', starting and ending with a letter or digit (a Kubernetes DNS-1123 label)`);
  }
  return name;
}

/** A fresh random 64-hex pod id. */
export function newPodId(): string {
  return randomBytes(32).toString('hex');
}

function namesDir(root: string): string {
  return join(podsDir(root), 'names');
}

/** Reserves pod `name` for `id` atomically (O_EXCL); EEXIST as podman's "name … is in use: pod already exists". */
export async function reservePodName(root: string, name: string, id: string): Promise<void> {
  await reserveName(namesDir(root), validatePodName(name), id, {
    ownerExists: (owner) => (ID_RE.test(owner) ? readFile(podPaths(root, owner).record).then(() => true, () => false) : Promise.resolve(false)),
    inUse: () => new SkiffError('EEXIST', `adding pod to state: name "${name}" is in use: pod already exists`),
  });
}

/** Releases pod `name` if `id` holds it. Idempotent. */
export async function releasePodName(root: string, name: string, id: string): Promise<void> {
  await releaseName(namesDir(root), name, id);
}

/** Pod `id`'s record, or undefined when it does not exist (or is debris without a record). */
export async function loadPodById(root: string, id: string): Promise<PodRecord | undefined> {
  try {
    return JSON.parse(await readFile(podPaths(root, id).record, 'utf8')) as PodRecord;
  } catch {
    return undefined;
  }
}

/** Every pod with a record, oldest first. */
export async function listPodRecords(root: string): Promise<PodRecord[]> {
  const out: PodRecord[] = [];
  for (const n of await readdir(podsDir(root)).catch(() => [] as string[])) {
    if (!ID_RE.test(n)) continue;
    const r = await loadPodById(root, n);
    if (r) out.push(r);
  }
  return out.sort((a, b) => compareTimestamps(a.created, b.created));
}

/**
 * Finds a pod as podman does: exact name, then full id, then a unique id prefix. ENOTFOUND "no pod with name or
 * ID X found: no such pod"; EINVALID when a prefix is ambiguous.
 */
export async function findPod(root: string, nameOrId: string): Promise<PodRecord> {
  if (DNS1123.test(nameOrId) && nameOrId.length <= 63) {
    const owner = (await readFile(nameFileOf(namesDir(root), nameOrId), 'utf8').catch(() => '')).trim();
    if (ID_RE.test(owner)) {
      const r = await loadPodById(root, owner);
      if (r && r.name === nameOrId) return r;
    }
  }
  if (ID_RE.test(nameOrId)) {
    const r = await loadPodById(root, nameOrId);
    if (r) return r;
  }
  if (/^[0-9a-f]{1,63}$/.test(nameOrId)) {
    const hits = (await readdir(podsDir(root)).catch(() => [] as string[])).filter((n) => ID_RE.test(n) && n.startsWith(nameOrId));
    if (hits.length > 1) throw new SkiffError('EINVALID', `more than one result for pod ID ${nameOrId}: ambiguous`);
    const r = hits[0] && (await loadPodById(root, hits[0]));
    if (r) return r;
  }
  throw new SkiffError('ENOTFOUND', `no pod with name or ID ${nameOrId} found: no such pod`);
}

/** Writes pod `record` atomically (0600); the pod directory must exist. */
export async function savePod(root: string, record: PodRecord): Promise<void> {
  await writeFileAtomic(podPaths(root, record.id).record, JSON.stringify(record, null, 1), 0o600);
}

/** Makes pod `id`'s directory (0700). Idempotent. */
export async function makePodDir(root: string, id: string): Promise<void> {
  await mkdir(podPaths(root, id).dir, { recursive: true, mode: 0o700 });
}

/** Takes pod `id`'s exclusive lock (freed if this process dies); ENOTFOUND once the pod is removed. */
export async function lockPod(root: string, id: string, o: { wait?: boolean | number; signal?: AbortSignal } = {}): Promise<LockHandle> {
  try {
    return await acquireLock(podPaths(root, id).lock, o);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e instanceof SkiffError && e.code === 'ENOTFOUND')) {
      throw new SkiffError('ENOTFOUND', `no pod with ID ${id} found: no such pod`, { cause: e });
    }
    throw e;
  }
}

/** Read-modify-write of pod `id`'s record under its lock; `fn` returns the new record (or undefined to keep it). */
export async function updatePod(root: string, id: string, fn: (r: PodRecord) => PodRecord | undefined | Promise<PodRecord | undefined>): Promise<PodRecord> {
  const lock = await lockPod(root, id);
  try {
    const r = await loadPodById(root, id);
    if (!r) throw new SkiffError('ENOTFOUND', `no pod with ID ${id} found: no such pod`);
    const next = await fn(r);
    if (next) await savePod(root, next);
    return next ?? r;
  } finally {
    await lock.release();
  }
}

/** This process as the `creator` of a pod phase. */
export function thisProcess(): { pid: number; start?: string } {
  const start = procStartTime(process.pid);
  return { pid: process.pid, ...(start !== undefined && { start }) };
}

/** True when pod `r` is half-made: not `ready`, and the process making or removing it is gone. Reads /proc. */
export function isAbandoned(r: PodRecord): boolean {
  return r.phase !== 'ready' && !(r.creator && isAlive(r.creator.pid, r.creator.start));
}

/** Deletes pod `id`'s directory (renamed away first, so no lock can be re-made in it). Idempotent. */
export async function removePodDir(root: string, id: string): Promise<void> {
  const p = podPaths(root, id);
  const trash = join(podsDir(root), `.removing-${id}-${randomBytes(4).toString('hex')}`);
  try {
    await rename(p.dir, trash);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    return;
  }
  await rm(trash, { recursive: true, force: true, maxRetries: 10, retryDelay: 20 });
}
