import { SkiffError } from '../../shared/errors.ts';
import type { Store } from '../../shared/store/store.ts';
import { listReconciled } from '../containers/cleanup-container.ts';
import { containerPaths, stateName, type LoadedContainer } from '../containers/state.ts';
import { treeSize } from '../../shared/store/tree-size.ts';

// The container listing operation (podman's `ps`): every container's state reconciled with runc first (RU-12).

/** Filters `--filter key=value` as podman: name (regexp), id (prefix), status, label (key or key=value), ancestor, pod (id prefix; listContainers resolves names), restart-policy. */
export function matchFilter(c: LoadedContainer, filters: readonly string[]): boolean {
  const by = new Map<string, string[]>();
  for (const f of filters) {
    const i = f.indexOf('=');
    if (i <= 0) throw new SkiffError('EINVALID', `invalid filter ${JSON.stringify(f)}: want KEY=VALUE`);
    by.set(f.slice(0, i), [...(by.get(f.slice(0, i)) ?? []), f.slice(i + 1)]);
  }
  for (const [k, vs] of by) {
    // one key's values are alternatives, but labels must all match (Docker's and podman's `label` semantics)
    const ok = vs[k === 'label' ? 'every' : 'some']((v) => {
      switch (k) {
        case 'name': return new RegExp(v).test(c.record.name);
        case 'id': return c.record.id.startsWith(v);
        case 'status': return stateName(c.state) === v || (v === 'exited' && c.state.status === 'stopped');
        case 'label': {
          const j = v.indexOf('=');
          return j < 0 ? v in c.record.config.labels : c.record.config.labels[v.slice(0, j)] === v.slice(j + 1);
        }
        case 'ancestor': return c.record.image.name === v || c.record.image.name.startsWith(`${v}:`) || c.record.image.name.endsWith(`/${v}`) || c.record.image.name.includes(`/${v}:`) || c.record.image.id.slice(7).startsWith(v.replace(/^sha256:/, ''));
        case 'pod': return c.record.pod !== undefined && c.record.pod.startsWith(v);
        case 'restart-policy': return c.record.hostConfig.restartPolicy.name === v;
        case 'exited': return (c.state.status === 'exited' || c.state.status === 'stopped') && String(c.state.exitCode) === v;
        default: throw new SkiffError('EINVALID', `invalid filter ${JSON.stringify(k)}`);
      }
    });
    if (!ok) return false;
  }
  return true;
}

/** `pod=NAME` filters become `pod=ID` (a value naming no pod stays, matching as an id prefix). */
async function resolvePodFilters(store: Store, filters: readonly string[]): Promise<string[]> {
  if (!filters.some((f) => f.startsWith('pod='))) return [...filters];
  const { findPod } = await import('../pods/state.ts');
  const out: string[] = [];
  for (const f of filters) {
    if (!f.startsWith('pod=')) {
      out.push(f);
      continue;
    }
    const id = await findPod(store.paths.root, f.slice(4)).then((r) => r.id, () => undefined);
    out.push(id ? `pod=${id}` : f);
  }
  return out;
}

/** listContainers' options: podman's `ps` selection. */
export interface ListContainersOptions {
  /** Every container, not only the running ones (implied by `latest`, and by `filters` unless `filtersImplyAll` is false). */
  all?: boolean;
  /** podman's CLI lists every container when filtered (the default); the Docker API keeps `all` apart from `filters`. */
  filtersImplyAll?: boolean;
  /** `KEY=VALUE` filters, matchFilter's. */
  filters?: readonly string[];
  /** Only the container created last. */
  latest?: boolean;
  /** What the reconciling cleanup of a container whose monitor died could not tear down (its network). */
  onWarning?: (message: string) => void;
}

/** The containers `o` selects, newest first, each with its state reconciled. */
export async function listContainers(store: Store, o: ListContainersOptions = {}): Promise<LoadedContainer[]> {
  const filters = await resolvePodFilters(store, o.filters ?? []);
  let list = (await listReconciled(store, { onWarning: o.onWarning })).filter((c) => (o.all || (filters.length > 0 && o.filtersImplyAll !== false) || o.latest ? true : c.state.status === 'running') && matchFilter(c, filters));
  if (o.latest) list = list.slice(-1);
  return list.reverse(); // newest first, as podman
}

/** A container's disk use as `ps --size` reports it (podman's keys and order): the image layers it stacks, and its writable layer. */
export interface ContainerSize {
  rootFsSize: number;
  rwSize: number;
}

/** Measures `c`'s writable layer (overlay upper dir) and its unpacked image layers. Reads only. */
export async function containerSize(store: Store, c: LoadedContainer): Promise<ContainerSize> {
  const rwSize = await treeSize(containerPaths(store.paths.root, c.record.id).upper);
  let image = 0;
  const { lowersOf } = await import('../containers/rootfs-mount.ts'); // the mount machinery only for --size
  for (const dir of await lowersOf(store, c.record)) image += await treeSize(dir);
  return { rootFsSize: image, rwSize };
}

/** podman's `ps --sort` keys. */
export const PS_SORT_KEYS = ['command', 'created', 'id', 'image', 'names', 'runningfor', 'size', 'status'] as const;
export type PsSortKey = (typeof PS_SORT_KEYS)[number];

/** Checks a `--sort` value (EINVALID with podman's list otherwise). Pure. */
export function checkPsSort(s: string): PsSortKey {
  if ((PS_SORT_KEYS as readonly string[]).includes(s)) return s as PsSortKey;
  throw new SkiffError('EINVALID', `invalid argument "${s}" for "--sort" flag: "${s}" is not a valid value.  Choose from: "${PS_SORT_KEYS.join(', ')}"`);
}

/**
 * `list` ordered as podman's `ps --sort KEY`: created and runningfor newest first, size by writable layer (smallest
 * first; `sizes` by ID), the others by their text. Stable; returns a new array. Pure.
 */
export function sortContainers(list: readonly LoadedContainer[], key: PsSortKey, sizes: ReadonlyMap<string, ContainerSize> = new Map()): LoadedContainer[] {
  const text = (c: LoadedContainer): string => {
    switch (key) {
      case 'command': return c.record.args.join(' ');
      case 'id': return c.record.id;
      case 'image': return c.record.image.name;
      case 'names': return c.record.name;
      case 'status': return stateName(c.state);
      default: return '';
    }
  };
  const cmp = (a: LoadedContainer, b: LoadedContainer): number => {
    if (key === 'created') return Date.parse(b.record.created) - Date.parse(a.record.created);
    if (key === 'runningfor') return Date.parse(b.state.startedAt || b.record.created) - Date.parse(a.state.startedAt || a.record.created);
    if (key === 'size') return (sizes.get(a.record.id)?.rwSize ?? 0) - (sizes.get(b.record.id)?.rwSize ?? 0);
    const x = text(a);
    const y = text(b);
    return x < y ? -1 : x > y ? 1 : 0;
  };
  return [...list].sort(cmp);
}
