import { randomBytes } from 'node:crypto';
import { SkiffError } from '../../shared/errors.ts';
import { openStore } from '../../shared/store/store.ts';
import { createVolume, inspectVolume, listVolumes, pruneVolumes, removeVolume, volumeUsers, type VolumeInfo } from '../containers/volumes.ts';
import { removeContainer } from '../containers/stop-container.ts';

// The named-volume operations (podman's `volume create|ls|inspect|rm|prune`) over containers/volumes.ts.

/** `--filter` for volume ls/prune: name=, label=KEY[=VALUE], driver=local, dangling=true|false. */
export function volumeFilter(filters: readonly string[], users: Map<string, string[]>): (v: VolumeInfo) => boolean {
  const tests: ((v: VolumeInfo) => boolean)[] = [];
  for (const f of filters) {
    const i = f.indexOf('=');
    const k = i < 0 ? f : f.slice(0, i);
    const val = i < 0 ? '' : f.slice(i + 1);
    switch (k) {
      case 'name':
        tests.push((v) => v.Name.includes(val));
        break;
      case 'label': {
        const j = val.indexOf('=');
        const lk = j < 0 ? val : val.slice(0, j);
        tests.push((v) => lk in v.Labels && (j < 0 || v.Labels[lk] === val.slice(j + 1)));
        break;
      }
      case 'driver':
        tests.push(() => val === 'local');
        break;
      case 'dangling':
        if (val !== 'true' && val !== 'false') throw new SkiffError('EINVALID', `invalid dangling filter value ${JSON.stringify(val)}: use true or false`);
        tests.push((v) => users.has(v.Name) === (val === 'false'));
        break;
      default:
        throw new SkiffError('EINVALID', `invalid filter ${JSON.stringify(k)}: use name, label, driver or dangling`);
    }
  }
  return (v) => tests.every((t) => t(v));
}

/** createNamedVolume's options (podman's `volume create` flags). */
export interface CreateVolumeOptions {
  labels?: Record<string, string>;
  /** Driver options (local: o=uid=N,gid=N). */
  options?: Record<string, string>;
  /** Only `local` (the default) is supported. */
  driver?: string;
  /** An existing volume of that name is no error. */
  ignoreExisting?: boolean;
}

/** Creates volume `name` (a random 64-hex name when undefined) with the local driver; returns its document. */
export async function createNamedVolume(root: string, name: string | undefined, o: CreateVolumeOptions = {}): Promise<VolumeInfo> {
  const driver = o.driver ?? 'local';
  if (driver !== 'local') throw new SkiffError('EUNSUPPORTED', `volume driver ${JSON.stringify(driver)} is not supported: only local`);
  return await createVolume(root, name ?? randomBytes(32).toString('hex'), { labels: o.labels ?? {}, options: o.options ?? {}, ignoreExisting: o.ignoreExisting === true });
}

/** The volumes matching every `filters` entry (volumeFilter's keys), in listVolumes' order. */
export async function listVolumesMatching(root: string, filters: readonly string[] = []): Promise<VolumeInfo[]> {
  const users = await volumeUsers(root);
  return (await listVolumes(root)).filter(volumeFilter(filters, users));
}

/** The documents of volumes `names` in order (ENOTFOUND for the first unknown), or of every volume with `all`. */
export async function inspectVolumes(root: string, names: readonly string[], o: { all?: boolean } = {}): Promise<VolumeInfo[]> {
  if (!o.all && names.length === 0) throw new SkiffError('EINVALID', 'provide one or more volume names or use --all');
  return o.all ? await listVolumes(root) : await Promise.all(names.map((n) => inspectVolume(root, n)));
}

/** The names `volume rm` acts on: `names`, or every volume's with `all` (EINVALID when neither is given). */
export async function volumesToRemove(root: string, names: readonly string[], o: { all?: boolean } = {}): Promise<string[]> {
  if (!o.all && names.length === 0) throw new SkiffError('EINVALID', 'choose either one or more volumes or all');
  return o.all ? (await listVolumes(root)).map((v) => v.Name) : [...names];
}

/**
 * Removes volume `name`; one in use fails unless `force`, which removes the containers using it first (force,
 * each warning what went wrong on the way through `onWarning`).
 */
export async function removeNamedVolume(root: string, name: string, o: { force?: boolean; onWarning?: (m: string) => void } = {}): Promise<void> {
  await removeVolume(root, name, o.force ? { removeContainers: (ids) => removeContainersOf(root, ids, o.onWarning) } : {});
}

async function removeContainersOf(root: string, ids: string[], onWarning: ((m: string) => void) | undefined): Promise<void> {
  const store = await openStore(root, { write: true });
  try {
    for (const id of ids) await removeContainer(store, id, { force: true, onWarning });
  } finally {
    await store.close();
  }
}

/** `volume prune --filter` entries (`label=KEY[=VALUE]` only) as pruneUnusedVolumes' labels; EINVALID otherwise. Pure. */
export function pruneLabelFilters(filters: readonly string[]): Record<string, string | undefined> | undefined {
  if (filters.length === 0) return undefined;
  const labels: Record<string, string | undefined> = {};
  for (const f of filters) {
    const m = /^label=([^=]+)(?:=(.*))?$/s.exec(f);
    if (!m) throw new SkiffError('EINVALID', `invalid filter ${JSON.stringify(f)}: use label=KEY[=VALUE]`);
    labels[m[1]!] = m[2];
  }
  return labels;
}

/** Removes every volume no container uses that carries each of `labels` (KEY, or KEY=VALUE when defined); returns their names. */
export async function pruneUnusedVolumes(root: string, labels?: Record<string, string | undefined>): Promise<string[]> {
  return await pruneVolumes(root, labels === undefined ? {} : { labels });
}
