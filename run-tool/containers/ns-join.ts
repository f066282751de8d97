/**
 * Namespace joining (`--network/--ipc/--uts/--pid container:ID`, and every pod member): a container records the
 * ids of the containers whose namespaces it shares (`record.namespaces`); its runtime config names
 * `/proc/<pid>/ns/<kind>` of each, rewritten at every start with the target's current pid (a restarted target
 * has a new pid). A target that is not running is started first, as podman starts a container's dependencies.
 * A target cannot be removed while a container depends on it (dependentsOf).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SkiffError } from '../../shared/errors.ts';
import { isAlive } from '../../shared/process/proc.ts';
import type { JoinableNamespace } from '../../shared/runtime/spec.ts';
import type { RuntimeSpec } from '../../shared/runtime/types.ts';
import { writeFileAtomic } from '../../shared/store/atomic.ts';
import { containerPaths, listContainers, loadById, loadContainer, type ContainerRecord } from './state.ts';

/** The kinds a container may share, as the runtime spec names them. */
export const JOINABLE: readonly JoinableNamespace[] = ['network', 'ipc', 'uts', 'pid'];

/** Joined namespaces: kind → the full id of the container that holds it. */
export type NamespaceJoins = Partial<Record<JoinableNamespace, string>>;

/** `/proc/<pid>/ns/<file>` of a namespace kind (`network` is the `net` file). Pure. */
export function nsPathOf(pid: number, kind: JoinableNamespace): string {
  return `/proc/${pid}/ns/${kind === 'network' ? 'net' : kind}`;
}

/**
 * Resolves the targets a create names (name, id or id prefix, as loadContainer) to full ids. ENOTFOUND with
 * podman's "looking up container to share <kind> namespace with: …" when one does not exist. Reads only.
 */
export async function resolveJoins(root: string, want: Partial<Record<JoinableNamespace, string>> | undefined): Promise<NamespaceJoins> {
  const out: NamespaceJoins = {};
  for (const kind of JOINABLE) {
    const t = want?.[kind];
    if (t === undefined) continue;
    try {
      out[kind] = (await loadContainer(root, t)).record.id;
    } catch (e) {
      if (e instanceof SkiffError && e.code === 'ENOTFOUND') throw new SkiffError('ENOTFOUND', `looking up container to share ${kind === 'network' ? 'net' : kind} namespace with: ${e.message}`, { cause: e });
      throw e;
    }
  }
  return out;
}

/** The spec's join paths at create (placeholders: the real pid is written at each start). Pure. */
export function placeholderJoinPaths(joins: NamespaceJoins): Partial<Record<JoinableNamespace, string>> {
  const out: Partial<Record<JoinableNamespace, string>> = {};
  for (const k of JOINABLE) if (joins[k]) out[k] = nsPathOf(0, k);
  return out;
}

/** The distinct containers `record` depends on, in the order a start must bring them up. Pure. */
export function dependenciesOf(record: ContainerRecord): string[] {
  return [...new Set(JOINABLE.map((k) => record.namespaces?.[k]).filter((x): x is string => x !== undefined))];
}

/**
 * Points the runtime config of `record` at the namespaces of its running targets (atomic rewrite of config.json).
 * `ensureRunning(id)` brings a target up when it is not running (the caller's start); EINVALID with podman's
 * "some dependencies … are not started" when a target still is not running afterwards. A no-op without joins.
 */
export async function bindJoinedNamespaces(root: string, record: ContainerRecord, ensureRunning: (id: string) => Promise<void>): Promise<void> {
  const deps = dependenciesOf(record);
  if (deps.length === 0) return;
  const pids = new Map<string, number>();
  for (const dep of deps) {
    let t = await loadById(root, dep);
    if (!t) throw new SkiffError('ENOTFOUND', `some dependencies of container ${record.id} are not started: no container with ID ${dep} found: no such container`);
    if (t.state.status !== 'running' || !isAlive(t.state.pid)) {
      await ensureRunning(dep);
      t = await loadById(root, dep);
    }
    if (!t || t.state.status !== 'running' || !isAlive(t.state.pid)) {
      throw new SkiffError('EINVALID', `some dependencies of container ${record.id} are not started: ${dep}: container state improper`);
    }
    pids.set(dep, t.state.pid);
  }
  const file = join(containerPaths(root, record.id).bundle, 'config.json');
  const spec = JSON.parse(await readFile(file, 'utf8')) as RuntimeSpec;
  for (const ns of spec.linux?.namespaces ?? []) {
    const dep = record.namespaces?.[ns.type as JoinableNamespace];
    if (dep) ns.path = nsPathOf(pids.get(dep)!, ns.type as JoinableNamespace);
  }
  await writeFileAtomic(file, `${JSON.stringify(spec)}\n`, 0o600);
}

/** The containers that join a namespace of container `id` (they must go before it). Reads only. */
export async function dependentsOf(root: string, id: string): Promise<string[]> {
  return (await listContainers(root)).filter((c) => dependenciesOf(c.record).includes(id)).map((c) => c.record.id);
}
